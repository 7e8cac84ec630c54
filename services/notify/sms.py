"""Text-message rules, pure: how many segments a text costs, quiet hours, and what an inbound text asks for.

Segments (3GPP TS 23.038 / 23.040): a text of GSM 03.38 characters only is sent in GSM-7, 160 septets in one
segment or 153 per segment when split (the rest is the concatenation header); a character of the extension table
(``^{}\\[~]|€`` and form feed) takes two septets (an escape and the character). Any other character sends the whole
text in UCS-2: 70 UTF-16 code units in one segment, 67 per segment when split. No well-kept library counts this (the
GSM codecs on PyPI encode, they do not count segments), so it is the few lines below, tested per case.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class Segments:
    encoding: Encoding
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    count: int


def segments(body: str) -> Segments:
    """How many segments ``body`` is billed as, in which encoding."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in body):
        units = sum(2 if char in GSM_EXTENSION else 1 for char in body)
        single, per_part, encoding = 160, 153, "GSM-7"
    else:
        units = len(body.encode("utf-16-le")) // 2  # a character outside the BMP takes two units
        single, per_part, encoding = 70, 67, "UCS-2"
    count = 1 if units <= single else math.ceil(units / per_part)
    return Segments(encoding=encoding, units=units, count=count)  # type: ignore[arg-type]


# --- quiet hours ------------------------------------------------------------------------------------------------------

CHICAGO = ZoneInfo("America/Chicago")
QUIET_FROM = time(20, 0)
QUIET_UNTIL = time(8, 0)


def quiet_until(now: datetime, *, zone: ZoneInfo = CHICAGO) -> datetime | None:
    """When a text may go, if ``now`` is in quiet hours (20:00 to 08:00 local time); None when it may go now.

    The morning is 08:00 local time on the wall of that day, so a change to or from daylight saving time in the night
    moves the UTC instant, never the local hour.
    """
    local = now.astimezone(zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=zone)


# --- inbound keywords -------------------------------------------------------------------------------------------------

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
Keyword = Literal["opt_out", "opt_in", "help", "other"]
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def keyword_of(body: str) -> tuple[Keyword, str]:
    """What an inbound text asks for, and the keyword as read: the whole text, case, surrounding spaces and
    punctuation aside ('stop', ' Stop! ', 'STOP.'), as carriers read them. 'Please stop texting me' is not a keyword
    (carriers would not take it as one either): it is kept as an ordinary reply."""
    word = _EDGES.sub("", unicodedata.normalize("NFKC", body).strip()).upper()
    if word in OPT_OUT:
        return "opt_out", word
    if word in OPT_IN:
        return "opt_in", word
    if word in HELP:
        return "help", word
    return "other", ""
