"""What the ``psc`` options mean, parsed apart from the command line so the rules are tested on their own.

Each parser raises ``ValueError`` with a message that reads after the option's name ("--replicas: ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

MAX_REPLICAS = 16  # processes of one service on one machine: a typo like routing=200 must not fork a crowd

_DURATION = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
DURATION_EXAMPLES = "90s, 15m, 2h, 7d, 1h30m"


def parse_replicas(text: str, services: Sequence[str]) -> dict[str, int]:
    """``routing=2,notify=2`` -> ``{"routing": 2, "notify": 2}``: processes per named service (others keep one)."""
    replicas: dict[str, int] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, equals, count = (piece.strip() for piece in part.partition("="))
        if not equals or not name:
            raise ValueError(f"{part!r} is not SERVICE=COUNT (for example routing=2,notify=2)")
        if name not in services:
            raise ValueError(f"unknown service {name!r} (services: {', '.join(services)})")
        if name in replicas:
            raise ValueError(f"{name} is given twice")
        if not count.isdigit():
            raise ValueError(f"{name}={count}: the count must be a whole number from 1 to {MAX_REPLICAS}")
        replicas[name] = int(count)
        if not 1 <= replicas[name] <= MAX_REPLICAS:
            raise ValueError(f"{name}={count}: the count must be from 1 to {MAX_REPLICAS}")
    if not replicas:
        raise ValueError("give SERVICE=COUNT pairs, for example routing=2,notify=2")
    return replicas


def parse_duration(text: str) -> timedelta | None:
    """``2h`` -> two hours, ``1h30m``, ``90s``, ``7d``; None when ``text`` is not such a duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def parse_since(text: str, *, now: datetime) -> datetime:
    """A moment in the past, aware: an ISO-8601 time (without a zone: this machine's) or a duration before ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    duration = parse_duration(text)
    if duration is not None:
        if not duration:
            raise ValueError(f"{text!r} is no time at all: give a duration such as {DURATION_EXAMPLES}")
        return now - duration
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO-8601 time (2026-11-23T08:00:00-06:00, 2026-11-23 08:00) nor a duration"
            f" ({DURATION_EXAMPLES})"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without a zone is this machine's local time
    if moment > now:
        raise ValueError(f"{text!r} is in the future")
    return moment
