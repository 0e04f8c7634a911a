import uuid
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.clock import AwareUTC
from app.deploys.models import DeployKind, DeploySource, DeployStatus


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http or https URL")
    return value


Timestamp = AwareUTC
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
HttpUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_http_url),
    Field(json_schema_extra={"pattern": r"^https?://[^/?#]+"}),  # what _http_url accepts
]


class DeployCreate(BaseModel):
    """A deploy report. Fields left out keep their stored value when it updates a deploy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # No times (the time of the report applies) and no `external_id` (CI's own id).
            "example": {
                "service": "checkout-api",
                "environment": "production",
                "version": "v2.14.0",
                "status": "succeeded",
                "actor": "release-bot",
            }
        },
    )

    service: Name
    environment: Name
    status: DeployStatus
    kind: DeployKind | None = Field(default=None, description="Default `deploy`")
    version: Text | None = None
    commit_sha: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    started_at: Timestamp | None = Field(
        default=None, description="Default: `finished_at`, or the time of the report"
    )
    finished_at: Timestamp | None = Field(default=None, description="Not before `started_at`")
    url: HttpUrl | None = Field(default=None, description="Where to read about it (CI run, log)")
    actor: Text | None = None
    committed_at: Timestamp | None = Field(
        default=None,
        description="When the deployed change (the head commit) was committed: DORA's lead "
        "time for changes runs from here to the deploy's success",
    )
    external_id: Text | None = Field(
        default=None,
        description="Your id for this deploy: reporting it again with the same API key "
        "updates the same deploy; another key's `external_id` is a 409",
    )

    @field_validator("finished_at")
    @classmethod
    def _finished_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        started = info.data.get("started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("finished_at is before started_at")
        return value


class MissingMeasure(BaseModel):
    """A prevention measure that had not reached the deployed service when it arrived."""

    action_item_id: uuid.UUID
    title: str
    incident_id: uuid.UUID
    incident_reference: str = Field(examples=["INC-42"])
    rollout_status: str = Field(description="The rollout's status for this service then")
    due: date | None
    overdue: bool = Field(description="The measure was past its due date then")


class DeployOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: DeploySource
    external_id: str | None
    kind: DeployKind
    service: str
    environment: str
    version: str | None
    commit_sha: str | None
    status: DeployStatus
    started_at: datetime
    finished_at: datetime | None
    url: str | None
    actor: str | None
    committed_at: datetime | None
    unprotected: bool = Field(
        description="When it arrived, a `prevent` measure's rollout to its service was "
        "pending, or in progress past its due date (`missing_measures`)"
    )
    missing_measures: list[MissingMeasure] = Field(
        description="The prevention measures missing when the deploy arrived"
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("missing_measures", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class SuspectDeployOut(DeployOut):
    """A deploy that may have caused an incident, ranked by closeness to its impact start."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "5b0c7a52-0d0e-4c55-9a53-1f4f3c1e9d21",
                "source": "api",
                "external_id": "pipeline-8812",
                "kind": "deploy",
                "service": "checkout-api",
                "environment": "production",
                "version": "v2.14.0",
                "commit_sha": "3f6c2a1e9b0d4c5f8a7e6d5c4b3a291817161514",
                "status": "failed",
                "started_at": "2026-11-28T09:58:00Z",
                "finished_at": "2026-11-28T10:03:12Z",
                "url": "https://ci.example.com/pipelines/8812",
                "actor": "release-bot",
                "committed_at": "2026-11-28T09:41:07Z",
                "unprotected": False,
                "missing_measures": [],
                "created_at": "2026-11-28T10:03:13Z",
                "updated_at": "2026-11-28T10:03:13Z",
                "minutes_before_impact": 12.8,
                "flagged": True,
                "is_cause": False,
                "via": ["checkout-api"],
            }
        }
    )

    minutes_before_impact: float = Field(
        description="Minutes from the deploy's finish (or its start, if it had not finished) "
        "to the incident's impact start; a number ≥ 0, rounded to 0.1",
        examples=[12.8],
    )
    flagged: bool = Field(description="The deploy failed or was rolled back")
    is_cause: bool = Field(description="The incident names this deploy as its cause")
    via: list[str] = Field(
        description="How the deploy's service is reached from the incident's: `[checkout]` "
        "for an incident service, `[checkout, payments]` for a service checkout depends on "
        "(catalog `depends_on`)",
        examples=[["checkout", "payments"]],
    )
