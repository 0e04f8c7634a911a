import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.events import EventType
from app.core.patch import Patch
from app.core.text import NOT_BLANK
from app.notifications.models import ALL_EVENTS, Delivery, DeliveryStatus, Format, Subscription
from app.notifications.signing import decode_whsec

EVENT_NAMES = [ALL_EVENTS, *(event.value for event in EventType)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _known_event(value: str) -> str:
    if value not in EVENT_NAMES:
        raise ValueError(f"unknown event type {value!r}; known: {', '.join(EVENT_NAMES)}")
    return value


def _whsec(value: str) -> str:
    decode_whsec(value)
    return value


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Url = Annotated[
    str,
    Field(min_length=1, max_length=2048),
    NOT_BLANK,
    AfterValidator(_http_url),
    Field(description="Where deliveries are POSTed: an http(s) URL"),
]
EventName = Annotated[
    str, AfterValidator(_known_event), Field(json_schema_extra={"enum": EVENT_NAMES})
]
Events = Annotated[
    list[EventName],
    Field(min_length=1, max_length=len(EVENT_NAMES)),
    AfterValidator(_distinct),
    Field(description="Event types to receive; `*` means all of them"),
]
Secret = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_whsec),
    Field(
        description="`whsec_` + base64 of 24 to 64 random bytes (Standard Webhooks); "
        "generated when omitted. Write-only: shown once, in the creation response."
    ),
]
Description = Annotated[str, StringConstraints(max_length=500)]


def _not_pagerduty(value: Format | None) -> Format | None:
    if value == Format.PAGERDUTY:
        raise ValueError(
            "pagerduty is a format of SRE targets (MUSTER_SRE_ESCALATION, with a routing_key), "
            "not of subscriptions"
        )
    return value


SubscriptionFormat = Annotated[
    Format,
    AfterValidator(_not_pagerduty),
    Field(description="`standard-webhooks`, `slack` (Block Kit) or `msteams` (Adaptive Card)"),
]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "url": "https://hooks.example.com/muster",
                "events": ["incident.created", "incident.status_changed"],
                "format": "standard-webhooks",
                "description": "Status page updater",
            }
        },
    )

    url: Url
    events: Events
    format: SubscriptionFormat = Format.STANDARD_WEBHOOKS
    secret: Secret | None = None
    active: bool = True
    description: Description | None = None


class SubscriptionUpdate(Patch):
    """Only the fields sent change. Setting `active` to true clears `disabled_reason`."""

    NOT_NULL = frozenset({"url", "events", "format", "secret", "active"})
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"active": False}},
    )

    url: Url | None = None
    events: Events | None = None
    format: SubscriptionFormat | None = None
    secret: Secret | None = None
    active: bool | None = None
    description: Description | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    format: Format
    active: bool
    description: str | None
    disabled_reason: str | None = Field(
        description="Why Muster turned the subscription off (e.g. the receiver answered 410)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> "SubscriptionOut":
        return cls.model_validate(subscription)


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret. Shown once: store it now.")

    @classmethod
    def of(cls, subscription: Subscription) -> "SubscriptionCreated":
        return cls.model_validate(subscription)


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The `webhook-id` header of every attempt")
    event_id: uuid.UUID
    event_type: str
    subscription_id: uuid.UUID | None
    target_url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When the next attempt is due (pending) or the claim ends (delivering)"
    )
    last_error: str | None = Field(
        description="What went wrong last, as a category: `connection refused`, `timed out`, "
        "`destination not allowed`, `name not resolved`, `TLS error`, `HTTP 503`, …"
    )
    response_code: int | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    duration_ms: int | None = Field(description="Duration of the last attempt")
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryOut":
        return cls.model_validate(delivery)


class StreamEvent(BaseModel):
    """The `data:` of one server-sent event."""

    id: uuid.UUID = Field(description="The event's id")
    type: str
    timestamp: datetime
    incident_id: uuid.UUID | None
    data: dict[str, Any]
