"""SSO tokens against an identity provider served over real HTTP from the test.

The provider publishes an OpenID discovery document and a JWK set on loopback, and
rotates its keys when told; the app finds the keys by discovery, as in production.
Every refused token is a 401 problem that says why.
"""

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import extract_compact

from app.core.errors import PROBLEM_JSON
from app.core.oidc import TokenVerifier
from app.main import create_app
from tests.conftest import fresh_database, make_settings
from tests.identity_provider import AUDIENCE, SIGNING_KEY, IdentityProvider, claims, sign

GROUP_SCOPES = {"sre": ["admin"], "responders": ["incidents:write"]}


RSA = SIGNING_KEY
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
ED = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider().start()
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
async def app(backend: str, tmp_path_factory, provider) -> AsyncIterator[FastAPI]:
    """The app with SSO set up (found by discovery), and no delay before refetching keys."""
    async with fresh_database(backend, tmp_path_factory.mktemp("oidc")) as url:
        settings = make_settings(
            url,
            oidc_issuer=provider.issuer,
            oidc_audience=AUDIENCE,
            oidc_group_scopes=GROUP_SCOPES,
            oidc_jwks_refresh_seconds=0,
        )
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            yield application


@pytest.fixture(autouse=True)
def keys(provider, database) -> Iterator[None]:  # noqa: ARG001 - the database is emptied after
    provider.published[:] = [RSA, EC, ED]
    yield
    provider.published[:] = [RSA, EC, ED]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token an attacker makes by hand: HS256 with `secret`, or unsigned (`alg: none`)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if secret is None:
        return f"{signing_input}."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def now_of(clock) -> int:
    return int(clock.now.timestamp())


async def refused(anon_client: httpx.AsyncClient, token: str) -> str:
    response = await anon_client.get("/api/v1/incidents", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:muster:problem:unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    return str(problem["detail"])


@pytest.mark.parametrize(("key", "alg"), [(RSA, "RS256"), (EC, "ES256"), (ED, "EdDSA")])
async def test_a_valid_token_acts_as_its_person(anon_client, provider, clock, key, alg):
    token = sign(claims(provider, now_of(clock)), key, alg)

    created = await anon_client.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "sev2"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    listed = await anon_client.get("/api/v1/incidents", headers=bearer(token))
    assert listed.status_code == 200
    assert [item["title"] for item in listed.json()["items"]] == ["Checkout down"]


async def test_the_token_s_person_and_subject_are_recorded(anon_client, client, provider, clock):
    token = sign(claims(provider, now_of(clock), preferred_username="ALICE"))
    created = await anon_client.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "sev2"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text

    events = (await client.get("/api/v1/audit-events")).json()["items"]
    write = next(event for event in events if event["method"] == "POST")
    assert write["actor"] == "alice"  # the handle claim, normalised
    assert write["via"] == {
        "credential": "oidc",
        "key_id": None,
        "key_name": None,
        "subject": "248289761001",
    }


async def test_a_long_subject_fits_the_records_it_keys(anon_client, provider, clock):
    token = sign(claims(provider, now_of(clock), sub="x" * 90))
    headers = {**bearer(token), "Idempotency-Key": "once"}
    for _ in range(2):  # the same key and body: one incident, the second answer replayed
        created = await anon_client.post("/api/v1/incidents", json={"title": "t"}, headers=headers)
        assert created.status_code == 201, created.text
    assert created.headers["idempotent-replayed"] == "true"
    too_long = sign(claims(provider, now_of(clock), sub="x" * 256))
    assert "`sub`" in await refused(anon_client, too_long)


async def test_scopes_come_from_the_scope_claim_and_from_groups(anon_client, provider, clock):
    now = now_of(clock)
    reader = sign(claims(provider, now, scope="openid incidents:read"))
    assert (await anon_client.get("/api/v1/incidents", headers=bearer(reader))).status_code == 200
    denied = await anon_client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "sev3"}, headers=bearer(reader)
    )
    assert denied.status_code == 403

    nothing = sign(claims(provider, now, scope="openid profile"))
    assert (await anon_client.get("/api/v1/incidents", headers=bearer(nothing))).status_code == 403

    sre = sign(claims(provider, now, scope=None, groups=["staff", "sre"]))
    assert (await anon_client.get("/api/v1/audit-events", headers=bearer(sre))).status_code == 200
    responder = sign(claims(provider, now, scope=None, groups=["responders"]))
    response = await anon_client.get("/api/v1/audit-events", headers=bearer(responder))
    assert response.status_code == 403


async def test_expired_tokens_are_refused_past_a_small_clock_skew(anon_client, provider, clock):
    now = now_of(clock)
    late = sign(claims(provider, now, iat=now - 900, nbf=now - 900, exp=now - 30))
    assert (await anon_client.get("/api/v1/incidents", headers=bearer(late))).status_code == 200

    expired = sign(claims(provider, now, iat=now - 900, nbf=now - 900, exp=now - 120))
    assert await refused(anon_client, expired) == "The token has expired"


async def test_a_token_not_yet_valid_is_refused(anon_client, provider, clock):
    now = now_of(clock)
    early = sign(claims(provider, now, nbf=now + 300, exp=now + 900))
    assert "`nbf`" in await refused(anon_client, early)


async def test_a_token_for_another_audience_is_refused(anon_client, provider, clock):
    other = sign(claims(provider, now_of(clock), aud="another-app"))
    assert "`aud`" in await refused(anon_client, other)


async def test_a_token_of_another_issuer_is_refused(anon_client, provider, clock):
    other = sign(claims(provider, now_of(clock), iss="http://127.0.0.1:1/other"))
    assert "`iss`" in await refused(anon_client, other)


async def test_a_token_without_the_handle_claim_is_refused(anon_client, provider, clock):
    nameless = sign(claims(provider, now_of(clock), preferred_username=None))
    assert "`preferred_username`" in await refused(anon_client, nameless)
    hidden = sign(claims(provider, now_of(clock), preferred_username="alice\u200b"))
    assert "not a handle" in await refused(anon_client, hidden)


async def test_a_rotated_key_is_fetched_when_a_token_names_it(anon_client, provider, clock):
    token = sign(claims(provider, now_of(clock)), ROTATED)
    before = provider.fetches()
    assert "does not publish" in await refused(anon_client, token)
    assert provider.fetches() == before + 1  # it looked again before refusing

    provider.published[:] = [ROTATED]  # the provider rotates its keys
    response = await anon_client.get("/api/v1/incidents", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert provider.fetches() == before + 2
    # The new keys are cached: known key ids cost no fetch.
    assert (await anon_client.get("/api/v1/incidents", headers=bearer(token))).status_code == 200
    assert provider.fetches() == before + 2


async def test_unknown_key_ids_refetch_at_most_once_per_interval(app, provider, clock):
    settings = app.state.settings.model_copy(update={"oidc_jwks_refresh_seconds": 2})
    verifier = TokenVerifier(settings)
    known = sign(claims(provider, now_of(clock)))
    transport = httpx.ASGITransport(app=app)
    app.state.verify_token, usual = verifier, app.state.verify_token
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://muster.test") as http:
            assert (await http.get("/api/v1/incidents", headers=bearer(known))).status_code == 200
            fetched = provider.fetches()
            await asyncio.sleep(2.1)  # the interval has passed: one refetch is due
            made_up = [forged({"alg": "RS256", "kid": f"made-up-{n}"}, {}, b"x") for n in range(8)]
            details = await asyncio.gather(*(refused(http, token) for token in made_up))
            details += [await refused(http, token) for token in made_up]
    finally:
        app.state.verify_token = usual
    assert all("does not publish" in detail for detail in details)
    assert provider.fetches() == fetched + 1


async def test_alg_none_is_refused(anon_client, provider, clock):
    unsigned = forged({"alg": "none", "kid": RSA.kid}, claims(provider, now_of(clock)), None)
    assert "'none'" in await refused(anon_client, unsigned)


async def test_hs256_signed_with_the_public_key_is_refused(anon_client, provider, clock):
    public_pem = RSA.get_op_key("verify").public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = forged(
        {"alg": "HS256", "kid": RSA.kid, "typ": "JWT"}, claims(provider, now_of(clock)), public_pem
    )
    assert extract_compact(confused.encode()).headers()["alg"] == "HS256"
    assert "'HS256'" in await refused(anon_client, confused)


async def test_a_tampered_token_is_refused(anon_client, provider, clock):
    header, _, signature = sign(claims(provider, now_of(clock))).split(".")
    payload = _b64(json.dumps(claims(provider, now_of(clock), scope="admin")).encode())
    assert "signature" in await refused(anon_client, f"{header}.{payload}.{signature}")


async def test_an_unreachable_provider_is_a_503_not_a_401(app, anon_client, provider, clock):
    token = sign(claims(provider, now_of(clock)))
    down = make_settings(
        app.state.settings.database_url,
        oidc_issuer="http://127.0.0.1:9/nowhere",
        oidc_audience=AUDIENCE,
    )
    app.state.verify_token, usual = TokenVerifier(down), app.state.verify_token
    try:
        response = await anon_client.get("/api/v1/incidents", headers=bearer(token))
    finally:
        app.state.verify_token = usual
    assert response.status_code == 503
    assert response.json()["type"] == "urn:muster:problem:identity-provider-unavailable"


async def test_api_keys_still_work_beside_tokens(client):
    assert (await client.get("/api/v1/incidents")).status_code == 200


def test_group_scopes_must_name_muster_scopes(provider, tmp_path):
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        oidc_issuer=provider.issuer,
        oidc_audience=AUDIENCE,
        oidc_group_scopes={"sre": ["root"]},
    )
    with pytest.raises(ValueError, match="MUSTER_OIDC_GROUP_SCOPES: 'root'"):
        create_app(settings)


def test_issuer_and_audience_go_together(tmp_path):
    with pytest.raises(ValueError, match="MUSTER_OIDC_AUDIENCE"):
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", oidc_issuer="https://idp")
