import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.actors import Via
from app.core.clock import AwareUTC
from app.core.handles import Handle
from app.core.patch import Patch
from app.timeline.models import HUMAN_KINDS, EntryKind, TimelineEntry

HumanKind = Literal["note", "action", "decision", "observation"]

DATA_MAX_DEPTH = 16
DATA_MAX_BYTES = 64 * 1024


def _depth(value: Any, limit: int) -> int:
    """How deeply `value` nests, counting no further than `limit` + 1."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _bounded(data: dict[str, Any]) -> dict[str, Any]:
    # Stored as JSON and serialised on every read: keep it within what a reader handles.
    if _depth(data, DATA_MAX_DEPTH) > DATA_MAX_DEPTH:
        raise ValueError(f"nested deeper than {DATA_MAX_DEPTH} levels")
    try:
        size = len(orjson.dumps(data))  # as it is stored
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
        raise ValueError("holds an integer beyond 64 bits") from None
    if size > DATA_MAX_BYTES:
        raise ValueError(f"larger than {DATA_MAX_BYTES} bytes as JSON")
    return data


Data = Annotated[
    dict[str, Any],
    AfterValidator(_bounded),
    Field(
        description=f"Free-form structured data: at most {DATA_MAX_DEPTH} levels deep "
        f"and {DATA_MAX_BYTES} bytes as JSON"
    ),
]


class EntryCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # No `occurred_at`: it happened now unless the caller back-dates it.
            "example": {"kind": "action", "summary": "Scaled checkout-api up", "author": "alice"}
        },
    )

    kind: HumanKind = "note"
    summary: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=20_000)
    author: Handle | None = Field(
        default=None,
        description="Who writes it: the actor (the default); only an `act-as` key may name "
        "the person it acts for",
    )
    occurred_at: AwareUTC | None = Field(
        default=None, description="When it happened; may be back-dated, not in the future"
    )
    data: Data = Field(default_factory=dict)


class EntryUpdate(Patch):
    NOT_NULL = frozenset({"kind", "summary", "occurred_at", "data"})
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"summary": "Scaled checkout-api to 16 replicas"}},
    )

    kind: HumanKind | None = None
    summary: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=20_000)
    occurred_at: AwareUTC | None = None
    data: Data | None = None


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    incident_id: uuid.UUID
    kind: EntryKind
    summary: str
    body: str | None
    author: str | None
    via: Via | None = Field(description="The author's credential (null: not recorded)")
    data: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None = Field(
        description="Set on a deleted entry (listed only with `include_deleted=true`)"
    )
    deleted_by: str | None
    deleted_via: Via | None
    generated: bool = Field(description="Written by Muster; read-only")

    @classmethod
    def of(cls, entry: TimelineEntry) -> "EntryOut":
        return cls.model_validate(entry)


class RevisionOut(BaseModel):
    """One version of an entry: version 1 as first written, then one per edit."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    kind: EntryKind
    summary: str
    body: str | None
    data: dict[str, Any]
    occurred_at: datetime
    written_at: datetime = Field(description="When this version was written")
    written_by: str | None = Field(description="Who wrote this version: the author, an editor")
    via: Via | None


# What list reads select: EntryOut's columns, and `seq` for the cursor.
ENTRY_COLUMNS = [name for name in EntryOut.model_fields if name != "generated"] + ["seq"]


def entry_json(data: dict[str, Any]) -> dict[str, Any]:
    """A row of ENTRY_COLUMNS as EntryOut would dump it, without building the model."""
    del data["seq"]
    data["generated"] = data["kind"] not in HUMAN_KINDS
    return data
