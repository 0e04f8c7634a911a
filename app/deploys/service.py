"""Release history: deploys reported by CI (the API) and by GitHub and GitLab webhooks."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.clock import utcnow
from app.core.db import insert_ignoring_conflict
from app.core.errors import FieldProblem, InvalidInput, NotFound
from app.core.events import EventType, emit
from app.core.pagination import PageParams, Rows, paginate
from app.deploys.models import Deploy, DeployKind, DeploySource, DeployStatus
from app.deploys.schemas import DeployOut


class DeployNotFound(NotFound):
    pass


def _check_times(started_at: datetime, finished_at: datetime | None) -> None:
    if finished_at is not None and finished_at < started_at:
        raise InvalidInput(
            f"finished_at ({finished_at.isoformat()}) is before started_at "
            f"({started_at.isoformat()})",
            errors=[
                FieldProblem(
                    field="finished_at", message="is before started_at", type="value_error"
                )
            ],
        )


async def _announce(session: AsyncSession, deploy: Deploy) -> None:
    data = {"deploy": DeployOut.model_validate(deploy).model_dump(mode="json")}
    await emit(session, EventType.DEPLOY_RECORDED, data)


async def record_deploy(
    session: AsyncSession,
    *,
    source: DeploySource,
    external_id: str | None,
    service: str,
    environment: str,
    status: DeployStatus,
    kind: DeployKind | None = None,
    version: str | None = None,
    commit_sha: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    url: str | None = None,
    actor: str | None = None,
) -> tuple[Deploy, bool]:
    """Record a deploy, or update the one already reported with the same `external_id`.

    Returns the deploy and whether it was created. On an update, arguments left as None
    keep the stored value, and a finished deploy is not moved back to `started` (webhook
    deliveries can arrive out of order). Emits `deploy.recorded` when the deploy is new
    or its status changed.

    Race-safe: the row is claimed with `INSERT … ON CONFLICT DO NOTHING` on
    (source, external_id); a concurrent report of the same deploy waits for the first
    to commit (PostgreSQL), then locks and updates that row.
    """
    # What the caller stated; None means "not stated" (keep the stored value on an update).
    reported: dict[str, Any] = {
        "kind": kind,
        "service": service,
        "environment": environment,
        "version": version,
        "commit_sha": commit_sha,
        "status": status,
        "started_at": started_at,
        "finished_at": finished_at,
        "url": url,
        "actor": actor,
    }
    now = utcnow()
    deploy_id = uuid.uuid4()
    row = reported | {
        "id": deploy_id,
        "source": source,
        "external_id": external_id,
        "kind": kind or DeployKind.DEPLOY,
        "started_at": started_at or finished_at or now,
        "created_at": now,
        "updated_at": now,
    }
    _check_times(row["started_at"], finished_at)
    if await insert_ignoring_conflict(session, Deploy, row, ["source", "external_id"]):
        created = await session.get(Deploy, deploy_id)
        assert created is not None
        await _announce(session, created)
        return created, True

    existing = await session.scalar(
        select(Deploy)
        .where(col(Deploy.source) == source, col(Deploy.external_id) == external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert existing is not None, "a conflicting deploy row vanished"
    if existing.status != DeployStatus.STARTED and status == DeployStatus.STARTED:
        reported["status"] = None  # a late `started` must not reopen a finished deploy
    changes = {
        key: value
        for key, value in reported.items()
        if value is not None and getattr(existing, key) != value
    }
    if not changes:
        return existing, False
    _check_times(
        changes.get("started_at", existing.started_at),
        changes.get("finished_at", existing.finished_at),
    )
    for key, value in changes.items():
        setattr(existing, key, value)
    existing.updated_at = now
    await session.flush()
    if "status" in changes:
        await _announce(session, existing)
    return existing, False


async def get_deploy(session: AsyncSession, deploy_id: uuid.UUID) -> Deploy:
    deploy = await session.get(Deploy, deploy_id)
    if deploy is None:
        raise DeployNotFound(f"No deploy {deploy_id}")
    return deploy


async def list_deploys(
    session: AsyncSession,
    page: PageParams,
    *,
    service: str | None = None,
    environment: str | None = None,
    statuses: list[DeployStatus] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Rows[Deploy]:
    """Deploys, most recent first by `finished_at` (or `started_at` until they finish).

    `since` is inclusive and `until` exclusive, both on that same time.
    """
    statement = select(Deploy)
    if service is not None:
        statement = statement.where(col(Deploy.service) == service)
    if environment is not None:
        statement = statement.where(col(Deploy.environment) == environment)
    if statuses:
        statement = statement.where(col(Deploy.status).in_(statuses))
    if since is not None:
        statement = statement.where(col(Deploy.effective_at) >= since)
    if until is not None:
        statement = statement.where(col(Deploy.effective_at) < until)
    return await paginate(session, statement, page, col(Deploy.effective_at), col(Deploy.id))
