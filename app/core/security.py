"""API keys in `Authorization: Bearer`, scopes, and the `Principal` dependency."""

import functools
import hashlib
import hmac
import ipaddress
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, NoReturn, Protocol
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cache import ExpiringCache
from app.core.db import SessionDep
from app.core.errors import FieldProblem, Forbidden, InvalidInput, Unauthorized
from app.core.settings import Settings

KEY_PREFIX = "mst_"


class Scope(StrEnum):
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    DEPLOYS_WRITE = "deploys:write"
    SUBSCRIPTIONS_ADMIN = "subscriptions:admin"
    # A service key that may act for a person (`Muster-Acting-For`): `app.core.actors`.
    ACT_AS = "act-as"
    ADMIN = "admin"


# A scope also grants the scopes listed here; `admin` grants everything.
IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.INCIDENTS_WRITE: frozenset({Scope.INCIDENTS_READ}),
    Scope.ADMIN: frozenset(Scope),
}


class Credential(StrEnum):
    """What the caller showed: an API key (the bootstrap admin key too), an SSO token, or
    a join link (a signed link sent to SRE, which only joins its incident as `sre`)."""

    API_KEY = "api_key"
    OIDC = "oidc"
    JOIN_LINK = "join-link"


SUBJECT_LENGTH = 64


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: SUBJECT_LENGTH - 27]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a credential, the person it belongs to (if any), what it may do.

    `name` is the API key's name, or an SSO token's subject (`sub`). `person` is the
    handle of the person the credential belongs to (a personal key, a token), already
    normalised; None for a service key. `app.core.actors` turns it into the request's
    actor.
    """

    key_id: uuid.UUID | None
    name: str
    scopes: frozenset[Scope]
    person: str | None = None
    credential: Credential = Credential.API_KEY

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def subject(self) -> str:
        """Stable identity for per-caller records such as idempotency keys."""
        if self.credential is Credential.OIDC:
            # Records keep 64 characters of it; an SSO subject (`sub`) may have 255.
            subject = f"oidc:{self.name}"
            return subject if len(subject) <= SUBJECT_LENGTH else subject[:27] + _digest(subject)
        return str(self.key_id) if self.key_id else "bootstrap-admin"


def expand_scopes(scopes: list[str] | frozenset[Scope]) -> frozenset[Scope]:
    granted = {Scope(scope) for scope in scopes}
    for scope in list(granted):
        granted |= IMPLIED.get(scope, frozenset())
    return frozenset(granted)


def generate_key() -> tuple[str, str]:
    """A new key and its public prefix: `mst_<prefix>_<secret>`."""
    prefix = secrets.token_hex(6)
    return f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; no salt or KDF needed.
    return hashlib.sha256(key.encode()).hexdigest()


def parse_prefix(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = key[len(KEY_PREFIX) :].partition("_")
    return prefix if sep and prefix else None


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Authenticator(Protocol):
    """Turns an API key into who is calling, or None when it is unknown or revoked.

    The auth domain implements it (`auth.service.authenticate`, over the keys table and
    this process's cache of valid keys); `create_app` wires it in, so this module
    depends on no domain.
    """

    async def __call__(
        self,
        session: AsyncSession,
        settings: Settings,
        key: str,
        cache: ExpiringCache[str, Principal],
    ) -> Principal | None: ...


class TokenAuthenticator(Protocol):
    """Turns an SSO token (a JWT) into who is calling, or raises a 401 problem saying why
    not: `core.oidc.TokenVerifier`, which `create_app` wires in when SSO is set up."""

    async def __call__(self, token: str) -> Principal: ...


async def sso_principal(request: Request, token: str) -> Principal | None:
    """The caller of `token` if SSO is set up and the token is shaped like a JWT (three
    dot-separated parts, which no API key has); None: it is to be read as an API key."""
    verify: TokenAuthenticator | None = getattr(request.app.state, "verify_token", None)
    if verify is None or token.count(".") != 2:
        return None
    return await verify(token)


# Named for the person in Swagger UI's Authorize dialog, where it is listed first.
API_KEY_SCHEME = "MusterApiKey"
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=API_KEY_SCHEME,
    description="Your Muster API key (`mst_…`), or an SSO access token (a JWT) where "
    "SSO is set up; paste it alone, without `Bearer`",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Credentials,
) -> Principal:
    early: Principal | None = getattr(request.state, "principal", None)
    if early is not None:  # authenticated before the body was read
        return early
    if credentials is None:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`")
    principal = await sso_principal(request, credentials.credentials)
    if principal is None:
        authenticate: Authenticator = request.app.state.authenticate
        principal = await authenticate(
            session, request.app.state.settings, credentials.credentials, request.app.state.api_keys
        )
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked")
    request.state.principal = principal
    return principal


@functools.cache
def require(scope: Scope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that passes the caller through only when it holds `scope`.

    It authenticates itself rather than depending on `get_principal`: every level of
    dependencies costs FastAPI a walk on every request, and this one is on all of them.
    One dependency per scope (cached), so FastAPI resolves it once per request however
    many dependencies of a route use it.
    """

    async def dependency(
        request: Request, session: SessionDep, credentials: Credentials
    ) -> Principal:
        principal = await get_principal(request, session, credentials)
        check_scope(principal, scope)
        return principal

    async def gate(request: Request) -> None:
        check_scope(await authenticate_early(request), scope)

    authenticates_first(dependency, gate)
    return dependency


def check_scope(principal: Principal, scope: Scope) -> None:
    if not principal.can(scope):
        credential = "SSO token" if principal.credential is Credential.OIDC else "API key"
        raise Forbidden(f"This {credential} lacks the `{scope}` scope")


# A check a route's dependency makes of the caller, run before the request body is read.
Gate = Callable[[Request], Awaitable[None]]
_GATE = "muster_gate"


def authenticates_first(dependency: Callable[..., Any], gate: Gate) -> None:
    """Mark `dependency`: routes that use it run `gate` before reading their body."""
    setattr(dependency, _GATE, gate)


async def authenticate_early(request: Request) -> Principal:
    """The API key's principal, looked up in a short transaction of its own."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    scheme, key = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`")
    principal = await sso_principal(request, key)
    if principal is None:
        state = request.app.state
        authenticate: Authenticator = state.authenticate
        async with state.database.sessionmaker() as session, session.begin():
            principal = await authenticate(session, state.settings, key, state.api_keys)
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked")
    request.state.principal = principal
    return principal


def gates_of(dependant: Dependant) -> Iterator[Gate]:
    for sub in dependant.dependencies:
        gate = getattr(sub.call, _GATE, None)
        if gate is not None:
            yield gate
        yield from gates_of(sub)


class Answered(Protocol):
    """Told of each response of a route that writes, before the request's transaction
    commits (`core.audit.AuditTrail.answered`, wired in by `create_app`)."""

    def __call__(self, request: Request, response: Response) -> None: ...


class AuthenticatedRoute(APIRoute):
    """A route that checks its caller before reading its body (`route_class` of routers),
    and tells the audit trail how a write was answered (`Answered`).

    FastAPI reads and parses a body before it resolves dependencies: an anonymous
    caller would get a 422 for a bad body (after parsing up to the body limit)
    instead of a 401. The gates of the route's dependencies run first, and the
    dependencies find their result.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        gates = list(dict.fromkeys(gates_of(self.dependant)))
        writes = bool((self.methods or set()) - {"GET", "HEAD", "OPTIONS"})
        if not gates and not writes:
            return handler

        async def gated(request: Request) -> Response:
            for gate in gates:
                await gate(request)
            response = await handler(request)
            # The request's transaction commits after this: the audit trail's moment.
            answered: Answered | None = getattr(request.app.state, "answered", None)
            if writes and answered is not None:
                answered(request, response)
            return response

        return gated


ReadIncidents = Annotated[Principal, Depends(require(Scope.INCIDENTS_READ))]
WriteIncidents = Annotated[Principal, Depends(require(Scope.INCIDENTS_WRITE))]
WriteDeploys = Annotated[Principal, Depends(require(Scope.DEPLOYS_WRITE))]
AdminSubscriptions = Annotated[Principal, Depends(require(Scope.SUBSCRIPTIONS_ADMIN))]
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]


class OutboundUrlRefused(InvalidInput):
    code, title = "outbound-url-refused", "URL not allowed"


def check_outbound_url(url: str, settings: Settings, *, field: str = "body.url") -> str:
    """`url` if Muster may send notifications to it, else a 422 problem naming `field`.

    Only http(s), with a host and no credentials in it (they would show in listings and
    logs: a subscription has its own secret); when MUSTER_NOTIFY_ALLOWED_HOSTS is set,
    only to those hosts (`*.example.com` allows its subdomains). Outbound requests are
    made by the server, inside its network: this is the limit on where they can go.
    """
    url = url.strip()
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        _refuse(field, "not a valid URL: spaces and control characters must be percent-encoded")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        host.encode("idna")  # raises UnicodeError (a ValueError) on an empty or long label
    except ValueError:
        _refuse(field, "not a valid URL")
    if parts.scheme.lower() not in ("http", "https"):
        _refuse(field, "only http and https URLs are allowed")
    if not host:
        _refuse(field, "the URL has no host")
    if parts.username is not None or parts.password is not None:
        _refuse(field, "credentials in the URL are not allowed; use the secret")
    if not settings.allows_notify_host(host):
        _refuse(field, f"{host} is not in MUSTER_NOTIFY_ALLOWED_HOSTS")
    literal = ip_literal(host)
    if literal is not None and not address_allowed(literal, settings.notify_allowed_networks):
        _refuse(field, f"{host} is an internal address; see MUSTER_NOTIFY_ALLOWED_NETWORKS")
    return url


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Shared address space (RFC 6598, carrier-grade NAT): not `is_private` in Python 3.11.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# Cloud instance metadata: opened only by listing the single address itself.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a resolver takes (`0x7f000001`, `127.1`)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_internal(address: IPAddress) -> bool:
    """Loopback, link-local, private (RFC 1918, RFC 6598, ULA), unspecified, multicast,
    reserved, or anything else not globally routable."""
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in SHARED_ADDRESS_SPACE
        or not address.is_global
    )


def address_allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    """Whether a subscription's delivery may connect to `address`.

    An IPv4-mapped IPv6 address is judged as the IPv4 address it maps. Internal
    addresses pass only inside an allowed network; a metadata address only when the
    allowed network is that single address.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return any(network.num_addresses == 1 and address in network for network in allowed)
    return not is_internal(address) or any(address in network for network in allowed)


def _refuse(field: str, message: str) -> NoReturn:
    raise OutboundUrlRefused(
        f"Notifications cannot be sent there: {message}",
        errors=[FieldProblem(field=field, message=message, type="outbound_url")],
    )
