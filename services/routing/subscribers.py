"""Routing's Kafka transport: which events it takes and with what clock; the use cases are in ``handlers.py``."""

from __future__ import annotations

from services.routing import handlers
from services.routing.policies import Rules
from services.routing.unit_of_work import RoutingUnitOfWork
from shared.clock import Clock
from shared.contracts.directory import SchoolListPublished
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.lifecycle import CLOCK_EVENTS, LifecycleEvent
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber


class InquirySubmittedSubscriber(EventSubscriber[InquirySubmitted | LifecycleEvent, RoutingUnitOfWork]):
    """``psc.inquiries.events``: a new inquiry goes to the queue of the network that serves the school; the case's
    lifecycle steps (acknowledged, waiting on the parent, replied, resolved, reopened) move its SLA clocks.

    One subscription for both, so one inquiry's submission and its steps are applied in their order on the
    partition (the name stays ``inquiry-submitted``: it is the consumer group and the inbox key).
    """

    name = "inquiry-submitted"
    handles = (InquirySubmitted, *CLOCK_EVENTS)

    def __init__(self, *, clock: Clock, rules: Rules) -> None:
        self._clock = clock
        self._rules = rules

    async def handle(self, uow: RoutingUnitOfWork, batch: list[Incoming[InquirySubmitted | LifecycleEvent]]) -> None:
        await handlers.apply_inquiry_events(
            uow, [item.message for item in batch], rules=self._rules, now=self._clock.now()
        )


class SchoolListSubscriber(EventSubscriber[SchoolListPublished, RoutingUnitOfWork]):
    """``psc.directory.updates``: a new school list is loaded whole (schools that changed network take their open
    inquiries along), or refused with each bad line named."""

    name = "school-lists"
    handles = (SchoolListPublished,)

    def __init__(self, *, clock: Clock, rules: Rules) -> None:
        self._clock = clock
        self._rules = rules

    async def handle(self, uow: RoutingUnitOfWork, batch: list[Incoming[SchoolListPublished]]) -> None:
        for item in batch:
            origin = handlers.Origin(item.record.topic, item.record.partition, item.record.offset)
            await handlers.apply_published_school_list(
                uow, item.message, origin=origin, rules=self._rules, now=self._clock.now()
            )
