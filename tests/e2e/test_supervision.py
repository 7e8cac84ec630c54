"""`psc run` heals: the stack as real processes with two routing processes and a catalog that cannot start, then
`kill -9` of a service and of the broker, each seen from outside (stack.json, the screen, HTTP, Kafka)."""


from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from test_stack import _alive, eventually, inquiry_body, mail_to

from shared.contracts.topics import ALL_TOPICS, INQUIRY_EVENTS, ROUTING_EVENTS

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@dataclass
class Run:
    """A `psc run` process: its var dir, and what it printed so far (read by a thread as it comes)."""

    process: subprocess.Popen[str]
    var_dir: Path
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def info(self) -> dict[str, Any]:
        return dict(json.loads((self.var_dir / "stack.json").read_text()))


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain client: each call that needs credentials passes the stack's demo API key itself."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    var_dir = tmp_path_factory.mktemp("supervised")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_")}
    env["PSC_CATALOG_HTTP_MAX_IN_FLIGHT"] = "0"  # a bad setting: the catalog exits at once, every time
    process = subprocess.Popen(
        [sys.executable, "-m", "psc.cli", "run", "--var-dir", str(var_dir), "--free-ports", "--replicas", "routing=2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    stack = Run(process, var_dir)
    reader = _read_lines(stack)
    deadline = time.monotonic() + 180
    while "Ctrl-C stops everything." not in stack.output:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the stack did not come up:\n{stack.output}")
        time.sleep(0.2)
    yield stack
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the stack did not stop within 60 s of Ctrl-C")
    reader.join(5)
    assert code == 0, stack.output
    assert "stopped." in stack.output
    for name, pid in stack.info()["pids"].items():
        assert not _alive(pid), f"{name} (pid {pid}) still runs after Ctrl-C"


def _read_lines(stack: Run) -> Any:
    import threading

    def read() -> None:
        assert stack.process.stdout is not None
        for line in stack.process.stdout:
            stack.lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


async def ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def an_inquiry_flows(http: httpx.AsyncClient, info: dict[str, Any], email: str) -> None:
    """Posted to intake, it is assigned by routing and notify emails the parent."""
    key = {"X-API-Key": info["demo_api_keys"][0]["key"]}  # the stack's demo key: submits and reads
    created = await http.post(info["urls"]["intake_api"], json=inquiry_body(email), headers=key)
    assert created.status_code == 201, created.text
    url = f"{info['urls']['intake_api']}/{created.json()['id']}"

    async def assigned() -> bool:
        return bool((await http.get(url, headers=key)).json()["assignment"])

    await eventually(assigned, timeout=60)
    await eventually(lambda: mail_to(http, info, email), timeout=60)


async def test_a_service_in_a_crash_loop_is_stopped_alone_and_the_rest_of_the_stack_stays_up(
    run: Run, http: httpx.AsyncClient
) -> None:
    info = run.info()
    assert "catalog stays stopped: crash loop: 5 crashes within 60 s (exit code 1)" in run.output
    assert "catalog (pid" in run.output and "restarting it in 0.5 s" in run.output
    assert info["stopped"] == {"catalog": "crash loop: 5 crashes within 60 s (exit code 1)"}
    assert "catalog" not in info["pids"]
    assert "STOPPED: crash loop" in run.output
    assert run.process.poll() is None
    for name in ("intake", "routing", "routing-2", "notify"):
        assert await ready(http, info["urls"][f"{name}_ready"]), name
    for name in ("tansu", "postgres", "mailcatcher", "smssink"):
        assert _alive(info["pids"][name]), name
    runner_log = (run.var_dir / "log" / "runner.log").read_text()
    assert "catalog stays stopped: crash loop" in runner_log


async def test_two_routing_processes_each_answer_on_their_own_port_and_share_the_consumer_group(
    run: Run, http: httpx.AsyncClient
) -> None:
    info = run.info()
    replicas = info["replicas"]["routing"]
    assert [r["name"] for r in replicas] == ["routing", "routing-2"]
    assert len({r["url"] for r in replicas}) == 2 and len({r["pid"] for r in replicas}) == 2
    for replica in replicas:
        assert info["pids"][replica["name"]] == replica["pid"] and _alive(replica["pid"])
        assert (await http.get(f"{replica['url']}/health")).json()["status"] == "ok"
        assert await ready(http, f"{replica['url']}/ready")
        assert f"pid {replica['pid']}" in run.output and replica["url"] in run.output
    assert [r["name"] for r in info["replicas"]["notify"]] == ["notify"]

    admin = AIOKafkaAdminClient(bootstrap_servers=info["kafka_bootstrap"])
    await admin.start()
    try:

        async def two_members() -> bool:
            (group,) = await admin.describe_consumer_groups(["psc.routing.inquiry-submitted"])
            return len(group.groups[0][5]) == 2

        await eventually(two_members, timeout=30)
    finally:
        await admin.close()


async def test_a_killed_service_is_restarted_and_inquiries_flow_again_while_broker_and_database_stay(
    run: Run, http: httpx.AsyncClient
) -> None:
    before = run.info()
    killed = before["pids"]["notify"]
    os.kill(killed, signal.SIGKILL)

    async def restarted() -> dict[str, Any] | None:
        now = run.info()
        pid = now["pids"].get("notify")
        return now if pid and pid != killed and await ready(http, now["urls"]["notify_ready"]) else None

    after = await eventually(restarted, timeout=60)
    assert f"notify (pid {killed}) exited (killed by SIGKILL); restarting it in 0.5 s" in run.output
    assert f"notify restarted (pid {after['pids']['notify']})" in run.output
    assert f"notify (pid {killed}) exited (killed by SIGKILL)" in (run.var_dir / "log" / "runner.log").read_text()
    await an_inquiry_flows(http, after, f"after.kill.{uuid.uuid4().hex[:8]}@example.org")
    for name in ("tansu", "postgres", "intake", "routing", "routing-2"):
        assert run.info()["pids"][name] == before["pids"][name], f"{name} must not have been restarted"


async def test_a_lost_broker_comes_back_with_its_topics_and_the_replay_sends_no_parent_a_second_email(
    run: Run, http: httpx.AsyncClient
) -> None:
    earlier = f"before.loss.{uuid.uuid4().hex[:8]}@example.org"
    await an_inquiry_flows(http, run.info(), earlier)
    before = run.info()
    os.kill(before["pids"]["tansu"], signal.SIGKILL)

    async def back() -> dict[str, Any] | None:
        now = run.info()
        if now["pids"].get("tansu") in (None, before["pids"]["tansu"]):
            return None
        names = ("intake", "routing", "routing-2", "notify")
        return now if all([await ready(http, now["urls"][f"{name}_ready"]) for name in names]) else None

    after = await eventually(back, timeout=90)
    assert "the broker (Tansu) exited (killed by SIGKILL)" in run.output
    assert "events replayed: intake" in run.output
    assert after["pids"]["postgres"] == before["pids"]["postgres"]
    assert after["broker_started_at"] > before["broker_started_at"]
    admin = AIOKafkaAdminClient(bootstrap_servers=after["kafka_bootstrap"])
    await admin.start()
    try:
        assert set(ALL_TOPICS) <= set(await admin.list_topics())
    finally:
        await admin.close()

    await an_inquiry_flows(http, after, f"after.loss.{uuid.uuid4().hex[:8]}@example.org")
    # The replay published the earlier inquiry's events (intake's and routing's) again; once notify has read all of
    # them, the parent still has each message once (the acknowledgment, the assignment): notify had applied them
    # already (its inbox).
    await eventually(
        lambda: caught_up(after["kafka_bootstrap"], "psc.notify.inquiry-submitted", INQUIRY_EVENTS), timeout=30
    )
    await eventually(
        lambda: caught_up(after["kafka_bootstrap"], "psc.notify.routing-events", ROUTING_EVENTS), timeout=30
    )
    subjects = [mail["Subject"] for mail in await mail_to(http, after, earlier)]
    assert subjects and len(subjects) == len(set(subjects)), subjects


async def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether ``group`` has committed every record of ``topic`` (and there is at least one).

    Asked through a consumer of that group that never joins it (``committed`` only fetches its offsets).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata, so the topic's partitions are known
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        committed = {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    return sum(ends.values()) > 0 and all((committed[tp] or 0) >= end for tp, end in ends.items())
