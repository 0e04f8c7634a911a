"""Every table module, imported once so that Alembic and the tests see one metadata."""

from sqlmodel import SQLModel

from app.auth.models import ApiKey
from app.core.events import OutboxEvent
from app.core.idempotency import IdempotencyRecord
from app.deploys.models import Deploy
from app.integrations.models import InboundDelivery

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Deploy",
    "IdempotencyRecord",
    "InboundDelivery",
    "OutboxEvent",
    "metadata",
]
