"""The events about an incident itself; each carries the incident as `IncidentOut`."""

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.core.events import DomainEvent, EventType
from app.incidents.models import Incident
from app.incidents.schemas import IncidentOut, IncidentRef, MergeMoved
from app.incidents.state import Status


class Change(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Any = Field(alias="from", description="The value before")
    to: Any = Field(description="The value after")


class _IncidentEvent(DomainEvent):
    incident: IncidentOut

    def incident_id(self) -> uuid.UUID:
        return self.incident.id


class OnIncident(DomainEvent):
    """An event about something on an incident: it carries the incident's short form."""

    incident: IncidentRef

    def incident_id(self) -> uuid.UUID:
        return self.incident.id


class IncidentCreated(_IncidentEvent):
    """An incident was opened."""

    type: ClassVar[EventType] = EventType.INCIDENT_CREATED

    @classmethod
    def of(cls, incident: Incident) -> "IncidentCreated":
        return cls(incident=IncidentOut.of(incident))


class IncidentUpdated(_IncidentEvent):
    """Fields of an incident changed (not its status). SRE targets get it when the
    severity is raised to sev1 or sev2."""

    type: ClassVar[EventType] = EventType.INCIDENT_UPDATED

    changes: dict[str, Change] = Field(
        description="Changed fields, e.g. `severity`, `title`, `commander`, `services`"
    )

    @classmethod
    def of(cls, incident: Incident, changes: dict[str, dict[str, Any]]) -> "IncidentUpdated":
        return cls.model_validate({"incident": IncidentOut.of(incident), "changes": changes})


class IncidentStatusChanged(_IncidentEvent):
    """An incident moved along the status machine."""

    type: ClassVar[EventType] = EventType.INCIDENT_STATUS_CHANGED

    from_: Status = Field(alias="from")
    to: Status

    @classmethod
    def of(cls, incident: Incident, previous: Status, target: Status) -> "IncidentStatusChanged":
        return cls(incident=IncidentOut.of(incident), from_=previous, to=target)


class IncidentMerged(_IncidentEvent):
    """An incident was merged into another: `incident` is the merged one (status
    `merged`), `into` the survivor that now holds its alerts, people and timeline."""

    type: ClassVar[EventType] = EventType.INCIDENT_MERGED

    into: IncidentRef
    moved: MergeMoved
