"""Every Kafka topic of the platform, in one place. Names are ``psc.<area>.<what>``."""

from __future__ import annotations

from typing import Final

INQUIRY_SUBMISSIONS: Final = "psc.inquiries.submit"
"""Commands: other district systems submit inquiries here (same validation as intake's HTTP API)."""
INQUIRY_REJECTIONS: Final = "psc.inquiries.rejected"
"""Events: submissions that failed validation, with field errors and the submitter's correlation id."""
INQUIRY_EVENTS: Final = "psc.inquiries.events"
"""Events: the inquiry lifecycle as intake records it (submitted, ...), keyed by inquiry id."""
ROUTING_EVENTS: Final = "psc.routing.events"
"""Events: assignment, SLA warnings and escalations, keyed by inquiry id."""
NOTIFICATION_EVENTS: Final = "psc.notify.events"
"""Events: notification sent / failed / suppressed, keyed by inquiry id."""
CATALOG_LOOKUPS: Final = "psc.catalog.lookups"
"""Requests: resource lookups; the reply goes to the topic the request names, with its correlation id."""
CATALOG_UPSERTS: Final = "psc.catalog.upserts"
"""Commands: add or change a resource in the catalog (the same rules as ``PUT /v1/resources/{id}``)."""
CATALOG_REPLIES: Final = "psc.catalog.replies"
"""Replies to lookups, for requesters that do not name a reply topic of their own."""
CATALOG_EVENTS: Final = "psc.catalog.events"
"""Events: resource updated."""
DEAD_LETTERS: Final = "psc.dead-letters"
"""Messages no consumer could process, with the reason and their origin in headers."""

ALL_TOPICS: Final = (
    INQUIRY_SUBMISSIONS,
    INQUIRY_REJECTIONS,
    INQUIRY_EVENTS,
    ROUTING_EVENTS,
    NOTIFICATION_EVENTS,
    CATALOG_LOOKUPS,
    CATALOG_UPSERTS,
    CATALOG_REPLIES,
    CATALOG_EVENTS,
    DEAD_LETTERS,
)
