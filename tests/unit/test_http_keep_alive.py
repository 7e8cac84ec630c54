"""Idle keep-alive connections: a service keeps them open longer than its clients do, so the client closes first.

A server that closes an idle connection first races the client's next request on it: under load the close goes out
a loop turn late, the client has already sent on the connection, and the request ends in a reset. uvicorn's default
(5 s) equals httpx's own keep-alive expiry and is shorter than aiohttp's (15 s) and load balancers' (60 s); that race
is what dropped connections under 50 concurrent clients (README, "Backpressure").
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import shared.service
from services.intake.settings import IntakeSettings
from shared.service import run_service

# The longest idle time of the clients and proxies we expect in front: load balancers' usual 60 s.
LONGEST_CLIENT_IDLE_SECONDS = 60


def test_a_service_keeps_idle_connections_open_longer_than_its_clients_do(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(shared.service.uvicorn, "run", lambda app, **options: given.update(options))
    monkeypatch.setattr(shared.service, "configure_logging", lambda **_: None)

    run_service(name="intake", settings=IntakeSettings(), app=FastAPI())

    assert given["timeout_keep_alive"] == IntakeSettings().http_keep_alive_seconds
    assert given["timeout_keep_alive"] > LONGEST_CLIENT_IDLE_SECONDS
    assert given["timeout_keep_alive"] > (httpx.Limits().keepalive_expiry or 0)


def test_the_keep_alive_is_a_setting_of_each_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSC_INTAKE_HTTP_KEEP_ALIVE_SECONDS", "120")
    assert IntakeSettings().http_keep_alive_seconds == 120
