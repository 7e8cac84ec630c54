"""``psc load-schools``: what it sends routing, and what it tells the operator (routing's answer stubbed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from psc.cli import app


class Answer:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code, self._body, self.text = status, body, str(body)

    def json(self) -> dict[str, Any]:
        return self._body


def test_a_good_list_is_sent_whole_and_the_outcome_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text("school_id,short_name,long_name,network\n609794,EDISON,Thomas A Edison,Network 2\n")
    sent: dict[str, Any] = {}

    def put(url: str, *, json: dict[str, Any], headers: dict[str, str], timeout: float) -> Answer:
        sent.update(url=url, json=json, headers=headers)
        return Answer(200, {"schools": 1, "moved_schools": 1, "rerouted": 3})

    monkeypatch.setattr(httpx, "put", put)
    result = CliRunner().invoke(
        app, ["load-schools", str(schools), "--routing-url", "http://routing:8002/", "--token", "a-central-token"]
    )
    assert result.exit_code == 0, result.output
    assert sent == {
        "url": "http://routing:8002/v1/directory/schools",
        "json": {"csv": schools.read_text()},
        "headers": {"Authorization": "Bearer a-central-token"},
    }
    assert "loaded 1 schools; 1 changed network; 3 open inquiries rerouted" in result.output


def test_a_list_with_bad_rows_reports_each_line_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text("school_id,short_name,long_name,network\n12,X,X,\n")
    errors = [{"field": "csv", "reason": "line 2: school_id: is not a six-digit school id"}]
    monkeypatch.setattr(httpx, "put", lambda url, **_: Answer(422, {"errors": errors}))
    result = CliRunner().invoke(app, ["load-schools", str(schools)])
    assert result.exit_code == 1
    assert f"{schools}: line 2: school_id: is not a six-digit school id" in result.output
    assert "nothing was loaded" in result.output


def test_without_a_token_the_operator_signs_one_with_the_services_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text("school_id,short_name,long_name,network\n609794,EDISON,Thomas A Edison,Network 2\n")
    sent: dict[str, Any] = {}

    def put(url: str, **kwargs: Any) -> Answer:
        sent.update(kwargs)
        return Answer(200, {"schools": 1, "moved_schools": 0, "rerouted": 0})

    monkeypatch.setattr(httpx, "put", put)
    monkeypatch.setenv("PSC_AUTH_SIGNING_KEY", "the-services-signing-key-0123456789abcdef")
    assert CliRunner().invoke(app, ["load-schools", str(schools)]).exit_code == 0
    token = sent["headers"]["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, "the-services-signing-key-0123456789abcdef", algorithms=["HS256"], audience="psc")
    assert (claims["sub"], claims["role"], claims["network_id"]) == ("psc-operator", "central_staff", "central")
    assert claims["exp"] - claims["iat"] == 300


def test_refused_credentials_are_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text("school_id,short_name,long_name,network\n609794,EDISON,Thomas A Edison,Network 2\n")
    monkeypatch.setattr(httpx, "put", lambda url, **_: Answer(403, {"detail": "only for central_staff"}))
    result = CliRunner().invoke(app, ["load-schools", str(schools), "--token", "t"])
    assert result.exit_code == 1
    assert "routing refused the credentials (only for central_staff)" in " ".join(result.output.split())
