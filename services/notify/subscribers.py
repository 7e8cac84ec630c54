"""Notify's Kafka transport: read the events it reacts to; the use cases are in ``handlers.py``."""

from __future__ import annotations

from services.notify import handlers
from services.notify.domain import Renderer
from services.notify.unit_of_work import NotifyUnitOfWork
from shared.clock import Clock
from shared.contracts.inquiries import InquirySubmitted
from shared.kafka.batch_consumer import Incoming
from shared.kafka.event_subscriber import EventSubscriber


class InquirySubmittedSubscriber(EventSubscriber[InquirySubmitted, NotifyUnitOfWork]):
    """``psc.inquiries.events``: remember the parent's contact and consent; queue 'we received your concern'.

    Sending happens in the dispatcher, after this transaction commits: a handler never talks to a provider.
    """

    name = "inquiry-submitted"
    handles = (InquirySubmitted,)

    def __init__(self, *, clock: Clock, renderer: Renderer) -> None:
        self._clock = clock
        self._renderer = renderer

    async def handle(self, uow: NotifyUnitOfWork, batch: list[Incoming[InquirySubmitted]]) -> None:
        await handlers.acknowledge_submissions(
            uow, [item.message for item in batch], renderer=self._renderer, now=self._clock.now()
        )
