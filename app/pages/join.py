"""The one-tap join page: `GET/POST /join/{token}`, from the link in an SRE notification.

No API key: the signed token (`app.engagement.links`) is the credential, bound to one
incident, and it lets its holder do one thing, join that incident as `sre`. The form is
protected against cross-site submission by a cookie set with the page (SameSite=Strict,
HttpOnly) and a hidden field that is an HMAC of it and the token: a page elsewhere can
neither read the field nor make the browser send the cookie. A browser (`Accept:
text/html`) gets every refusal as a readable page; other clients get problem documents.
"""

import hashlib
import hmac
import secrets
from datetime import datetime
from html import escape
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, Header, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actors import Via
from app.core.clock import utcnow
from app.core.db import SessionDep, SettingsDep
from app.core.errors import AppError, FieldProblem, Forbidden, InvalidInput, NotFound, responses
from app.core.handles import Handle
from app.core.security import Credential
from app.core.settings import Settings
from app.engagement import links
from app.engagement import service as engagement_service
from app.flows import participants as participant_flows
from app.incidents import lookup
from app.incidents.models import Incident
from app.participants import service as participant_service
from app.participants.models import Role
from app.participants.schemas import ParticipantCreate
from app.postmortems import service as postmortem_service
from app.postmortems.schemas import PostmortemOut

router = APIRouter(prefix="/join", tags=["participants"])

COOKIE = "muster_join"
VIA = Via(credential=Credential.JOIN_LINK)
TIMELINE_ENTRIES = 5
_HANDLE = TypeAdapter(Handle)
_FORM_MAX_BYTES = 4096

CSS = """\
body { font: 17px/1.45 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
main { max-width: 560px; margin: 0 auto; padding: 16px; }
section { background: #fff; border: 1px solid #d8dde3; border-radius: 8px; padding: 14px 16px;
  margin-bottom: 12px; }
h1 { font-size: 21px; margin: 0 0 6px; } h2 { font-size: 16px; margin: 0 0 8px; }
.badges span { display: inline-block; border-radius: 4px; padding: 1px 8px; margin-right: 6px;
  font-weight: 600; font-size: 14px; background: #e8ebef; }
.badges .sev1, .badges .sev2 { background: #fde2e1; color: #a4141b; }
ul, ol { padding-left: 20px; margin: 0; } li { margin: 3px 0; }
.when { color: #57606a; font-size: 14px; }
label { display: block; font-weight: 600; margin-bottom: 6px; }
input[type=text] { width: 100%; box-sizing: border-box; font-size: 18px; padding: 10px;
  border: 1px solid #8c959f; border-radius: 6px; }
button { width: 100%; margin-top: 10px; font-size: 19px; font-weight: 600; padding: 14px;
  border: 0; border-radius: 8px; background: #1a7f37; color: #fff; }
.notice { background: #dafbe1; border-color: #1a7f37; }
.problem { background: #fff8c5; border-color: #9a6700; }
"""


class JoinLinkInvalid(NotFound):
    code, title = "join-link-invalid", "This join link is not valid"


class JoinLinkExpired(AppError):
    status, code, title = 410, "join-link-expired", "This join link has expired"


class CrossSiteRefused(Forbidden):
    code, title = "cross-site-refused", "Refused: this form must be sent from its own page"


def _text(value: object) -> str:
    return escape(str(value)) if value not in (None, "") else "—"


def _ago(moment: datetime) -> str:
    minutes = int(max((utcnow() - moment).total_seconds(), 0) // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min ago" if hours < 48 else f"{hours // 24} days ago"


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Muster</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # the token is in the URL
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'",
    }
    return HTMLResponse(document, status_code=status_code, headers=headers)


def _csrf(secret: bytes, token: str, cookie: str) -> str:
    message = f"join-form\n{token}\n{cookie}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _secret(settings: Settings) -> bytes:
    secret = links.link_secret(settings)
    if secret is None:
        raise JoinLinkInvalid("Join links are off here: MUSTER_LINK_SECRET is not set")
    return secret


async def _incident(session: AsyncSession, settings: Settings, token: str) -> Incident:
    try:
        incident_id = links.read_token(_secret(settings), token)
    except links.ExpiredJoinToken:
        raise JoinLinkExpired(
            "This join link has expired. Ask for a fresh one, or join through the API."
        ) from None
    except links.BadJoinToken:
        raise JoinLinkInvalid("This is not a join link of this Muster. Check the link.") from None
    try:
        return await lookup.get_incident(session, str(incident_id))
    except lookup.IncidentNotFound:
        raise JoinLinkInvalid("The incident of this join link no longer exists.") from None


def _incident_html(incident: Incident, doc: PostmortemOut) -> str:
    on_it = [p for p in doc.participants if p.left_at is None]
    people = "".join(f"<li>{_text(p.handle)} ({_text(' → '.join(p.roles))})</li>" for p in on_it)
    entries = "".join(
        f'<li><span class="when">{_ago(e.occurred_at)}</span> {_text(e.summary)}</li>'
        for e in doc.timeline[-TIMELINE_ENTRIES:]
    )
    return (
        f'<section id="incident"><h1>{_text(incident.reference)}: {_text(incident.title)}</h1>'
        f'<p class="badges"><span class="{escape(incident.severity)}">{_text(incident.severity)}'
        f"</span><span>{_text(incident.status)}</span></p>"
        f"<p>Started {_ago(incident.started_at)}</p></section>"
        f'<section id="on-it"><h2>On it</h2>'
        + (f"<ul>{people}</ul>" if people else "<p>Nobody yet.</p>")
        + f'</section><section id="timeline"><h2>Latest</h2><ol>{entries}</ol></section>'
    )


def _form(secret: bytes, token: str, cookie: str, handle: str = "") -> str:
    return (
        f'<section id="join"><form method="post" action="/join/{escape(token)}">'
        f'<input type="hidden" name="csrf" value="{_csrf(secret, token, cookie)}">'
        '<label for="handle">Your handle</label>'
        f'<input type="text" id="handle" name="handle" value="{escape(handle)}" required '
        'maxlength="100" autocomplete="username" autocapitalize="none" spellcheck="false">'
        '<button type="submit">I\'m on it (SRE)</button></form></section>'
    )


async def _show(
    session: AsyncSession,
    settings: Settings,
    token: str,
    incident: Incident,
    *,
    notice: str = "",
    problem: str = "",
    handle: str = "",
    status_code: int = 200,
    cookie: str | None = None,
) -> HTMLResponse:
    """The page; the form's cookie is the browser's own if it has one (other tabs keep
    working), else a new one."""
    secret = _secret(settings)
    cookie = cookie or secrets.token_urlsafe(16)
    doc = await postmortem_service.build(session, incident)
    body = (
        (f'<section class="notice" role="status">{notice}</section>' if notice else "")
        + (f'<section class="problem" role="alert">{problem}</section>' if problem else "")
        + _incident_html(incident, doc)
        + _form(secret, token, cookie, handle)
    )
    response = _page(f"{incident.reference}: {incident.title}", body, status_code)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=3600,
        path="/join/",
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https:"),
    )
    return response


def _refusal(request: Request, error: AppError) -> Response:
    """A browser gets the refusal as a page; anything else the problem document."""
    if "text/html" not in request.headers.get("accept", ""):
        raise error
    body = f'<section class="problem" role="alert"><h1>{escape(error.title)}</h1>'
    return _page(error.title, body + f"<p>{_text(error.detail)}</p></section>", error.status)


_DOCUMENTED = {
    200: {"content": {"text/html": {}}, "description": "The incident and the join form"},
    **responses(JoinLinkInvalid, JoinLinkExpired),
}


@router.get("/{token}", response_class=HTMLResponse, responses=_DOCUMENTED)
async def join_page(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    muster_join: Annotated[str | None, Cookie(include_in_schema=False, max_length=100)] = None,
) -> Response:
    """The page a join link opens: the incident, who is on it, and "I'm on it (SRE)"."""
    try:
        incident = await _incident(session, settings, token)
        return await _show(session, settings, token, incident, cookie=muster_join)
    except AppError as error:
        return _refusal(request, error)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    responses={
        200: _DOCUMENTED[200],
        **responses(JoinLinkInvalid, JoinLinkExpired, CrossSiteRefused, InvalidInput),
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"handle": {"type": "string"}, "csrf": {"type": "string"}},
                        "required": ["handle", "csrf"],
                    },
                    "example": {"handle": "alice", "csrf": "the form's hidden field"},
                }
            }
        }
    },
)
async def join_by_link(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    muster_join: Annotated[str | None, Cookie(include_in_schema=False, max_length=100)] = None,
    sec_fetch_site: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Join the link's incident as `sre` under the handle typed in: escalation stops."""
    try:
        incident = await _incident(session, settings, token)
        fields = parse_qs((await request.body())[:_FORM_MAX_BYTES].decode("utf-8", "replace"))
        csrf = (fields.get("csrf") or [""])[0]
        expected = _csrf(_secret(settings), token, muster_join or "")
        if (
            sec_fetch_site == "cross-site"
            or not muster_join
            or not hmac.compare_digest(csrf, expected)
        ):
            raise CrossSiteRefused(
                "This form only works from the page the join link opened: open the link again."
            )
        typed = (fields.get("handle") or [""])[0].strip()
        try:
            handle = _HANDLE.validate_python(typed)
        except ValidationError:
            problem = "Type your handle: one word, no spaces or invisible characters, at most 100."
            if "text/html" not in request.headers.get("accept", ""):
                raise InvalidInput(
                    problem,
                    errors=[FieldProblem(field="body.handle", message=problem, type="handle")],
                ) from None
            return await _show(
                session,
                settings,
                token,
                incident,
                problem=problem,
                handle=typed,
                status_code=422,
                cookie=muster_join,
            )
        notice = await _join(session, incident, handle)
        return await _show(session, settings, token, incident, notice=notice, cookie=muster_join)
    except AppError as error:
        return _refusal(request, error)


async def _join(session: AsyncSession, incident: Incident, handle: str) -> str:
    """Join `handle` as SRE (or make them SRE if on in another role); what to tell them."""
    locked = await lookup.get_incident(session, str(incident.id), for_update=True)
    actor = handle  # the person who holds the link: the link is their credential (VIA)
    current = await participant_service.active_participant(session, locked, handle)
    if current is not None and current.role == Role.SRE:
        return f"{escape(handle)}, you are already on it as SRE."
    if current is not None:
        was = current.role
        await participant_flows.change_role(session, locked, current, Role.SRE, actor=actor)
        return f"{escape(handle)}, you are on it as SRE now (you were {escape(was)})."
    await participant_flows.join(
        session, locked, ParticipantCreate(handle=handle, role=Role.SRE), actor=actor, via=VIA
    )
    engagement = await engagement_service.get(session, locked.id)
    stopped = " Escalation stopped." if engagement and engagement.started_at else ""
    return f"Thanks, {escape(handle)}: you are on it as SRE.{stopped}"
