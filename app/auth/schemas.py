import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.handles import Handle
from app.core.security import Scope


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"name": "ci", "scopes": ["deploys:write"]}}
    )

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    person: Handle | None = Field(
        default=None,
        description="Whose key it is: a personal key writes as this person. Without it, a "
        "service key, which writes as `service:<name>` (or, with `act-as`, for a person)",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    person: str | None = Field(description="The person of a personal key; null: a service key")
    prefix: str = Field(description="Public part of the key; the secret is never shown again")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The whole key. Shown once: store it now.")
