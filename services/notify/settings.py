"""Notify's settings: env prefix ``PSC_NOTIFY_``, plus the platform's ``PSC_`` settings."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PSC_NOTIFY_", extra="ignore")

    http_port: int = 8003

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_connections: int = Field(4, ge=1, le=32, description="Connections kept open to the mail server")
    sms_connections: int = Field(
        16, ge=1, le=64, description="Keep-alive connections to the SMS API: at most this many texts in flight at once"
    )
    mail_from: str = Field("Parent Support Center <parentsupport@district.example>", description="From header")

    sms_api_url: str = Field("http://127.0.0.1:8030", description="Base URL of a Twilio-compatible REST API")
    sms_account_sid: str = Field(description="Twilio account SID; no default: never a placeholder in production")
    sms_auth_token: SecretStr = Field(
        SecretStr("development"),
        description="Twilio auth token: basic auth of the API and, when not empty, the key X-Twilio-Signature of the"
        " webhooks (/v1/sms/inbound, /v1/sms/status) is checked with",
    )
    sms_from: str = Field("+13125550100", description="Sender number for texts (E.164)")

    sms_status_callback_url: str = Field(
        "",
        description="Public URL of POST /v1/sms/status given to the provider as StatusCallback; empty:"
        " {public_base_url}/v1/sms/status",
    )
    sms_signature_url_base: str = Field(
        "",
        description="The public base URL the provider signs webhooks with (behind a proxy the URL the service sees"
        " differs); empty: the URL of the request as received",
    )
    email_rate_per_second: float = Field(0, ge=0, description="Emails a second per notify process; 0: no limit")
    sms_rate_per_second: float = Field(0, ge=0, description="Texts a second per notify process; 0: no limit")

    status_page_base_url: str = Field(
        "http://127.0.0.1:8001",
        description="Base URL of the parent's status page (intake's page for people, /status/{reference}?token=...)",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8003", description="Notify's public base URL: the one-click unsubscribe links point here"
    )
    contact_key_secret: SecretStr = Field(
        SecretStr("development"),
        description="HMAC key naming a phone number or address in events (contact_key) and one-click unsubscribe links",
    )
    help_contact: str = Field(
        "Parent Support Center, 773-553-1000, parentsupport@district.example",
        description="What a HELP text is answered with, after the office's name",
    )

    resources_wait_seconds: float = Field(
        2.5,
        ge=0,
        le=60,
        description="How long the acknowledgment's email waits for the catalog's resources (wall seconds, whatever"
        " PSC_CLOCK_SPEED); then it goes without them. 0: no lookup, the email goes at once",
    )
    resources_fresh_seconds: float = Field(
        600,
        ge=0,
        le=86_400,
        description="How long the catalog's answer for an inquiry category serves the next acknowledgments of that"
        " category without asking again (wall seconds): they name their resources at once. 0: every one asks",
    )

    dispatch_batch: int = Field(200, ge=1, description="Deliveries one dispatcher round claims")
    max_attempts: int = Field(6, ge=1, description="Sending attempts before a delivery is given up as failed")
    sending_lease_seconds: int = Field(300, ge=10, description="A claim older than this is taken again")
