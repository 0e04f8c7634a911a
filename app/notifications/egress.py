"""Where a subscription's delivery may connect: checked on the resolved addresses.

The URL keeps its host name, so the `Host` header, TLS SNI and certificate checks are
for that name, as usual. Only the TCP connection is made here: the name is resolved
once (in the event loop's resolver thread pool, never blocking the loop), every
address it gave is checked with `address_allowed`, and the connection goes to a
checked address. A name that resolves inside, or that resolves differently on a
second look (DNS rebinding), reaches no internal address.

SRE targets are set by the operator and trusted: they go through a plain client.
"""

import asyncio
import socket
import ssl
from collections.abc import Iterable, Sequence

import httpcore
import httpx

from app.core.security import IPAddress, IPNetwork, address_allowed, ip_literal


class DestinationNotAllowed(Exception):
    """Every address of the destination is internal and not in an allowed network."""


class NameNotResolved(Exception):
    pass


async def resolve(host: str, port: int) -> list[IPAddress]:
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameNotResolved(host) from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ip_literal(str(sockaddr[0]).partition("%")[0])
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses that pass the check."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        self._allowed = tuple(allowed)
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        async with asyncio.timeout(timeout):
            addresses = await resolve(host, port)
        checked = [a for a in addresses if address_allowed(a, self._allowed)]
        if not checked:
            raise DestinationNotAllowed(host)
        failure: Exception | None = None
        for address in checked:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a `CheckedBackend`; no proxy from the environment."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(allowed),
        )


def failure_category(exc: BaseException) -> str:
    """What the deliveries API shows of a failed attempt: a category, not the exception."""
    if isinstance(exc, DestinationNotAllowed):
        return "destination not allowed"
    if isinstance(exc, NameNotResolved):
        return "name not resolved"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if any(isinstance(cause, ssl.SSLError) for cause in _causes(exc)):
        return "TLS error"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection closed"
    return "request failed"


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: BaseException | None = exc.__cause__ or exc.__context__
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__
