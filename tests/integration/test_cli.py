"""The `psc` command line against the real broker (operators run `psc create-topics` before the services)."""

import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import ALL_TOPICS
from shared.kafka.connection import client_options
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def create_topics(platform: PlatformSettings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PSC_KAFKA_BOOTSTRAP": platform.kafka_bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "psc.cli", "create-topics"], env=env, capture_output=True, text=True, timeout=60
    )


async def test_create_topics_makes_every_platform_topic_and_a_second_run_changes_nothing(
    platform: PlatformSettings,
) -> None:
    first = create_topics(platform)
    assert first.returncode == 0, first.stderr
    admin = AIOKafkaAdminClient(**client_options(platform))
    await admin.start()
    try:
        assert set(ALL_TOPICS) <= set(await admin.list_topics())
    finally:
        await admin.close()
    again = create_topics(platform)
    assert again.returncode == 0 and again.stdout.strip() == "created: none (all existed)"
