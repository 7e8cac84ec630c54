"""The catalog's settings: env prefix ``PSC_CATALOG_``, plus the platform's ``PSC_`` settings."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.business_calendar import DISTRICT_CALENDAR
from shared.settings import ServiceSettings

DISTRICT_RESOURCES = Path(__file__).parent / "seed" / "district_resources.json"
SCHOOL_LIST = Path(__file__).parent / "seed" / "cps_schools_sy1819.csv"
SYNONYMS = Path(__file__).parent / "search" / "synonyms.v1.yaml"


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_CATALOG_", extra="ignore", env_parse_none_str="none")

    http_port: int = 8004
    seed_path: Path | None = Field(
        DISTRICT_RESOURCES,
        description="Resources upserted at every start (idempotent); 'none' to manage the directory by upserts only",
    )
    reply_topics_refresh_seconds: float = Field(
        5.0, gt=0, description="Least time between two broker look-ups for a reply topic not seen before"
    )
    schools_csv: Path | None = Field(
        SCHOOL_LIST, description="The district's school list, loaded as locations at every start; 'none' for none"
    )
    synonyms_path: Path = Field(SYNONYMS, description="The versioned synonyms file searches widen parents' words with")
    referral_reply_business_days: int = Field(
        3, ge=1, le=30, description="Business days a department has to answer a referral"
    )
    # The referral reply clock runs on the district's business calendar, the one routing's SLA clocks run on: these
    # three mean what PSC_ROUTING_TIMEZONE, _HOLIDAY_SUBDIVISION and _CALENDAR_FILE mean, with the same defaults.
    timezone: str = Field("America/Chicago", description="The district's business calendar runs on this clock")
    holiday_subdivision: str = Field("IL", description="US state whose public holidays are days off")
    calendar_file: Path = Field(DISTRICT_CALENDAR, description="The district's own closed days (breaks, holidays)")
    search_cache_seconds: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="How long a search's page is reused; a change through this replica clears it at once; 0: no cache",
    )
    referral_sweep_seconds: float = Field(
        30.0, gt=0, le=3600, description="Longest pause of the referral clock between two looks for due referrals"
    )
