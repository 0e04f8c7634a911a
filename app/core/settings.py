"""Runtime configuration: every setting is an environment variable prefixed `MUSTER_`."""

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
SECRET_SETTINGS = (
    "admin_api_key",
    "alertmanager_token",
    "alertmanager_basic_auth",
    "github_webhook_secret",
    "gitlab_webhook_token",
    "sre_notify_secret",
    "link_secret",
)
# Shorter configured secrets are accepted (senders choose their tokens) but logged at start.
SHORT_SECRET_CHARS = 16
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
    shutdown_delay_seconds: float = Field(
        default=0,
        ge=0,
        le=300,
        description="After SIGTERM, keep serving this long with /readyz answering 503",
    )
    log_level: str = "INFO"

    admin_api_key: SecretStr | None = None
    api_key_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="How long a process trusts an API key it found valid (0: look up every time)",
    )
    alertmanager_token: SecretStr | None = None
    alertmanager_basic_auth: SecretStr | None = None
    github_webhook_secret: SecretStr | None = None
    gitlab_webhook_token: SecretStr | None = None
    # Deploys from webhooks: repository / project -> Muster service name (JSON objects).
    github_service_map: dict[str, str] = Field(default_factory=dict)
    gitlab_service_map: dict[str, str] = Field(default_factory=dict)
    # A completed workflow run is a deploy when its name or path contains one of these
    # (case-insensitive). Workflow runs and releases name no environment: they get the default.
    github_deploy_workflows: Annotated[list[str], NoDecode] = ["deploy"]
    github_default_environment: str = Field(default="production", min_length=1, max_length=100)

    sre_notify_urls: Annotated[list[str], NoDecode] = []
    sre_notify_secret: SecretStr | None = None
    # The escalation policy: a YAML/JSON file's path, or inline JSON (app/engagement/policy.py).
    sre_escalation: str | None = None
    # Signs the one-tap join links in SRE notifications; unset: no links (a warning at start).
    link_secret: SecretStr | None = None
    join_link_ttl_minutes: int = Field(default=1440, ge=1, le=30 * 24 * 60)
    # Hosts that outbound notifications (subscriptions, SRE targets) may be sent to:
    # `hooks.slack.com`, or `*.example.com` for its subdomains. Empty: any host.
    notify_allowed_hosts: Annotated[list[str], NoDecode] = []
    # Internal networks subscriptions may reach (`10.20.0.0/16`, `127.0.0.0/8` for local
    # development); every internal address is refused otherwise (app/core/security.py).
    notify_allowed_networks: Annotated[
        list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode
    ] = []

    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    alertmanager_auto_mitigate: bool = True
    service_labels: Annotated[list[str], NoDecode] = ["service", "app", "job"]

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    checklist_template: Path | None = None
    # The categories of contributing factors: inline JSON, or a YAML/JSON file's path.
    contributing_factors: str | None = None
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # A new incident matching an earlier one started within this many days is a recurrence.
    recurrence_lookback_days: int = Field(default=90, ge=1, le=3650)
    # Suspect deploys include the services an incident's services depend on (catalog
    # `depends_on`), this many steps away; 0: the incident's own services only.
    suspect_dependency_depth: int = Field(default=2, ge=0, le=10)

    # Outbound notifications (see app/notifications/dispatcher.py).
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL used in links sent to receivers (incident pages, join links)",
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
    # Timers (app/core/timers.py) run beside the dispatcher; another replica's are seen
    # at the next poll, so they fire within about this long of their due time.
    timer_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # Minutes between stakeholder updates per severity (JSON); a severity left out has no
    # cadence. An open incident whose last update is older gets `update_due`.
    update_cadence: dict[str, float] = Field(default_factory=lambda: {"sev1": 30.0, "sev2": 60.0})

    # SSO (app/core/oidc.py): tokens of this issuer for this audience are accepted.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = Field(
        default=None, description="The issuer's JWK set; default: from OpenID discovery"
    )
    oidc_handle_claim: str = Field(default="preferred_username", min_length=1)
    # Group (in the token's `groups` claim) -> Muster scopes it grants (JSON object).
    oidc_group_scopes: dict[str, list[str]] = Field(default_factory=dict)
    oidc_jwks_refresh_seconds: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="Least time between two fetches of the keys for an unknown key id",
    )
    # The audit trail (app/core/audit.py) records at most this many refused
    # authentications a minute per process.
    audit_refusals_per_minute: int = Field(default=120, ge=0)

    @field_validator("sre_escalation", mode="before")
    @classmethod
    def _blank_policy_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*SECRET_SETTINGS, mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `helm --set secretEnv.X=$UNSET` gives an empty value: it must not be a secret
        # that an empty credential matches.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None
        return value

    def short_secrets(self) -> list[str]:
        """The environment variables of configured secrets shorter than 16 characters."""
        return [
            f"MUSTER_{name.upper()}"
            for name in SECRET_SETTINGS
            if (secret := getattr(self, name)) is not None
            and len(secret.get_secret_value()) < SHORT_SECRET_CHARS
        ]

    @field_validator("oidc_issuer", "oidc_audience", "oidc_jwks_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _oidc(self) -> "Settings":
        if (self.oidc_issuer is None) != (self.oidc_audience is None):
            raise ValueError("set both MUSTER_OIDC_ISSUER and MUSTER_OIDC_AUDIENCE, or neither")
        for url in (self.oidc_issuer, self.oidc_jwks_url):
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return self

    @field_validator("sre_notify_urls", "service_labels", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("notify_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        value = _split_list(value)
        if isinstance(value, list):
            return [str(host).strip().lower().rstrip(".") for host in value if str(host).strip()]
        return value

    @field_validator("notify_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = _split_list(value)
        if isinstance(value, list):
            return [ipaddress.ip_network(str(item).strip(), strict=False) for item in value]
        return value

    @field_validator("severity_map")
    @classmethod
    def _severities(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = {k: v for k, v in value.items() if v not in SEVERITIES}
        if wrong:
            raise ValueError(f"severities must be one of {', '.join(SEVERITIES)}; got {wrong}")
        return {k.lower(): v for k, v in value.items()}

    @field_validator("update_cadence")
    @classmethod
    def _cadence(cls, value: dict[str, float]) -> dict[str, float]:
        wrong = {k: v for k, v in value.items() if k not in SEVERITIES or not 0 < v <= 10_080}
        if wrong:
            raise ValueError(
                f"update cadence: severities {', '.join(SEVERITIES)}, minutes above 0 and at "
                f"most a week; got {wrong}"
            )
        return value

    @field_validator("github_deploy_workflows", mode="before")
    @classmethod
    def _substrings(cls, value: Any) -> Any:
        value = _split_list(value)
        if isinstance(value, list):
            return [str(item).strip().casefold() for item in value if str(item).strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _sre_urls(self) -> "Settings":
        for url in self.sre_notify_urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"SRE notification URL {url!r} is not an http(s) URL")
            if not self.allows_notify_host(urlsplit(url).hostname or ""):
                raise ValueError(f"SRE notification URL {url!r} is not in notify_allowed_hosts")
        return self

    def allows_notify_host(self, host: str) -> bool:
        """Whether outbound notifications may go to `host` (`*.example.com`: its subdomains)."""
        host = host.rstrip(".").lower()
        if not self.notify_allowed_hosts:
            return True
        return any(
            host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
            if pattern.startswith("*.")
            else host == pattern.lower()
            for pattern in self.notify_allowed_hosts
        )

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
