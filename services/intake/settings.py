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
