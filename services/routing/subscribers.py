"""Routing's Kafka transport: which events it takes and with what clock; the use cases are in ``handlers.py``."""

from __future__ import annotations

from services.routing import handlers
from services.routing.domain import BusinessCalendar
from services.routing.unit_of_work import RoutingUnitOfWork
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber


class InquirySubmittedSubscriber(EventSubscriber[InquirySubmitted, RoutingUnitOfWork]):
    """``psc.inquiries.events``: a new inquiry goes to the queue of the network that serves the school."""

    name = "inquiry-submitted"
    handles = (InquirySubmitted,)

    def __init__(self, *, clock: Clock, calendar: BusinessCalendar) -> None:
        self._clock = clock
        self._calendar = calendar

    async def handle(self, uow: RoutingUnitOfWork, batch: list[Incoming[InquirySubmitted]]) -> None:
        await handlers.assign_inquiries(
            uow, [item.message for item in batch], calendar=self._calendar, now=self._clock.now()
        )
