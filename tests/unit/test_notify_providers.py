"""The providers' pieces that need no server: the per-provider rate limit and the email's headers."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

from services.notify.providers import EmailOut, RateLimit, SmtpSender


async def test_the_rate_limit_lets_a_second_s_worth_through_then_paces_the_rest() -> None:
    limit = RateLimit(100)
    began = time.monotonic()
    await asyncio.gather(*(limit.acquire() for _ in range(150)))
    elapsed = time.monotonic() - began
    assert 0.4 <= elapsed < 2.0, elapsed  # 100 at once, 50 more at 100 a second


async def test_no_rate_limit_by_default() -> None:
    limit = RateLimit(0)
    began = time.monotonic()
    await asyncio.gather(*(limit.acquire() for _ in range(10_000)))
    assert time.monotonic() - began < 0.5


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
