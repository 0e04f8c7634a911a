"""Shared by the webhook integrations: body parsing, delivery dedup, handing deploys over."""

import json
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from app.core.db import insert_ignoring_conflict
from app.core.errors import BadRequest, InvalidInput
from app.deploys.models import Deploy, DeploySource
from app.deploys.schemas import DeployCreate
from app.flows import deploys as deploy_flows
from app.integrations.models import InboundDelivery
from app.integrations.schemas import WebhookResult, WebhookStatus

M = TypeVar("M", bound=BaseModel)

# What a parser makes of a delivery: the deploys it reports, or the answer when there are none.
Interpretation = WebhookResult | Sequence[DeployCreate]


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; 400 problem when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("The body is not valid JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadRequest("The body is not a JSON object")
    return payload


def validated(model: type[M], data: Any, *, prefix: str = "body") -> M:
    """`model` from `data`; a 422 problem naming each offending field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_errors(exc.errors(), prefix=(prefix,)) from None


def ignored(detail: str) -> WebhookResult:
    return WebhookResult(status=WebhookStatus.IGNORED, detail=detail)


async def record_delivery(
    session: AsyncSession,
    *,
    source: DeploySource,
    delivery_id: str,
    event: str,
    deploys: Sequence[DeployCreate],
) -> WebhookResult:
    """Claim the delivery, then record its deploys, in one transaction.

    A delivery already claimed (a redelivery or retry) is answered `duplicate` and changes
    nothing; concurrent copies on PostgreSQL wait for the first to commit.
    """
    claimed = await insert_ignoring_conflict(
        session,
        InboundDelivery,
        {
            "id": uuid.uuid4(),
            "source": source,
            "delivery_id": delivery_id,
            "event": event,
            "received_at": utcnow(),
        },
        conflict_on=["source", "delivery_id"],
    )
    if not claimed:
        return WebhookResult(status=WebhookStatus.DUPLICATE)
    recorded = [
        await deploy_flows.record_deploy(session, source=source, **deploy.model_dump())
        for deploy in deploys
    ]
    if recorded and all(
        _older(deploy, stored) for deploy, (stored, _) in zip(deploys, recorded, strict=True)
    ):
        return WebhookResult(
            status=WebhookStatus.IGNORED,
            deploy_id=recorded[0][0].id if recorded else None,
            deploy_ids=[stored.id for stored, _ in recorded],
            detail="the event is older than what is recorded for this deploy: nothing changed",
        )
    ids = [deploy.id for deploy, _ in recorded]
    any_new = any(created for _, created in recorded)
    return WebhookResult(
        status=WebhookStatus.RECORDED if any_new else WebhookStatus.UPDATED,
        deploy_id=ids[0] if ids else None,
        deploy_ids=ids,
    )


def _older(reported: DeployCreate, stored: Deploy) -> bool:
    """Whether the sender's event predates the last one applied to the deploy."""
    at = getattr(reported, "reported_at", None)
    return at is not None and stored.reported_at is not None and at < stored.reported_at


def mapped_service(mapping: dict[str, str], full_name: str, name: str) -> str:
    """The Muster service for a repository: mapped by full name, then by name, else its name."""
    return mapping.get(full_name) or mapping.get(name) or name


def first_http_url(*candidates: str | None) -> str | None:
    """The first candidate that is an http(s) URL; senders also send "" for none."""
    return next(
        (url for url in candidates if url and url.startswith(("http://", "https://"))), None
    )
