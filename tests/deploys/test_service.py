"""`record_deploy` as other domains call it, inside their own transaction."""

from datetime import UTC, datetime

from app.deploys import service
from app.deploys.models import DeploySource, DeployStatus

STARTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)


async def test_effective_time_is_current_after_an_update_in_the_same_session(database):
    async with database.sessionmaker() as session:
        report = {
            "source": DeploySource.API,
            "external_id": "x",
            "service": "s",
            "environment": "e",
        }
        deploy, created = await service.record_deploy(
            session, **report, status=DeployStatus.STARTED, started_at=STARTED
        )
        assert created
        assert deploy.effective_at == STARTED

        # The database computes it; the ORM must fetch it back, not lazy-load it later.
        same, created = await service.record_deploy(
            session, **report, status=DeployStatus.SUCCEEDED, finished_at=FINISHED
        )
        assert (same is deploy, created) == (True, False)
        assert deploy.effective_at == FINISHED
        assert (await service.get_deploy(session, deploy.id)).status == "succeeded"
        await session.rollback()
