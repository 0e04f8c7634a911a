"""The dispatcher's own life: shutdown hands unfinished work back; a lost lease is reclaimed."""

import asyncio
import time
from datetime import timedelta

from app.engagement.policy import EscalationPolicy
from app.notifications import queue
from app.notifications.dispatcher import SHUTDOWN_GRACE_SECONDS, Dispatcher
from tests.factories import make_incident
from tests.notifications.conftest import deliveries, running_app, subscribe
from tests.notifications.receiver import eventually


async def test_shutdown_releases_an_attempt_in_flight_and_a_new_dispatcher_finishes_it(
    backend, tmp_path, receiver
):
    receiver.script = ["hang"]
    async with running_app(
        backend, tmp_path, delivery_timeout_seconds=5, delivery_lease_seconds=30
    ) as (app, client):
        subscription = await subscribe(client, receiver.url, events=["incident.created"])
        await make_incident(client)
        await eventually(lambda: receiver.received, message="the attempt to start")

        started = time.monotonic()
        await app.state.dispatcher.stop()
        assert time.monotonic() - started < SHUTDOWN_GRACE_SECONDS + 2  # not the 5 s timeout
        (released,) = await deliveries(client, subscription)
        assert released["status"] == "pending"
        assert released["attempts"] == 1
        assert "shut down" in released["last_error"]

        receiver.release()
        successor = Dispatcher(app.state.database, app.state.settings)
        successor.start()
        try:
            (delivered,) = await eventually(
                lambda: deliveries(client, subscription, status="delivered"), message="delivery"
            )
        finally:
            await successor.stop()
    assert delivered["attempts"] == 2
    assert receiver.by_id() == {delivered["id"]: 2}


async def test_a_delivery_whose_lease_ran_out_is_claimed_again(backend, tmp_path, receiver):
    nobody = queue.SreTargets.of(EscalationPolicy())
    async with running_app(backend, tmp_path, dispatcher_enabled=False) as (app, client):
        subscription = await subscribe(client, receiver.url, events=["incident.created"])
        await make_incident(client)
        database, settings = app.state.database, app.state.settings
        # A dispatcher fans out and claims the delivery for 2 s, then dies without a word.
        async with database.sessionmaker() as session, session.begin():
            await queue.fan_out(session, sre=nobody, limit=10)
        async with database.sessionmaker() as session, session.begin():
            (job,) = await queue.claim(
                session, lease=timedelta(seconds=2), limit=10, sre=nobody, max_attempts=4
            )
        (claimed,) = await deliveries(client, subscription)
        assert claimed["status"] == "delivering"

        dispatcher = Dispatcher(database, settings)
        dispatcher.start()
        try:
            await asyncio.sleep(0.3)
            assert receiver.received == []  # a live lease is respected
            (delivered,) = await eventually(
                lambda: deliveries(client, subscription, status="delivered"), message="delivery"
            )
        finally:
            await dispatcher.stop()
        # The first claimant's late answer is ignored: its claim is no longer the current one.
        async with database.sessionmaker() as session, session.begin():
            late = queue.Outcome(status_code=500, error="late", duration_ms=1)
            policy = queue.RetryPolicy(max_attempts=3, base_seconds=1, cap_seconds=1)
            assert await queue.record(session, job, late, policy=policy) is None
        assert (await deliveries(client, subscription))[0]["status"] == "delivered"
    assert delivered["attempts"] == 2
    assert [r.webhook_id for r in receiver.received] == [str(job.delivery_id)]


async def test_delivered_outcomes_are_recorded_together_each_fenced_by_its_claim(
    backend, tmp_path, receiver
):
    nobody = queue.SreTargets.of(EscalationPolicy())
    async with running_app(backend, tmp_path, dispatcher_enabled=False) as (app, client):
        subscription = await subscribe(client, receiver.url, events=["incident.created"])
        await make_incident(client, title="first")
        await make_incident(client, title="second")
        database = app.state.database
        async with database.sessionmaker() as session, session.begin():
            await queue.fan_out(session, sre=nobody, limit=10)
            jobs = await queue.claim(
                session, lease=timedelta(seconds=0), limit=10, sre=nobody, max_attempts=4
            )
        assert len(jobs) == 2
        # The second one's lease ran out and another dispatcher claimed it again.
        async with database.sessionmaker() as session, session.begin():
            (again,) = await queue.claim(
                session, lease=timedelta(minutes=5), limit=1, sre=nobody, max_attempts=4
            )
        (superseded,) = [job for job in jobs if job.delivery_id == again.delivery_id]
        (other,) = [job for job in jobs if job.delivery_id != again.delivery_id]
        assert (superseded.attempt, again.attempt) == (1, 2)
        sent = [
            (superseded, queue.Outcome(status_code=200, error=None, duration_ms=7)),
            (again, queue.Outcome(status_code=204, error=None, duration_ms=9)),
            (other, queue.Outcome(status_code=202, error=None, duration_ms=5)),
        ]
        async with database.sessionmaker() as session, session.begin():
            recorded = await queue.record_delivered(session, sent)
        assert recorded == {again.delivery_id, other.delivery_id}
        by_id = {d["id"]: d for d in await deliveries(client, subscription)}
        for job, code in ((again, 204), (other, 202)):  # the superseded 200 left no trace
            found = by_id[str(job.delivery_id)]
            assert (found["status"], found["response_code"]) == ("delivered", code)
            assert found["delivered_at"] is not None


async def test_every_claim_counts_so_a_sender_that_keeps_dying_ends_dead(
    backend, tmp_path, receiver, monkeypatch
):
    async def dies_mid_send(self: Dispatcher, client: object, job: queue.Job) -> None:
        """The claim is committed; the process dies before the outcome is recorded."""

    monkeypatch.setattr(Dispatcher, "_deliver", dies_mid_send)
    async with running_app(
        backend,
        tmp_path,
        delivery_max_attempts=3,
        delivery_timeout_seconds=0.1,
        delivery_lease_seconds=0.3,
    ) as (_, client):
        subscription = await subscribe(client, receiver.url, events=["incident.created"])
        await make_incident(client)
        (dead,) = await eventually(
            lambda: deliveries(client, subscription, status="dead"), message="dead"
        )
        await asyncio.sleep(0.8)  # leases would have run out twice more
        (still,) = await deliveries(client, subscription)
    assert dead["attempts"] == still["attempts"] == 3
    assert still["status"] == "dead"
    assert still["next_attempt_at"] is None
    assert "never finished" in still["last_error"]
    assert receiver.received == []
