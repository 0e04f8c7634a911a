"""The event of the retrospective people write."""

from datetime import datetime
from typing import ClassVar

from app.core.events import EventType
from app.incidents.events import OnIncident
from app.retrospectives.schemas import Sections


class PostmortemPublished(OnIncident):
    """A revision of an incident's retrospective was published; it never changes again."""

    type: ClassVar[EventType] = EventType.POSTMORTEM_PUBLISHED

    revision: int
    sections: Sections
    published_by: str
    published_at: datetime
