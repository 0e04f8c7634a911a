"""The audit trail, for admins: who wrote what, when, with which credential."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventOut
from app.core.api import API_PREFIX
from app.core.clock import AwareUTC
from app.core.db import SessionDep
from app.core.errors import Forbidden, InvalidInput, Unauthorized, responses
from app.core.pagination import Page, PageDep
from app.core.security import Admin, AuthenticatedRoute

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/audit-events",
    tags=["audit"],
    responses=responses(Unauthorized, Forbidden),
)


def _text(description: str, example: str) -> object:
    return Query(min_length=1, max_length=255, description=description, examples=[example])


@router.get("", response_model=Page[AuditEventOut], responses=responses(InvalidInput))
async def list_audit_events(
    session: SessionDep,
    page: PageDep,
    _: Admin,
    actor: Annotated[str | None, _text("Only this actor's", "alice")] = None,
    key: Annotated[
        str | None, _text("Only those made with this API key (id or name)", "ci")
    ] = None,
    operation: Annotated[
        str | None, _text("Only this operation (its OpenAPI id)", "incidents-create-incident")
    ] = None,
    target: Annotated[str | None, _text("Only those that wrote this id", "INC-42")] = None,
    since: Annotated[
        AwareUTC | None, Query(description="At or after this", examples=["2026-12-01T00:00:00Z"])
    ] = None,
    until: Annotated[
        AwareUTC | None, Query(description="Before this", examples=["2026-12-02T00:00:00Z"])
    ] = None,
) -> Page[AuditEventOut]:
    """Each write request and each refused authentication, newest first; never changed."""
    filters = service.AuditFilters(
        actor=actor, key=key, operation=operation, target=target, since=since, until=until
    )
    rows = await service.list_events(session, page, filters)
    return rows.to_page(AuditEventOut.of)
