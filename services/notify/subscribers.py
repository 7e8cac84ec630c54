"""Notify's Kafka transport: read the events it reacts to; the use cases are in ``handlers.py``.

Sending happens in the dispatcher, after the transaction commits: a handler never talks to a provider.
"""

from __future__ import annotations

from typing import Any

from services.notify import handlers
from services.notify.domain import Renderer
from services.notify.handlers import CASE_EVENTS_TOLD, ROUTING_EVENTS_TOLD, Rules
from services.notify.unit_of_work import NotifyUnitOfWork
from shared.clock import Clock
from shared.contracts.catalog import LookupRejected, LookupReplied
from shared.contracts.envelope import InquiryEvent
from shared.contracts.routing import StaffUpdated
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber


class _CaseEventSubscriber(EventSubscriber[Any, NotifyUnitOfWork]):
    def __init__(self, *, clock: Clock, renderer: Renderer, rules: Rules) -> None:
        self._clock = clock
        self._renderer = renderer
        self._rules = rules

    async def handle(self, uow: NotifyUnitOfWork, batch: list[Incoming[InquiryEvent]]) -> None:
        await handlers.apply_case_events(
            uow, [item.message for item in batch], renderer=self._renderer, now=self._clock.now(), rules=self._rules
        )


class InquiryEventsSubscriber(_CaseEventSubscriber):
    """``psc.inquiries.events``: inquiry.submitted (the parent's contact, consent and language; 'we received your
    concern') and the lifecycle events a parent is told of (waiting on them, a visible note, resolved, reopened)."""

    # The group keeps the name it had when it read inquiry.submitted alone (psc.notify.inquiry-submitted): its offsets
    # and the tools that watch it (psc supervision, the fault run, the backpressure bench) carry on.
    name = "inquiry-submitted"
    handles = CASE_EVENTS_TOLD


class RoutingEventsSubscriber(_CaseEventSubscriber):
    """``psc.routing.events``: assigned, escalated (parent and staff), SLA warnings, reassignments (staff)."""

    name = "routing-events"
    handles = ROUTING_EVENTS_TOLD


class StaffSubscriber(EventSubscriber[StaffUpdated, NotifyUnitOfWork]):
    """``psc.routing.staff``: each staff member's name, work email and whether they are active."""

    name = "staff"
    handles = (StaffUpdated,)

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

    async def handle(self, uow: NotifyUnitOfWork, batch: list[Incoming[StaffUpdated]]) -> None:
        await handlers.follow_staff(uow, [item.message for item in batch], now=self._clock.now())


class CatalogRepliesSubscriber(EventSubscriber[LookupReplied | LookupRejected, NotifyUnitOfWork]):
    """``psc.notify.catalog-replies``: the catalog's answers to notify's lookups; each fills the resources into the
    acknowledgment it held and releases it (deduplicated by event id; a late or second answer changes nothing)."""

    name = "catalog-replies"
    handles = (LookupReplied, LookupRejected)

    def __init__(self, *, clock: Clock, renderer: Renderer) -> None:
        self._clock = clock
        self._renderer = renderer

    async def handle(self, uow: NotifyUnitOfWork, batch: list[Incoming[LookupReplied | LookupRejected]]) -> None:
        await handlers.fill_resources(
            uow, [item.message for item in batch], renderer=self._renderer, now=self._clock.now()
        )
