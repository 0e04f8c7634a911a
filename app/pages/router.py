"""The incident page, authenticated with an API key or the cookie that key's use sets."""

from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service as catalog_service
from app.core.api import API_PREFIX
from app.core.clock import utcnow
from app.core.db import SessionDep, SettingsDep
from app.core.errors import Forbidden, Unauthorized, responses
from app.core.pagination import PageParams
from app.core.security import Credentials, Principal, Scope, get_principal, hash_key
from app.core.settings import Settings
from app.incidents import lookup
from app.incidents.deps import IncidentId
from app.incidents.lookup import IncidentNotFound
from app.incidents.schemas import IncidentOut
from app.pages import incident as page
from app.pages import session as page_session
from app.postmortems import service as postmortem_service
from app.rollbacks import service as rollback_service

MAX_LINKS = 100  # on the page; the API lists them all
router = APIRouter(prefix=f"{API_PREFIX}/incidents", tags=["incidents"])
assets = APIRouter()

_HOW = (
    "Open this page with an API key (`Authorization: Bearer <key>`). In a browser: "
    "Execute this operation once in /docs, then open its Request URL in a new tab; "
    f"that answer lets this browser open incident pages for {page_session.TTL.seconds // 60} "
    "minutes"
)


async def _viewer(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    credentials: Credentials,
    cookie: str | None,
) -> tuple[Principal, str | None]:
    """The caller, and a cookie to set when the caller came with the key itself."""
    if credentials is not None:
        principal = await get_principal(request, session, credentials)
        ticket = page_session.issue(principal, hash_key(credentials.credentials), utcnow())
    elif cookie is not None:
        found = await page_session.holder(session, settings, cookie, utcnow())
        if found is None:
            raise Unauthorized(f"This page's cookie has expired or its key was revoked. {_HOW}")
        principal, ticket = found, None
    else:
        raise Unauthorized(_HOW)
    if not principal.can(Scope.INCIDENTS_READ):
        raise Forbidden(f"This API key lacks the `{Scope.INCIDENTS_READ}` scope")
    return principal, ticket


@router.get(
    "/{incident_id}/page",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The incident as a web page (read-only). Fetched with the API key, "
            f"the answer also sets the `{page_session.COOKIE}` cookie (HttpOnly, "
            "SameSite=Strict, under /api/v1/incidents/) with which this browser opens "
            f"incident pages for {page_session.TTL.seconds // 60} minutes",
            "headers": {"Set-Cookie": {"schema": {"type": "string"}}},
        },
        **responses(Unauthorized, Forbidden, IncidentNotFound),
    },
)
async def incident_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    incident_id: IncidentId,
    credentials: Credentials,
    muster_page: Annotated[str | None, Cookie(include_in_schema=False, max_length=200)] = None,
) -> Response:
    """Header, links, participants, checklist, open rollback review, suspects, timeline,
    postmortem."""
    _, ticket = await _viewer(request, session, settings, credentials, muster_page)
    incident = await lookup.get_incident(session, incident_id)
    document = await postmortem_service.build(session, incident)
    review = page.open_review(await rollback_service.reviews_of(session, incident))
    links = await catalog_service.list_links(session, incident, PageParams(limit=MAX_LINKS))
    response = HTMLResponse(
        page.render(IncidentOut.of(incident), document, review, list(links.items)),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    if ticket is not None:
        response.set_cookie(
            page_session.COOKIE,
            ticket,
            max_age=int(page_session.TTL.total_seconds()),
            path=f"{API_PREFIX}/incidents/",
            httponly=True,
            samesite="strict",
            secure=settings.public_url.startswith("https:"),
        )
    return response


@assets.get(page.STYLESHEET, include_in_schema=False)
async def stylesheet() -> Response:
    return Response(page.CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
