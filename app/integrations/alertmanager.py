"""Prometheus Alertmanager's webhook (payload version 4).

Alertmanager retries only on 5xx and drops a notification on any 4xx, sends no
delivery id and signs nothing: so credentials are a bearer token or basic auth from
its `http_config`, duplicates are recognised by content, and the answer is 200 for
anything accepted (duplicates included) and 503 only when it should retry.
"""

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security.http import HTTPBase
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from app.alerts import service
from app.alerts.models import AlertStatus
from app.core.api import API_PREFIX
from app.core.cache import ExpiringCache
from app.core.clock import AwareUTC
from app.core.db import Database
from app.core.errors import (
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    responses,
)
from app.core.openapi import checked_by_route
from app.core.security import AuthenticatedRoute, authenticates_first, same_secret
from app.core.settings import Settings
from app.flows import alerts as alert_flows

# Alertmanager's zero time: firing alerts carry it as `endsAt`.
_ZERO_TIME_YEAR = 1


# Generous bounds, far beyond what Prometheus rules produce, so that a notification is
# never refused for being long (Alertmanager drops what it gets a 4xx for), while a
# hostile one cannot store megabytes in a label.
LabelName = Annotated[str, StringConstraints(max_length=1024)]
LabelValue = Annotated[str, StringConstraints(max_length=8192)]
AnnotationValue = Annotated[str, StringConstraints(max_length=32768)]
Labels = dict[LabelName, LabelValue]
Annotations = dict[LabelName, AnnotationValue]


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    startsAt: AwareUTC  # Alertmanager spells its fields in camelCase
    endsAt: AwareUTC | None = None
    generatorURL: str | None = Field(default=None, max_length=16384)  # carries the query
    fingerprint: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("endsAt")
    @classmethod
    def _zero_is_none(cls, value: datetime | None) -> datetime | None:
        return None if value is None or value.year == _ZERO_TIME_YEAR else value

    def to_incoming(self) -> service.IncomingAlert:
        fingerprint = (
            self.fingerprint
            or hashlib.sha256(repr(sorted(self.labels.items())).encode()).hexdigest()[:16]
        )
        return service.IncomingAlert(
            fingerprint=fingerprint,
            status=AlertStatus(self.status),
            labels=self.labels,
            annotations=self.annotations,
            starts_at=self.startsAt,
            ends_at=self.endsAt,
            generator_url=self.generatorURL,
        )


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body, version 4; fields it adds later are accepted and ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "version": "4",
                "groupKey": '{}:{alertname="HighErrorRate", service="checkout-api"}',
                "status": "firing",
                "receiver": "muster",
                "groupLabels": {"alertname": "HighErrorRate", "service": "checkout-api"},
                "commonLabels": {
                    "alertname": "HighErrorRate",
                    "service": "checkout-api",
                    "severity": "critical",
                },
                "commonAnnotations": {"summary": "checkout-api 5xx ratio above 5%"},
                "externalURL": "http://alertmanager:9093",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": "HighErrorRate",
                            "service": "checkout-api",
                            "severity": "critical",
                        },
                        "annotations": {"summary": "checkout-api 5xx ratio above 5%"},
                        "startsAt": "2026-11-28T14:01:26.07Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus:9090/graph",
                        "fingerprint": "fc08facb203df495",
                    }
                ],
            }
        },
    )

    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=8192)
    status: Literal["firing", "resolved"]
    receiver: str = Field(default="", max_length=1024)
    alerts: list[AlertmanagerAlert] = Field(max_length=5000)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Annotations = Field(default_factory=dict)
    externalURL: str = Field(default="", max_length=2048)
    truncatedAlerts: StrictInt = 0

    def to_notification(self) -> service.Notification:
        return service.Notification(
            group_key=self.groupKey,
            status=self.status,
            alerts=[alert.to_incoming() for alert in self.alerts],
            common_labels=self.commonLabels,
            common_annotations=self.commonAnnotations,
        )


class AlertmanagerAck(BaseModel):
    status: Literal["accepted", "duplicate"] = Field(
        description="`duplicate`: this exact notification was already processed; nothing changed"
    )
    opened: list[str] = Field(description="References of incidents this notification opened")
    updated: list[str] = Field(description="References of incidents it updated")


# Alertmanager's own credentials (its `http_config`), not Muster API keys. Both schemes
# read the one `Authorization` header; `alertmanager_credentials` decides which applies.
_bearer = HTTPBase(
    scheme="bearer",
    scheme_name="AlertmanagerBearer",
    description="`Authorization: Bearer <MUSTER_ALERTMANAGER_TOKEN>`",
    auto_error=False,
)
_basic = HTTPBase(
    scheme="basic",
    scheme_name="AlertmanagerBasic",
    description="HTTP basic auth with MUSTER_ALERTMANAGER_BASIC_AUTH (`user:password`)",
    auto_error=False,
)


async def alertmanager_credentials(request: Request) -> None:
    """Bearer token or basic auth, as Alertmanager's `http_config` sends them."""
    settings: Settings = request.app.state.settings
    token, basic = settings.alertmanager_token, settings.alertmanager_basic_auth
    if token is None and basic is None:
        raise ServiceUnavailable(
            "Alertmanager ingestion is not configured: set MUSTER_ALERTMANAGER_TOKEN "
            "or MUSTER_ALERTMANAGER_BASIC_AUTH"
        )
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    scheme, credentials = scheme.lower(), credentials.strip()
    if token is not None and scheme == "bearer":
        if same_secret(credentials, token.get_secret_value()):
            return
    elif basic is not None and scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if same_secret(decoded, basic.get_secret_value()):
            return
    raise Unauthorized("Alertmanager credentials are missing or wrong")


authenticates_first(alertmanager_credentials, alertmanager_credentials)


def seen_notifications() -> ExpiringCache[str, bool]:
    """Digests of notifications this process has seen committed, for `app.state`.

    They are in the database for good, so a repeat found here is answered without a
    round trip; other replicas find it there. The unique digest still settles races.
    """
    return ExpiringCache(seconds=600, size=10_000)


router = APIRouter(
    route_class=AuthenticatedRoute, prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"]
)


@router.post(
    "/alertmanager",
    response_model=AlertmanagerAck,
    dependencies=[Depends(alertmanager_credentials)],
    openapi_extra=checked_by_route(_bearer, _basic),
    responses=responses(Unauthorized, UnsupportedMediaType, ServiceUnavailable),
)
async def receive_alertmanager(payload: AlertmanagerPayload, request: Request) -> AlertmanagerAck:
    """Alertmanager webhook: opens, groups, updates and mitigates incidents; 200 when accepted."""
    # No session dependency: most of a storm is repeats (HA twins, retries, repeat
    # intervals), answered from memory without a connection. What this process has not
    # seen is claimed by its digest in the transaction, which settles duplicates.
    notification = payload.to_notification()
    seen: ExpiringCache[str, bool] = request.app.state.seen_notifications
    if seen.get(notification.digest):
        return AlertmanagerAck(status="duplicate", opened=[], updated=[])
    database: Database = request.app.state.database
    async with database.sessionmaker() as session, session.begin():
        outcome = await alert_flows.ingest(
            session,
            notification,
            settings=request.app.state.settings,
            template=request.app.state.checklist_template,
            policy=request.app.state.escalation_policy,
        )
    seen.put(notification.digest, True)  # committed
    return AlertmanagerAck(
        status="duplicate" if outcome.duplicate else "accepted",
        opened=[i.reference for i in outcome.opened],
        updated=[i.reference for i in outcome.updated],
    )
