"""Request and response models of action items and their rollout."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.action_items.models import (
    UNFINISHED,
    ActionItem,
    ActionItemRollout,
    ActionKind,
    ActionStatus,
    RolloutStatus,
)
from app.core.clock import utcnow
from app.core.handles import Handle
from app.core.patch import Patch
from app.core.text import NOT_BLANK
from app.deploys.schemas import HttpUrl


def _iso_date(value: Any) -> Any:
    # A bare number would be read as a Unix time; the contract is an ISO 8601 date.
    if not isinstance(value, str | date):
        raise ValueError("expected a date such as 2026-12-15")
    return value


Title = Annotated[str, Field(min_length=1, max_length=300), NOT_BLANK]
Description = Annotated[str, StringConstraints(max_length=20_000)]
Owner = Handle
Service = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]
Note = Annotated[str, StringConstraints(max_length=2000)]
Due = Annotated[date, BeforeValidator(_iso_date)]
TrackerUrl = Annotated[
    HttpUrl, Field(description="The issue in the team's tracker (Jira, GitHub, Linear)")
]
ExternalId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="The tracker's id, e.g. `OPS-123`"),
    NOT_BLANK,
]
Addresses = Annotated[
    uuid.UUID, Field(description="The id of the contributing factor this measure addresses")
]


class RolloutEntry(BaseModel):
    """One service the measure must reach, and how far it got there."""

    model_config = ConfigDict(extra="forbid")

    service: Service
    status: RolloutStatus = RolloutStatus.PENDING
    note: Note | None = None


class RolloutChange(BaseModel):
    """Add or change the rollout to one service, or remove it with `"remove": true`.

    Left out, `status` keeps its value (a new service starts `pending`) and `note` keeps
    its value; `"note": null` clears it.
    """

    model_config = ConfigDict(extra="forbid")

    service: Service
    status: RolloutStatus | None = None
    note: Note | None = None
    remove: bool = Field(
        default=False, description="Take this service out of the rollout (no-op if absent)"
    )

    @model_validator(mode="after")
    def _remove_alone(self) -> Self:
        if self.remove and {"status", "note"} & self.model_fields_set:
            raise ValueError("`remove` cannot be combined with `status` or `note`")
        return self


def _unique_services(entries: list[RolloutEntry] | list[RolloutChange] | None) -> None:
    if entries is None:
        return
    seen: set[str] = set()
    for entry in entries:
        if entry.service in seen:
            raise ValueError(f"service {entry.service!r} is listed twice in rollout")
        seen.add(entry.service)


class ActionItemCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "title": "Alert on connection-pool saturation",
                "kind": "detect",
                "owner": "alice",
                "rollout": [{"service": "checkout-api"}, {"service": "payments-api"}],
            }
        },
    )

    title: Title
    description: Description | None = None
    kind: ActionKind = ActionKind.PREVENT
    owner: Owner | None = None
    due: Due | None = Field(default=None, description="Due date (ISO 8601 date, UTC days)")
    status: ActionStatus = ActionStatus.OPEN
    tracker_url: TrackerUrl | None = None
    external_id: ExternalId | None = None
    addresses: Addresses | None = None
    rollout: Annotated[list[RolloutEntry], Field(max_length=100)] = Field(
        default_factory=list, description="The services the measure must reach"
    )

    @model_validator(mode="after")
    def _check_rollout(self) -> Self:
        _unique_services(self.rollout)
        return self


class ActionItemUpdate(Patch):
    """Only the fields sent change. `rollout` entries are upserted per service; services
    not sent keep their rollout, and `{"service": …, "remove": true}` takes one out."""

    NOT_NULL = frozenset({"title", "kind", "status", "rollout"})
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"rollout": [{"service": "checkout-api", "status": "done"}]}},
    )

    title: Title | None = None
    description: Description | None = None
    kind: ActionKind | None = None
    owner: Owner | None = None
    due: Due | None = None
    status: ActionStatus | None = None
    tracker_url: TrackerUrl | None = None
    external_id: ExternalId | None = None
    addresses: Addresses | None = None
    rollout: Annotated[list[RolloutChange], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _check_rollout(self) -> Self:
        _unique_services(self.rollout)
        return self


class RolloutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    service: str
    status: RolloutStatus
    note: str | None
    updated_at: datetime


class ActionItemOut(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    incident_reference: str = Field(examples=["INC-42"])
    title: str
    description: str | None
    kind: ActionKind
    owner: str | None
    due: date | None
    status: ActionStatus
    overdue: bool = Field(description="Unfinished and its due date has passed (UTC)")
    tracker_url: str | None
    external_id: str | None
    addresses: uuid.UUID | None = Field(description="The contributing factor it addresses")
    rollout: list[RolloutOut] = Field(description="Per service, by service name")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(description="When it became `done` or `wont_do`")

    @classmethod
    def of(
        cls, item: ActionItem, rollouts: list[ActionItemRollout], reference: str
    ) -> "ActionItemOut":
        return cls(
            id=item.id,
            incident_id=item.incident_id,
            incident_reference=reference,
            title=item.title,
            description=item.description,
            kind=item.kind,
            owner=item.owner,
            due=item.due,
            status=item.status,
            overdue=is_overdue(item, utcnow().date()),
            tracker_url=item.tracker_url,
            external_id=item.external_id,
            addresses=item.addresses,
            rollout=[RolloutOut.model_validate(r) for r in sorted(rollouts, key=_by_service)],
            created_at=item.created_at,
            updated_at=item.updated_at,
            completed_at=item.completed_at,
        )


def _by_service(rollout: ActionItemRollout) -> str:
    return rollout.service


def is_overdue(item: ActionItem, today: date) -> bool:
    return item.status in UNFINISHED and item.due is not None and item.due < today
