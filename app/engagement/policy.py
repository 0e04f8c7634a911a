"""The escalation policy: who is told, and when, until an SRE joins an incident.

It comes from `MUSTER_SRE_ESCALATION` (a YAML or JSON file, or inline JSON), or from the
shorthand `MUSTER_SRE_NOTIFY_URLS` (+ `MUSTER_SRE_NOTIFY_SECRET`): one level at 0
minutes. `load_policy` reads it once at start and refuses a bad one with a message that
names the file and the field. `schedule_for` is the one place that decides which levels
an incident gets: a service's levels from the service catalog (`escalation`), else from
the policy's `services`, else the default levels.
"""

import contextlib
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import Service
from app.core.settings import Settings
from app.core.structured import read_structured
from app.incidents.state import Severity
from app.notifications.models import Format
from app.notifications.signing import decode_secret

DEFAULT = ""  # the policy key of the default levels; a service's levels are keyed by its name
CATALOG = "catalog:"  # the policy key of a service's levels from the catalog: `catalog:<name>`


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    format: Format = Format.STANDARD_WEBHOOKS
    secret: SecretStr | None = Field(default=None, description="standard-webhooks: `whsec_…`")
    routing_key: SecretStr | None = Field(default=None, description="pagerduty: integration key")

    @model_validator(mode="after")
    def _routing_key(self) -> Self:
        if self.format == Format.PAGERDUTY and self.routing_key is None:
            raise ValueError("a pagerduty target needs a routing_key")
        return self

    @property
    def key(self) -> str:
        """The delivery's `target_key`: stable for the same URL, format and routing key."""
        routing = self.routing_key.get_secret_value() if self.routing_key else ""
        identity = f"{self.url}\n{self.format}\n{routing}".encode()
        return "sre:" + hashlib.sha256(identity).hexdigest()[:40]


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after_minutes: float = Field(ge=0, le=7 * 24 * 60)
    targets: list[Target] = Field(min_length=1, max_length=20)


class Levels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: list[Level] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        times = [level.after_minutes for level in self.levels]
        if times != sorted(times):
            raise ValueError("levels must be in order of after_minutes")
        return self


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: list[Level] = Field(default_factory=list, max_length=20)
    services: dict[str, Levels] = Field(default_factory=dict)
    severities: list[Severity] | None = Field(
        default=None, description="The incidents the policy covers (default: every severity)"
    )

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.levels:
            Levels(levels=self.levels)
        return self

    def covers(self, severity: str) -> bool:
        return self.severities is None or severity in self.severities

    def levels_of(self, policy_key: str, catalog: Mapping[str, Levels]) -> list[Level]:
        """The levels stored under `policy_key` (empty if they are gone meanwhile)."""
        if policy_key == DEFAULT:
            return self.levels
        if policy_key.startswith(CATALOG):
            found = catalog.get(policy_key.removeprefix(CATALOG))
        else:
            found = self.services.get(policy_key)
        return found.levels if found else []

    def targets(self) -> dict[str, Target]:
        """Every target of the policy by its `key`."""
        every = [*self.levels, *(level for s in self.services.values() for level in s.levels)]
        return {target.key: target for level in every for target in level.targets}


def schedule_for(
    policy: EscalationPolicy, services: list[str], catalog: Mapping[str, Levels]
) -> tuple[str, list[Level]]:
    """Which levels an incident touching `services` gets, and their policy key: those of
    the first of its services with levels of its own (in the catalog, else in the
    policy's `services`), else the default levels."""
    for service in services:
        if service in catalog:
            return CATALOG + service, catalog[service].levels
        if service in policy.services:
            return service, policy.services[service].levels
    return DEFAULT, policy.levels


async def catalog_levels(
    session: AsyncSession, services: Collection[str] | None = None
) -> dict[str, Levels]:
    """The escalation levels of catalog services (of `services`, or every one that has
    some). The catalog validated them on the way in; one that no longer reads is skipped."""
    statement = select(Service.name, Service.escalation).where(col(Service.escalation).is_not(None))
    if services is not None:
        statement = statement.where(col(Service.name).in_(list(services)))
    return readable_levels((await session.execute(statement)).all())


def readable_levels(escalations: Iterable[tuple[str, Any]]) -> dict[str, Levels]:
    """Catalog services' stored `escalation` values by name, those that still read."""
    found: dict[str, Levels] = {}
    for name, escalation in escalations:
        if escalation is not None:
            with contextlib.suppress(ValidationError):
                found[name] = Levels.model_validate(escalation)
    return found


class InvalidEscalationPolicy(ValueError):
    pass


def _field(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def _inline(source: str) -> bool:
    return source.strip().startswith("{")


def _where(source: str) -> str:
    """What to name in an error about the policy."""
    if _inline(source):
        return "MUSTER_SRE_ESCALATION (inline JSON)"
    return f"MUSTER_SRE_ESCALATION file {source}"


def _read(source: str) -> Any:
    if _inline(source):
        return json.loads(source)
    return read_structured(Path(source))


def load_policy(settings: Settings) -> EscalationPolicy:
    """The configured policy; InvalidEscalationPolicy naming the file and field if bad."""
    source = settings.sre_escalation
    if source is None:
        secret = settings.sre_notify_secret
        if secret is not None:
            decode_secret(secret.get_secret_value())  # refused at start, not at the first page
        targets = [Target(url=url, secret=secret) for url in settings.sre_notify_urls]
        return EscalationPolicy(levels=[Level(after_minutes=0, targets=targets)] if targets else [])
    if settings.sre_notify_urls:
        raise InvalidEscalationPolicy(
            "set MUSTER_SRE_ESCALATION or MUSTER_SRE_NOTIFY_URLS, not both: "
            "put the notify URLs in the policy's first level"
        )
    where = _where(source)
    try:
        policy = EscalationPolicy.model_validate(_read(source))
    except ValidationError as exc:
        problems = "; ".join(f"{_field(e)}: {e['msg']}" for e in exc.errors())
        raise InvalidEscalationPolicy(f"{where} is not a usable policy: {problems}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidEscalationPolicy(f"{where} cannot be read: {exc}") from None
    _check_targets(policy, settings, where)
    return policy


def _check_targets(policy: EscalationPolicy, settings: Settings, where: str) -> None:
    for target in policy.targets().values():
        if target.secret is not None:
            try:
                decode_secret(target.secret.get_secret_value())
            except ValueError as exc:
                raise InvalidEscalationPolicy(f"{where}: targets.secret: {exc}") from None
    hosts = [
        target.url
        for target in policy.targets().values()
        if not settings.allows_notify_host(urlsplit(target.url).hostname or "")
    ]
    if hosts:
        raise InvalidEscalationPolicy(
            f"{where}: targets.url {hosts[0]!r} is not in MUSTER_NOTIFY_ALLOWED_HOSTS"
        )
