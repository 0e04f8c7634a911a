"""Reports: how fast incidents were handled and how often changes failed."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.core.api import API_PREFIX
from app.core.clock import AwareUTC
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.deps import TaxonomyDep
from app.incidents.state import Severity
from app.reports import ledger, service
from app.reports.schemas import LedgerOut, SummaryOut

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/reports",
    tags=["reports"],
    responses=responses(Unauthorized, Forbidden),
)


From = Annotated[
    AwareUTC | None,
    Query(
        alias="from",
        description="Incidents that started at or after this (default: 30 days before `to`)",
        examples=["2026-11-01T00:00:00Z"],
    ),
]
To = Annotated[
    AwareUTC | None,
    Query(
        alias="to",
        description="…and before this (default: now, or 30 days after `from`)",
        examples=["2026-12-01T00:00:00Z"],
    ),
]


@router.get("/summary", response_model=SummaryOut, responses=responses(InvalidInput))
async def get_summary(
    session: SessionDep,
    _: ReadIncidents,
    start: From = None,
    end: To = None,
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


@router.get("/contributing-factors", response_model=LedgerOut, responses=responses(InvalidInput))
async def get_contributing_factors(
    session: SessionDep,
    _: ReadIncidents,
    taxonomy: TaxonomyDep,
    start: From = None,
    end: To = None,
    service_name: Annotated[
        str | None,
        Query(
            alias="service",
            min_length=1,
            max_length=100,
            description="Only factors naming this service, and its signals",
        ),
    ] = None,
    last: Annotated[
        int,
        Query(
            ge=1,
            le=200,
            description="People concentration: how many of each service's "
            "latest incidents to look at",
        ),
    ] = 10,
) -> LedgerOut:
    """Contributing factors by category (incidents, impact, trend, services, open measures),
    and the signals computed from the record (people concentration, time to cause)."""
    filters = service.ReportFilters(start=start, end=end, service=service_name)
    return await ledger.ledger(session, filters, taxonomy=taxonomy, last=last)
