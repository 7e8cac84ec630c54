"""Referrals as use cases (in memory): referring announces the deadline, the same key refers once, answering
announces it once, and the referral clock warns at 75% of the reply time and escalates at the deadline, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from fakes.catalog import FakeCatalogUnitOfWork, district_seed

from services.catalog import handlers
from services.catalog.app import load_calendar
from services.catalog.domain import ResourcePage
from services.catalog.searching import Found, SearchCache
from services.catalog.settings import CatalogSettings
from shared.contracts.catalog import ReferInquiry, ReferralReply
from shared.contracts.topics import CATALOG_EVENTS

NOW = datetime(2026, 10, 13, 15, 30, tzinfo=UTC)  # a Tuesday, 10:30 in Chicago
DUE = datetime(2026, 10, 16, 15, 30, tzinfo=UTC)
CALENDAR = load_calendar(CatalogSettings())  # the district's: public holidays and the district file


async def referred_uow() -> tuple[FakeCatalogUnitOfWork, handlers.Referred]:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=NOW)
    uow.emitted.clear()
    body = ReferInquiry(service_id="students-in-temporary-living-situations", reason="Fare card", request_key="k-1")
    outcome = await handlers.refer_inquiry(
        uow, uuid4(), body, staff_id="s-1", network_id="network-4", now=NOW, reply_business_days=3,
        calendar=CALENDAR, correlation_id="c-1",
    )  # fmt: skip
    assert isinstance(outcome, handlers.Referred)
    return uow, outcome


def types(uow: FakeCatalogUnitOfWork) -> list[str]:
    return [event.event_type for topic, event in uow.emitted if topic == CATALOG_EVENTS]


async def test_a_referral_is_announced_with_its_deadline_and_a_repeated_key_refers_once() -> None:
    uow, outcome = await referred_uow()
    assert outcome.created and outcome.referral.reply_due_at == DUE and outcome.referral.network_id == "network-4"
    assert types(uow) == ["inquiry.referred"]
    body = ReferInquiry(service_id="students-in-temporary-living-situations", reason="Again", request_key="k-1")
    again = await handlers.refer_inquiry(
        uow, uuid4(), body, staff_id="s-1", network_id="network-4", now=NOW, reply_business_days=3,
        calendar=CALENDAR, correlation_id="c-2",
    )  # fmt: skip
    assert isinstance(again, handlers.Referred) and not again.created and again.referral == outcome.referral
    assert types(uow) == ["inquiry.referred"]


async def test_an_unknown_department_is_not_referred_to() -> None:
    uow, _ = await referred_uow()
    body = ReferInquiry(service_id="no-such-office", reason="?")
    outcome = await handlers.refer_inquiry(
        uow,
        uuid4(),
        body,
        staff_id="s-1",
        network_id="n",
        now=NOW,
        reply_business_days=3,
        calendar=CALENDAR,
        correlation_id="c",
    )
    assert isinstance(outcome, handlers.NotFound) and outcome.what == "service_id"


async def test_the_clock_warns_at_three_quarters_then_escalates_at_the_deadline_once_each() -> None:
    uow, _ = await referred_uow()
    warn_at = NOW + (DUE - NOW) * 0.75
    assert await handlers.fire_due_referrals(uow, now=warn_at - timedelta(seconds=1), limit=10) == 0
    assert await handlers.fire_due_referrals(uow, now=warn_at, limit=10) == 1
    assert await handlers.fire_due_referrals(uow, now=warn_at + timedelta(hours=1), limit=10) == 0
    assert await handlers.fire_due_referrals(uow, now=DUE, limit=10) == 1
    assert await handlers.fire_due_referrals(uow, now=DUE + timedelta(days=5), limit=10) == 0
    assert types(uow) == ["inquiry.referred", "inquiry.referral_warning", "inquiry.referral_escalated"]
    escalated = uow.emitted[-1][1]
    assert escalated.model_dump()["escalated_to"] == "psa"


async def test_a_sweep_after_the_deadline_escalates_without_a_late_warning() -> None:
    uow, _ = await referred_uow()
    assert await handlers.fire_due_referrals(uow, now=DUE + timedelta(minutes=1), limit=10) == 1
    assert types(uow) == ["inquiry.referred", "inquiry.referral_escalated"]


async def test_an_answered_referral_neither_warns_nor_is_answered_twice() -> None:
    uow, outcome = await referred_uow()
    referral = outcome.referral
    answered = await handlers.answer_referral(
        uow, referral.inquiry_id, referral.id, ReferralReply(answer="Done"), staff_id="d-1", now=NOW,
        correlation_id="c",
    )  # fmt: skip
    assert not isinstance(answered, (handlers.NotFound, handlers.AlreadyAnswered))
    assert answered.status == "answered"
    again = await handlers.answer_referral(
        uow, referral.inquiry_id, referral.id, ReferralReply(answer="Again"), staff_id="d-1", now=NOW,
        correlation_id="c",
    )  # fmt: skip
    assert isinstance(again, handlers.AlreadyAnswered)
    wrong_inquiry = await handlers.answer_referral(
        uow, uuid4(), referral.id, ReferralReply(answer="x"), staff_id="d-1", now=NOW, correlation_id="c"
    )
    assert isinstance(wrong_inquiry, handlers.NotFound)
    assert await handlers.fire_due_referrals(uow, now=DUE + timedelta(days=1), limit=10) == 0
    assert types(uow) == ["inquiry.referred", "inquiry.referral_answered"]
    assert uow.emitted[-1][1].model_dump()["late"] is False


def test_the_search_cache_serves_fresh_pages_then_lets_one_request_refresh() -> None:
    cache = SearchCache(ttl=60)
    key = ("bus",)
    assert cache.get(key) is None
    found = Found(ResourcePage(total=0, results=[]))
    cache.put(key, found)
    assert cache.get(key) is found
    cache.clear()
    assert cache.get(key) is None
    assert SearchCache(ttl=0).get(key) is None


def test_past_its_ttl_one_request_searches_while_the_others_get_the_old_page() -> None:
    seconds = [100.0]
    cache = SearchCache(ttl=10, now=lambda: seconds[0])
    key = ("bus",)
    old = Found(ResourcePage(total=0, results=[]))
    cache.put(key, old)
    assert cache.get(key) is old  # fresh
    seconds[0] += 10.5
    assert cache.get(key) is None  # expired: this request searches again
    assert cache.get(key) is old  # the others meanwhile get the page it replaces
    cache.forget(key)  # that search failed
    assert cache.get(key) is None  # the next request tries again
