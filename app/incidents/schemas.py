import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field
from sqlalchemy import Row

from app.core.api import API_PREFIX
from app.core.clock import AwareUTC
from app.core.handles import Handle
from app.core.patch import Patch
from app.core.text import NOT_BLANK
from app.incidents.models import Incident, RelationKind, reference_of
from app.incidents.state import DeclineReason, Severity, Status, allowed_moves

Title = Annotated[str, Field(min_length=1, max_length=300), NOT_BLANK]
Service = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]
LABEL_KEY_MAX, LABEL_VALUE_MAX = 100, 500
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_KEY_MAX)]
LabelValue = Annotated[str, StringConstraints(max_length=LABEL_VALUE_MAX)]
Services = Annotated[list[Service], Field(max_length=50)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64)]
Summary = Annotated[str, StringConstraints(max_length=20_000)]
DeclineNote = Annotated[str, StringConstraints(max_length=2_000)]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # No `started_at`: the impact began now unless the caller says otherwise.
            "example": {
                "title": "Checkout returns 502 for some requests",
                "severity": "sev2",
                "services": ["checkout-api"],
            }
        },
    )

    title: Title
    summary: Summary | None = None
    severity: Severity = Severity.SEV3
    services: Services = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)
    started_at: AwareUTC | None = Field(
        default=None, description="When the impact began (default: now); not in the future"
    )


class IncidentUpdate(Patch):
    """Only the fields sent are changed. `status` must be a move the status machine allows."""

    NOT_NULL = frozenset(
        {"title", "severity", "status", "reason", "note", "services", "labels", "commander"}
    )
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    summary: Summary | None = None
    severity: Severity | None = None
    services: Services | None = None
    labels: Labels | None = None
    status: Status | None = None
    reason: DeclineReason | None = Field(
        default=None,
        description="Why the incident is declined: required with `status: declined`, "
        "refused with any other body",
    )
    note: DeclineNote | None = Field(
        default=None, description="Free text on the decline; only with `status: declined`"
    )
    commander: Handle | None = Field(
        default=None, description="Handle of the new commander; joins them if not on the incident"
    )
    caused_by_deploy_id: uuid.UUID | None = Field(
        default=None, description="The deploy that caused the incident; null clears it"
    )


def links_of(reference: str) -> dict[str, str]:
    own = f"{API_PREFIX}/incidents/{reference}"
    return {"self": own, "page": f"{own}/page"}


# One change each: an example sent as it is must not change more than its name says.
UPDATE_EXAMPLES: dict[str, Example] = {
    "acknowledge": {"summary": "Acknowledge", "value": {"status": "acknowledged"}},
    "investigate": {"summary": "Start investigating", "value": {"status": "investigating"}},
    "mitigate": {"summary": "Mark mitigated", "value": {"status": "mitigated"}},
    "resolve": {"summary": "Resolve", "value": {"status": "resolved"}},
    "decline-false-alarm": {
        "summary": "Decline as a false alarm",
        "description": "Final: the incident leaves the response-time figures and recurrence "
        "matching, and is counted under `declined` in the summary report.",
        "value": {
            "status": "declined",
            "reason": "false_positive",
            "note": "Synthetic check misfired during the probe rollout",
        },
    },
    "raise-severity": {"summary": "Raise severity to sev1", "value": {"severity": "sev1"}},
    "hand-over-command": {
        "summary": "Hand over command (to a handle)",
        "value": {"commander": "bob"},
    },
}


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    title: str
    summary: str | None
    severity: Severity
    status: Status
    services: list[str]
    labels: dict[str, str]
    commander: str | None
    caused_by_deploy_id: uuid.UUID | None
    source: str = Field(description="`api`, or the integration that opened it (`alertmanager`)")
    recurrence_of: uuid.UUID | None = Field(description="The earlier incident this one repeats")
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    investigating_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    declined_at: datetime | None
    decline_reason: DeclineReason | None = Field(description="Set when `status` is `declined`")
    decline_note: str | None
    merged_at: datetime | None
    merged_into: uuid.UUID | None = Field(
        description="Set when `status` is `merged`: the incident this one was merged into"
    )

    @computed_field(examples=["INC-42"])  # type: ignore[prop-decorator]
    @property
    def reference(self) -> str:
        return reference_of(self.number)

    @computed_field(description="Statuses a PATCH may move to now")  # type: ignore[prop-decorator]
    @property
    def allowed_transitions(self) -> list[Status]:
        return allowed_moves(self.status)

    @computed_field(  # type: ignore[prop-decorator]
        description="`self` by reference, and `page`: the incident as a web page for people"
    )
    @property
    def links(self) -> dict[str, str]:
        return links_of(reference_of(self.number))

    @classmethod
    def of(cls, incident: Incident | Row[Any]) -> "IncidentOut":
        return cls.model_validate(incident)


class IncidentRef(BaseModel):
    """The short form of an incident carried by events about things on it."""

    id: uuid.UUID
    reference: str = Field(examples=["INC-42"])
    title: str
    severity: Severity
    status: Status

    @classmethod
    def of(cls, incident: Incident) -> "IncidentRef":
        return cls(
            id=incident.id,
            reference=incident.reference,
            title=incident.title,
            severity=Severity(incident.severity),
            status=Status(incident.status),
        )


IncidentName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="The other incident's UUID or reference (`INC-42`)", examples=["INC-42"]),
]


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"into": "INC-40"}})

    into: IncidentName


class MergeMoved(BaseModel):
    """What a merge moved into the surviving incident."""

    alerts: int = Field(description="Alerts moved (their group now lands on the survivor)")
    participants: int = Field(description="People joined to the survivor")
    timeline_entries: int = Field(description="Entries copied, with their original times")
    cause: bool = Field(description="Whether the causing deploy was carried over")


class MergeOut(BaseModel):
    """The merged incident (now `merged`) and the survivor it was merged into."""

    incident: IncidentOut
    into: IncidentOut
    moved: MergeMoved


class RelationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"incident": "INC-40", "kind": "caused_by"}},
    )

    incident: IncidentName
    kind: RelationKind = Field(
        description="Read from this incident: `caused_by` INC-40 means INC-40 `causes` it"
    )


class RelationOut(BaseModel):
    """A relation as this incident reads it (the other incident reads it mirrored)."""

    incident: IncidentRef = Field(description="The other incident")
    kind: RelationKind
    created_by: str
    created_at: datetime


# The columns IncidentOut is made of: list reads select only these.
OUT_COLUMNS = [name for name in IncidentOut.model_fields if name in Incident.model_fields]
_ALLOWED = {status: allowed_moves(status) for status in Status}


def incident_json(data: dict[str, Any]) -> dict[str, Any]:
    """A row of OUT_COLUMNS as IncidentOut would dump it, without building the model."""
    data["reference"] = reference_of(data["number"])
    data["allowed_transitions"] = _ALLOWED[data["status"]]
    data["links"] = links_of(data["reference"])
    return data
