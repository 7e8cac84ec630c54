"""The contract documents under docs/ are the code's: each service is started in-process on the real broker and
database, and its OpenAPI document (``app.openapi()``) and AsyncAPI document (its broker's subscribers and
publishers with their message schemas, ``ServiceRuntime.asyncapi``) must equal docs/openapi/<service>.json and
docs/asyncapi/<service>.json. With ``PSC_WRITE_CONTRACTS=1`` (``make contracts``) the test writes them instead.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from devstack.stack import SMS_ACCOUNT_SID
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.routing.settings import RoutingSettings
from shared.service import ServiceRuntime
from shared.settings import PlatformSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
WRITE = os.environ.get("PSC_WRITE_CONTRACTS") == "1"

SERVICES: dict[str, Callable[[PlatformSettings], FastAPI]] = {
    "intake": lambda platform: create_intake(IntakeSettings(platform=platform)),
    "routing": lambda platform: create_routing(RoutingSettings(platform=platform)),
    "notify": lambda platform: create_notify(NotifySettings(platform=platform, sms_account_sid=SMS_ACCOUNT_SID)),
    "catalog": lambda platform: create_catalog(CatalogSettings(platform=platform)),
}


def render(document: dict[str, Any]) -> str:
    """The committed form: sorted keys, so the text changes only when the contract does."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def asyncapi_of(app: FastAPI) -> str:
    runtime: ServiceRuntime = app.state.runtime
    return render(runtime.asyncapi(title=app.title, version=app.version, description=app.description))


@pytest.mark.parametrize("service", list(SERVICES))
async def test_the_committed_openapi_and_asyncapi_documents_are_the_services_own(
    service: str, module_platform: PlatformSettings, topics: tuple[str, ...]
) -> None:
    app = SERVICES[service](module_platform)
    async with app.router.lifespan_context(app):
        documents = {
            Path("docs/openapi", f"{service}.json"): render(app.openapi()),
            Path("docs/asyncapi", f"{service}.json"): asyncapi_of(app),
        }
        assert asyncapi_of(app) == documents[Path("docs/asyncapi", f"{service}.json")], "not deterministic"
    assert module_platform.kafka_bootstrap not in "".join(documents.values()), "the broker's address is no contract"

    if WRITE:
        for path, text in documents.items():
            (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / path).write_text(text, encoding="utf-8")
        return
    for path, text in documents.items():
        committed = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), f"{path} (committed)", f"{path} (code)", lineterm=""
            )
            shown = "\n".join(list(diff)[:60])
            pytest.fail(f"{path} differs from the code: run `make contracts` and commit the result.\n{shown}")
