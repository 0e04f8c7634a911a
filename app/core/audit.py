"""The audit trail's place in a request: what is recorded of it, and when.

Recorded: every request that writes (any method but GET, HEAD and OPTIONS) made by an
authenticated caller, whatever its outcome, and every refused authentication (a 401).
An entry holds who (actor, credential), what (method, route template, operation id,
target id), the status and the request id: never a body, a header or a secret.

A write that commits records its entry in its own transaction: `AuthenticatedRoute`
hands each response to `AuditTrail.answered` before `get_session` commits, so the entry
exists exactly when the write does. Everything else (a write refused or rolled back, a
refused authentication) is recorded by `AuditMiddleware` once the response is done, in
a transaction of its own; a failure there is logged and never changes the response.
Refused authentications are rate-limited per process (`MUSTER_AUDIT_REFUSALS_PER_MINUTE`),
so a flood of bad credentials cannot fill the table.

The audit domain stores entries (`app.audit.service.record`); `create_app` wires it in
as an `AuditRecorder`, so core depends on no domain.
"""

import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from app.core.actors import ACTING_FOR_HEADER, resolve_actor
from app.core.api import operation_id
from app.core.clock import utcnow
from app.core.db import Database, after_commit
from app.core.errors import AppError
from app.core.logging import request_id_var
from app.core.security import Credential, Principal

log = logging.getLogger("muster.audit")

READS = frozenset({"GET", "HEAD", "OPTIONS"})
# On the request's state: whether its entry was committed with its write.
_RECORDED = "audit_recorded"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str | None
    credential: str | None
    key_id: uuid.UUID | None
    key_name: str | None
    subject: str | None
    method: str
    route: str
    operation: str | None
    target: str | None
    status: int
    request_id: str | None

    def row(self) -> dict[str, Any]:
        return asdict(self)


class AuditRecorder(Protocol):
    """Queues `entry` in `session`'s transaction (`app.audit.service.record`)."""

    def __call__(self, session: AsyncSession, entry: AuditEntry) -> None: ...


def entry_of(scope: AsgiScope, status: int, location: str | None = None) -> AuditEntry:
    """What the audit trail keeps of a request that was answered `status`."""
    principal: Principal | None = scope.get("state", {}).get("principal")
    route = scope.get("route")
    credential: str | None = None
    key_id, key_name, subject, actor = None, None, None, None
    if principal is not None:
        credential = principal.credential.value
        if principal.credential is Credential.OIDC:
            subject = principal.name
        else:
            key_id, key_name = principal.key_id, principal.name
        actor = _actor(principal, Headers(scope=scope).get(ACTING_FOR_HEADER))
    return AuditEntry(
        at=utcnow(),
        actor=actor,
        credential=credential,
        key_id=key_id,
        key_name=key_name,
        subject=subject,
        method=scope["method"],
        route=getattr(route, "path", None) or "unmatched",
        operation=operation_id(route) if isinstance(route, APIRoute) else None,
        target=_target(scope.get("path_params", {}), location),
        status=status,
        request_id=request_id_var.get(),
    )


def _actor(principal: Principal, acting_for: str | None) -> str:
    """The request's actor, as `core.actors` resolves it from the credential and the
    `Muster-Acting-For` header; the credential's own when the header was refused."""
    try:
        return resolve_actor(principal, acting_for).handle
    except AppError:
        return resolve_actor(principal, None).handle


def _target(path_params: dict[str, Any], location: str | None) -> str | None:
    """What the request wrote: what it created (its `Location`), else the last `…_id` in
    its path, as the caller wrote it (an incident's UUID or `INC-42`)."""
    if location:
        return location.rstrip("/").rpartition("/")[2][:100] or None
    ids = [str(value) for name, value in path_params.items() if name.endswith("_id")]
    return ids[-1][:100] if ids else None


class RefusalBudget:
    """At most `per_minute` refused authentications recorded per minute by this process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = time.monotonic()
        self._spent = 0
        self._dropped = 0

    def take(self) -> bool:
        now = time.monotonic()
        if now - self._window >= 60:
            if self._dropped:
                log.warning(
                    "%d refused authentications were not recorded (over %d a minute)",
                    self._dropped,
                    self.per_minute,
                )
            self._window, self._spent, self._dropped = now, 0, 0
        if self._spent >= self.per_minute:
            self._dropped += 1
            return False
        self._spent += 1
        return True


class AuditTrail:
    def __init__(self, recorder: AuditRecorder, *, refusals_per_minute: int) -> None:
        self.recorder = recorder
        self.refusals = RefusalBudget(refusals_per_minute)

    def answered(self, request: Request, response: Response) -> None:
        """A route answered: a write by a caller is recorded in the request's transaction,
        which commits next (`security.AuthenticatedRoute`)."""
        state = request.scope.get("state", {})
        session: AsyncSession | None = state.get("transaction")  # `db.get_session`'s
        if request.method in READS or session is None or state.get("principal") is None:
            return
        location = response.headers.get("location")
        self.recorder(session, entry_of(request.scope, response.status_code, location))
        after_commit(session, lambda: state.__setitem__(_RECORDED, True))

    async def after_response(self, scope: AsgiScope, status: int) -> None:
        """The response is done: record what was not recorded with a commit."""
        state = scope.get("state", {})
        if state.get(_RECORDED):
            return
        if status == 401:
            if not self.refusals.take():
                return
        elif scope["method"] in READS or state.get("principal") is None:
            return
        database: Database = scope["app"].state.database
        try:
            async with database.sessionmaker() as session, session.begin():
                self.recorder(session, entry_of(scope, status))
        except Exception as exc:  # the database is down, say: the response stands
            log.warning("could not record an audit event of %s: %r", scope["method"], exc)


class AuditMiddleware:
    """Records, after the response, the requests the audit trail wants and no commit
    recorded (`AuditTrail.after_response`)."""

    def __init__(self, app: ASGIApp, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            await self.trail.after_response(scope, status)
            raise
        await self.trail.after_response(scope, status)
