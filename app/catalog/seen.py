"""Services named anywhere join the catalog on first sight, with only their name.

Called where a service name enters Muster (incidents, deploys). The rows are queued
(`add_row_unless_present`): whatever a request names, one `INSERT … ON CONFLICT DO
NOTHING` at its next flush writes them all, in the same transaction (on PostgreSQL,
inside the statement that writes the other queued rows).
"""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import Service
from app.core.clock import utcnow
from app.core.db import add_row_unless_present, table_of

SEEN = "seen"
_SERVICES = table_of(Service)
_KEY = ("name",)


def note_services(session: AsyncSession, names: Iterable[str]) -> None:
    """Queue an unowned catalog entry for each of `names` not in the catalog yet.

    In name order: concurrent requests naming the same new services lock them in the
    same order (PostgreSQL), so one waits for the other instead of deadlocking.
    """
    now = utcnow()
    for name in sorted(set(names)):
        add_row_unless_present(
            session,
            _SERVICES,
            {
                "name": name,
                "display_name": None,
                "owner_team": None,
                "tier": None,
                "runbook_url": None,
                "links": [],
                "depends_on": [],
                "escalation": None,
                "checklist": [],
                "source": SEEN,
                "created_at": now,
                "updated_at": now,
            },
            _KEY,
        )
