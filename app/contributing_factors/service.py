"""Contributing factors of an incident, each in a category of the configured taxonomy.

Adding or removing one adds a `contributing_factor` timeline entry to the incident.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.contributing_factors.models import ContributingFactor
from app.contributing_factors.schemas import FactorCreate, FactorOut
from app.contributing_factors.taxonomy import Taxonomy
from app.core.actors import Actor
from app.core.clock import utcnow
from app.core.errors import FieldProblem, InvalidInput, NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.incidents.models import Incident
from app.timeline import service as timeline_service
from app.timeline.models import EntryKind


class FactorNotFound(NotFound):
    pass


class UnknownCategory(InvalidInput):
    code, title = "unknown-category", "Unknown contributing-factor category"


def check_category(taxonomy: Taxonomy, category: str) -> None:
    if category not in taxonomy.keys:
        allowed = ", ".join(taxonomy.keys)
        raise UnknownCategory(
            f"{category!r} is not a category of contributing factors; allowed: {allowed}",
            errors=[
                FieldProblem(
                    field="body.category", message=f"must be one of: {allowed}", type="enum"
                )
            ],
            extra={"allowed": taxonomy.keys},
        )


async def add_factor(
    session: AsyncSession,
    incident: Incident,
    data: FactorCreate,
    *,
    taxonomy: Taxonomy,
    actor: Actor,
) -> FactorOut:
    check_category(taxonomy, data.category)
    services = list(dict.fromkeys(data.services)) if data.services is not None else None
    factor = ContributingFactor(
        incident_id=incident.id,
        category=data.category,
        description=data.description,
        services=incident.services if services is None else services,
        created_by=actor.handle,
        created_via=actor.via.stored(),
        created_at=utcnow(),
    )
    session.add(factor)
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.CONTRIBUTING_FACTOR,
        f"Contributing factor added: {factor.category}",
        author=actor.handle,
        body=factor.description,
        data={"factor_id": str(factor.id), "category": factor.category, "removed": False},
    )
    return FactorOut.of(factor, incident.reference)


async def get_factor(
    session: AsyncSession, incident: Incident, factor_id: uuid.UUID
) -> ContributingFactor:
    factor = await session.get(ContributingFactor, factor_id)
    if factor is None or factor.incident_id != incident.id:
        raise FactorNotFound(f"{incident.reference} has no contributing factor {factor_id}")
    return factor


async def remove_factor(
    session: AsyncSession, incident: Incident, factor_id: uuid.UUID, *, actor: Actor
) -> None:
    """Remove a factor; action items that addressed it keep existing, addressing nothing."""
    factor = await get_factor(session, incident, factor_id)
    await session.delete(factor)
    await session.flush()
    timeline_service.record(
        session,
        incident,
        EntryKind.CONTRIBUTING_FACTOR,
        f"Contributing factor removed: {factor.category}",
        author=actor.handle,
        data={"factor_id": str(factor.id), "category": factor.category, "removed": True},
    )


async def list_factors(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[ContributingFactor]:
    statement = select(ContributingFactor).where(col(ContributingFactor.incident_id) == incident.id)
    return await paginate(
        session,
        statement,
        page,
        col(ContributingFactor.created_at),
        col(ContributingFactor.id),
        descending=False,
    )


async def all_for_incident(session: AsyncSession, incident: Incident) -> list[FactorOut]:
    factors = await session.scalars(
        select(ContributingFactor)
        .where(col(ContributingFactor.incident_id) == incident.id)
        .order_by(col(ContributingFactor.created_at), col(ContributingFactor.id))
    )
    return [FactorOut.of(factor, incident.reference) for factor in factors]
