"""The service catalog: records, the catalog file, dependencies and an incident's links."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import IncidentLink, Service
from app.catalog.schemas import (
    CatalogFile,
    ImportResult,
    Link,
    LinkKind,
    ServiceCreate,
    ServiceFields,
    ServiceUpdate,
)
from app.catalog.seen import SEEN, note_services
from app.checklists.template import TemplateItem
from app.core.clock import utcnow
from app.core.db import (
    add_row_unless_present,
    insert_ignoring_conflict,
    table_of,
    upsert_insert,
)
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.engagement.policy import Levels, readable_levels
from app.incidents.models import Incident

API, IMPORT = "api", "import"  # how a service was described (`seen`: it was not)
_SERVICES = table_of(Service)
_LINKS = table_of(IncidentLink)
_LINK_KEY = ("incident_id", "url")
_FIELDS = tuple(ServiceFields.model_fields)


class ServiceNotFound(NotFound):
    code, title = "service-not-found", "No such service"


class ServiceExists(Conflict):
    code, title = "service-exists", "Service already in the catalog"


def _stored(fields: ServiceFields | ServiceUpdate, names: Iterable[str]) -> dict[str, Any]:
    """The sent `names` of `fields` as the columns store them (JSON-ready)."""
    return fields.model_dump(mode="json", include=set(names))


async def create_service(session: AsyncSession, data: ServiceCreate) -> Service:
    """Add a service, or describe one the catalog has only seen named; 409
    `service-exists` when it was described already. In one statement:
    `INSERT … ON CONFLICT (name) DO UPDATE … WHERE source = 'seen'`.
    Services it depends on that the catalog lacks join it unowned."""
    now = utcnow()
    values = _stored(data, _FIELDS) | {"source": API, "updated_at": now}
    insert = upsert_insert(session, _SERVICES).values(name=data.name, created_at=now, **values)
    described = insert.on_conflict_do_update(
        index_elements=["name"], set_=values, where=_SERVICES.c.source == SEEN
    ).returning(_SERVICES.c.name)
    if (await session.execute(described)).first() is None:
        raise ServiceExists(
            f"{data.name!r} is in the catalog already; change it with PATCH /services/{data.name}"
        )
    note_services(session, data.depends_on)
    return await get_service(session, data.name, fresh=True)


async def get_service(
    session: AsyncSession, name: str, *, lock: bool = False, fresh: bool = False
) -> Service:
    """The service `name`; `lock`: locked for an update; `fresh`: as just written."""
    statement = select(Service).where(col(Service.name) == name)
    if lock:
        statement = statement.with_for_update()
    if lock or fresh:
        statement = statement.execution_options(populate_existing=True)
    service = await session.scalar(statement)
    if service is None:
        raise ServiceNotFound(f"No service {name!r} in the catalog")
    return service


def _apply(service: Service, values: dict[str, Any]) -> bool:
    changed = {k: v for k, v in values.items() if getattr(service, k) != v}
    for key, value in changed.items():
        setattr(service, key, value)
    if changed:
        service.updated_at = utcnow()
    return bool(changed)


async def update_service(session: AsyncSession, name: str, changes: ServiceUpdate) -> Service:
    service = await get_service(session, name, lock=True)
    if _apply(service, _stored(changes, changes.model_fields_set) | {"source": API}):
        await session.flush()
    note_services(session, changes.depends_on or ())
    return service


async def list_services(
    session: AsyncSession,
    page: PageParams,
    *,
    unowned: bool | None = None,
    owner_team: str | None = None,
) -> Rows[Service]:
    """Services in name order; `unowned` keeps those without (or with) an owner team."""
    statement = select(Service)
    if unowned is not None:
        owner = col(Service.owner_team)
        statement = statement.where(owner.is_(None) if unowned else owner.is_not(None))
    if owner_team is not None:
        statement = statement.where(col(Service.owner_team) == owner_team)
    return await paginate(session, statement, page, col(Service.name), descending=False)


async def import_catalog(session: AsyncSession, catalog: CatalogFile) -> ImportResult:
    """Make the catalog say what the file says for each service it names.

    Idempotent: importing the same file again changes nothing. A field the file leaves
    out is reset to its default; services the file does not name are left alone.
    """
    result = ImportResult(created=[], updated=[], unchanged=[])
    now = utcnow()
    for entry in catalog.services:
        values = _stored(entry, _FIELDS) | {"source": IMPORT}
        row = {"name": entry.name, **values, "created_at": now, "updated_at": now}
        if await insert_ignoring_conflict(session, Service, row, ["name"]):
            result.created.append(entry.name)
            continue
        service = await get_service(session, entry.name, lock=True)
        (result.updated if _apply(service, values) else result.unchanged).append(entry.name)
    note_services(session, (name for entry in catalog.services for name in entry.depends_on))
    await session.flush()
    return result


async def reach(session: AsyncSession, names: Sequence[str], *, depth: int) -> dict[str, list[str]]:
    """The services `names` depend on, up to `depth` steps, each with its path.

    `{"checkout": ["checkout"], "payments": ["checkout", "payments"], ...}`: the first
    path found, breadth first, so the shortest. A service is visited once: cycles end.
    One query per step.
    """
    paths = {name: [name] for name in dict.fromkeys(names)}
    frontier = list(paths)
    for _ in range(depth):
        if not frontier:
            break
        rows = await session.execute(
            select(col(Service.name), col(Service.depends_on)).where(
                col(Service.name).in_(frontier)
            )
        )
        uses: dict[str, list[str]] = dict(rows.all())
        frontier = []
        for name in (n for n in list(paths) if n in uses):
            for dependency in uses.pop(name):
                if dependency not in paths:
                    paths[dependency] = [*paths[name], dependency]
                    frontier.append(dependency)
    return paths


@dataclass(frozen=True)
class IncidentCatalog:
    """What a new incident takes from its services' catalog entries."""

    links: list[tuple[str, Link]]  # (source: `catalog:<service>`, link)
    checklist: list[TemplateItem]
    escalations: dict[str, Levels]  # the services' own escalation levels, by name


async def for_incident(session: AsyncSession, services: Sequence[str]) -> IncidentCatalog:
    """The runbooks, links and extra checklist items of `services`, in their order."""
    if not services:
        return IncidentCatalog([], [], {})
    found = (await session.scalars(select(Service).where(col(Service.name).in_(services)))).all()
    by_name = {service.name: service for service in found}
    links: list[tuple[str, Link]] = []
    checklist: list[TemplateItem] = []
    for service in (by_name[name] for name in services if name in by_name):
        source = f"catalog:{service.name}"
        if service.runbook_url:
            title = f"{service.display_name or service.name} runbook"
            runbook = Link(title=title, url=service.runbook_url, kind=LinkKind.RUNBOOK)
            links.append((source, runbook))
        links.extend((source, Link.model_validate(link)) for link in service.links)
        checklist.extend(TemplateItem.model_validate(item) for item in service.checklist)
    escalations = readable_levels((service.name, service.escalation) for service in found)
    return IncidentCatalog(links, checklist, escalations)


# Prometheus conventions: alerting rules' annotations that point at a page.
ANNOTATION_LINKS = {"runbook_url": LinkKind.RUNBOOK, "dashboard_url": LinkKind.DASHBOARD}
ALERTMANAGER = "alertmanager"


def annotation_links(annotations: dict[str, str], alert: str) -> list[tuple[str, Link]]:
    """An alert's `runbook_url` and `dashboard_url` annotations as links; a value that is
    no http(s) URL is left out (an alert is never refused for its annotations)."""
    links = []
    for annotation, kind in ANNOTATION_LINKS.items():
        if not (url := annotations.get(annotation)):
            continue
        try:
            link = Link(title=f"{alert} {kind}"[:200], url=url, kind=kind)
        except ValidationError:
            continue
        links.append((ALERTMANAGER, link))
    return links


def add_links(session: AsyncSession, incident: Incident, links: Iterable[tuple[str, Link]]) -> None:
    """Queue `links` (each with its source) onto the incident; a URL it has is skipped."""
    now = utcnow()
    for source, link in links:
        add_row_unless_present(
            session,
            _LINKS,
            {
                "incident_id": incident.id,
                "title": link.title,
                "url": link.url,
                "kind": link.kind,
                "source": source,
                "created_at": now,
            },
            _LINK_KEY,
        )


async def add_link(
    session: AsyncSession, incident: Incident, link: Link, *, source: str
) -> tuple[IncidentLink, bool]:
    """Add one link now; the incident's link with that URL, and whether it is new."""
    row = {
        "incident_id": incident.id,
        "title": link.title,
        "url": link.url,
        "kind": LinkKind(link.kind),
        "source": source,
        "created_at": utcnow(),
    }
    created = await insert_ignoring_conflict(session, IncidentLink, row, list(_LINK_KEY))
    stored = await session.scalar(
        select(IncidentLink).where(
            col(IncidentLink.incident_id) == incident.id, col(IncidentLink.url) == link.url
        )
    )
    assert stored is not None, "a link row vanished"
    return stored, created


async def list_links(
    session: AsyncSession, incident: Incident, page: PageParams
) -> Rows[IncidentLink]:
    """The incident's links in the order they were added."""
    statement = select(IncidentLink).where(col(IncidentLink.incident_id) == incident.id)
    return await paginate(session, statement, page, col(IncidentLink.id), descending=False)
