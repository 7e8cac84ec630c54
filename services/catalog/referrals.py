"""Referrals of an inquiry to a department, pure: the reply deadline on the business calendar and the events.

A referral asks a department of the directory to look at an inquiry and answer the network; the network keeps the
case (no assignment changes). The department's answer is due a number of business days later, at the same local
time. Business days are those of the district calendar routing's SLA clocks run on (``shared.business_calendar``):
weekdays that are not public holidays, the district's breaks or an emergency closure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from shared.business_calendar import DistrictCalendar
from shared.contracts.catalog import (
    InquiryReferralAnswered,
    InquiryReferralEscalated,
    InquiryReferralWarning,
    InquiryReferred,
    ReferralView,
)

REFERRING_ROLES = frozenset({"network_staff", "psa", "central_staff"})
"""Who may refer an inquiry or answer a referral: staff who work cases (an auditor reads, it does not act)."""


def reply_due_at(referred_at: datetime, *, business_days: int, calendar: DistrictCalendar) -> datetime:
    """``business_days`` business days after ``referred_at``, at the same local time on the district's clock."""
    local = referred_at.astimezone(calendar.zone)
    day = local.date()
    left = business_days
    while left > 0:
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            left -= 1
    due = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=calendar.zone)
    return due.astimezone(referred_at.tzinfo)


def start_of(day: date, calendar: DistrictCalendar) -> datetime:
    """The first instant of ``day`` on the district's clock."""
    return datetime.combine(day, time(0), tzinfo=calendar.zone)


@dataclass(frozen=True)
class AwaitingReply:
    """A referral still waiting for the department's answer (not escalated): what a closure may move."""

    id: UUID
    referred_at: datetime
    reply_due_at: datetime
    business_days: int | None
    """The business days it was given; None for referrals made before they were kept (the setting applies)."""


@dataclass(frozen=True)
class MovedDue:
    id: UUID
    reply_due_at: datetime
    warn_at: datetime


def moved_by_calendar(
    awaiting: Sequence[AwaitingReply], *, calendar: DistrictCalendar, default_business_days: int
) -> list[MovedDue]:
    """The referrals whose due time is another on ``calendar`` (counted again from when they were referred), with
    their new due and warning times; those it does not move are left out, so a repeated closure moves nothing."""
    moved: list[MovedDue] = []
    for referral in awaiting:
        days = referral.business_days or default_business_days
        due = reply_due_at(referral.referred_at, business_days=days, calendar=calendar)
        if due != referral.reply_due_at:
            moved.append(MovedDue(referral.id, due, warn_at(referral.referred_at, due)))
    return moved


WARN_AT = 0.75
"""A referral warns when this share of the department's reply time has passed (as routing's SLA clocks do)."""


def warn_at(referred_at: datetime, due: datetime) -> datetime:
    return referred_at + (due - referred_at) * WARN_AT


@dataclass(frozen=True)
class DueReferral:
    """An open referral whose warning or deadline has come: what the sweep fires."""

    id: UUID
    inquiry_id: UUID
    service_id: str
    department: str
    network_id: str
    reply_due_at: datetime
    warn: bool
    escalate: bool


def fired(referral: DueReferral, *, now: datetime) -> list[InquiryReferralWarning | InquiryReferralEscalated]:
    """The events a due referral fires, in order: the warning (unless the deadline passed too), the escalation."""
    common = {
        "occurred_at": now,
        "correlation_id": f"referral-clock:{referral.id}",
        "inquiry_id": referral.inquiry_id,
        "referral_id": referral.id,
        "service_id": referral.service_id,
        "department": referral.department,
        "network_id": referral.network_id,
        "reply_due_at": referral.reply_due_at,
    }
    events: list[InquiryReferralWarning | InquiryReferralEscalated] = []
    if referral.warn and not referral.escalate:
        events.append(InquiryReferralWarning.model_validate(common))
    if referral.escalate:
        events.append(InquiryReferralEscalated.model_validate(common))
    return events


@dataclass(frozen=True)
class NewReferral:
    id: UUID
    inquiry_id: UUID
    service_id: str
    department: str
    referred_by: str
    network_id: str
    reason: str
    referred_at: datetime
    reply_due_at: datetime
    request_key: str | None
    reply_business_days: int

    @property
    def warn_at(self) -> datetime:
        return warn_at(self.referred_at, self.reply_due_at)


def referred(referral: NewReferral, *, correlation_id: str) -> InquiryReferred:
    return InquiryReferred(
        occurred_at=referral.referred_at,
        correlation_id=correlation_id,
        inquiry_id=referral.inquiry_id,
        referral_id=referral.id,
        service_id=referral.service_id,
        department=referral.department,
        referred_by=referral.referred_by,
        network_id=referral.network_id,
        reply_due_at=referral.reply_due_at,
    )


def answered(view: ReferralView, *, correlation_id: str) -> InquiryReferralAnswered:
    assert view.answered_at is not None and view.answered_by is not None
    return InquiryReferralAnswered(
        occurred_at=view.answered_at,
        correlation_id=correlation_id,
        inquiry_id=view.inquiry_id,
        referral_id=view.id,
        service_id=view.service_id,
        answered_by=view.answered_by,
        late=view.answered_at > view.reply_due_at,
    )
