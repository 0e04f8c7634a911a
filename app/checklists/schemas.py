from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.core.actors import Via
from app.core.handles import Handle


class ChecklistItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    position: int
    done: bool
    note: str | None
    done_by: str | None = Field(description="Who ticked it (or `muster` when ticked automatically)")
    done_via: Via | None = Field(description="The credential it was ticked with (null: Muster)")
    done_at: datetime | None
    updated_at: datetime | None


class ChecklistItemUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"done": True}},
    )

    done: StrictBool | None = None
    note: str | None = Field(default=None, max_length=2000)
    by: Handle | None = Field(
        default=None,
        description="Who ticks it: the actor (the default); only an `act-as` key may name "
        "the person it acts for",
    )
