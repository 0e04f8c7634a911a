"""Release history: deploys reported by CI (the API) and by GitHub and GitLab webhooks."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.seen import note_services
from app.core.clock import utcnow
from app.core.db import UTCDateTime, insert_ignoring_conflict
from app.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from app.core.events import emit
from app.core.pagination import PageParams, Rows, decode_cursor, encode_cursor, paginate
from app.deploys.events import DeployRecorded, DeployUnprotected
from app.deploys.models import Deploy, DeployKind, DeploySource, DeployStatus
from app.deploys.schemas import DeployOut, MissingMeasure
from app.incidents.models import Incident

ENVIRONMENT_LABELS = ("environment", "env")
FLAGGED = frozenset({DeployStatus.FAILED, DeployStatus.ROLLED_BACK})


class DeployNotFound(NotFound):
    pass


class ExternalIdTaken(Conflict):
    code, title = "external-id-taken", "external_id reported by another API key"


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


def _announce(session: AsyncSession, deploy: Deploy) -> None:
    emit(session, DeployRecorded(deploy=DeployOut.model_validate(deploy)))


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
    committed_at: datetime | None = None,
    reported_by: str | None = None,
    reported_at: datetime | None = None,
    missing_measures: list[MissingMeasure] | None = None,
) -> tuple[Deploy, bool]:
    """Record a deploy, or update the one already reported with the same `external_id`.

    Returns the deploy and whether it was created. On an update, arguments left as None
    keep the stored value, and a finished deploy is not moved back to `started` (webhook
    deliveries can arrive out of order). Emits `deploy.recorded` when the deploy is new
    or its status changed. `reported_by` (the API key, for source `api`) owns the deploy:
    the same `external_id` from another key is an `ExternalIdTaken` conflict.
    `reported_at` is the sender's own time of the event: an event older than the one
    last applied changes nothing (a replayed or late delivery); the deploy then keeps
    its later `reported_at`. `missing_measures` is the release gate's finding for a new
    deploy: any makes it `unprotected` and emits `deploy.unprotected`.

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
        "committed_at": committed_at,
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
        "reported_by": reported_by,
        "reported_at": reported_at,
        "unprotected": bool(missing_measures),
        "missing_measures": [m.model_dump(mode="json") for m in missing_measures or []],
    }
    _check_times(row["started_at"], finished_at)
    if await insert_ignoring_conflict(session, Deploy, row, ["source", "external_id"]):
        created = await session.get(Deploy, deploy_id)
        assert created is not None
        _announce(session, created)
        if created.unprotected:
            emit(session, DeployUnprotected(deploy=DeployOut.model_validate(created)))
        note_services(session, [service])  # queued last: written with the event
        return created, True

    existing = await session.scalar(
        select(Deploy)
        .where(col(Deploy.source) == source, col(Deploy.external_id) == external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert existing is not None, "a conflicting deploy row vanished"
    if existing.reported_by != reported_by:
        raise ExternalIdTaken(
            f"external_id {external_id!r} belongs to a deploy another API key reported; "
            "use an external_id of your own"
        )
    if (
        reported_at is not None
        and existing.reported_at is not None
        and reported_at < existing.reported_at
    ):
        return existing, False
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
    existing.reported_at = reported_at or existing.reported_at
    existing.updated_at = now
    await session.flush()
    if "service" in changes:
        note_services(session, [existing.service])
    if "status" in changes:
        _announce(session, existing)
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
    unprotected: bool | None = None,
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
    if unprotected is not None:
        statement = statement.where(col(Deploy.unprotected) == unprotected)
    return await paginate(session, statement, page, col(Deploy.effective_at), col(Deploy.id))


def describe(deploy: Deploy) -> str:
    """A deploy as people name it: `checkout 2.4.0 in production`."""
    what = deploy.version or (deploy.commit_sha[:12] if deploy.commit_sha else None)
    when = deploy.started_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{deploy.service} {what or f'(deploy of {when})'} in {deploy.environment}"


def summary(deploy: Deploy) -> dict[str, Any]:
    """The few fields that identify a deploy, for timeline entries about it."""
    return {
        "id": str(deploy.id),
        "service": deploy.service,
        "version": deploy.version,
        "environment": deploy.environment,
        "status": deploy.status,
    }


@dataclass(frozen=True)
class Suspect:
    deploy: Deploy
    minutes_before_impact: float
    flagged: bool
    is_cause: bool
    via: list[str]


def incident_environment(incident: Incident) -> str | None:
    """The environment an incident's labels name (`environment`, else `env`), if any."""
    return next((incident.labels[k] for k in ENVIRONMENT_LABELS if incident.labels.get(k)), None)


def _last_time_before(impact: datetime) -> ColumnElement[datetime]:
    """When the deploy last did something at or before `impact`: finished, else started."""
    finished = col(Deploy.finished_at)
    return case(
        (and_(finished.is_not(None), finished <= impact), finished),
        else_=col(Deploy.started_at),
    )


async def suspect_deploys(
    session: AsyncSession,
    incident: Incident,
    *,
    window: timedelta,
    page: PageParams,
    reach: dict[str, list[str]] | None = None,
) -> Rows[Suspect]:
    """Deploys of the incident's services (and environment, when its labels name one) that
    started or finished in the `window` up to its impact start, latest activity first.

    `reach` names the services to look at, each with its path from an incident service
    (`{"payments": ["checkout", "payments"]}`); default: the incident's services. At the
    same time, a service nearer the incident ranks first.
    Deploys after the impact start are not suspects; a deploy running across it counts by
    its start. Ties are broken by id, so the keyset cursor walks every suspect once.
    """
    paths = reach if reach is not None else {name: [name] for name in incident.services}
    if not paths:
        return Rows([], None)
    impact = incident.started_at
    since = impact - window
    moment = _last_time_before(impact)
    distance = case(
        {name: len(path) for name, path in paths.items()}, value=col(Deploy.service), else_=0
    )
    statement = select(Deploy).where(
        col(Deploy.service).in_(paths),
        or_(
            col(Deploy.started_at).between(since, impact),
            col(Deploy.finished_at).between(since, impact),
        ),
    )
    if (environment := incident_environment(incident)) is not None:
        statement = statement.where(col(Deploy.environment) == environment)
    if page.cursor is not None:
        after, after_distance, after_id = decode_cursor(page.cursor, (datetime, int, uuid.UUID))
        bound = literal(after, type_=UTCDateTime)
        statement = statement.where(
            or_(
                moment < bound,
                and_(
                    moment == bound,
                    or_(
                        distance > after_distance,
                        and_(distance == after_distance, col(Deploy.id) < after_id),
                    ),
                ),
            )
        )
    statement = statement.order_by(moment.desc(), distance, col(Deploy.id).desc())
    deploys = (await session.scalars(statement.limit(page.limit + 1))).all()

    def last_time(deploy: Deploy) -> datetime:
        finished = deploy.finished_at
        return finished if finished is not None and finished <= impact else deploy.started_at

    suspects = [
        Suspect(
            deploy=deploy,
            minutes_before_impact=round((impact - last_time(deploy)).total_seconds() / 60, 1),
            flagged=deploy.status in FLAGGED,
            is_cause=deploy.id == incident.caused_by_deploy_id,
            via=paths[deploy.service],
        )
        for deploy in deploys[: page.limit]
    ]
    if len(deploys) <= page.limit:
        return Rows(suspects, None)
    last = suspects[-1].deploy
    cursor = (last_time(last), len(paths[last.service]), last.id)
    return Rows(suspects, encode_cursor(cursor))
