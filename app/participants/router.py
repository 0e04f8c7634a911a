"""Who is on an incident: join, change role, leave (history is kept)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse

from app.core.actors import ActorMismatch, IncidentActor
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized, UnsupportedMediaType, responses
from app.core.pagination import Page, PageDep
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.flows import participants as participant_flows
from app.incidents.deps import CurrentIncident, LockedIncident
from app.incidents.lookup import IncidentNotFound
from app.participants import service
from app.participants.schemas import ParticipantCreate, ParticipantOut, ParticipantUpdate
from app.participants.service import AlreadyParticipating, ParticipantLeft, ParticipantNotFound

ParticipantRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="The participant's handle (their current stint) or the stint's id",
        examples=["alice"],
    ),
]

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/participants",
    tags=["participants"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


@router.get("", response_model=Page[ParticipantOut])
async def list_participants(
    session: SessionDep,
    incident: CurrentIncident,
    page: PageDep,
    _: ReadIncidents,
    active: Annotated[
        bool | None, Query(description="true: only those still on it; false: only those who left")
    ] = None,
) -> Page[ParticipantOut]:
    """Everyone who joined the incident, in order of joining; every stint is listed."""
    rows = await service.list_participants(session, incident, page, active=active)
    return rows.to_page(ParticipantOut.of)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantOut,
    responses=responses(ActorMismatch, UnsupportedMediaType, AlreadyParticipating),
)
async def join_incident(
    body: ParticipantCreate,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
) -> JSONResponse:
    """Join with a role (or add someone by `handle`); a `commander` commands the incident."""
    adder = service.adder_of(body, actor)
    participant = await participant_flows.join(
        session, incident, body, actor=adder.handle, via=adder.via
    )
    location = f"{API_PREFIX}/incidents/{incident.reference}/participants/{participant.id}"
    return JSONResponse(
        ParticipantOut.of(participant).model_dump(mode="json"),
        status_code=201,
        headers={"Location": location},
    )


@router.patch(
    "/{participant_id}",
    response_model=ParticipantOut,
    responses=responses(ParticipantNotFound, ParticipantLeft, UnsupportedMediaType),
)
async def change_role(
    participant_id: ParticipantRef,
    body: ParticipantUpdate,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
) -> ParticipantOut:
    """Change a participant's role; a new commander demotes the previous one to observer."""
    participant = await service.get_participant(session, incident, participant_id)
    await participant_flows.change_role(
        session, incident, participant, body.role, actor=actor.handle
    )
    return ParticipantOut.of(participant)


@router.delete(
    "/{participant_id}", response_model=ParticipantOut, responses=responses(ParticipantNotFound)
)
async def leave_incident(
    participant_id: ParticipantRef,
    session: SessionDep,
    incident: LockedIncident,
    actor: IncidentActor,
) -> ParticipantOut:
    """Leave: marks `left_at` (the stint stays in the history). Leaving twice is harmless."""
    participant = await service.get_participant(session, incident, participant_id)
    await participant_flows.leave(session, incident, participant, actor=actor.handle)
    return ParticipantOut.of(participant)
