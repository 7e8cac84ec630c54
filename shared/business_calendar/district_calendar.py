"""The district's business calendar: business hours on the district's clock, on weekdays that are not closed days, and
SLA time counted in business seconds on it.

The deadline worker asks this for every inquiry it fires (when the next tier runs out, when its warning falls due),
so the arithmetic runs on a table worked out once per calendar: each business day's opening and closing instant and
the business time counted before it (an ordinal of business time). Business time between two instants is the
difference of their ordinals; ``seconds`` after an instant is the instant whose ordinal is the start's plus
``seconds``, found by bisection: O(log n) whatever the gap, where walking day by day was O(days) with a time-zone
conversion each. Outside the table's years the day-by-day walk answers (the same results, more slowly).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TABLE_FIRST = date(2024, 1, 1)
TABLE_LAST = date(2036, 12, 31)
"""The days the table covers (the years whose public holidays the calendar loads, and one more)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_NOTHING = timedelta()
_MICRO = 1_000_000
_DERIVED_KEPT = 8


def _micros(at: datetime) -> int:
    """An aware instant as whole microseconds since the epoch (exact: no float in between)."""
    span = at - _EPOCH
    return (span.days * 86400 + span.seconds) * _MICRO + span.microseconds


def _instant(micros: int) -> datetime:
    """The instant ``micros`` after the epoch, in UTC. Through a float, which is exact to the microsecond here: below
    2**53 microseconds (the year 2255) the quotient is within a fraction of a microsecond of the true value and
    ``fromtimestamp`` rounds to the nearest microsecond (the property tests hold it to the day-by-day walk)."""
    return datetime.fromtimestamp(micros / _MICRO, UTC)


class _BusinessTable:
    """Each business day of ``first``..``last`` (in order): its opening and closing instant and the business time
    counted from ``first`` to its opening and to its closing, all in microseconds."""

    def __init__(self, calendar: DistrictCalendar, first: date, last: date) -> None:
        self.covers_from = _micros(datetime.combine(first, time(0), tzinfo=calendar.zone))
        self.covers_to = _micros(datetime.combine(last + _ONE_DAY, time(0), tzinfo=calendar.zone))
        self.opens: list[int] = []
        self.closes: list[int] = []
        self.before: list[int] = []  # business time counted before the day opens
        self.after: list[int] = []  # ... and once it has closed
        counted = 0
        day = first
        while day <= last:
            if calendar.is_business_day(day):
                opens = _micros(datetime.combine(day, calendar.opens, tzinfo=calendar.zone))
                closes = _micros(datetime.combine(day, calendar.closes, tzinfo=calendar.zone))
                self.opens.append(opens)
                self.closes.append(closes)
                self.before.append(counted)
                counted += closes - opens
                self.after.append(counted)
            day += _ONE_DAY

    def covers(self, micros: int) -> bool:
        return self.covers_from <= micros < self.covers_to

    def ordinal(self, micros: int) -> int:
        """Business time counted from the table's first day up to the instant ``micros`` (which it covers)."""
        i = bisect_right(self.opens, micros) - 1
        if i < 0:
            return 0
        return self.before[i] + min(micros, self.closes[i]) - self.opens[i]

    def instant(self, ordinal: int) -> int | None:
        """The earliest instant whose ordinal is ``ordinal`` (> 0); None past the table's last business day."""
        j = bisect_left(self.after, ordinal)
        if j == len(self.after):
            return None
        return self.opens[j] + ordinal - self.before[j]


@dataclass
class _Derived:
    """What a calendar works out once and keeps: each day's window for the day-by-day walk, its business table,
    and the calendars derived from it with closure days added."""

    windows: dict[date, tuple[datetime, datetime] | None] = field(default_factory=dict)
    table: _BusinessTable | None = None
    with_closures: dict[frozenset[tuple[date, str]], DistrictCalendar] = field(default_factory=dict)


@dataclass(frozen=True)
class DistrictCalendar:
    """Business hours on the district's clock, on weekdays that are not closed days.

    Closed days are the US and Illinois public holidays, the district's own calendar (breaks, school holidays) and
    emergency closures. SLA time is counted in business seconds: an hour at 16:30 on a Friday is thirty minutes that
    day and thirty on Monday morning. Business hours never span a daylight-saving change (at 2:00), so each day's
    window is taken on the wall clock and converted: the arithmetic is right on both change days.
    """

    zone: ZoneInfo
    opens: time = time(8, 0)
    closes: time = time(17, 0)
    closed_days: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError("business hours must close after they open")
        object.__setattr__(self, "_derived", _Derived())

    @property
    def _kept(self) -> _Derived:
        derived: _Derived = self.__dict__["_derived"]
        return derived

    @property
    def business_day_seconds(self) -> int:
        return (self.closes.hour * 3600 + self.closes.minute * 60) - (self.opens.hour * 3600 + self.opens.minute * 60)

    def closed_reason(self, day: date) -> str | None:
        """Why the offices are closed on ``day`` (a weekend, a holiday's name, a break); None on a business day."""
        if day.weekday() >= 5:
            return "weekend"
        return self.closed_days.get(day)

    def is_business_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def with_closure(self, day: date, reason: str) -> DistrictCalendar:
        return replace(self, closed_days={**self.closed_days, day: reason})

    def with_closures(self, closures: Mapping[date, str]) -> DistrictCalendar:
        """This calendar with these emergency closure days too; the same object for the same closures, so its table
        is worked out once, not in every transaction that reads the closures (the last few sets are kept)."""
        if not closures:
            return self
        key = frozenset(closures.items())
        kept = self._kept.with_closures
        found = kept.get(key)
        if found is None:
            found = replace(self, closed_days={**self.closed_days, **closures})
            if len(kept) >= _DERIVED_KEPT:
                kept.pop(next(iter(kept)))
            kept[key] = found
        return found

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def _table(self) -> _BusinessTable:
        kept = self._kept
        if kept.table is None:
            kept.table = _BusinessTable(self, TABLE_FIRST, TABLE_LAST)
        return kept.table

    def _from(self, table: _BusinessTable, counted: int, start: datetime, seconds: int) -> datetime:
        """``seconds`` of business time after ``start``, whose position on ``table`` is ``counted``."""
        if seconds <= 0:
            return start
        found = table.instant(counted + seconds * _MICRO)
        return _instant(found) if found is not None else self.add_business_by_days(start, seconds)

    def business_seconds(self, start: datetime, end: datetime) -> int:
        """Business seconds between two instants (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        table = self._table()
        first, last = _micros(start), _micros(end)
        if table.covers(first) and table.covers(last):
            return (table.ordinal(last) - table.ordinal(first)) // _MICRO
        return self.business_seconds_by_days(start, end)

    def add_business(self, start: datetime, seconds: int) -> datetime:
        """The instant when ``seconds`` of business time have passed after ``start`` (in UTC).

        Zero seconds from a moment outside business hours is that moment (nothing is left to count). Time is counted
        from the next opening: an inquiry at 23:00 or at 7:59 starts counting at 8:00 of the next business day.
        """
        if seconds <= 0:
            return start
        table = self._table()
        micros = _micros(start)
        if table.covers(micros):
            found = table.instant(table.ordinal(micros) + seconds * _MICRO)
            if found is not None:
                return _instant(found)
        return self.add_business_by_days(start, seconds)

    def add_business_two(self, start: datetime, first: int, second: int | None) -> tuple[datetime, datetime | None]:
        """``add_business(start, first)`` and (unless None) ``add_business(start, second)``, the start's position on
        the calendar found once: a clock's run-out and its warning point."""
        if first <= 0 and second is None:
            return start, None
        table = self._table()
        micros = _micros(start)
        if not table.covers(micros):
            return self.add_business(start, first), None if second is None else self.add_business(start, second)
        counted = table.ordinal(micros)
        return (
            self._from(table, counted, start, first),
            None if second is None else self._from(table, counted, start, second),
        )

    # -- Day by day: the plain definition (outside the table's years, and what the tests hold the table to) --------

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's business hours as UTC instants; None when the offices are closed that day."""
        windows = self._kept.windows
        if day not in windows:
            windows[day] = (
                (
                    datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC),
                    datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC),
                )
                if self.is_business_day(day)
                else None
            )
        return windows[day]

    def business_seconds_by_days(self, start: datetime, end: datetime) -> int:
        """``business_seconds``, day by day: the overlap of each day's business hours with the span."""
        if end <= start:
            return 0
        total = timedelta()
        day, last = self.local_day(start), self.local_day(end)
        while day <= last:
            window = self._window(day)
            if window is not None:
                overlap = min(window[1], end) - max(window[0], start)
                if overlap > _NOTHING:
                    total += overlap
            day += _ONE_DAY
        return int(total.total_seconds())

    def add_business_by_days(self, start: datetime, seconds: int) -> datetime:
        """``add_business``, day by day: what each business day has left, until ``seconds`` are used up."""
        if seconds <= 0:
            return start
        left = timedelta(seconds=seconds)
        day = self.local_day(start)
        for _ in range(3660):  # ten years of days: a calendar closed for longer is a configuration error
            window = self._window(day)
            if window is not None:
                begin = max(window[0], start)
                available = window[1] - begin
                if available > _NOTHING:
                    if left <= available:
                        return (begin + left).astimezone(UTC)
                    left -= available
            day += _ONE_DAY
        raise ValueError("the calendar has no business day for ten years")
