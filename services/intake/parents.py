"""What a parent may see of their inquiry, and how they prove it is theirs: pure rules of the status page.

The page (``GET /v1/status/{reference}``) answers only with a second factor the parent holds: the last four digits of
the mobile phone on file, or the status token from the link in their acknowledgment. The token is 32 random bytes
(URL-safe base64) made when the inquiry is recorded; intake keeps only its SHA-256. A hash rather than an HMAC by a
secret setting: the token is random and long, so its hash cannot be searched back to it, and there is no secret to
keep, share between replicas or rotate (rotating one would break every link already sent). A leaked table of
digests gives nobody a working link.

Every comparison of a factor is by ``hmac.compare_digest``, against a stand-in when the reference is unknown or the
inquiry has no phone or token, so an unknown reference and a wrong factor cost the same and answer the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.intake.domain import Note

TOKEN_BYTES = 32
# A digest no token has (SHA-256 of nothing a token can be), compared against when there is nothing to compare.
_NO_DIGEST = hashlib.sha256(b"no status token").digest()
_NO_LAST4 = "no phone on file"

ParentStatusCode = Literal["received", "in_progress", "waiting_on_you", "resolved", "closed"]
CLOSED_STATUSES = frozenset({"resolved", "closed"})
"""Statuses in which nothing more is due: no expected date, and 'closed' for Open311."""

_PARENT_TERMS: dict[str, tuple[ParentStatusCode, str]] = {
    "received": ("received", "We have your inquiry and are sending it to the office that will handle it."),
    "assigned": ("received", "Your inquiry is with the office that will handle it."),
    "acknowledged": ("in_progress", "Staff have your inquiry and are working on it."),
    "in_progress": ("in_progress", "Staff are working on your inquiry."),
    "waiting_on_parent": ("waiting_on_you", "We need something from you to go on: see what we asked."),
    "resolved": ("resolved", "Your inquiry was resolved. If the answer does not settle it, contact us to reopen it."),
    "closed": ("closed", "Your inquiry is closed."),
}
_WORKING = _PARENT_TERMS["in_progress"]


def new_token() -> str:
    """A fresh status token: 32 random bytes, URL-safe base64 (43 characters), for the acknowledgment's link."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """What intake keeps of a status token."""
    return hashlib.sha256(token.encode()).digest()


def last4(phone: str | None) -> str | None:
    """The last four digits of a phone number on file (E.164), or None without one."""
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


def parent_terms(status: str) -> tuple[ParentStatusCode, str]:
    """A staff status in the parent's words; a status the page does not know yet reads as being worked on."""
    return _PARENT_TERMS.get(status, _WORKING)


@dataclass(frozen=True)
class Factor:
    """What the parent gave: the phone's last four digits, or the token from their link (exactly one)."""

    phone_last4: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class VisibleNote:
    text: str
    written_at: datetime


@dataclass(frozen=True)
class ParentRecord:
    """What the status page reads of an inquiry: its proof (phone, token digest) and what the parent may see."""

    inquiry_id: UUID
    reference: str
    status: str
    phone: str | None
    token_digest: bytes | None
    office: str | None
    due_at: datetime | None
    question: str | None = None
    """What the parent was asked, while the inquiry waits on them."""
    notes: tuple[VisibleNote, ...] = field(default=())


def with_notes(record: ParentRecord, notes: Sequence[Note]) -> ParentRecord:
    """The record with what staff wrote to the parent: the notes marked visible (oldest first) and the latest
    question, which is what the parent is asked for while the inquiry waits on them."""
    visible = [note for note in notes if note.visible_to_parent]
    questions = [note.text for note in visible if note.kind == "question"]
    return replace(
        record,
        notes=tuple(VisibleNote(text=note.text, written_at=note.created_at) for note in visible),
        question=questions[-1] if questions else None,
    )


def proves(record: ParentRecord | None, factor: Factor) -> bool:
    """Whether ``factor`` proves the parent's claim to ``record`` (None: an unknown reference, never proven).

    The same comparisons run whatever the record: an unknown reference or an inquiry without a phone or token is
    compared against a stand-in, so the time taken says nothing about which it was.
    """
    if factor.token is not None:
        stored = record.token_digest if record and record.token_digest else _NO_DIGEST
        matched = hmac.compare_digest(token_digest(factor.token), stored)
    else:
        on_file = (last4(record.phone) if record else None) or _NO_LAST4
        matched = hmac.compare_digest((factor.phone_last4 or "").encode(), on_file.encode())
    return matched and record is not None


class ParentNote(BaseModel):
    text: str = Field(description="What staff wrote to the parent")
    date: datetime = Field(description="When it was written")


class StatusPage(BaseModel):
    """The parent's view of their inquiry: nothing but its status, who has it, what staff wrote to them and when to
    expect an answer. No names, no contact details, no description, no staff ids."""

    reference: str = Field(description="The inquiry's reference number")
    status: ParentStatusCode = Field(description="Where the inquiry stands, in the parent's terms")
    status_text: str = Field(description="The same in a sentence")
    office: str | None = Field(description="The office handling it (e.g. 'Network 4'); null until one has it")
    expected_by: datetime | None = Field(
        description="When an answer is due from the office that has it now; null once resolved or before routing"
    )
    asked_of_you: str | None = Field(description="What staff asked the parent for, while the inquiry waits on them")
    notes: list[ParentNote] = Field(description="Notes staff marked visible to the parent, oldest first")


def status_page(record: ParentRecord) -> StatusPage:
    code, text = parent_terms(record.status)
    return StatusPage(
        reference=record.reference,
        status=code,
        status_text=text,
        office=record.office,
        expected_by=None if record.status in CLOSED_STATUSES else record.due_at,
        asked_of_you=record.question if code == "waiting_on_you" else None,
        notes=[ParentNote(text=note.text, date=note.written_at) for note in record.notes],
    )


@dataclass(frozen=True)
class Limits:
    """How many attempts the status page takes in a window, per reference and per client."""

    per_reference: int
    per_client: int
    window_seconds: int


@dataclass(frozen=True)
class Attempts:
    """Attempts counted in the current window of one key, this one included, and when the window ends."""

    count: int
    window_ends: datetime


def retry_after(over: list[Attempts], *, now: datetime) -> int | None:
    """Seconds until every exceeded window has ended (None: no limit exceeded)."""
    if not over:
        return None
    return max(1, int(max((a.window_ends - now).total_seconds() for a in over) + 0.999))


def client_key(address: str | None) -> str:
    """How a client is counted: a hash of its address, so no address is stored."""
    return hashlib.sha256((address or "unknown").encode()).hexdigest()[:32]


def reference_key(reference: str) -> str:
    """How a reference is counted: as the parent would type it, any case (known or not: both count the same)."""
    return reference.strip().upper()
