"""The event of the release history."""

from typing import ClassVar

from app.core.events import DomainEvent, EventType
from app.deploys.schemas import DeployOut


class DeployRecorded(DomainEvent):
    """A deploy was recorded, or its status changed."""

    type: ClassVar[EventType] = EventType.DEPLOY_RECORDED

    deploy: DeployOut


class DeployUnprotected(DomainEvent):
    """A deploy arrived for a service that a prevention measure has not reached yet:
    `deploy.missing_measures` names them."""

    type: ClassVar[EventType] = EventType.DEPLOY_UNPROTECTED

    deploy: DeployOut
