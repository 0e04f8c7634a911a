"""Every table module, imported once so that Alembic and the tests see one metadata."""

from sqlmodel import SQLModel

from app.action_items.models import ActionItem, ActionItemRollout
from app.alerts.models import Alert, AlertNotification, MergedAlertGroup
from app.audit.models import AuditEvent
from app.auth.models import ApiKey
from app.catalog.models import IncidentLink, Service
from app.checklists.models import ChecklistItem
from app.contributing_factors.models import ContributingFactor
from app.core.events import OutboxEvent
from app.core.idempotency import IdempotencyRecord
from app.core.timers import Timer
from app.deploys.models import Deploy
from app.engagement.models import Engagement
from app.incidents.models import Counter, Incident, IncidentRelation
from app.integrations.models import InboundDelivery
from app.notifications.models import Delivery, Subscription
from app.participants.models import Participant
from app.retrospectives.models import Retrospective, RetrospectiveRevision
from app.rollbacks.models import RollbackReview
from app.status_updates.models import StatusUpdate
from app.timeline.models import TimelineEntry, TimelineRevision

metadata = SQLModel.metadata

__all__ = [
    "ActionItem",
    "ActionItemRollout",
    "Alert",
    "AlertNotification",
    "ApiKey",
    "AuditEvent",
    "ChecklistItem",
    "ContributingFactor",
    "Counter",
    "Delivery",
    "Deploy",
    "Engagement",
    "IdempotencyRecord",
    "InboundDelivery",
    "Incident",
    "IncidentLink",
    "IncidentRelation",
    "MergedAlertGroup",
    "OutboxEvent",
    "Participant",
    "Retrospective",
    "RetrospectiveRevision",
    "RollbackReview",
    "Service",
    "StatusUpdate",
    "Subscription",
    "TimelineEntry",
    "TimelineRevision",
    "Timer",
    "metadata",
]
