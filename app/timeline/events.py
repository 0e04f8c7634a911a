"""The event of the timeline."""

from typing import ClassVar

from app.core.events import EventType
from app.incidents.events import OnIncident
from app.timeline.schemas import EntryOut


class TimelineEventAdded(OnIncident):
    """An entry was added to an incident's timeline (by a person or by Muster)."""

    type: ClassVar[EventType] = EventType.TIMELINE_EVENT_ADDED

    entry: EntryOut
