"""A deploy arrives: recorded, and checked at the release gate.

A prevention measure learned once must reach every service it names: a deploy of a
service whose `prevent` rollout is still pending (or in progress past its due date) is
recorded as `unprotected`, with the measures missing, and `deploy.unprotected` is emitted.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.action_items import service as action_service
from app.deploys import service as deploys_service
from app.deploys.models import Deploy, DeployKind, DeploySource


async def record_deploy(
    session: AsyncSession,
    *,
    source: DeploySource,
    service: str,
    kind: DeployKind | None = None,
    **fields: Any,
) -> tuple[Deploy, bool]:
    """`deploys.service.record_deploy` for a deploy reported by CI or a webhook."""
    gated = kind != DeployKind.ROLLBACK
    missing = await action_service.missing_measures(session, service) if gated else []
    return await deploys_service.record_deploy(
        session, source=source, service=service, kind=kind, missing_measures=missing, **fields
    )
