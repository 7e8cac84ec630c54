"""Intake's settings: env prefix ``PSC_INTAKE_``, plus the platform's ``PSC_`` settings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_INTAKE_", extra="ignore")

    http_port: int = 8001
    reference_prefix: str = Field("PSC", pattern=r"^[A-Z]{2,6}$", description="Start of every reference number")
    status_max_failures_per_reference: int = Field(
        5, ge=1, description="Wrong or unknown tries of one reference on the status page per window; past it, 429"
    )
    status_max_failures_per_client: int = Field(
        30, ge=1, description="Wrong or unknown tries from one client address on the status page per window"
    )
    status_failure_window_seconds: int = Field(
        900, ge=1, description="How long the status page counts a reference's or a client's failed tries"
    )
    reopen_window_days: int = Field(
        14, ge=0, le=3650, description="Days after its resolution a case can be reopened; then it closes by itself"
    )
    duplicate_window_days: int = Field(
        30,
        ge=0,
        le=3650,
        description="A new inquiry of the same parent, student and category as one this many days old or newer is"
        " linked to it as a likely duplicate (0: not looked for)",
    )
    close_batch: int = Field(500, ge=1, le=10_000, description="Resolved inquiries the closing sweep claims a round")
    close_poll_seconds: float = Field(1.0, gt=0, le=60, description="Longest pause of the closing sweep")
    routing_url: str = Field(
        "http://127.0.0.1:8002", description="Routing's HTTP API: staff reassignments go through it"
    )
    notify_url: str = Field("http://127.0.0.1:8003", description="Notify's HTTP API: the console reads deliveries")
    catalog_url: str = Field(
        "http://127.0.0.1:8004", description="Catalog's HTTP API: the console's resources and school directory"
    )
    console_secure_cookies: bool = Field(
        True, description="The console's and status page's cookies carry Secure (only over HTTPS, or on 127.0.0.1)"
    )
    console_poll_seconds: int = Field(
        10, ge=2, le=300, description="How often the console's queue looks for new arrivals (without a reload)"
    )
