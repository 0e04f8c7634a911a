"""The postmortem draft (JSON or Markdown) and the recurrence view of an incident."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import AppError, Forbidden, Unauthorized, responses
from app.core.security import AuthenticatedRoute, ReadIncidents
from app.incidents.deps import CurrentIncident
from app.incidents.lookup import IncidentNotFound
from app.postmortems import markdown, service
from app.postmortems.schemas import PostmortemOut, RecurrenceOut

MARKDOWN = "text/markdown"

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/incidents/{{incident_id}}",
    tags=["postmortems"],
    responses=responses(Unauthorized, Forbidden, IncidentNotFound),
)


class NotAcceptable(AppError):
    status, code, title = 406, "not-acceptable", "Not acceptable"


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


@router.get(
    "/postmortem",
    response_model=PostmortemOut,
    responses={
        200: {
            "description": "The postmortem: JSON, or Markdown when `Accept` prefers "
            "`text/markdown` (e.g. `Accept: text/markdown`). Without an `Accept` header, or "
            "with `*/*`, the answer is JSON. Once people have written the retrospective, "
            "its `ETag` (for `If-Match` on `PUT`) comes with it.",
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
    """The postmortem: the record, and what people wrote, as JSON or Markdown (by `Accept`)."""
    # `Accept` is read, not declared: it is HTTP negotiation, documented by the two
    # media types of the 200 response, not a parameter of this operation.
    as_markdown = wants_markdown(request.headers.get("accept"))
    document = await service.build(session, incident)
    headers = {"Vary": "Accept"}
    if document.retrospective is not None:
        headers["ETag"] = document.retrospective.etag
    if as_markdown:
        return Response(
            markdown.render(document),
            media_type=f"{MARKDOWN}; charset=utf-8",
            headers=headers,
        )
    return JSONResponse(document.model_dump(mode="json"), headers=headers)


@router.get("/recurrence", response_model=RecurrenceOut)
async def get_recurrence(
    session: SessionDep, incident: CurrentIncident, _: ReadIncidents
) -> RecurrenceOut:
    """The earlier incident this one repeats, and whether its action items reached here."""
    return await service.recurrence_view(session, incident)
