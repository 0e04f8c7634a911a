"""The OpenAPI `webhooks` section: one entry per event type, with its payload.

These operations are documentation only: they describe the POST Muster makes to a
subscriber. Their bodies reuse the API's own response models, so a change to
`IncidentOut` shows in the webhook schemas as well.
"""

import inspect
import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Header, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model

from app.core.events import EventType
from app.incidents.schemas import IncidentOut
from app.incidents.state import Severity, Status
from app.participants.schemas import ParticipantOut
from app.timeline.schemas import EntryOut


class IncidentRef(BaseModel):
    """The short form of an incident carried by events about things on it."""

    id: uuid.UUID
    reference: str = Field(examples=["INC-42"])
    title: str
    severity: Severity
    status: Status


class Change(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Any = Field(alias="from", description="The value before")
    to: Any = Field(description="The value after")


class IncidentData(BaseModel):
    incident: IncidentOut


class IncidentUpdatedData(BaseModel):
    incident: IncidentOut
    changes: dict[str, Change] = Field(
        description="Changed fields, e.g. `severity`, `title`, `commander`, `services`"
    )


class IncidentStatusChangedData(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    incident: IncidentOut
    from_: Status = Field(alias="from")
    to: Status


class ParticipantData(BaseModel):
    incident: IncidentRef
    participant: ParticipantOut


class TimelineData(BaseModel):
    incident: IncidentRef
    entry: EntryOut


class PendingDomainData(BaseModel):
    """Shape not fixed yet: the domain that emits this event is still being built."""

    model_config = ConfigDict(extra="allow")


DATA: dict[EventType, tuple[type[BaseModel], str]] = {
    EventType.INCIDENT_CREATED: (IncidentData, "An incident was opened."),
    EventType.INCIDENT_UPDATED: (
        IncidentUpdatedData,
        "Fields of an incident changed (not its status). SRE targets get it when the "
        "severity is raised to sev1 or sev2.",
    ),
    EventType.INCIDENT_STATUS_CHANGED: (
        IncidentStatusChangedData,
        "An incident moved along the status machine.",
    ),
    EventType.PARTICIPANT_JOINED: (ParticipantData, "Someone joined an incident."),
    EventType.PARTICIPANT_LEFT: (ParticipantData, "Someone left an incident."),
    EventType.TIMELINE_EVENT_ADDED: (
        TimelineData,
        "An entry was added to an incident's timeline (by a person or by Muster).",
    ),
    EventType.ROLLBACK_REVIEW_REQUESTED: (PendingDomainData, "A rollback review was proposed."),
    EventType.ROLLBACK_REVIEW_DECIDED: (
        PendingDomainData,
        "A rollback review was approved or rejected.",
    ),
    EventType.ROLLBACK_REVIEW_EXECUTED: (PendingDomainData, "A rollback was executed."),
    EventType.DEPLOY_RECORDED: (PendingDomainData, "A deploy was recorded."),
    EventType.ACTION_ITEM_UPDATED: (PendingDomainData, "An action item changed."),
}

COMMON = """

Sent as `POST` with a JSON body `{"type", "timestamp", "data"}` (subscriptions in
`slack` format get `{"text": "…"}` instead, signed the same way). Headers per the
Standard Webhooks spec: `webhook-id` (the delivery id, the same on every retry:
deduplicate on it), `webhook-timestamp` (unix seconds of this attempt) and
`webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the
base64-decoded part of the `whsec_` secret). Any 2xx acknowledges; 410 disables the
subscription; anything else (or no answer within the timeout) is retried with
exponential backoff until the attempt limit, after which the delivery is `dead`."""

WebhookId = Annotated[str, Header(alias="webhook-id", description="Delivery id; deduplicate")]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds of this attempt")
]
WebhookSignature = Annotated[
    str, Header(alias="webhook-signature", description="`v1,<base64 HMAC-SHA256>`")
]


def envelope(event: EventType, data: type[BaseModel]) -> type[BaseModel]:
    """The body model of one event type, e.g. `IncidentCreatedWebhook`."""
    name = "".join(part.title() for part in event.value.replace(".", "_").split("_"))
    event_type: Any = Literal[event.value]
    return create_model(
        f"{name}Webhook",
        __doc__=f"The body of a `{event.value}` webhook (standard-webhooks format).",
        type=(event_type, ...),
        timestamp=(datetime, Field(description="When the event happened (RFC 3339)")),
        data=(data, ...),
    )


def _receiver(body_model: type[BaseModel]) -> Callable[..., Coroutine[Any, Any, None]]:
    async def receive(**_: Any) -> None:
        """Documentation only."""

    parameters = [
        inspect.Parameter(
            "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body_model, Body()]
        ),
        inspect.Parameter("webhook_id", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookId),
        inspect.Parameter(
            "webhook_timestamp", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookTimestamp
        ),
        inspect.Parameter(
            "webhook_signature", inspect.Parameter.KEYWORD_ONLY, annotation=WebhookSignature
        ),
    ]
    receive.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return receive


def _operation_id(route: APIRoute) -> str:
    return "webhooks-" + route.name


def webhooks() -> APIRouter:
    """A router whose routes FastAPI renders as the document's `webhooks`."""
    router = APIRouter(generate_unique_id_function=_operation_id)
    for event, (data, description) in DATA.items():
        router.add_api_route(
            event.value,
            _receiver(envelope(event, data)),
            methods=["POST"],
            name=event.value.replace(".", "-").replace("_", "-"),
            tags=["webhooks"],
            summary=event.value,
            description=description + COMMON,
            response_class=Response,
            responses={
                200: {"description": "Any 2xx: delivered"},
                410: {"description": "Gone: Muster disables the subscription"},
                "default": {"description": "Anything else, or no answer in time: retried"},
            },
        )
    return router


# Response models that webhook bodies reuse. FastAPI documents a body in validation
# mode, which would give each an `-Input` twin without its computed fields (e.g.
# `allowed_transitions`); a webhook carries the serialized form, so refer to that.
REUSED = ("IncidentOut", "ParticipantOut", "EntryOut")


def _serialized_forms(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    twins = [name for name in REUSED if f"{name}-Input" in schemas and f"{name}-Output" in schemas]
    if not twins:
        return document
    text = json.dumps(document)
    for name, suffix in ((name, suffix) for name in twins for suffix in ("-Input", "-Output")):
        text = text.replace(
            f'"#/components/schemas/{name}{suffix}"', f'"#/components/schemas/{name}"'
        )
    fixed: dict[str, Any] = json.loads(text)
    schemas = fixed["components"]["schemas"]
    for name in twins:
        del schemas[f"{name}-Input"]
        schemas[name] = schemas.pop(f"{name}-Output")
    fixed["components"]["schemas"] = dict(sorted(schemas.items()))
    return fixed


def document_webhooks(app: FastAPI) -> None:
    """Make `app.openapi()` show webhook payloads as Muster serializes them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        app.openapi_schema = _serialized_forms(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
