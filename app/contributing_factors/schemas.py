"""Request and response models of contributing factors."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.contributing_factors.models import ContributingFactor
from app.core.actors import Via
from app.core.text import NOT_BLANK

Service = Annotated[str, Field(min_length=1, max_length=100), NOT_BLANK]


class FactorCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "category": "observability_gap",
                "description": "No metric showed the connection pool filling up; the cause "
                "was found in the database logs after 40 minutes.",
                "services": ["checkout-api"],
            }
        },
    )

    category: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="A key of the taxonomy: `GET /contributing-factors/categories` lists "
        "them, and a 422 problem names them"
    )
    description: Annotated[str, Field(min_length=1, max_length=5000), NOT_BLANK]
    services: Annotated[list[Service], Field(max_length=50)] | None = Field(
        default=None, description="The services it applies to; default: the incident's"
    )


class FactorOut(BaseModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    incident_reference: str = Field(examples=["INC-42"])
    category: str
    description: str
    services: list[str]
    created_by: str
    via: Via | None
    created_at: datetime

    @classmethod
    def of(cls, factor: ContributingFactor, reference: str) -> "FactorOut":
        return cls(
            id=factor.id,
            incident_id=factor.incident_id,
            incident_reference=reference,
            category=factor.category,
            description=factor.description,
            services=factor.services,
            created_by=factor.created_by,
            via=Via.model_validate(factor.created_via) if factor.created_via else None,
            created_at=factor.created_at,
        )
