"""One-tap join links: `{MUSTER_PUBLIC_URL}/join/{token}`, signed, bound to one incident.

A token is `<incident id and expiry>.<HMAC-SHA256 of them>`, both base64url, signed with
`MUSTER_LINK_SECRET`. It proves the holder was sent the link (an SRE notification);
nothing else about it is trusted. No secret: no links.
"""

import base64
import hashlib
import hmac
import struct
import uuid
from datetime import UTC, datetime, timedelta

from app.core.clock import utcnow
from app.core.settings import Settings

_SIGNATURE_BYTES = 16
_CONTEXT = b"muster-join-link\n"


class BadJoinToken(ValueError):
    """The token is malformed or its signature does not match."""


class ExpiredJoinToken(ValueError):
    """The token was good, and has expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def make_token(secret: bytes, incident_id: uuid.UUID, expires_at: datetime) -> str:
    body = incident_id.bytes + struct.pack(">Q", int(expires_at.timestamp()))
    return f"{_b64(body)}.{_b64(_sign(secret, body))}"


def read_token(secret: bytes, token: str) -> uuid.UUID:
    """The incident a token names; BadJoinToken or ExpiredJoinToken otherwise."""
    body_text, _, signature_text = token.partition(".")
    try:
        body, signature = _unb64(body_text), _unb64(signature_text)
    except ValueError:
        raise BadJoinToken("not a join link") from None
    if len(body) != 24 or not hmac.compare_digest(signature, _sign(secret, body)):
        raise BadJoinToken("not a join link of this Muster")
    (expires,) = struct.unpack(">Q", body[16:])
    if datetime.fromtimestamp(expires, UTC) <= utcnow():
        raise ExpiredJoinToken("the join link has expired")
    return uuid.UUID(bytes=body[:16])


def link_secret(settings: Settings) -> bytes | None:
    secret = settings.link_secret
    return secret.get_secret_value().encode() if secret else None


def join_url(settings: Settings, incident_id: uuid.UUID) -> str | None:
    """A fresh join link for the incident, valid MUSTER_JOIN_LINK_TTL_MINUTES; None
    without MUSTER_LINK_SECRET."""
    secret = link_secret(settings)
    if secret is None:
        return None
    expires = utcnow() + timedelta(minutes=settings.join_link_ttl_minutes)
    return f"{settings.public_url}/join/{make_token(secret, incident_id, expires)}"
