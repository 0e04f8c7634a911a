"""Runtime configuration: every setting is an environment variable prefixed `MUSTER_`."""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SEVERITY_MAP = {"critical": "sev1", "error": "sev2", "warning": "sev3", "info": "sev4"}


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUSTER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./muster.db"
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL pool size per process")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1)
    auto_migrate: bool = True
    log_level: str = "INFO"

    admin_api_key: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    alertmanager_basic_auth: SecretStr | None = None
    github_webhook_secret: SecretStr | None = None
    gitlab_webhook_token: SecretStr | None = None

    sre_notify_urls: Annotated[list[str], NoDecode] = []
    sre_notify_secret: SecretStr | None = None

    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    service_labels: Annotated[list[str], NoDecode] = ["service", "app", "job"]

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    checklist_template: Path | None = None
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    # Outbound notifications (see app/notifications/dispatcher.py).
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL used in links sent to receivers"
    )
    dispatcher_enabled: bool = Field(
        default=True, description="Run the dispatcher in each API process"
    )
    dispatch_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    dispatch_concurrency: int = Field(default=16, ge=1, le=256)
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    delivery_backoff_base_seconds: float = Field(default=1.0, gt=0)
    delivery_backoff_cap_seconds: float = Field(default=600.0, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)

    @field_validator("sre_notify_urls", "service_labels", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("sre_notify_urls")
    @classmethod
    def _sre_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"SRE notification URL {url!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> "Settings":
        # A send may take a connect timeout plus a response timeout; the lease must be
        # longer, or a slow but live delivery would be claimed again by another worker.
        if self.delivery_lease_seconds <= 2 * self.delivery_timeout_seconds:
            raise ValueError(
                "delivery_lease_seconds must be more than twice delivery_timeout_seconds"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
