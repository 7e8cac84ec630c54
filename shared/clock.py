"""Time is injected, never read from the wall inside domain code: tests move a clock instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, by: timedelta) -> None:
        self._at += by

    def set(self, at: datetime) -> None:
        self._at = at


class ScaledClock:
    """The wall clock running ``speed`` times faster from ``origin`` (default: when it was made).

    ``PSC_CLOCK_SPEED=20000`` makes a business day pass in under two seconds, so a demo shows escalations at once.
    Every service of a stack is given the same origin (``PSC_CLOCK_ORIGIN``), so their clocks agree.
    """

    def __init__(self, speed: float, *, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._origin = origin or datetime.now(UTC)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        return self._origin + (real - self._origin) * self.speed

    def real_seconds(self, span: timedelta) -> float:
        """How long ``span`` of this clock's time takes on the wall."""
        return span.total_seconds() / self.speed


def platform_clock(speed: float = 1.0, origin: float | None = None) -> Clock:
    """The clock a service runs on: the system clock, or a faster one (``PSC_CLOCK_SPEED``, ``PSC_CLOCK_ORIGIN``)."""
    if speed == 1.0:
        return SystemClock()
    return ScaledClock(speed, origin=datetime.fromtimestamp(origin, UTC) if origin is not None else None)


def clock_span(clock: Clock, real: timedelta) -> timedelta:
    """How much of ``clock``'s time passes while ``real`` passes on the wall.

    For waits that are about machines, not business time: a send's lease, a retry's backoff. On a sped-up clock
    they must stay as long in real time, or a replica takes over a send still under way (a message sent twice).
    """
    if isinstance(clock, ScaledClock):
        return real * clock.speed
    return real


def real_seconds(clock: Clock, span: timedelta) -> float:
    """How long ``span`` of ``clock``'s time takes on the wall (a fixed clock's: as long as it says)."""
    if isinstance(clock, ScaledClock):
        return clock.real_seconds(span)
    return span.total_seconds()
