"""Inbound webhooks: each sender authenticates with its own scheme, then its parser decides."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import (
    AppError,
    BadRequest,
    ServiceUnavailable,
    UnsupportedMediaType,
    responses,
)
from app.core.security import AuthenticatedRoute, same_secret
from app.core.settings import Settings
from app.deploys.models import DeploySource
from app.integrations import github, gitlab, service
from app.integrations.schemas import WebhookResult, WebhookStatus


class WebhookUnauthorized(AppError):
    status, code, title = 401, "webhook-unauthorized", "Webhook not authenticated"


class WebhookNotConfigured(ServiceUnavailable):
    code, title = "webhook-not-configured", "Webhook not configured"


router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/webhooks",
    tags=["webhooks"],
    responses={
        202: {"model": WebhookResult, "description": "Not an event that records a deploy"},
        # 503 also when the database is down: not-configured joins the shared entry.
        **responses(
            BadRequest,
            WebhookUnauthorized,
            UnsupportedMediaType,
            ServiceUnavailable,
            WebhookNotConfigured,
        ),
    },
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _require_json(request: Request) -> None:
    """Senders are read as JSON; a webhook set up to send a form is told so (415)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            "Muster reads webhook payloads as JSON: set the webhook's content type to "
            "application/json" + (f", not {media_type}" if media_type else "")
        )


def _json_body(example: dict[str, Any]) -> dict[str, Any]:
    """Document the sender's JSON payload, which the route reads raw to check it."""
    content = {"application/json": {"schema": {"type": "object"}, "example": example}}
    return {"requestBody": {"required": True, "content": content}}


async def github_body(
    request: Request,
    x_hub_signature_256: Annotated[
        str | None, Header(description="`sha256=` + hex HMAC-SHA256 of the body")
    ] = None,
) -> bytes:
    """The raw body, once its signature is checked against MUSTER_GITHUB_WEBHOOK_SECRET."""
    secret = _settings(request).github_webhook_secret
    if secret is None:
        raise WebhookNotConfigured(
            "GitHub webhooks are off: MUSTER_GITHUB_WEBHOOK_SECRET is not set"
        )
    body = await request.body()
    if not github.signature_valid(secret.get_secret_value(), body, x_hub_signature_256):
        raise WebhookUnauthorized("X-Hub-Signature-256 is missing or does not match the body")
    _require_json(request)
    return body


_gitlab_token = APIKeyHeader(
    name="X-Gitlab-Token",
    scheme_name="GitLabToken",
    description="The GitLab webhook's secret token: MUSTER_GITLAB_WEBHOOK_TOKEN",
    auto_error=False,
)


async def gitlab_body(
    request: Request, x_gitlab_token: Annotated[str | None, Security(_gitlab_token)]
) -> bytes:
    """The raw body, once `X-Gitlab-Token` matches MUSTER_GITLAB_WEBHOOK_TOKEN."""
    expected = _settings(request).gitlab_webhook_token
    if expected is None:
        raise WebhookNotConfigured(
            "GitLab webhooks are off: MUSTER_GITLAB_WEBHOOK_TOKEN is not set"
        )
    if x_gitlab_token is None or not same_secret(x_gitlab_token, expected.get_secret_value()):
        raise WebhookUnauthorized("X-Gitlab-Token is missing or wrong")
    _require_json(request)
    return await request.body()


async def _answer(
    session: AsyncSession,
    interpretation: service.Interpretation,
    *,
    source: DeploySource,
    delivery_id: str,
    event: str,
) -> JSONResponse:
    if not isinstance(interpretation, WebhookResult):
        interpretation = await service.record_delivery(
            session, source=source, delivery_id=delivery_id, event=event, deploys=interpretation
        )
    ignored = interpretation.status == WebhookStatus.IGNORED
    return JSONResponse(interpretation.model_dump(mode="json"), 202 if ignored else 200)


@router.post(
    "/github",
    response_model=WebhookResult,
    openapi_extra=_json_body({"zen": "Design for failure.", "hook_id": 109948940}),
)
async def github_webhook(
    request: Request,
    session: SessionDep,
    body: Annotated[bytes, Depends(github_body)],
    x_github_event: Annotated[str, Header(max_length=64)],
    x_github_delivery: Annotated[str, Header(min_length=1, max_length=200)],
) -> JSONResponse:
    """Record deploys from GitHub deployment statuses, deploy workflow runs and releases."""
    interpretation = github.interpret(
        x_github_event, service.parse_object(body), _settings(request)
    )
    return await _answer(
        session,
        interpretation,
        source=DeploySource.GITHUB,
        delivery_id=x_github_delivery,
        event=x_github_event,
    )


@router.post(
    "/gitlab",
    response_model=WebhookResult,
    openapi_extra=_json_body(
        {
            "object_kind": "deployment",
            "status": "success",
            "status_changed_at": "2026-11-28 10:03:12 +0100",
            "deployment_id": 15,
            "environment": "production",
            "project": {"name": "checkout-api", "path_with_namespace": "shop/checkout-api"},
            "short_sha": "279484c0",
        }
    ),
)
async def gitlab_webhook(
    request: Request,
    session: SessionDep,
    body: Annotated[bytes, Depends(gitlab_body)],
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200, description="Sent by newer GitLab versions; the same on every retry"
        ),
    ] = None,
) -> JSONResponse:
    """Record deploys from GitLab deployment hooks and from pipelines with deploy jobs."""
    payload = service.parse_object(body)
    return await _answer(
        session,
        gitlab.interpret(payload, _settings(request)),
        source=DeploySource.GITLAB,
        delivery_id=gitlab.delivery_id(idempotency_key, body),
        event=str(payload.get("object_kind")),
    )
