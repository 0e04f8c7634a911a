import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.core.actors import Via
from app.core.api import API_PREFIX
from app.core.handles import Handle
from app.participants.models import Participant, Role


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"handle": "alice", "role": "sre"}},
    )

    handle: Handle | None = Field(
        default=None,
        description="Who joins; default: the actor. Naming someone else adds them "
        "(`added_by` shows who did)",
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    team: str | None = Field(default=None, max_length=100)
    role: Role = Role.OBSERVER


class ParticipantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"role": "commander"}})

    role: Role


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    incident_id: uuid.UUID
    handle: str
    name: str | None
    email: str | None
    team: str | None
    role: Role
    joined_at: datetime
    left_at: datetime | None
    added_by: str | None = Field(description="Who put them on the incident (null: not recorded)")
    via: Via | None = Field(description="The credential `added_by` acted with")

    @computed_field(description="Still on the incident (has not left)")  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        return self.left_at is None

    @computed_field(  # type: ignore[prop-decorator]
        description="`self` (PATCH changes the role, DELETE leaves) and its `incident`"
    )
    @property
    def links(self) -> dict[str, str]:
        incident = f"{API_PREFIX}/incidents/{self.incident_id}"
        return {"self": f"{incident}/participants/{self.id}", "incident": incident}

    @classmethod
    def of(cls, participant: Participant) -> "ParticipantOut":
        return cls.model_validate(participant)
