"""Every Kafka topic of the platform, in one place. Names are ``psc.<area>.<what>``.

Who publishes and who reads each topic: docs/architecture.md.
"""

from __future__ import annotations

from typing import Final

INQUIRY_SUBMISSIONS: Final = "psc.inquiries.submit"
"""Commands (``SubmitInquiry``): other district systems submit inquiries here; intake validates them as its HTTP API."""
INQUIRY_REJECTIONS: Final = "psc.inquiries.rejected"
"""Events from intake: ``inquiry.submission_rejected``, with field errors; keyed by the submitter's correlation id."""
INQUIRY_EVENTS: Final = "psc.inquiries.events"
"""Events from intake, keyed by inquiry id: ``inquiry.submitted`` (read by routing and notify) and the lifecycle
events routing's SLA clocks follow (``inquiry.acknowledged``, ``.waiting_on_parent``, ``.parent_replied``,
``.resolved``, ``.reopened``)."""
ROUTING_EVENTS: Final = "psc.routing.events"
"""Events from routing, keyed by inquiry id: ``inquiry.assigned`` (read by intake), ``inquiry.sla_warning``,
``inquiry.escalated``, ``inquiry.sla_breached``, ``inquiry.deadline_moved``, ``inquiry.rerouted``."""
STAFF_EVENTS: Final = "psc.routing.staff"
"""Events from routing, keyed by staff id: ``staff.updated`` (routing owns the staff directory; intake follows it)."""
DIRECTORY_UPDATES: Final = "psc.directory.updates"
"""The district's directory updates: ``directory.school_list_published`` (read by routing, keyed by list id) and
routing's ``directory.school_list_rejected`` for a list with bad rows (keyed by the publisher's correlation id)."""
NOTIFICATION_EVENTS: Final = "psc.notify.events"
"""Events from notify, keyed by inquiry id: ``notification.sent`` / ``.failed`` / ``.suppressed``."""
CATALOG_LOOKUPS: Final = "psc.catalog.lookups"
"""Requests (``LookupResources``): the answer goes to the request's ``reply_to`` topic, with its correlation id."""
CATALOG_UPSERTS: Final = "psc.catalog.upserts"
"""Commands (``UpsertResource``): add or change a resource in the catalog (the rules of ``PUT /v1/resources/{id}``)."""
CATALOG_REPLIES: Final = "psc.catalog.replies"
"""The catalog's answers (``catalog.lookup_replied`` / ``_rejected``) when a request names no usable reply topic."""
CATALOG_EVENTS: Final = "psc.catalog.events"
"""Events from the catalog: ``catalog.resource_updated`` (keyed by service id), ``catalog.resource_upsert_rejected``."""
NOTIFY_CATALOG_REPLIES: Final = "psc.notify.catalog-replies"
"""The catalog's answers to notify's lookups (``catalog.lookup_replied`` / ``_rejected``, keyed by correlation id):
the resources the parent's acknowledgment carries."""
CALENDAR_EVENTS: Final = "psc.calendar.events"
"""Events from routing, keyed by the day: ``calendar.closure_added`` (an emergency closure; read by the catalog, whose
referral reply clocks run on the same district calendar)."""
DEAD_LETTERS: Final = "psc.dead-letters"
"""Records no consumer could process, unchanged, with the reason and their origin in ``dlq.*`` headers."""

ALL_TOPICS: Final = (
    INQUIRY_SUBMISSIONS,
    INQUIRY_REJECTIONS,
    INQUIRY_EVENTS,
    ROUTING_EVENTS,
    STAFF_EVENTS,
    DIRECTORY_UPDATES,
    NOTIFICATION_EVENTS,
    CATALOG_LOOKUPS,
    CATALOG_UPSERTS,
    CATALOG_REPLIES,
    CATALOG_EVENTS,
    NOTIFY_CATALOG_REPLIES,
    CALENDAR_EVENTS,
    DEAD_LETTERS,
)
