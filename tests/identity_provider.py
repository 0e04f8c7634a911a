"""A test identity provider: OpenID discovery and a JWK set served over real HTTP on
loopback (from a thread, so it serves in-process apps and `muster serve` alike), with
keys a test can rotate, and the tokens it would issue."""

import json
import warnings
from typing import Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet, RSAKey

from tests.notifications.receiver import Received, Receiver

AUDIENCE = "muster"
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


class IdentityProvider(Receiver):
    """An OpenID provider's public face: discovery and the JWK set it currently publishes."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Any] = []

    @property
    def issuer(self) -> str:
        return self.url

    def fetches(self) -> int:
        return sum(request.path == "/jwks" for request in self.received)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        with self._lock:
            self._received.append(Received(scope["path"], {}, b""))
        if scope["path"] == "/.well-known/openid-configuration":
            document: dict[str, Any] = {
                "issuer": self.issuer,
                "jwks_uri": f"{self.url}/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            }
        elif scope["path"] == "/jwks":
            document = KeySet(list(self.published)).as_dict(private=False)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(document).encode()})


def sign(payload: dict[str, Any], key: Any = SIGNING_KEY, alg: str = "RS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA's new name is Ed25519
        return jwt.encode({"alg": alg, "kid": key.kid}, payload, key, algorithms=[alg])


def claims(provider: IdentityProvider, now: int, **changes: Any) -> dict[str, Any]:
    """A person's access token for Muster, valid from `now` for five minutes; a change
    to None leaves the claim out."""
    base: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": AUDIENCE,
        "sub": "248289761001",
        "preferred_username": "Alice",
        "scope": "openid profile incidents:write",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}
