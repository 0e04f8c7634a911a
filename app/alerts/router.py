"""The alerts attached to an incident."""

from fastapi import APIRouter

from app.alerts import service
from app.alerts.schemas import AlertOut
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, responses
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.deps import CurrentIncident
from app.incidents.lookup import IncidentNotFound

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/alerts",
    tags=["alerts"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.get("", response_model=Page[AlertOut])
async def list_incident_alerts(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[AlertOut]:
    """The Alertmanager alerts on this incident, in the order they first arrived."""
    rows = await service.list_alerts(session, incident, page)
    return rows.to_page(AlertOut.model_validate)
