"""Learning from incidents: action items with their rollout, postmortems, recurrences."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import AppError, Forbidden, InvalidInput, Unauthorized, responses
from app.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from app.core.pagination import Page, PageDep
from app.core.security import ReadIncidents, WriteIncidents
from app.incidents.deps import CurrentIncident, WritableIncident
from app.incidents.lookup import IncidentNotFound
from app.postmortems import actions, markdown, service
from app.postmortems.actions import ActionItemFilters, ActionItemNotFound
from app.postmortems.models import ActionKind, ActionStatus, RolloutStatus
from app.postmortems.schemas import (
    ActionItemCreate,
    ActionItemOut,
    ActionItemUpdate,
    PostmortemOut,
    RecurrenceOut,
)

MARKDOWN = "text/markdown"

incident_items = APIRouter(
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}/action-items",
    tags=["action-items"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)
items = APIRouter(
    prefix=f"{API_PREFIX}/action-items",
    tags=["action-items"],
    responses=responses(Unauthorized, Forbidden),
)
postmortems = APIRouter(
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}",
    tags=["postmortems"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


class NotAcceptable(AppError):
    status, code, title = 406, "not-acceptable", "Not acceptable"


def _location(item: ActionItemOut) -> dict[str, str]:
    return {"Location": f"{API_PREFIX}/action-items/{item.id}"}


@incident_items.get("", response_model=Page[ActionItemOut], responses=responses(InvalidInput))
async def list_incident_action_items(
    session: SessionDep, incident: CurrentIncident, page: PageDep, _: ReadIncidents
) -> Page[ActionItemOut]:
    """The incident's action items, oldest first, each with its rollout per service."""
    rows = await actions.list_for_incident(session, incident, page)
    return Page[ActionItemOut](
        items=await actions.describe(session, rows.items), next_cursor=rows.next_cursor
    )


@incident_items.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionItemOut,
    responses=responses(InvalidInput, IdempotencyKeyReused),
)
async def create_action_item(
    body: ActionItemCreate,
    session: SessionDep,
    incident: WritableIncident,
    principal: WriteIncidents,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Add an action item, optionally with the services it must be rolled out to."""
    item = await actions.create_action_item(session, incident, body, actor=principal.name)
    return await idempotency.respond(item, status_code=201, headers=_location(item))


@items.get("", response_model=Page[ActionItemOut], responses=responses(InvalidInput))
async def list_action_items(
    session: SessionDep,
    page: PageDep,
    _: ReadIncidents,
    item_status: Annotated[
        list[ActionStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    kind: Annotated[list[ActionKind] | None, Query(description="Repeat for several")] = None,
    owner: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    rollout_service: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Items to be rolled out to this service"),
    ] = None,
    rollout_status: Annotated[
        list[RolloutStatus] | None,
        Query(description="Items with a rollout in this status (to `rollout_service` if given)"),
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(description="true: unfinished and past due (UTC date); false: the others"),
    ] = None,
) -> Page[ActionItemOut]:
    """Action items across all incidents, newest first, filtered."""
    filters = ActionItemFilters(
        statuses=item_status,
        kinds=kind,
        owner=owner,
        rollout_service=rollout_service,
        rollout_statuses=rollout_status,
        overdue=overdue,
    )
    rows = await actions.list_action_items(session, filters, page)
    return Page[ActionItemOut](
        items=await actions.describe(session, rows.items), next_cursor=rows.next_cursor
    )


@items.get(
    "/{action_item_id}", response_model=ActionItemOut, responses=responses(ActionItemNotFound)
)
async def get_action_item(
    action_item_id: uuid.UUID, session: SessionDep, _: ReadIncidents
) -> ActionItemOut:
    """One action item with its rollout."""
    item, _incident = await actions.get_action_item(session, action_item_id)
    (out,) = await actions.describe(session, [item])
    return out


@items.patch(
    "/{action_item_id}",
    response_model=ActionItemOut,
    responses=responses(ActionItemNotFound, InvalidInput),
)
async def update_action_item(
    action_item_id: uuid.UUID,
    body: ActionItemUpdate,
    session: SessionDep,
    principal: WriteIncidents,
) -> ActionItemOut:
    """Change fields or the rollout: entries are upserted per service, `remove` drops one."""
    item, incident = await actions.get_action_item(session, action_item_id, for_update=True)
    return await actions.update_action_item(session, incident, item, body, actor=principal.name)


def _preference(accept: str, media_type: str) -> tuple[float, int]:
    """(quality, specificity) the `Accept` header gives `media_type`; (0, -1) if none."""
    kind = media_type.split("/")[0]
    best = (0.0, -1)
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        name = name.lower()
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(name)
        if specificity is None or specificity < best[1]:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        best = (quality, specificity)
    return best


def wants_markdown(accept: str | None) -> bool:
    """Markdown when `Accept` prefers `text/markdown` to JSON; JSON otherwise."""
    if not accept or not accept.strip():
        return False
    markdown_q, markdown_s = _preference(accept, MARKDOWN)
    json_q, json_s = _preference(accept, "application/json")
    if markdown_q == 0 and json_q == 0:
        raise NotAcceptable("This resource is available as application/json or text/markdown")
    return markdown_q > json_q or (markdown_q == json_q and markdown_s > json_s)


_EXAMPLE = "# INC-42: Checkout returns 502\n\n| Field | Value |\n|---|---|\n| Severity | sev2 |\n"


@postmortems.get(
    "/postmortem",
    response_model=PostmortemOut,
    responses={
        200: {
            "description": "The postmortem draft: JSON, or Markdown when `Accept` prefers "
            "`text/markdown` (e.g. `Accept: text/markdown`). Without an `Accept` header, or "
            "with `*/*`, the answer is JSON.",
            "content": {MARKDOWN: {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        **responses(NotAcceptable),
    },
)
async def get_postmortem(
    session: SessionDep,
    incident: CurrentIncident,
    _: ReadIncidents,
    request: Request,
) -> Response:
    """The postmortem draft from the record, as JSON or as Markdown (by `Accept`)."""
    # `Accept` is read, not declared: it is HTTP negotiation, documented by the two
    # media types of the 200 response, not a parameter of this operation.
    as_markdown = wants_markdown(request.headers.get("accept"))
    document = await service.build(session, incident)
    headers = {"Vary": "Accept"}
    if as_markdown:
        return Response(
            markdown.render(document),
            media_type=f"{MARKDOWN}; charset=utf-8",
            headers=headers,
        )
    return JSONResponse(document.model_dump(mode="json"), headers=headers)


@postmortems.get("/recurrence", response_model=RecurrenceOut)
async def get_recurrence(
    session: SessionDep, incident: CurrentIncident, _: ReadIncidents
) -> RecurrenceOut:
    """The earlier incident this one repeats, and whether its action items reached here."""
    return await service.recurrence_view(session, incident)
