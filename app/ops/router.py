"""Liveness, readiness and Prometheus metrics."""

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.core import migrations
from app.core.db import DatabaseDep
from app.core.errors import ServiceUnavailable, responses
from app.reports import metrics as report_metrics
from app.reports import service as report_service

router = APIRouter(tags=["operations"])
log = logging.getLogger("muster.ops")
# The open-incident gauge waits at most this long for the database (a pool held by
# other work, a database that hangs), then the scrape is served without it.
GAUGE_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    revision: str | None


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process is up and serving."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=responses(ServiceUnavailable))
async def readyz(request: Request, database: DatabaseDep) -> Readiness:
    """Readiness: the database answers and its schema is at the newest migration."""
    if not getattr(request.app.state, "accepting", False):
        raise ServiceUnavailable("Shutting down")
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await migrations.current_revision(database.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", type(exc).__name__)
        raise ServiceUnavailable("The database is unreachable") from None
    if not migrations.schema_is_servable(revision):
        raise ServiceUnavailable(
            f"The database schema is at {revision or 'nothing'}, not at "
            f"{migrations.head_revision()}; run `muster migrate`"
        )
    return Readiness(status="ready", database="ok", revision=revision)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, database: DatabaseDep) -> Response:
    """Prometheus metrics: requests by route and status, open incidents, SRE engagement."""
    counts: dict[tuple[str, str], int] | None = None
    try:  # bounded: a scrape must answer within Prometheus's timeout, pool busy or not
        async with asyncio.timeout(GAUGE_TIMEOUT_SECONDS), database.sessionmaker() as session:
            counts = await report_service.open_incident_counts(session)
    except Exception as exc:  # the process metrics are still worth serving
        log.warning("open-incident gauge unavailable: %s", type(exc).__name__)
    body = generate_latest(request.app.state.metrics.registry) + report_metrics.exposition(counts)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
