"""Routing's settings: env prefix ``PSC_ROUTING_``, plus the platform's ``PSC_`` settings."""

from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.routing.files import DEMO_STAFF, SLA_POLICIES
from shared.business_calendar import DISTRICT_CALENDAR
from shared.settings import ServiceSettings

SCHOOLS_CSV = Path(__file__).parent / "data" / "cps_schools_sy1819.csv"


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_ROUTING_", extra="ignore")

    http_port: int = 8002
    http_max_body_bytes: int = Field(
        8_388_608,
        ge=1,
        description="Largest request body taken, in bytes (a school list of up to 5,000,000 characters)",
    )
    schools_csv: Path = Field(SCHOOLS_CSV, description="The district's school list with each school's network")
    timezone: str = Field("America/Chicago", description="The district's business calendar runs on this clock")
    holiday_subdivision: str = Field("IL", description="US state whose public holidays are days off")
    business_opens: time = Field(time(8, 0), description="When the offices open on a business day (district clock)")
    business_closes: time = Field(time(17, 0), description="When they close")
    calendar_file: Path = Field(DISTRICT_CALENDAR, description="The district's own closed days (breaks, holidays)")
    policy_file: Path = Field(SLA_POLICIES, description="SLA targets per category, urgency and tier")
    staff_file: Path | None = Field(
        None,
        description="Staff seeded at start (ids already on file keep what the API changed); none by default: psc run"
        f" gives the demo staff ({DEMO_STAFF.name}), a deployment its own file or PUT /v1/staff",
    )
    deadline_batch: int = Field(1000, ge=1, description="Due inquiries the deadline worker fires per transaction")
    deadline_poll_seconds: float = Field(
        1.0, gt=0, description="Longest the deadline worker sleeps (it wakes earlier at the next due time)"
    )
    deadline_gather_seconds: float = Field(
        0.05,
        ge=0,
        description="Shortest the deadline worker waits after a round that was not full, so that deadlines falling"
        " due one after the other are fired a batch at a time, not one transaction each (it adds at most this much"
        " lateness; a local change that may set an earlier deadline wakes it at once)",
    )
