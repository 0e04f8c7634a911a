from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.audit.models import AuditEvent
from app.core.actors import Via
from app.core.security import Credential


class AuditEventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "seq": 1042,
                "at": "2026-12-03T14:07:31.120000Z",
                "actor": "alice",
                "via": {"credential": "oidc", "subject": "248289761001"},
                "method": "POST",
                "route": "/api/v1/incidents/{incident_id}/rollback-reviews/{review_id}/decision",
                "operation": "rollback-reviews-decide-rollback",
                "target": "7d0c6f7e-3b5a-4a57-9a39-9ad3d1b0c2a1",
                "status": 200,
                "request_id": "5f2b1d0c9e8a4b7f",
            }
        }
    )

    seq: int = Field(description="Order of writing; later events have higher numbers")
    at: datetime
    actor: str | None = Field(
        description="Who acted: a person's handle or `service:<key name>`; null when the "
        "authentication was refused"
    )
    via: Via | None = Field(description="The credential used; null when none was accepted")
    method: str
    route: str = Field(description="The route's template, e.g. `/api/v1/incidents/{incident_id}`")
    operation: str | None = Field(description="The OpenAPI operation id")
    target: str | None = Field(
        description="What was written: the id the created resource's `Location` ends with, "
        "else the last id in the path, as the caller wrote it"
    )
    status: int = Field(description="The HTTP status of the response")
    request_id: str | None = Field(description="The request's `X-Request-ID`")

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        via = None
        if event.credential is not None:
            via = Via(
                credential=Credential(event.credential),
                key_id=event.key_id,
                key_name=event.key_name,
                subject=event.subject,
            )
        return cls.model_validate({**event.model_dump(), "via": via})
