"""Intake's settings: env prefix ``PSC_INTAKE_``, plus the platform's ``PSC_`` settings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_INTAKE_", extra="ignore")

    http_port: int = 8001
    reference_prefix: str = Field("PSC", pattern=r"^[A-Z]{2,6}$", description="Start of every reference number")
