"""The catalog's use cases against the in-memory unit of work: every branch in milliseconds (the same use cases run
through the real broker and database, full-text search included, in tests/integration/test_catalog_service.py)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from fakes.catalog import NOW, FakeCatalogUnitOfWork, FakeTopics, district_seed, pep_upsert

from services.catalog import handlers
from services.catalog.domain import InvalidSeed
from services.catalog.subscribers import LookupsSubscriber
from shared.clock import FixedClock
from shared.contracts.catalog import LookupRejected, LookupReplied, LookupResources, ResourceUpdated, ResourceUpsert
from shared.contracts.envelope import FieldError
from shared.contracts.topics import CATALOG_EVENTS, CATALOG_LOOKUPS, CATALOG_REPLIES
from shared.kafka.batch_consumer import Incoming

PEP = "parent-educator-partnership"
REPLIES = "psc.test.catalog-replies"


async def prepared(seed: bool = False) -> FakeCatalogUnitOfWork:
    """A directory with its taxonomy (and the district's seed when asked), nothing emitted yet."""
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed() if seed else None, now=NOW)
    uow.emitted.clear()
    return uow


async def upsert(
    uow: FakeCatalogUnitOfWork, upsert: ResourceUpsert, *, service_id: str = PEP, at: timedelta = timedelta()
) -> handlers.UpsertOutcome:
    return await handlers.apply_upsert(uow, service_id, upsert, now=NOW + at, correlation_id="put-1")


# --- Upserts ------------------------------------------------------------------------------------------------------


async def test_a_new_resource_is_stored_and_announced_as_created() -> None:
    uow = await prepared()
    outcome = await upsert(uow, pep_upsert())
    assert isinstance(outcome, handlers.Applied)
    assert (outcome.created, outcome.changed) == (True, True)
    assert outcome.view.phones[0].number == "(773) 553-1800"
    assert outcome.view.locations[0].address_1 == "125 South Clark Street, 8th Floor"
    (event,) = uow.events_on(CATALOG_EVENTS)
    assert isinstance(event, ResourceUpdated)
    assert (event.service_id, event.created, event.correlation_id) == (PEP, True, "put-1")
    assert event.resource == outcome.view


async def test_the_same_upsert_again_changes_nothing_and_announces_nothing() -> None:
    uow = await prepared()
    first = await upsert(uow, pep_upsert())
    again = await upsert(uow, pep_upsert(), at=timedelta(hours=1))
    assert isinstance(first, handlers.Applied) and isinstance(again, handlers.Applied)
    assert (again.created, again.changed) == (False, False)
    assert again.view.updated_at == first.view.updated_at == NOW
    assert len(uow.events_on(CATALOG_EVENTS)) == 1


async def test_a_changed_upsert_is_announced_as_an_update() -> None:
    uow = await prepared()
    await upsert(uow, pep_upsert())
    outcome = await upsert(uow, pep_upsert(languages=["en", "es", "pl"]), at=timedelta(hours=1))
    assert isinstance(outcome, handlers.Applied)
    assert (outcome.created, outcome.changed, outcome.view.languages) == (False, True, ["en", "es", "pl"])
    updated = [e for e in uow.events_on(CATALOG_EVENTS) if isinstance(e, ResourceUpdated)]
    assert [e.created for e in updated] == [True, False]


async def test_an_upsert_breaking_a_rule_is_refused_and_stores_nothing() -> None:
    uow = await prepared()
    outcome = await upsert(uow, pep_upsert(phones=[], locations=[]))
    assert isinstance(outcome, handlers.Refused)
    assert [e.field for e in outcome.errors] == ["service"]
    assert (uow.resources.services, uow.resources.organizations, uow.emitted) == ({}, {}, [])


async def test_an_upsert_taking_another_organizations_location_is_refused_and_stores_nothing() -> None:
    uow = await prepared()
    await upsert(uow, pep_upsert())
    thief = pep_upsert(organization={"id": "test-other-org", "name": "Other"})
    outcome = await upsert(uow, thief, service_id="test-location-thief")
    assert outcome == handlers.Refused(
        [FieldError(field="locations.0.id", reason="is a location of another organization")]
    )
    assert set(uow.resources.services) == {PEP} and "test-other-org" not in uow.resources.organizations
    assert len(uow.emitted) == 1


async def test_renaming_an_organization_announces_every_service_it_offers() -> None:
    uow = await prepared()
    await upsert(uow, pep_upsert())
    await upsert(uow, pep_upsert(service={"name": "ODLSS", "description": "Special education."}), service_id="odlss")
    renamed = pep_upsert(organization={"id": "cps-odlss", "name": "ODLSS, renamed"})
    await upsert(uow, renamed, at=timedelta(hours=1))
    last_two = uow.events_on(CATALOG_EVENTS)[-2:]
    assert sorted((e.service_id, e.resource.organization.name) for e in last_two if isinstance(e, ResourceUpdated)) == [
        ("odlss", "ODLSS, renamed"),
        (PEP, "ODLSS, renamed"),
    ]


# --- The seed -----------------------------------------------------------------------------------------------------


async def test_the_seed_fills_the_directory_once_however_often_the_service_starts() -> None:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=NOW)
    assert len(uow.resources.services) == len(district_seed().services)
    assert len(uow.events_on(CATALOG_EVENTS)) == len(district_seed().services)
    await handlers.prepare_directory(uow, district_seed(), now=NOW + timedelta(days=1))
    assert len(uow.events_on(CATALOG_EVENTS)) == len(district_seed().services)
    assert uow.resources.seed_locks == 2


async def test_a_seed_the_directory_refuses_stops_the_start_naming_the_seed_service() -> None:
    uow = await prepared()
    squatter = pep_upsert(organization={"id": "test-other-org", "name": "Other"})
    await upsert(uow, squatter, service_id="test-squatter")  # holds the location the seed gives to ODLSS
    with pytest.raises(InvalidSeed) as refused:
        await handlers.prepare_directory(uow, district_seed(), now=NOW)
    (error,) = refused.value.errors
    assert error.field.startswith("services.") and error.field.endswith(".locations.0.id")


# --- Lookups ------------------------------------------------------------------------------------------------------


def lookup(**fields: object) -> LookupResources:
    return LookupResources.model_validate({"request_id": str(uuid4()), "correlation_id": "lookup-1", **fields})


async def test_a_lookup_is_answered_on_the_topic_it_names_with_its_ids() -> None:
    uow = await prepared(seed=True)
    request = lookup(category="special_education", reply_to=REPLIES)
    outcome = await handlers.answer_lookup(uow, request, topics=FakeTopics(REPLIES), now=NOW, searched={})
    assert outcome == handlers.Answered(REPLIES)
    (reply,) = uow.events_on(REPLIES)
    assert isinstance(reply, LookupReplied)
    assert (reply.request_id, reply.correlation_id) == (request.request_id, "lookup-1")
    assert PEP in [result.id for result in reply.results]
    assert all("special_education" in result.categories for result in reply.results)


async def test_a_lookup_naming_a_topic_the_broker_does_not_have_is_refused_and_not_answered() -> None:
    uow = await prepared(seed=True)
    request = lookup(reply_to="psc.no-such-topic")
    outcome = await handlers.answer_lookup(uow, request, topics=FakeTopics(CATALOG_REPLIES), now=NOW, searched={})
    assert outcome == handlers.Refused([FieldError(field="reply_to", reason="names a topic the broker does not have")])
    assert uow.emitted == []


async def test_one_search_asked_twice_in_a_batch_is_run_once() -> None:
    uow = await prepared(seed=True)
    searched: handlers.SearchesOfTheBatch = {}
    for _ in range(2):
        await handlers.answer_lookup(
            uow, lookup(q="bus"), topics=FakeTopics(CATALOG_REPLIES), now=NOW, searched=searched
        )
    assert len(searched) == 1 and len(uow.events_on(CATALOG_REPLIES)) == 2


def record_of(request: LookupResources, offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic=CATALOG_LOOKUPS,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=request.model_dump_json().encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )


async def test_the_lookups_subscriber_answers_refusals_on_the_replies_topic_in_the_order_requests_came() -> None:
    uow = await prepared(seed=True)
    subscriber = LookupsSubscriber(clock=FixedClock(NOW), reply_topics=FakeTopics(CATALOG_REPLIES))
    missing, answered = lookup(reply_to="psc.no-such-topic"), lookup(q="bus")
    batch = [Incoming(record_of(missing, 7), missing), Incoming(record_of(answered, 8), answered)]
    await subscriber.handle(uow, batch)
    rejection, reply = uow.events_on(CATALOG_REPLIES)
    assert isinstance(rejection, LookupRejected) and isinstance(reply, LookupReplied)
    assert (rejection.request_id, rejection.origin_topic, rejection.origin_offset) == (
        missing.request_id,
        CATALOG_LOOKUPS,
        7,
    )
    assert [e.field for e in rejection.errors] == ["reply_to"]
    assert reply.request_id == answered.request_id
