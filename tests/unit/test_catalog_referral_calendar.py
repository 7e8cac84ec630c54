"""Referrals' reply deadline on the district calendar routing's SLA clocks run on: business days skip weekends,
public holidays, the district's breaks and emergency closures, at the same local time; a closure routing announces
moves the due time of the referrals awaiting a reply on or after that day, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from fakes.catalog import FakeCatalogUnitOfWork, district_seed
from fakes.routing import NOW as ROUTING_NOW
from fakes.routing import RULES, FakeRoutingUnitOfWork

from services.catalog import handlers
from services.catalog.app import load_calendar
from services.catalog.referrals import reply_due_at, warn_at
from services.catalog.settings import CatalogSettings
from services.routing import handlers as routing
from shared.contracts.calendar import CalendarClosureAdded
from shared.contracts.catalog import ReferInquiry, ReferralReply
from shared.contracts.topics import CALENDAR_EVENTS

CALENDAR = load_calendar(CatalogSettings())  # public holidays, the district file; no closures
TUESDAY = datetime(2026, 10, 13, 15, 30, tzinfo=UTC)  # 10:30 in Chicago
FRIDAY = datetime(2026, 10, 16, 15, 30, tzinfo=UTC)


def test_three_business_days_from_a_tuesday_is_the_friday_at_the_same_local_time() -> None:
    assert reply_due_at(TUESDAY, business_days=3, calendar=CALENDAR) == FRIDAY


def test_a_weekend_does_not_count() -> None:
    assert reply_due_at(FRIDAY, business_days=1, calendar=CALENDAR) == datetime(2026, 10, 19, 15, 30, tzinfo=UTC)


def test_a_public_holiday_does_not_count() -> None:
    tuesday = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)  # the day before Veterans Day
    assert CALENDAR.closed_reason(date(2026, 11, 11)) is not None
    assert reply_due_at(tuesday, business_days=1, calendar=CALENDAR) == datetime(2026, 11, 12, 16, 0, tzinfo=UTC)


def test_a_district_break_does_not_count() -> None:
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # the Thanksgiving break is the next week, Monday to Friday
    assert CALENDAR.closed_reason(date(2026, 11, 23)) == "Thanksgiving break"
    assert reply_due_at(friday, business_days=1, calendar=CALENDAR) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_an_emergency_closure_does_not_count() -> None:
    closed = CALENDAR.with_closures({date(2026, 10, 16): "snow day"})
    assert reply_due_at(TUESDAY, business_days=3, calendar=closed) == datetime(2026, 10, 19, 15, 30, tzinfo=UTC)


def test_daylight_saving_keeps_the_local_time() -> None:
    friday = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)  # 10:00 CDT; the clocks go back on Sunday
    assert reply_due_at(friday, business_days=1, calendar=CALENDAR) == datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


async def referred(uow: FakeCatalogUnitOfWork, key: str) -> handlers.Referred:
    body = ReferInquiry(service_id="students-in-temporary-living-situations", reason="Fare card", request_key=key)
    outcome = await handlers.refer_inquiry(
        uow, uuid4(), body, staff_id="s-1", network_id="network-4", now=TUESDAY, reply_business_days=3,
        calendar=CALENDAR, correlation_id="c-1",
    )  # fmt: skip
    assert isinstance(outcome, handlers.Referred)
    return outcome


def closure(day: date) -> CalendarClosureAdded:
    return CalendarClosureAdded(occurred_at=TUESDAY, correlation_id=f"closure-{day}", day=day, reason="snow day")


async def test_a_closure_on_the_due_day_moves_the_due_and_warning_times_once() -> None:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=TUESDAY)
    awaiting = (await referred(uow, "k-1")).referral
    answered = (await referred(uow, "k-2")).referral
    await handlers.answer_referral(
        uow, answered.inquiry_id, answered.id, ReferralReply(answer="Done"), staff_id="d", now=TUESDAY,
        correlation_id="c",
    )  # fmt: skip
    event = closure(date(2026, 10, 16))
    moved = await handlers.apply_closure(uow, event, calendar=CALENDAR, reply_business_days=3)
    monday = datetime(2026, 10, 19, 15, 30, tzinfo=UTC)
    assert moved == 1
    assert uow.referrals.rows[awaiting.id].reply_due_at == monday
    assert uow.referrals.rows[answered.id].reply_due_at == FRIDAY  # answered: its clock has stopped
    assert uow.calendar.closed == {date(2026, 10, 16): "snow day"}
    # The warning follows: 75% of the longer reply time, so nothing warns at the old point.
    assert await handlers.fire_due_referrals(uow, now=warn_at(TUESDAY, FRIDAY), limit=10) == 0
    assert await handlers.fire_due_referrals(uow, now=warn_at(TUESDAY, monday), limit=10) == 1
    # Delivered again: nothing moves, nothing is kept twice.
    assert await handlers.apply_closure(uow, event, calendar=CALENDAR, reply_business_days=3) == 0
    assert uow.referrals.rows[awaiting.id].reply_due_at == monday


async def test_a_closure_after_the_due_day_moves_nothing_and_a_new_referral_counts_the_closures_on_file() -> None:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=TUESDAY)
    first = (await referred(uow, "k-1")).referral
    later = date(2026, 10, 19)
    assert await handlers.apply_closure(uow, closure(later), calendar=CALENDAR, reply_business_days=3) == 0
    assert uow.referrals.rows[first.id].reply_due_at == FRIDAY
    await handlers.apply_closure(uow, closure(date(2026, 10, 15)), calendar=CALENDAR, reply_business_days=3)
    # Thursday closed: three business days from Tuesday are Wednesday, Friday and Tuesday (Monday is closed too).
    tuesday_after = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)
    assert uow.referrals.rows[first.id].reply_due_at == tuesday_after
    assert (await referred(uow, "k-3")).referral.reply_due_at == tuesday_after


async def test_routing_announces_a_closure_keyed_by_its_day() -> None:
    uow = FakeRoutingUnitOfWork()
    day = (ROUTING_NOW + timedelta(days=4)).date()
    await routing.add_closure(uow, day=day, reason="snow day", rules=RULES, now=ROUTING_NOW)
    (announced,) = uow.events_on(CALENDAR_EVENTS)
    assert isinstance(announced, CalendarClosureAdded)
    assert (announced.day, announced.reason, announced.partition_key()) == (day, "snow day", day.isoformat())
