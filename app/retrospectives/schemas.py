"""Request and response models of the retrospective people write."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.actors import Via
from app.retrospectives.models import RetrospectiveState

SectionText = Annotated[str, StringConstraints(max_length=20_000)]


class Sections(BaseModel):
    """The sections people write; Markdown is shown as text, never interpreted."""

    summary: str | None = Field(default=None, description="What happened, in a few lines")
    impact: str | None = Field(default=None, description="Who and what was affected, how long")
    what_went_well: str | None = None
    what_went_wrong: str | None = None
    where_we_were_lucky: str | None = None
    notes: str | None = Field(default=None, description="Anything else")


class RetrospectiveWrite(BaseModel):
    """The sections to write. A section left out keeps its text (on the first write, the
    text Muster drafted from the record); `null` or `""` empties it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "what_went_well": "The rollback was proposed, reviewed and executed in 12 min.",
                "what_went_wrong": "No alert on connection-pool saturation.",
                "where_we_were_lucky": "It happened before the evening peak.",
            }
        },
    )

    summary: SectionText | None = None
    impact: SectionText | None = None
    what_went_well: SectionText | None = None
    what_went_wrong: SectionText | None = None
    where_we_were_lucky: SectionText | None = None
    notes: SectionText | None = None


class RetrospectiveOut(Sections):
    incident_id: uuid.UUID
    incident_reference: str = Field(examples=["INC-42"])
    state: RetrospectiveState = Field(
        description="`draft` → `in_review` → `published`; a change after publishing starts "
        "the next revision as a `draft`"
    )
    revision: int = Field(description="1 for the first; +1 for each change after publishing")
    etag: str = Field(description="Also the `ETag` header: send it back as `If-Match`")
    published_revisions: int = Field(description="How many revisions were published")
    created_by: str
    created_at: datetime
    updated_by: str
    updated_via: Via | None
    updated_at: datetime


class RevisionOut(BaseModel):
    """A published revision, exactly as it was published."""

    revision: int
    sections: Sections
    published_by: str
    published_via: Via | None
    published_at: datetime
