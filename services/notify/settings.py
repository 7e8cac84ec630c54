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
    mail_from: str = Field("Parent Support Center <parentsupport@district.example>", description="From header")

    sms_api_url: str = Field("http://127.0.0.1:8030", description="Base URL of a Twilio-compatible REST API")
    sms_account_sid: str = Field(description="Twilio account SID; no default: never a placeholder in production")
    sms_auth_token: SecretStr = SecretStr("development")
    sms_from: str = Field("+13125550100", description="Sender number for texts (E.164)")

    dispatch_batch: int = Field(200, ge=1, description="Deliveries one dispatcher round claims")
    max_attempts: int = Field(6, ge=1, description="Sending attempts before a delivery is given up as failed")
    sending_lease_seconds: int = Field(300, ge=10, description="A claim older than this is taken again")
