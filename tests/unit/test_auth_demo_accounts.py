"""What `psc run` shows of the demo accounts and API key (the same as var/stack.json's demo_accounts, demo_api_keys)."""

from __future__ import annotations

import json

import pytest

from devstack.stack import StackInfo
from psc.cli import _print_urls


def test_the_screen_lists_every_demo_account_and_the_demo_key(capsys: pytest.CaptureFixture[str]) -> None:
    accounts = [
        {"username": "network-1-psa", "password": "pw-one", "role": "psa", "network_id": "network-1"},
        {"username": "central-auditor", "password": "pw-two", "role": "auditor", "network_id": "central"},
    ]
    info = StackInfo(
        var_dir="var",
        kafka_bootstrap="127.0.0.1:19092",
        database_url="postgresql://127.0.0.1:15432/psc",
        urls={"intake_api": "http://127.0.0.1:8001/v1/inquiries"},
        logs="var/log",
        pids={"intake": 1},
        demo_accounts=accounts,
        demo_api_keys=[{"key": "psc-demo-key", "scopes": ["inquiries:read", "inquiries:submit"]}],
    )
    _print_urls(info)
    screen = capsys.readouterr().out
    assert "Demo accounts (made up for this stack; sign in" in screen
    assert "POST /v1/auth/token" in screen
    assert [line.split() for line in screen.splitlines() if "pw-" in line] == [
        ["network-1-psa", "pw-one", "psa", "network-1"],
        ["central-auditor", "pw-two", "auditor", "central"],
    ]
    assert "Demo API key (X-API-Key; inquiries:read, inquiries:submit): psc-demo-key" in screen
    written = json.loads(info.to_json())
    assert written["demo_accounts"] == accounts
    assert written["demo_api_keys"] == [{"key": "psc-demo-key", "scopes": ["inquiries:read", "inquiries:submit"]}]


def test_a_stack_without_demo_accounts_shows_none(capsys: pytest.CaptureFixture[str]) -> None:
    info = StackInfo(var_dir="v", kafka_bootstrap="k", database_url="d", urls={}, logs="l", pids={"x": 1})
    _print_urls(info)
    assert "Demo" not in capsys.readouterr().out
