"""The event of the action items taken after an incident."""

from typing import Any, ClassVar

from pydantic import Field

from app.action_items.schemas import ActionItemOut
from app.core.events import EventType
from app.incidents.events import OnIncident


class ActionItemUpdated(OnIncident):
    """An action item was added or changed."""

    type: ClassVar[EventType] = EventType.ACTION_ITEM_UPDATED

    action_item: ActionItemOut
    changes: dict[str, Any] = Field(
        description="What changed: `{field: {from, to}}`, `created: true` on a new item, "
        "and `rollout`: `{service: {from, to, note?}}` for each service whose rollout changed"
    )


class ActionItemOverdue(OnIncident):
    """An unfinished action item passed its due date (sent once per due date)."""

    type: ClassVar[EventType] = EventType.ACTION_ITEM_OVERDUE

    action_item: ActionItemOut
