"""The console's pure pieces: the parent's languages, CSRF tokens bound to a session, durations, the school picker."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import Request

from services.intake.console import i18n, session
from services.intake.console.web import _duration, _school_id
from shared.auth import AuthSettings, Credentials


def _request(signing_key: str) -> Request:
    state = SimpleNamespace(credentials=Credentials(AuthSettings(signing_key=signing_key)))
    return Request({"type": "http", "app": SimpleNamespace(state=state), "headers": []})


def test_every_language_has_every_string_and_arabic_reads_right_to_left() -> None:
    english = set(i18n.strings("en"))
    for code in i18n.LANGUAGES:
        assert set(i18n.strings(code)) == english, code
    assert i18n.direction("ar") == "rtl" and i18n.direction("es") == "ltr"
    assert i18n.language_of(None, "es") == "es"
    assert i18n.language_of("pl", "es") == "pl"  # the switcher wins over the inquiry's language
    assert i18n.language_of("xx", "vi") == "vi"  # the inquiry's language when the asked one is unknown
    assert i18n.language_of("xx", "tl") == "en"  # no strings of its own: English
    assert set(i18n.LANGUAGES) >= {"en", "es", "pl", "zh", "ar", "vi", "ur"}, "every language notify writes in"
    assert i18n.direction("ur") == "rtl" and i18n.direction("vi") == "ltr"


def test_a_csrf_token_matches_only_its_own_session_and_key() -> None:
    request = _request("k" * 40)
    token = session.csrf_token(request, "session-a")
    assert session.csrf_matches(request, token, bound_to="session-a")
    assert not session.csrf_matches(request, token, bound_to="session-b")
    assert not session.csrf_matches(request, "", bound_to="session-a")
    assert not session.csrf_matches(request, token, bound_to=None)
    assert not session.csrf_matches(_request("m" * 40), token, bound_to="session-a")


def test_business_durations_read_as_hours_and_minutes() -> None:
    assert _duration(None) == "\u2013"
    assert _duration(9 * 3600) == "9h 00m"
    assert _duration(-(3600 + 5 * 60)) == "\u22121h 05m"


def test_the_school_picker_takes_the_id_or_the_exact_name() -> None:
    schools = [{"id": 609794, "name": "Thomas A Edison Regional Gifted Center ES"}]
    assert _school_id("609794 · Thomas A Edison Regional Gifted Center ES", schools) == 609794
    assert _school_id("thomas a edison regional gifted center es", schools) == 609794
    assert _school_id("Edison", schools) is None
    assert _school_id("12345", schools) is None
