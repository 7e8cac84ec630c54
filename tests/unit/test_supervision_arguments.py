"""The options of `psc run --replicas` and `psc replay --since`: what they accept and how they refuse."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from psc.arguments import parse_duration, parse_replicas, parse_since
from psc.cli import app

SERVICES = ("intake", "routing", "notify", "catalog")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_replicas_name_a_count_per_service() -> None:
    assert parse_replicas("routing=2,notify=2", SERVICES) == {"routing": 2, "notify": 2}
    assert parse_replicas(" routing = 3 , ", SERVICES) == {"routing": 3}
    assert parse_replicas("intake=1", SERVICES) == {"intake": 1}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("billing=2", "unknown service 'billing' (services: intake, routing, notify, catalog)"),
        ("routing=0", "routing=0: the count must be from 1 to 16"),
        ("routing=two", "routing=two: the count must be a whole number"),
        ("routing=-1", "routing=-1: the count must be a whole number"),
        ("routing=2.5", "routing=2.5: the count must be a whole number"),
        ("routing=17", "routing=17: the count must be from 1 to 16"),
        ("routing", "'routing' is not SERVICE=COUNT"),
        ("=2", "'=2' is not SERVICE=COUNT"),
        ("routing=2,routing=3", "routing is given twice"),
        ("", "give SERVICE=COUNT pairs"),
    ],
)
def test_bad_replicas_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_replicas(text, SERVICES)
    assert says in str(refused.value)


def test_durations_read_as_days_hours_minutes_seconds() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1d2h3m4s") == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert parse_duration("2H") == timedelta(hours=2)
    for not_a_duration in ("", "h", "2", "2w", "1m1h", "2 h", "-2h"):
        assert parse_duration(not_a_duration) is None, not_a_duration


def test_since_is_a_duration_before_now_or_an_iso_time() -> None:
    assert parse_since("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_since("2026-11-23T08:00:00-06:00", now=NOW) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert parse_since("2026-11-23T14:00:00Z", now=NOW) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    local = parse_since("2026-11-20 08:00", now=NOW)  # no zone: this machine's local time
    assert local.tzinfo is not None
    assert local == datetime(2026, 11, 20, 8, 0).astimezone()
    assert parse_since("2026-11-20", now=NOW) == datetime(2026, 11, 20).astimezone()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("yesterday", "'yesterday' is neither an ISO-8601 time"),
        ("2x", "'2x' is neither an ISO-8601 time"),
        ("0m", "'0m' is no time at all"),
        ("2026-11-24T00:00:00+00:00", "is in the future"),
        ("2026-13-01", "is neither an ISO-8601 time"),
    ],
)
def test_a_bad_since_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_since(text, now=NOW)
    assert says in str(refused.value)


def test_since_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_since("2h", now=datetime(2026, 11, 23, 15, 0))
    assert parse_since("1h", now=datetime(2026, 11, 23, 15, 0, tzinfo=timezone(timedelta(hours=-6)))).utcoffset()


def _usage_error(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())  # rich wraps the usage box


def test_psc_run_refuses_bad_replicas_naming_the_option_before_starting_anything() -> None:
    assert "'--replicas': unknown service 'billing'" in _usage_error("run", "--replicas", "billing=2")
    assert "'--replicas': routing=0: the count must be from 1 to 16" in _usage_error("run", "--replicas", "routing=0")
    assert "'--replicas': routing=x" in _usage_error("run", "--replicas", "routing=x")


def test_psc_replay_refuses_a_bad_since_or_a_missing_option_before_connecting() -> None:
    assert "'--since': '2x' is neither" in _usage_error("replay", "--service", "routing", "--since", "2x")
    assert "'--since'" in _usage_error("replay", "--service", "routing")
    assert "'--service'" in _usage_error("replay", "--since", "2h")
    assert "'--service': name a service" in _usage_error("replay", "--service", " ", "--since", "2h")
