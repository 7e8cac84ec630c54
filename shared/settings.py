"""Settings every service shares, read from the environment (prefix ``PSC_``); no I/O at import time.

One process talks to any Kafka and PostgreSQL by these settings alone: the embedded stack, docker-compose and an
external cluster differ only in ``PSC_KAFKA_BOOTSTRAP``, the ``PSC_KAFKA_*`` security options and ``PSC_DATABASE_URL``.
"""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth.settings import AuthSettings
from shared.clock import Clock, platform_clock

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:15432/psc"


class PlatformSettings(BaseSettings):
    """Where the broker and the database are, and how to reach them."""

    model_config = SettingsConfigDict(env_prefix="PSC_", extra="ignore")

    kafka_bootstrap: str = Field(DEFAULT_KAFKA_BOOTSTRAP, description="Comma-separated host:port list")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for SSL and SASL_SSL; system CAs if unset")
    kafka_ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS")
    kafka_ssl_keyfile: str | None = None
    kafka_session_timeout_ms: int = Field(
        10_000,
        ge=1_000,
        le=300_000,
        description="How long a silent consumer keeps its partitions before its group rebalances; heartbeats go at a "
        "third of it. Shorter hands a dead replica's partitions over sooner and, on Tansu, shortens each group's "
        "first join (Tansu holds it for half of this); the embedded stack and the suite use 4000",
    )
    topic_partitions: int = Field(6, ge=1, description="Partitions for topics the platform creates")
    topic_replication: int = Field(1, ge=1, description="Replication factor for topics the platform creates")

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    database_pool_min: int = Field(1, ge=0)
    database_pool_max: int = Field(10, ge=1)
    outbox_retention_days: int = Field(
        7, ge=1, description="Days a published outbox row is kept, so `psc replay` can publish it again"
    )

    clock_speed: float = Field(
        1.0, gt=0, description="How many times faster than the wall every service's clock runs (demos: 20000)"
    )
    clock_origin: float | None = Field(
        None, description="Epoch seconds the sped-up clock starts from (the stack sets one for all); default: start"
    )

    auth: AuthSettings = Field(
        default_factory=AuthSettings, description="Tokens, OIDC and API keys (PSC_AUTH_*; see shared/auth/settings.py)"
    )

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    def clock(self) -> Clock:
        """The clock every service runs on: the system clock, or one ``clock_speed`` times faster from
        ``clock_origin`` (``PSC_CLOCK_SPEED``, ``PSC_CLOCK_ORIGIN``)."""
        return platform_clock(self.clock_speed, self.clock_origin)

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile:
            context.load_cert_chain(self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        return context


class ServiceSettings(BaseSettings):
    """Base of each service's settings: its own env prefix (``PSC_INTAKE_`` ...) plus the platform's."""

    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_max_in_flight: int = Field(
        64, ge=1, description="Requests handled at once by one process; past it, 503 with Retry-After at once"
    )
    http_retry_after_seconds: int = Field(1, ge=1, description="The Retry-After of a shed request")
    http_max_body_bytes: int = Field(
        1_048_576,
        ge=1,
        description="Largest request body taken, in bytes; a larger one is 413 before it is read"
        " (a Content-Length over it at once, a streamed body as soon as it passes it)",
    )
    http_keep_alive_seconds: int = Field(
        75,
        ge=1,
        description="How long an idle keep-alive connection is kept open. Longer than the idle timeout of the clients"
        " and proxies in front (httpx 5 s, aiohttp 15 s, load balancers 60 s), so the client closes an idle connection"
        " first: a server that closes it first races the client's next request on it, which then fails with a reset",
    )
    outbox_batch_size: int = Field(500, ge=1, description="Rows the relay publishes per round")
    consumer_max_records: int = Field(500, ge=1, description="Largest batch a subscriber handles in one transaction")
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
