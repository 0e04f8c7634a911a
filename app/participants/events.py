"""The events of people joining and leaving an incident."""

from typing import ClassVar

from app.core.events import EventType
from app.incidents.events import OnIncident
from app.participants.schemas import ParticipantOut


class ParticipantJoined(OnIncident):
    """Someone joined an incident."""

    type: ClassVar[EventType] = EventType.PARTICIPANT_JOINED

    participant: ParticipantOut


class ParticipantLeft(OnIncident):
    """Someone left an incident."""

    type: ClassVar[EventType] = EventType.PARTICIPANT_LEFT

    participant: ParticipantOut
