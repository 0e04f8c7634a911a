"""The database-specific helpers of app/core/sql.py give the same answers on both databases."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text, true
from sqlmodel import col

from app.alerts.models import AlertNotification
from app.core.aggregates import durations_by, total_seconds_by
from app.core.clock import utcnow
from app.core.db import table_of
from app.core.events import EventType, OutboxEvent, record_event
from app.core.sql import (
    Backend,
    backend_of,
    in_bound,
    insert_once_serialised,
    json_flag,
    json_list_contains,
    json_list_elements,
    json_list_has_any,
    json_object_contains,
    json_object_has_keys,
    next_in_counter,
    quarter_of,
    search_order,
    settled,
    unindexed,
    update_each,
)
from app.core.timers import Timer, TimerStatus
from app.incidents.models import Counter, Incident
from app.timeline.models import TimelineEntry
from tests.factories import make_incident
from tests.notifications.receiver import eventually


async def test_the_backend_is_the_engines(database, backend):
    async with database.sessionmaker() as session:
        assert (
            backend_of(session)
            == {"sqlite": Backend.SQLITE, "postgres": Backend.POSTGRESQL}[backend]
        )


async def _titles(session, condition):
    rows = await session.scalars(select(col(Incident.title)).where(condition))
    return sorted(rows.all())


async def test_list_membership_and_json_lists(client, database):
    await make_incident(client, title="a", services=["checkout", "cart"])
    await make_incident(client, title="b", services=["search"])
    await make_incident(client, title="c", services=[])
    async with database.sessionmaker() as session:
        backend = backend_of(session)
        status = in_bound(col(Incident.title), "titles", backend)
        assert await session.scalar(select(col(Incident.title)).where(status), {"titles": ["b"]})
        rows = await session.scalars(
            select(col(Incident.title)).where(status), {"titles": ["a", "c", "x"]}
        )
        assert sorted(rows.all()) == ["a", "c"]
        services = col(Incident.services)
        any_of = json_list_has_any(services, "wanted", backend)
        rows = await session.scalars(
            select(col(Incident.title)).where(any_of), {"wanted": ["cart", "search"]}
        )
        assert sorted(rows.all()) == ["a", "b"]
        assert await _titles(session, json_list_contains(services, "checkout", backend)) == ["a"]
        assert await _titles(session, json_list_contains(services, "check", backend)) == []
        elements = json_list_elements(services, backend)
        rows = await session.execute(
            select(col(Incident.title), elements.c.value)
            .select_from(Incident)
            .join(elements, text("true"))
        )
        assert sorted(tuple(row) for row in rows) == [
            ("a", "cart"),
            ("a", "checkout"),
            ("b", "search"),
        ]


async def test_json_objects_hold_pairs_and_keys(client, database):
    await make_incident(client, title="a", labels={"team": "pay", "region": "eu", "x": ""})
    await make_incident(client, title="b", labels={"team": "pay", "region": "us"})
    await make_incident(client, title="c", labels={})
    async with database.sessionmaker() as session:
        backend = backend_of(session)
        labels = col(Incident.labels)
        pairs = select(col(Incident.title)).where(json_object_contains(labels, "pairs", backend))
        keys = select(col(Incident.title)).where(json_object_has_keys(labels, "keys", backend))

        async def titles(statement, **binds):
            return sorted((await session.scalars(statement, binds)).all())

        assert await titles(pairs, pairs={"team": "pay"}) == ["a", "b"]
        assert await titles(pairs, pairs={"team": "pay", "region": "eu"}) == ["a"]
        assert await titles(pairs, pairs={"x": ""}) == ["a"]
        assert await titles(pairs, pairs={"team": "pa"}) == []
        assert await titles(pairs, pairs={"eu": "region"}) == []
        assert await titles(keys, keys=["region"]) == ["a", "b"]
        assert await titles(keys, keys=["region", "x"]) == ["a"]
        assert await titles(keys, keys=["pay"]) == []


async def test_orders_no_index_serves_keep_the_order(client, database):
    for title in ("first", "second", "third"):
        await make_incident(client, title=title)
    async with database.sessionmaker() as session:
        backend = backend_of(session)
        newest = await session.scalars(
            select(col(Incident.title)).order_by(unindexed(col(Incident.number)).desc())
        )
        assert newest.all() == ["third", "second", "first"]
        order = search_order(backend, col(Incident.created_at), col(Incident.id))
        if backend == Backend.SQLITE:
            assert order == (), "no trigram index: the index walk is the plan"
        else:
            rows = await session.scalars(select(col(Incident.title)).order_by(*order))
            assert rows.all() == ["first", "second", "third"]


async def test_counters_number_on_sqlite_and_leave_it_to_the_sequence_on_postgresql(database):
    async with database.sessionmaker() as session, session.begin():
        taken = [await next_in_counter(session, Counter, "test") for _ in range(3)]
        if backend_of(session) == Backend.POSTGRESQL:
            assert taken == [None, None, None]
        else:
            assert taken == [1, 2, 3]


async def test_an_insert_once_serialised_inserts_once(database):
    row = {
        "id": uuid.uuid4(),
        "digest": "d" * 64,
        "group_key": "{}:{}",
        "status": "firing",
        "alert_count": 1,
        "received_at": utcnow(),
    }
    async with database.sessionmaker() as session, session.begin():
        assert await insert_once_serialised(
            session, AlertNotification, row, conflict_on=["digest"], lock=42
        )
    async with database.sessionmaker() as session, session.begin():
        again = row | {"id": uuid.uuid4()}
        assert not await insert_once_serialised(
            session, AlertNotification, again, conflict_on=["digest"], lock=42
        )
        count = await session.scalars(select(col(AlertNotification.id)))
        assert count.all() == [row["id"]]


async def test_rows_are_settled_once_no_earlier_transaction_is_running(database, backend):
    async def settled_events():
        async with database.sessionmaker() as session:
            where = settled(col(OutboxEvent.txid), backend_of(session))
            return (await session.scalars(select(col(OutboxEvent.data)).where(*where))).all()

    async def record(n):
        async with database.sessionmaker() as session, session.begin():
            record_event(session, EventType.DEPLOY_RECORDED, {"n": n})

    if backend == "sqlite":  # one writer: every committed row is settled
        await record(1)
        assert await settled_events() == [{"n": 1}]
        return
    async with database.engine.connect() as older:
        await older.execute(text("SELECT pg_current_xact_id()"))  # a running transaction
        await record(1)
        assert await settled_events() == [], "an older transaction may still commit"
        await older.rollback()
    # The app's own loops (dispatcher, timers) may be mid-transaction: settled soon after.
    assert await eventually(settled_events, timeout=5, message="settled") == [{"n": 1}]


async def test_the_quarter_of_a_timestamp_is_its_utc_quarter(client, database, clock):
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    starts = [
        "2026-01-01T00:00:00Z",
        "2026-03-31T23:59:59Z",
        "2026-04-01T01:30:00+02:00",  # still 2026-03-31 in UTC
        "2026-07-15T12:00:00Z",
        "2026-12-31T23:00:00Z",
    ]
    for started in starts:
        await make_incident(client, title=started, started_at=started)
    async with database.sessionmaker() as session:
        quarter = quarter_of(col(Incident.started_at), backend_of(session))
        rows = await session.execute(
            select(col(Incident.title), quarter).order_by(col(Incident.started_at))
        )
        assert [q for _, q in rows.all()] == [
            "2026-Q1",
            "2026-Q1",
            "2026-Q1",
            "2026-Q3",
            "2026-Q4",
        ]


async def test_a_json_flag_is_only_json_true(client, database):
    incident = await make_incident(client)
    for n, value in enumerate([True, False, "true", 1, None]):
        await client.post(
            f"/api/v1/incidents/{incident['id']}/timeline",
            json={"summary": f"entry {n}", "data": {"cause": value}},
        )
    await client.post(f"/api/v1/incidents/{incident['id']}/timeline", json={"summary": "none"})
    async with database.sessionmaker() as session:
        flag = json_flag(col(TimelineEntry.data), "cause", backend_of(session))
        found = await session.scalars(select(col(TimelineEntry.summary)).where(flag))
        assert found.all() == ["entry 0"]


async def test_durations_and_sums_by_key_agree_on_both_databases(client, database, clock):
    for n, (services, minutes) in enumerate([(["a"], 10), (["a"], 30), (["b"], 5), (["b"], None)]):
        incident = await make_incident(client, title=f"i{n}", services=services)
        if minutes is not None:
            clock.advance(minutes=minutes)
            await client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": "mitigated"})
    async with database.sessionmaker() as session:
        triples = select(
            col(Incident.title).op("||")("").label("key"),  # a text key per incident
            col(Incident.started_at),
            col(Incident.mitigated_at),
        )
        by_title = await durations_by(session, triples)
        assert sorted(by_title) == ["i0", "i1", "i2"]  # i3 has no end
        sums = await total_seconds_by(session, triples)
        assert sorted(sums.items()) == [("i0", 600.0), ("i1", 1800.0), ("i2", 300.0)]
        services = json_list_elements(col(Incident.services), backend_of(session))
        per_service = select(services.c.value, col(Incident.started_at), col(Incident.mitigated_at))
        per_service = per_service.select_from(Incident).join(services, true())
        figures = await durations_by(session, per_service)
        assert figures["a"].count == 2
        assert figures["a"].percentiles == {50: 600.0, 90: 1800.0}
        assert (await total_seconds_by(session, per_service)) == {"a": 2400.0, "b": 300.0}


async def test_update_each_sets_each_rows_own_values_where_it_still_matches(database):
    fired_at = datetime(2026, 12, 4, 12, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(3)]
    async with database.sessionmaker() as session, session.begin():
        for n, timer_id in enumerate(ids):
            session.add(
                Timer(id=timer_id, kind="k", subject_id=uuid.uuid4(), key=str(n), due_at=fired_at)
            )
    rows = [
        {"id": ids[0], "attempts": 0, "last_error": "first"},
        {"id": ids[1], "attempts": 1, "last_error": "stale"},  # its attempts moved on: no match
        {"id": ids[2], "attempts": 0, "last_error": "third"},
    ]
    async with database.sessionmaker() as session, session.begin():
        updated = await update_each(
            session,
            table_of(Timer),
            rows,
            keys=("id", "attempts"),
            where={"status": TimerStatus.PENDING.value},
            values={"status": TimerStatus.FIRED.value, "fired_at": fired_at},
        )
    assert updated == {ids[0], ids[2]}
    async with database.sessionmaker() as session:
        found = {t.id: t for t in (await session.scalars(select(Timer))).all()}
    assert [(found[i].status, found[i].last_error) for i in ids] == [
        ("fired", "first"),
        ("pending", None),
        ("fired", "third"),
    ]
    assert found[ids[0]].fired_at == fired_at
