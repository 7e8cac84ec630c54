"""Text-message rules: segments, quiet hours across daylight-saving changes, inbound keywords, Twilio's signature."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify import sms
from services.notify.signing import (
    contact_key,
    twilio_signature,
    twilio_signature_valid,
    unsubscribe_token,
    unsubscribe_token_valid,
)


@pytest.mark.parametrize(
    ("body", "encoding", "units", "count"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table counts double
        ("a" * 159 + "[", "GSM-7", 161, 2),
        ("ñé¿¡Ü", "GSM-7", 5, 1),  # in the basic table
        ("á" * 70, "UCS-2", 70, 1),  # not in it: the whole text goes in UCS-2
        ("á" * 71, "UCS-2", 71, 2),
        ("中" * 134, "UCS-2", 134, 2),
        ("中" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two units each
        ("", "GSM-7", 0, 1),
    ],
)
def test_segments(body: str, encoding: str, units: int, count: int) -> None:
    assert sms.segments(body) == sms.Segments(encoding, units, count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "held_until"),
    [
        # Winter (CST, UTC-6): 19:59 goes, 20:00 waits for 08:00 = 14:00 UTC next day.
        (datetime(2026, 1, 14, 1, 59, tzinfo=UTC), None),
        (datetime(2026, 1, 14, 2, 0, tzinfo=UTC), datetime(2026, 1, 14, 14, 0, tzinfo=UTC)),
        (datetime(2026, 1, 14, 13, 59, tzinfo=UTC), datetime(2026, 1, 14, 14, 0, tzinfo=UTC)),
        (datetime(2026, 1, 14, 14, 0, tzinfo=UTC), None),
        # Summer (CDT, UTC-5): 08:00 is 13:00 UTC.
        (datetime(2026, 7, 1, 3, 0, tzinfo=UTC), datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
        # Spring forward (8 Mar 2026, 02:00 CST -> 03:00 CDT): held at 21:00 CST, released 08:00 CDT = 13:00 UTC.
        (datetime(2026, 3, 8, 3, 0, tzinfo=UTC), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        # Fall back (1 Nov 2026, 02:00 CDT -> 01:00 CST): held at 22:00 CDT, released 08:00 CST = 14:00 UTC.
        (datetime(2026, 11, 1, 3, 0, tzinfo=UTC), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
        # The repeated hour of the fall-back night is quiet both times.
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 7, 30, tzinfo=UTC), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_are_20_to_8_in_chicago_across_daylight_saving_changes(
    now: datetime, held_until: datetime | None
) -> None:
    assert sms.quiet_until(now) == held_until


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop! ", "STOP.", "stopall", "Unsubscribe", "cancel", "END", "quit", "revoke", "OPTOUT"]
)
def test_opt_out_keywords_whatever_the_case_spaces_and_punctuation(body: str) -> None:
    assert sms.keyword_of(body)[0] == "opt_out"


@pytest.mark.parametrize("body", ["START", "unstop", "Yes", "yes!", "  start  "])
def test_opt_in_keywords(body: str) -> None:
    assert sms.keyword_of(body)[0] == "opt_in"


@pytest.mark.parametrize("body", ["HELP", "help?", "Info"])
def test_help_keywords(body: str) -> None:
    assert sms.keyword_of(body)[0] == "help"


@pytest.mark.parametrize("body", ["please stop texting me", "STOP IT", "", "stopp", "thank you"])
def test_a_sentence_is_not_a_keyword(body: str) -> None:
    assert sms.keyword_of(body) == ("other", "")


def test_the_twilio_signature_is_hmac_sha1_over_the_url_and_sorted_params() -> None:
    # The worked example of Twilio's webhook security page (auth token 12345).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


@pytest.mark.parametrize("signature", [None, "", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "garbage"])
def test_a_wrong_or_missing_signature_is_refused(signature: str | None) -> None:
    assert not twilio_signature_valid("other-token", "https://x.example/v1/sms/status", {"A": "1"}, signature)


def test_the_contact_key_hides_the_number_and_is_stable() -> None:
    key = contact_key("secret", "sms", "+13125550147")
    assert key == contact_key("secret", "sms", "+13125550147") and "3125550147" not in key
    assert key != contact_key("other", "sms", "+13125550147")
    assert contact_key("secret", "email", "Ana@Example.org") == contact_key("secret", "email", "ana@example.org")


def test_the_unsubscribe_token_is_signed_per_delivery() -> None:
    token = unsubscribe_token("secret", "d-1")
    assert unsubscribe_token_valid("secret", "d-1", token)
    assert not unsubscribe_token_valid("secret", "d-2", token)
    assert not unsubscribe_token_valid("other", "d-1", token)
