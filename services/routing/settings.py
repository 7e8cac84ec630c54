"""Routing's settings: env prefix ``PSC_ROUTING_``, plus the platform's ``PSC_`` settings."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

SCHOOLS_CSV = Path(__file__).parent / "data" / "cps_schools_sy1819.csv"


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_ROUTING_", extra="ignore")

    http_port: int = 8002
    schools_csv: Path = Field(SCHOOLS_CSV, description="The district's school list with each school's network")
    timezone: str = Field("America/Chicago", description="The district's business calendar runs on this clock")
    holiday_subdivision: str = Field("IL", description="US state whose public holidays are days off")
