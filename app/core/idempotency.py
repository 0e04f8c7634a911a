"""`Idempotency-Key` on creating POSTs: the same key and body replay the first response.

The key is claimed with an `INSERT … ON CONFLICT DO NOTHING` in the request's own
transaction, before the work is done, and the response is stored in that same
transaction. So a retry either finds the committed response and replays it, or
(while the first attempt is still running on PostgreSQL) waits for it; a failed
attempt rolls its claim back and the key can be used again.

Records are kept `MUSTER_IDEMPOTENCY_TTL_HOURS` (24): the dispatcher purges older
ones (`purge_expired`). A response may hold a secret (a subscription's): the record
notes what the response created (its `Location`), and deleting that deletes the
record with it (`forget`), so a replay never shows a deleted resource's secret.
"""

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import UniqueConstraint, bindparam, delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from app.core.actors import ACTING_FOR_HEADER
from app.core.clock import utcnow
from app.core.db import (
    JSONType,
    SessionDep,
    UTCDateTime,
    insert_ignoring_conflict,
    table_of,
)
from app.core.errors import Conflict
from app.core.security import Principal, get_principal

REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("subject", "key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject: str = Field(max_length=64, description="The API key that used it")
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64, description="SHA-256 of method, path and body")
    status_code: int | None = None
    response_body: Any = Field(default=None, sa_type=JSONType, nullable=True)
    response_headers: dict[str, str] | None = Field(default=None, sa_type=JSONType)
    resource: str | None = Field(
        default=None, max_length=255, description="The `Location` the response created"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class IdempotencyKeyReused(Conflict):
    code, title = "idempotency-key-reused", "Idempotency key reused"


class IdempotentReplay(Exception):
    """Raised to answer with the stored response instead of running the route.

    It carries plain values: the session is rolled back (and its rows expired)
    before the exception handler renders the response.
    """

    def __init__(self, record: IdempotencyRecord) -> None:
        self.status_code = record.status_code or 200
        self.body = record.response_body
        self.headers = dict(record.response_headers or {}) | {REPLAYED_HEADER: "true"}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code, headers=self.headers)


def fingerprint(method: str, path: str, body: bytes, acting_for: str | None = None) -> str:
    """What makes two requests the same: method, path, the body as JSON, and the person an
    `act-as` key acts for (one bot, one key, two people: two requests, not a replay)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    request = b"%s %s\n%s\n%s" % (
        method.encode(),
        path.encode(),
        (acting_for or "").encode("latin-1"),  # as Starlette decoded the header
        canonical,
    )
    return hashlib.sha256(request).hexdigest()


# Built once, the values bound at execution: creation is a hot path.
_RECORD = select(IdempotencyRecord).where(
    col(IdempotencyRecord.subject) == bindparam("subject"),
    col(IdempotencyRecord.key) == bindparam("key"),
)
# On the table, run on the connection: the ORM's UPDATE would autoflush and look for
# the record among the session's objects (none: it was claimed with a plain INSERT),
# which cost as much as the incident's own INSERT.
_KEYS = table_of(IdempotencyRecord)
_STORE = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("record_id"))
    .values(
        status_code=bindparam("status_code"),
        response_body=bindparam("response_body", type_=JSONType),
        response_headers=bindparam("response_headers", type_=JSONType),
        resource=bindparam("resource"),
    )
)


class Idempotency:
    """Handle on the request's claimed key (if any); `respond` stores and returns the result."""

    def __init__(self, session: AsyncSession, record_id: uuid.UUID | None) -> None:
        self._session = session
        self._record_id = record_id

    async def respond(
        self, model: BaseModel, *, status_code: int, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        body = model.model_dump(mode="json")
        if self._record_id is not None:
            connection = await self._session.connection()
            await connection.execute(
                _STORE,
                {
                    "record_id": self._record_id,
                    "status_code": status_code,
                    "response_body": body,
                    "response_headers": headers or {},
                    "resource": (headers or {}).get("Location"),
                },
            )
        return JSONResponse(body, status_code=status_code, headers=headers)


async def claim_idempotency_key(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(get_principal)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Retry-safe creation: the same key and body return the first response; "
            "the same key with another body is a 409 problem. Keys are kept 24 hours.",
        ),
    ] = None,
) -> Idempotency:
    if idempotency_key is None:
        return Idempotency(session, None)
    settings = request.app.state.settings
    digest = fingerprint(
        request.method,
        request.url.path,
        await request.body(),
        request.headers.get(ACTING_FOR_HEADER),
    )
    which = {"subject": principal.subject, "key": idempotency_key}
    record_id = uuid.uuid4()
    row = {
        "id": record_id,
        "subject": principal.subject,
        "key": idempotency_key,
        "fingerprint": digest,
        "created_at": utcnow(),
    }

    async def claim() -> bool:
        return await insert_ignoring_conflict(
            session, IdempotencyRecord, row, conflict_on=["subject", "key"]
        )

    if await claim():
        return Idempotency(session, record_id)
    existing = await session.scalar(_RECORD, which)
    expired = utcnow() - timedelta(hours=settings.idempotency_ttl_hours)
    if existing is not None and existing.created_at < expired:  # kept long enough: reuse it
        await session.delete(existing)
        if await claim():
            return Idempotency(session, record_id)
        existing = await session.scalar(_RECORD, which)
    if existing is None or existing.status_code is None:
        raise IdempotencyKeyReused("A request with this Idempotency-Key is still in progress")
    if existing.fingerprint != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key"
        )
    raise IdempotentReplay(existing)


IdempotencyDep = Annotated[Idempotency, Depends(claim_idempotency_key)]


async def forget(session: AsyncSession, resource: str) -> None:
    """Delete the records of responses that created `resource` (its `Location`)."""
    await session.execute(
        delete(IdempotencyRecord)
        .where(col(IdempotencyRecord.resource) == resource)
        .execution_options(synchronize_session=False)
    )


async def purge_expired(session: AsyncSession, *, ttl: timedelta, limit: int) -> int:
    """Delete up to `limit` records older than `ttl`; how many went.

    Safe on every replica at once: rows already locked by another purge are skipped
    (PostgreSQL), and deleting a row twice deletes nothing the second time.
    """
    expired = (
        select(IdempotencyRecord.id)
        .where(col(IdempotencyRecord.created_at) < utcnow() - ttl)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = (await session.scalars(expired)).all()
    if ids:
        await session.execute(
            delete(IdempotencyRecord)
            .where(col(IdempotencyRecord.id).in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)
