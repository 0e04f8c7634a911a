import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.alerts.models import AlertStatus


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    incident_id: uuid.UUID
    fingerprint: str
    alertname: str | None
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str | None
    first_received_at: datetime
    last_received_at: datetime
    received_count: int
