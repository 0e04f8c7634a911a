"""Reports: how fast incidents were handled and how often changes failed."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.core.api import API_PREFIX
from app.core.clock import AwareUTC
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.state import Severity
from app.reports import service
from app.reports.schemas import SummaryOut

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/reports",
    tags=["reports"],
    responses=responses(Unauthorized, Forbidden),
)


@router.get("/summary", response_model=SummaryOut, responses=responses(InvalidInput))
async def get_summary(
    session: SessionDep,
    _: ReadIncidents,
    start: Annotated[
        AwareUTC | None,
        Query(
            alias="from",
            description="Incidents that started at or after this (default: 30 days before `to`)",
            examples=["2026-11-01T00:00:00Z"],
        ),
    ] = None,
    end: Annotated[
        AwareUTC | None,
        Query(
            alias="to",
            description="…and before this (default: now, or 30 days after `from`)",
            examples=["2026-12-01T00:00:00Z"],
        ),
    ] = None,
    service_name: Annotated[
        str | None,
        Query(alias="service", min_length=1, max_length=100, description="Only this service"),
    ] = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeat for several")] = None,
    environment: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Count only deploys to this environment"),
    ] = None,
) -> SummaryOut:
    """Counts, time to acknowledge / SRE engagement / mitigate / resolve, deploy figures."""
    filters = service.ReportFilters(
        start=start,
        end=end,
        service=service_name,
        severities=severity or [],
        environment=environment,
    )
    return await service.summary(session, filters)
