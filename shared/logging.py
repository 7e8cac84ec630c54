"""Structured JSON logs with the correlation id of the work at hand, and personal data redacted.

Redaction is by key, wherever a key appears in an event (nested too), and by shape for anything that looks like an
email address or a phone number in a free-text value: a parent's contact must never reach a log line, even when a
developer logs a whole payload by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, reset_contextvars
from structlog.typing import EventDict, WrappedLogger

REDACTED = "[redacted]"

# Keys whose values are personal data wherever they appear.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "mobile_phone",
        "phone",
        "to",
        "recipient",
        "name",
        "parent",
        "parent_name",
        "student",
        "student_name",
        "description",
        "body",
        "address",
        "contact",
        "password",
        "sasl_password",
        "database_url",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# E.164 or North American shapes, never inside a longer token (so ids, offsets and UUIDs survive).
_PHONE = re.compile(r"(?<![\w-])(\+\d{10,15}|\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4})(?![\w-])")


def redact(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in PERSONAL_KEYS:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, value))
    return value


def _redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return {k: (v if k in ("timestamp", "level", "logger") else redact(v, k)) for k, v in event_dict.items()}


def configure_logging(*, service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library (uvicorn, aiokafka, faststream) through one redacting pipeline."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports every rebalance and retried connection at INFO; keep them for when they matter.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    bind_contextvars(service=service)


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[None]:
    """Bind a correlation id to every log line written inside the block."""
    tokens = bind_contextvars(correlation_id=correlation_id)
    try:
        yield
    finally:
        reset_contextvars(**tokens)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
