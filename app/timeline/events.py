"""The events of the timeline."""

from typing import ClassVar

from pydantic import Field

from app.core.events import EventType
from app.incidents.events import OnIncident
from app.timeline.schemas import EntryOut


class TimelineEventAdded(OnIncident):
    """An entry was added to an incident's timeline (by a person or by Muster)."""

    type: ClassVar[EventType] = EventType.TIMELINE_EVENT_ADDED

    entry: EntryOut


class TimelineEventUpdated(OnIncident):
    """An entry people wrote was edited; its earlier versions are kept (`revisions`)."""

    type: ClassVar[EventType] = EventType.TIMELINE_EVENT_UPDATED

    entry: EntryOut
    revision: int = Field(description="The number of the entry's new version")


class TimelineEventDeleted(OnIncident):
    """An entry people wrote was deleted: a tombstone with who deleted it and when."""

    type: ClassVar[EventType] = EventType.TIMELINE_EVENT_DELETED

    entry: EntryOut
