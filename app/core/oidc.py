"""SSO: access tokens (JWTs) from the company's OpenID Connect identity provider.

With `MUSTER_OIDC_ISSUER` and `MUSTER_OIDC_AUDIENCE` set, a bearer token shaped like a
JWT is verified here: its signature against the keys the issuer publishes (a JWK set),
then `exp`, `nbf`, `iat`, `iss` and `aud`, with `CLOCK_SKEW_SECONDS` of leeway. joserfc
does all of the cryptography and the claim checks; this module only decides what is
acceptable. Only asymmetric signatures are: RS256, ES256 and EdDSA (Ed25519). So a token
with `alg: none`, or one signed with HS256 using the public key as the secret, is
refused before any key is looked at.

The keys come from `MUSTER_OIDC_JWKS_URL`, else from the `jwks_uri` of the issuer's
OpenID discovery document. They are fetched with httpx's async client (a fetch never
blocks the event loop), one fetch at a time, and kept `KEYS_MAX_AGE_SECONDS`. A token
naming a key id (`kid`) the cache lacks prompts a new fetch (the provider has rotated
its keys), at most once per `MUSTER_OIDC_JWKS_REFRESH_SECONDS`: tokens with made-up key
ids cannot make Muster hammer the provider.
"""

import asyncio
import logging
import time
import warnings
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
)
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from joserfc.jwt import JWTClaimsRegistry

from app.core.errors import ServiceUnavailable, Unauthorized
from app.core.handles import normalise_handle
from app.core.security import Credential, Principal, Scope, expand_scopes
from app.core.settings import Settings

log = logging.getLogger("muster.oidc")

# Asymmetric only. `EdDSA` is the name providers use today; RFC 9864 renames it `Ed25519`
# (joserfc warns about the old name on every use: silenced where tokens are decoded).
ALGORITHMS = ("RS256", "ES256", "EdDSA", "Ed25519")
CLOCK_SKEW_SECONDS = 60
KEYS_MAX_AGE_SECONDS = 3600.0
FETCH_TIMEOUT_SECONDS = 5.0
DISCOVERY_PATH = "/.well-known/openid-configuration"
KNOWN_SCOPES = frozenset(scope.value for scope in Scope)
MAX_SUBJECT_LENGTH = 255


class IdentityProviderUnavailable(ServiceUnavailable):
    code, title = "identity-provider-unavailable", "Identity provider unavailable"


class TokenVerifier:
    """Verifies SSO tokens for one issuer and audience (a `security.TokenAuthenticator`);
    holds that issuer's keys."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None
        assert settings.oidc_audience is not None
        self.issuer = settings.oidc_issuer
        self.jwks_url = settings.oidc_jwks_url
        self.handle_claim = settings.oidc_handle_claim
        try:
            self.group_scopes = {
                group: expand_scopes(scopes) for group, scopes in settings.oidc_group_scopes.items()
            }
        except ValueError as exc:
            raise ValueError(f"MUSTER_OIDC_GROUP_SCOPES: {exc}") from None
        self.refresh_seconds = settings.oidc_jwks_refresh_seconds
        self.claims = JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": settings.oidc_audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        self._keys: KeySet | None = None
        # Monotonic times: of the keys in hand, and of the last fetch, failed or not.
        self._fetched_at = 0.0
        self._tried_at: float | None = None
        self._fetching = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier | None":
        return cls(settings) if settings.oidc_issuer is not None else None

    async def __call__(self, token: str) -> Principal:
        """The token's caller: its person (the handle claim, normalised), its subject
        (`sub`) and scopes; a 401 problem saying why a token is refused."""
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError):
            raise Unauthorized("The bearer token is neither an API key nor a valid JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(
                f"Tokens signed with {header.get('alg')!r} are not accepted: "
                "only RS256, ES256 and EdDSA"
            )
        kid = header.get("kid")
        keys = await self._keys_for(kid if isinstance(kid, str) else None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SecurityWarning)
                claims = jwt.decode(token, keys, algorithms=ALGORITHMS).claims
            self.claims.validate(claims)
        except InvalidKeyIdError:
            raise Unauthorized(
                "The token is signed with a key the identity provider does not publish"
            ) from None
        except ExpiredTokenError:
            raise Unauthorized("The token has expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            raise Unauthorized(f"The token's `{exc.claim}` claim is not acceptable") from None
        except BadSignatureError:
            raise Unauthorized("The token's signature is not valid") from None
        except (JoseError, ValueError):
            raise Unauthorized("The token is not a valid JWT") from None
        subject = str(claims["sub"])
        if len(subject) > MAX_SUBJECT_LENGTH:  # OpenID Connect Core 1.0, 2
            raise Unauthorized(f"The token's `sub` is longer than {MAX_SUBJECT_LENGTH} characters")
        return Principal(
            key_id=None,
            name=subject,
            scopes=self._scopes(claims),
            person=self._person(claims),
            credential=Credential.OIDC,
        )

    def _person(self, claims: dict[str, Any]) -> str:
        handle = claims.get(self.handle_claim)
        if not isinstance(handle, str):
            raise Unauthorized(f"The token has no `{self.handle_claim}` claim to name its person")
        try:
            return normalise_handle(handle)
        except ValueError as exc:
            raise Unauthorized(
                f"The token's `{self.handle_claim}` is not a handle: {exc}"
            ) from None

    def _scopes(self, claims: dict[str, Any]) -> frozenset[Scope]:
        """Muster's scopes in the `scope` claim (others, like `openid`, are not Muster's),
        and those `MUSTER_OIDC_GROUP_SCOPES` maps the `groups` claim's groups to."""
        scope = claims.get("scope")
        names = scope.split() if isinstance(scope, str) else []
        granted = set(expand_scopes([name for name in names if name in KNOWN_SCOPES]))
        groups = claims.get("groups")
        for group in groups if isinstance(groups, list) else []:
            if isinstance(group, str):
                granted |= self.group_scopes.get(group, frozenset())
        return frozenset(granted)

    async def _keys_for(self, kid: str | None) -> KeySet:
        """The issuer's keys, fetched first if they are old or lack `kid` (rate-limited)."""
        if self._usable(kid):
            assert self._keys is not None
            return self._keys
        async with self._fetching:  # one fetch at a time; who waited finds its result
            if not self._usable(kid) and self._may_fetch():
                await self._fetch()
        if self._keys is None:
            raise IdentityProviderUnavailable(
                "Muster cannot reach the identity provider to check the token; retry later"
            )
        return self._keys

    def _usable(self, kid: str | None) -> bool:
        if self._keys is None or time.monotonic() - self._fetched_at > KEYS_MAX_AGE_SECONDS:
            return False
        return kid is None or any(key.kid == kid for key in self._keys)

    def _may_fetch(self) -> bool:
        return self._tried_at is None or time.monotonic() - self._tried_at >= self.refresh_seconds

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as http:
                url = self.jwks_url or await self._discover(http)
                response = await http.get(url)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
                self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            # Keys fetched before stay in use: a provider's hiccup locks no one out.
            log.warning("cannot fetch the identity provider's keys: %r", exc)

    async def _discover(self, http: httpx.AsyncClient) -> str:
        response = await http.get(self.issuer.rstrip("/") + DISCOVERY_PATH)
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0, 4.3
            raise ValueError(f"the discovery document is for issuer {document.get('issuer')!r}")
        url = document["jwks_uri"]
        if not isinstance(url, str):
            raise TypeError("jwks_uri is not a string")
        return url
