"""Resources in the acknowledgment, pure: the lookup notify asks the catalog, and the template variables of its answer.

The catalog's latest answer for each category is kept (``catalog_answers``): while it is fresher than
``PSC_NOTIFY_RESOURCES_FRESH_SECONDS`` an acknowledgment of that category names its resources at once and waits for
nothing (the directory changes seldom; parents should not wait on it). Otherwise, on ``inquiry.submitted`` the
acknowledgment's email is queued held ("waiting for resources from the catalog") and a ``LookupResources`` request
(the inquiry's category) goes to ``psc.catalog.lookups`` through the outbox, its reply to
``psc.notify.catalog-replies``. The reply fills two or three resources into the email (in the parent's language when
the resource has it, English otherwise) and releases it, with every other acknowledgment of its category then waiting
(a burst of inquiries asks once per inquiry but waits only for the first answer); no reply within
``PSC_NOTIFY_RESOURCES_WAIT_SECONDS`` and the email goes as it was planned, without resources. The text message never
waits and names no resource: it keeps its two segments (the email has the room for names, numbers and links).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from services.notify.domain import ACKNOWLEDGMENT, PlannedDelivery
from shared.contracts.catalog import LookupResources, ResourceView
from shared.contracts.envelope import Event
from shared.contracts.inquiries import InquirySubmitted
from shared.contracts.topics import NOTIFY_CATALOG_REPLIES

SLOTS = 3
"""At most this many resources in an acknowledgment."""
ASKED = 6
"""Resources asked for: a few more than the slots, so inactive ones or ones nobody can reach can be left out."""
WAITING_REASON = "waiting for resources from the catalog"
_REQUESTS = uuid.UUID("5c0e2f7e-7a35-4d8b-9d7c-3f6f1a0c9b21")

NO_RESOURCES: dict[str, str | None] = {
    name: None for slot in range(1, SLOTS + 1) for name in (f"resource_{slot}", f"resource_{slot}_contact")
}
"""The acknowledgment's resource variables before (or without) the catalog's answer."""


ANSWERS: TypeAdapter[list[ResourceView]] = TypeAdapter(list[ResourceView])
"""A kept answer as JSON (``catalog_answers.results``)."""


def request_id_for(event_id: UUID) -> UUID:
    """One lookup per acknowledgment, the same on every replica and every redelivery of the event."""
    return uuid.uuid5(_REQUESTS, f"acknowledgment:{event_id}")


@dataclass(frozen=True)
class ResourceWait:
    """An acknowledgment waiting for the catalog's answer."""

    request_id: UUID
    inquiry_id: UUID
    event_id: UUID
    category: str
    language: str


class ResourceLookupRequest(Event):
    """A ``LookupResources`` request sent through notify's outbox (the outbox carries events: this one's body is the
    request alone, as the catalog reads it; its envelope stays in the outbox row and the Kafka headers)."""

    event_type: Literal["catalog.lookup_requested"] = "catalog.lookup_requested"
    request: LookupResources = Field(description="The request as the catalog reads it")

    def partition_key(self) -> str:
        return self.request.correlation_id

    def model_dump_json(self, **kwargs: Any) -> str:
        return self.request.model_dump_json(**kwargs)


def lookup_for(event: InquirySubmitted, *, now: datetime) -> ResourceLookupRequest:
    """What fits the inquiry's category, best first; every language (the parent's is picked from translations)."""
    request_id = request_id_for(event.event_id)
    request = LookupResources(
        request_id=request_id,
        correlation_id=event.correlation_id,
        category=event.category.value,
        limit=ASKED,
        reply_to=NOTIFY_CATALOG_REPLIES,
    )
    return ResourceLookupRequest(
        event_id=request_id, occurred_at=now, correlation_id=event.correlation_id, request=request
    )


def hold(
    planned: Sequence[PlannedDelivery], *, until: datetime, events: Collection[UUID]
) -> list[PlannedDelivery]:
    """The acknowledgment emails of ``events`` about to be sent, held until ``until`` (or the catalog's answer)."""
    return [
        replace(p, next_attempt_at=until, reason=WAITING_REASON)
        if p.event_id in events and waits_for_resources(p)
        else p
        for p in planned
    ]


def waits_for_resources(delivery: PlannedDelivery) -> bool:
    return delivery.template == ACKNOWLEDGMENT and delivery.channel == "email" and delivery.status == "pending"


def resource_variables(results: Sequence[ResourceView], language: str) -> dict[str, str | None]:
    """The first ``SLOTS`` active resources one can reach (a phone or a web page): each one's name in ``language``
    when the catalog has it (``es-MX`` reads ``es``), else English, and how to reach it."""
    variables = dict(NO_RESOURCES)
    usable = [r for r in results if r.status == "active" and (r.phones or r.url)]
    for slot, resource in enumerate(usable[:SLOTS], start=1):
        variables[f"resource_{slot}"] = name_in(resource, language)
        variables[f"resource_{slot}_contact"] = reach(resource)
    return variables


def name_in(resource: ResourceView, language: str) -> str:
    translation = resource.translations.get(language.split("-")[0].split("_")[0].lower())
    return translation.name if translation is not None and translation.name else resource.name


def reach(resource: ResourceView) -> str:
    """The main number to call (a voice line first), then the web page: '(773) 553-1800, https://...'."""
    ways: list[str] = []
    voice = [p for p in resource.phones if p.type == "voice"] or [p for p in resource.phones if p.type != "fax"]
    if voice:
        ways.append(voice[0].number + (f" ext. {voice[0].extension}" if voice[0].extension else ""))
    if resource.url:
        ways.append(resource.url)
    return ", ".join(ways)
