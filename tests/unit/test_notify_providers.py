"""The providers' pieces that need no server: the per-provider rate limit and the email's headers."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from services.notify.providers import EmailOut, RateLimit, SmtpSender


class VirtualTime:
    """A clock that moves only when the rate limit sleeps: what it paced, without timing the machine."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sleeps = 0

    def now(self) -> float:
        return self.seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.seconds += seconds


async def test_the_rate_limit_lets_a_second_s_worth_through_then_paces_the_rest() -> None:
    time = VirtualTime()
    limit = RateLimit(100, now=time.now, sleep=time.sleep)
    await asyncio.gather(*(limit.acquire() for _ in range(100)))
    assert (time.seconds, time.sleeps) == (0, 0), "a second's worth at once"
    await asyncio.gather(*(limit.acquire() for _ in range(50)))
    assert time.seconds == pytest.approx(0.5), "50 more at 100 a second"
    assert time.sleeps == 50


async def test_no_rate_limit_by_default() -> None:
    time = VirtualTime()
    limit = RateLimit(0, now=time.now, sleep=time.sleep)
    await asyncio.gather(*(limit.acquire() for _ in range(10_000)))
    assert (time.seconds, time.sleeps) == (0, 0)


def email(*, unsubscribe_url: str | None) -> EmailOut:
    return EmailOut(
        delivery_id=uuid4(),
        recipient="ana@example.org",
        subject="Network 4 has your inquiry (PSC-26-000042)",
        body="Dear Ana Lopez,\n",
        message_id="<abc@psc.local>",
        html='<!doctype html><html lang="en" dir="ltr"><p>Dear Ana Lopez,</p></html>',
        unsubscribe_url=unsubscribe_url,
    )


def test_optional_mail_has_a_one_click_unsubscribe_on_one_plain_line_and_both_parts() -> None:
    sender = SmtpSender(host="127.0.0.1", port=1, sender="Parent Support Center <psc@district.example>")
    link = "https://notify.district.example/v1/unsubscribe/" + str(uuid4()) + "?token=" + "x" * 24
    message = sender._message(email(unsubscribe_url=link))
    raw = message.as_bytes(policy=message.policy).decode()
    assert f"List-Unsubscribe: <{link}>\r\n" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<abc@psc.local>"


def test_essential_mail_has_no_unsubscribe() -> None:
    sender = SmtpSender(host="127.0.0.1", port=1, sender="psc@district.example")
    assert "List-Unsubscribe" not in sender._message(email(unsubscribe_url=None))
