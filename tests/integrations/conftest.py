import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from tests.conftest import FIXTURES

GITHUB_SECRET = "gh-test-secret"
GITLAB_TOKEN = "gl-test-token"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


def github_headers(
    body: bytes, event: str, *, delivery: str | None = None, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


@pytest.fixture
def configure(app: FastAPI) -> Iterator[Callable[..., None]]:
    """Override settings for one test; webhook secrets are set unless a test unsets them."""
    # Not monkeypatch: it restores instance __dict__ entries, and State keeps its own dict.
    original = app.state.settings

    def apply(**overrides: Any) -> None:
        app.state.settings = app.state.settings.model_copy(update=overrides)

    apply(
        github_webhook_secret=SecretStr(GITHUB_SECRET),
        gitlab_webhook_token=SecretStr(GITLAB_TOKEN),
    )
    yield apply
    app.state.settings = original


@pytest.fixture
def sender(
    client: httpx.AsyncClient,  # noqa: ARG001 - requested to empty the tables after the test
    anon_client: httpx.AsyncClient,
    configure: Callable[..., None],  # noqa: ARG001 - requested to set the webhook secrets
) -> httpx.AsyncClient:
    """A client without API key, as webhook senders are."""
    return anon_client
