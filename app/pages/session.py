"""How a browser tab reads the incident page: a short-lived cookie signed for an API key.

A tab cannot send `Authorization: Bearer` when a person opens a link, so the page is
authenticated twice over. With the API key (a script, or Swagger UI's Execute), as the
API is; that answer also sets this cookie, and for `TTL` the same browser opens the page
(any incident's) with it. The cookie holds no key: the key's id, an expiry and an
HMAC-SHA256 over both keyed by the key's stored hash, a secret only the server holds, so
it needs no new setting and dies with the key when the key is revoked. It is HttpOnly,
SameSite=Strict and sent only under /api/v1/incidents/, where nothing but the page reads
it: it never authorises an API call.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.core.security import Principal
from app.core.settings import Settings

COOKIE = "muster_page"
TTL = timedelta(minutes=15)


def _signature(key_hash: str, subject: str, expires: int) -> str:
    message = f"incident-page\n{subject}\n{expires}".encode()
    return hmac.new(key_hash.encode(), message, hashlib.sha256).hexdigest()


def issue(principal: Principal, key_hash: str, now: datetime) -> str:
    expires = int((now + TTL).timestamp())
    return f"{principal.subject}.{expires}.{_signature(key_hash, principal.subject, expires)}"


async def holder(
    session: AsyncSession, settings: Settings, cookie: str, now: datetime
) -> Principal | None:
    """Who the cookie was issued to, if it is genuine, unexpired and its key still valid."""
    subject, _, rest = cookie.partition(".")
    expires, _, signature = rest.partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return None
    if int(expires) <= now.timestamp():
        return None
    found = await auth_service.key_of_subject(session, settings, subject)
    if found is None:
        return None
    principal, key_hash = found
    expected = _signature(key_hash, subject, int(expires))
    return principal if hmac.compare_digest(signature, expected) else None
