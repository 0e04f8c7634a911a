"""Response models of the postmortem draft and the recurrence view."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
)

from app.action_items.schemas import ActionItemOut
from app.contributing_factors.schemas import FactorOut
from app.deploys.models import DeployKind, DeployStatus
from app.incidents.state import Severity, Status
from app.participants.models import Role
from app.retrospectives.schemas import RetrospectiveOut
from app.status_updates.schemas import UpdateOut
from app.timeline.models import EntryKind


class IncidentBrief(BaseModel):
    """The short form of an incident, with its dates."""

    id: uuid.UUID
    reference: str
    title: str
    severity: Severity
    status: Status
    services: list[str]
    started_at: datetime
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class RecurrenceActionItem(ActionItemOut):
    reached: dict[str, bool | None] = Field(
        description="Per service of the recurring incident: true when the rollout to it is "
        "`done`, false when it is listed with another status, null when it is not listed"
    )


class RecurrenceOut(BaseModel):
    incident: IncidentBrief
    recurrence_of: IncidentBrief | None = Field(
        description="The earlier incident this one repeats; null when it is no recurrence"
    )
    action_items: list[RecurrenceActionItem] = Field(
        description="The earlier incident's action items, and whether each reached this "
        "incident's services"
    )


class Duration(BaseModel):
    seconds: float
    text: str = Field(description="Human-readable, e.g. `1 h 5 min`", examples=["1 h 5 min"])


class ImpactWindow(BaseModel):
    started_at: datetime
    ended_at: datetime | None = Field(
        description="When the impact stopped: mitigated, else resolved; null while ongoing"
    )
    ended_by: Literal["mitigated", "resolved"] | None
    duration: Duration | None


class Durations(BaseModel):
    """Each measured from `started_at`; null when not reached (yet)."""

    time_to_acknowledge: Duration | None
    time_to_sre_engagement: Duration | None
    time_to_mitigate: Duration | None
    time_to_resolve: Duration | None


class PostmortemParticipant(BaseModel):
    handle: str
    name: str | None
    team: str | None
    role: Role = Field(description="The role held last")
    roles: list[Role] = Field(description="Every role held during this stint, in order")
    joined_at: datetime
    left_at: datetime | None


class PostmortemEntry(BaseModel):
    occurred_at: datetime
    kind: EntryKind
    author: str | None = Field(description="Who wrote it; for a deleted entry, who deleted it")
    summary: str
    body: str | None
    deleted: bool = Field(default=False, description="A deleted entry: only the deletion shows")


class DeployLine(BaseModel):
    id: uuid.UUID
    service: str
    environment: str
    version: str | None
    kind: DeployKind
    status: DeployStatus
    started_at: datetime
    finished_at: datetime | None
    minutes_before_impact: float = Field(
        description="From the deploy (finished, or started if it finished after the impact "
        "began) to `started_at`; negative for a deploy after the impact began"
    )
    failed: bool = Field(description="`failed` or `rolled_back`")


class RollbackReviewLine(BaseModel):
    service: str
    status: str
    from_version: str | None
    to_version: str | None
    requested_by: str | None
    reviewer: str | None
    updated_at: datetime | None


class ChecklistLine(BaseModel):
    key: str
    label: str
    done: bool
    done_by: str | None
    done_at: datetime | None
    note: str | None


class IncidentLink(BaseModel):
    id: uuid.UUID
    reference: str


class PostmortemOut(BaseModel):
    """The postmortem: the record Muster keeps, with the retrospective people wrote."""

    incident_id: uuid.UUID
    reference: str = Field(examples=["INC-42"])
    title: str
    severity: Severity
    status: Status
    services: list[str]
    summary: str | None
    commander: str | None
    recurrence_of: IncidentLink | None
    generated_at: datetime
    impact: ImpactWindow
    durations: Durations
    participants: list[PostmortemParticipant]
    timeline: list[PostmortemEntry]
    updates: list[UpdateOut] = Field(description="The updates published, oldest first")
    suspect_deploys: list[DeployLine] = Field(
        description="Deploys of the incident's services in the 24 h before the impact "
        "began, closest first"
    )
    cause: DeployLine | None = Field(description="The deploy named as cause, if any")
    rollback_reviews: list[RollbackReviewLine]
    checklist: list[ChecklistLine]
    action_items: list[ActionItemOut]
    contributing_factors: list[FactorOut]
    retrospective: RetrospectiveOut | None = Field(
        description="What people wrote (`PUT …/postmortem`); null until someone writes"
    )
