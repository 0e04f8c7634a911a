"""Request and response models of the service catalog and of an incident's links."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from app.catalog.models import Service
from app.checklists.template import TemplateItem
from app.core.patch import Patch
from app.core.text import NOT_BLANK

SLUG = r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$"
MAX_DEPENDENCIES = 50


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Slug = Annotated[
    str,
    StringConstraints(max_length=100, pattern=SLUG),
    Field(description="Lower-case letters, digits, `.`, `_` and `-`", examples=["checkout"]),
]
Url = Annotated[str, Field(min_length=1, max_length=2048), NOT_BLANK, AfterValidator(_http_url)]
Title = Annotated[str, Field(min_length=1, max_length=200), NOT_BLANK]
Team = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]
# The name of a service as alerts, deploys and incidents give it (not always a slug).
ServiceName = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]
Dependencies = Annotated[
    list[ServiceName], Field(max_length=MAX_DEPENDENCIES), AfterValidator(_distinct)
]


class LinkKind(StrEnum):
    RUNBOOK = "runbook"
    DASHBOARD = "dashboard"
    LOGS = "logs"
    TRACES = "traces"
    REPO = "repo"
    DOCS = "docs"
    OTHER = "other"


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    url: Url
    kind: LinkKind = LinkKind.OTHER


class TargetFormat(StrEnum):
    STANDARD_WEBHOOKS = "standard-webhooks"
    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    MSTEAMS = "msteams"


Secret = Annotated[str, Field(min_length=1, max_length=500)]


class EscalationTarget(BaseModel):
    """Where a level notifies: the shape of a target of `MUSTER_SRE_ESCALATION`."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    format: TargetFormat = TargetFormat.STANDARD_WEBHOOKS
    secret: Secret | None = Field(default=None, description="Signing secret (standard-webhooks)")
    routing_key: Secret | None = Field(default=None, description="Events API v2 key (pagerduty)")


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_minutes: float = Field(
        ge=0, le=7 * 24 * 60, allow_inf_nan=False, description="Minutes after the incident opens"
    )
    targets: list[EscalationTarget] = Field(min_length=1, max_length=20)


class Escalation(BaseModel):
    """Levels replacing the default SRE escalation policy for this service's incidents."""

    model_config = ConfigDict(extra="forbid")

    levels: list[EscalationLevel] = Field(min_length=1, max_length=10)


_EXAMPLE: dict[str, Any] = {
    "name": "checkout",
    "display_name": "Checkout",
    "owner_team": "payments-team",
    "tier": 1,
    "runbook_url": "https://wiki.example.com/runbooks/checkout",
    "links": [
        {
            "title": "Checkout overview",
            "url": "https://grafana.example.com/d/checkout",
            "kind": "dashboard",
        }
    ],
    "depends_on": ["payments"],
    "checklist": [{"key": "feature_flags_checked", "label": "Checkout feature flags checked"}],
}
_OUT_EXAMPLE = _EXAMPLE | {
    "escalation": None,
    "source": "api",
    "created_at": "2026-12-03T09:00:00Z",
    "updated_at": "2026-12-03T09:00:00Z",
}


class ServiceFields(BaseModel):
    """What describes a service; every field but `name` may be left out."""

    model_config = ConfigDict(extra="forbid")

    display_name: Title | None = None
    owner_team: Team | None = Field(default=None, description="null: nobody owns it yet")
    tier: int | None = Field(default=None, ge=1, le=4, description="1 (most critical) to 4")
    runbook_url: Url | None = None
    links: list[Link] = Field(default_factory=list, max_length=50)
    depends_on: Dependencies = Field(
        default_factory=list, description="Services this one calls or needs, by name"
    )
    escalation: Escalation | None = Field(
        default=None,
        description="Levels used instead of the default SRE escalation policy for this "
        "service's incidents (stored for that policy); needs the `admin` scope",
    )
    checklist: list[TemplateItem] = Field(
        default_factory=list,
        max_length=20,
        description="Extra initial-response checklist items for this service's incidents",
    )


class ServiceCreate(ServiceFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": _EXAMPLE})

    name: Slug


class ServiceUpdate(Patch):
    """Only the fields sent change; `null` clears an optional field."""

    NOT_NULL = frozenset({"links", "depends_on", "checklist"})
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"owner_team": "payments-team"}}
    )

    display_name: Title | None = None
    owner_team: Team | None = None
    tier: int | None = Field(default=None, ge=1, le=4)
    runbook_url: Url | None = None
    links: list[Link] | None = Field(default=None, max_length=50)
    depends_on: Dependencies | None = None
    escalation: Escalation | None = None
    checklist: list[TemplateItem] | None = Field(default=None, max_length=20)


class CatalogFile(BaseModel):
    """A catalog as teams keep it in git (YAML or JSON): `services: [...]`."""

    model_config = ConfigDict(extra="forbid")

    services: list[ServiceCreate] = Field(max_length=10_000)


def read_catalog(path: Path) -> CatalogFile:
    """A catalog file (YAML, of which JSON is a part); ValueError says what is wrong."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read it: {exc}") from None
    try:
        return CatalogFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(problems) from None


class TargetOut(BaseModel):
    """A target as the API shows it: its secrets are never read back."""

    url: str
    format: TargetFormat
    has_secret: bool
    has_routing_key: bool


class LevelOut(BaseModel):
    after_minutes: float
    targets: list[TargetOut]


class EscalationOut(BaseModel):
    levels: list[LevelOut]

    @classmethod
    def of(cls, stored: dict[str, Any]) -> "EscalationOut":
        levels = Escalation.model_validate(stored).levels
        return cls(
            levels=[
                LevelOut(
                    after_minutes=level.after_minutes,
                    targets=[
                        TargetOut(
                            url=t.url,
                            format=t.format,
                            has_secret=t.secret is not None,
                            has_routing_key=t.routing_key is not None,
                        )
                        for t in level.targets
                    ],
                )
                for level in levels
            ]
        )


class ServiceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": _OUT_EXAMPLE})

    name: str
    display_name: str | None
    owner_team: str | None
    tier: int | None
    runbook_url: str | None
    links: list[Link]
    depends_on: list[str]
    escalation: EscalationOut | None
    checklist: list[TemplateItem]
    source: str = Field(
        description="`seen`: only named so far (by an alert, a deploy or an incident); "
        "`api` or `import`: how it was last described"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, service: Service) -> "ServiceOut":
        return cls(
            name=service.name,
            display_name=service.display_name,
            owner_team=service.owner_team,
            tier=service.tier,
            runbook_url=service.runbook_url,
            links=[Link.model_validate(link) for link in service.links],
            depends_on=service.depends_on,
            escalation=EscalationOut.of(service.escalation) if service.escalation else None,
            checklist=[TemplateItem.model_validate(item) for item in service.checklist],
            source=service.source,
            created_at=service.created_at,
            updated_at=service.updated_at,
        )


class ImportResult(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]


class IncidentLinkIn(Link):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "title": "Error rate by region",
                "url": "https://grafana.example.com/d/errors",
                "kind": "dashboard",
            }
        },
    )


class IncidentLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    url: str
    kind: LinkKind
    source: str = Field(
        description="`catalog:<service>`, `alertmanager`, or the caller who added it"
    )
    created_at: datetime


class IncidentLine(BaseModel):
    id: uuid.UUID
    reference: str = Field(examples=["INC-42"])
    title: str
    severity: str
    status: str
    started_at: datetime
    mitigated_at: datetime | None
    resolved_at: datetime | None
    minutes_to_mitigate: float | None = Field(description="From impact start to mitigation")
    minutes_to_resolve: float | None = Field(description="From impact start to resolution")


class DeployLine(BaseModel):
    id: uuid.UUID
    kind: str
    version: str | None
    environment: str
    status: str
    at: datetime = Field(description="Finished, or started while running")


class MeasureLine(BaseModel):
    """A measure from an incident still to be rolled out to this service."""

    action_item_id: uuid.UUID
    incident: str = Field(examples=["INC-40"], description="Where the measure was learned")
    title: str
    kind: str
    owner: str | None
    due: date | None
    rollout_status: str = Field(description="`pending` or `in_progress`")
    overdue: bool = Field(description="Past its due date (UTC) and not rolled out here yet")


class RollbackLine(BaseModel):
    review_id: uuid.UUID
    incident: str = Field(examples=["INC-41"])
    from_version: str | None
    to_version: str
    procedure: list[str] = Field(description="The steps that worked")
    executed_by: str | None
    reviewer: str | None
    proposed_at: datetime
    executed_at: datetime | None
    verified_at: datetime | None
    minutes_to_verified: float | None = Field(description="From proposal to verification")


class RollbackPerson(BaseModel):
    handle: str
    rollbacks: int = Field(description="Rollbacks of this service they executed or reviewed")


class RollbackReadiness(BaseModel):
    last_verified: RollbackLine | None = Field(
        description="The last rollback executed and verified as recovered"
    )
    people: list[RollbackPerson] = Field(
        description="Who executed or reviewed a rollback of this service in the last "
        "180 days, most first"
    )
    bus_factor: int = Field(description="How many people those are")
    single_person: bool = Field(description="Flag: one person alone knows how to roll back")
    never_rolled_back: bool = Field(
        description="Deployed but never rolled back: a rollback rehearsal is due"
    )


class ServiceOverview(BaseModel):
    """The service page: its record, its incidents, what changed, what is still owed."""

    service: ServiceOut
    open_incidents: list[IncidentLine]
    recent_incidents: list[IncidentLine] = Field(description="The last finished incidents")
    recent_deploys: list[DeployLine]
    pending_measures: list[MeasureLine]
    rollback_readiness: RollbackReadiness
