import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.db import JSONType, UTCDateTime


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=100)
    person: str | None = Field(
        default=None, max_length=100, description="The person a personal key belongs to"
    )
    prefix: str = Field(max_length=16, unique=True, description="Public part, shown in listings")
    secret_hash: str = Field(max_length=64, description="SHA-256 of the whole key, hex")
    scopes: list[str] = Field(sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
