"""Every table module, imported once so that Alembic and the tests see one metadata."""

from sqlmodel import SQLModel

from app.auth.models import ApiKey
from app.checklists.models import ChecklistItem
from app.core.events import OutboxEvent
from app.core.idempotency import IdempotencyRecord
from app.incidents.models import Counter, Incident
from app.notifications.models import Delivery, Subscription
from app.participants.models import Participant
from app.timeline.models import TimelineEntry

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "ChecklistItem",
    "Counter",
    "Delivery",
    "IdempotencyRecord",
    "Incident",
    "OutboxEvent",
    "Participant",
    "Subscription",
    "TimelineEntry",
    "metadata",
]
