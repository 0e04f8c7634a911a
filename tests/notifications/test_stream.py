"""The event stream (Server-Sent Events): positions, resuming with Last-Event-ID, filters."""

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import text

from app.core.events import EventType, record_event
from tests.core.test_errors import assert_problem
from tests.factories import make_incident, move
from tests.notifications.conftest import running_app
from tests.notifications.receiver import eventually

STREAM = "/api/v1/events/stream"


def parse(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """SSE messages (fields by name, `data` decoded) and the comment lines."""
    messages, comments = [], []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = json.loads(value) if name == "data" else value
        if fields:
            messages.append(fields)
    return messages, comments


async def read(client: httpx.AsyncClient, last_event_id: str | None = None, **params: Any):
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = await asyncio.wait_for(client.get(STREAM, params=params, headers=headers), 15)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    messages, _ = parse(response.text)
    return messages


async def position(client: httpx.AsyncClient) -> str:
    (first,) = await read(client, once=True)
    assert set(first) == {"id", "retry"}
    return str(first["id"])


async def test_a_new_stream_starts_at_the_end_and_resumes_where_it_left_off(client):
    await make_incident(client, title="Before the stream")

    async def last_of_all() -> str | None:
        # Events show once every older transaction of the cluster has ended: wait for that.
        everything = await read(client, "0-0", once=True)
        return everything[-1]["id"] if len(everything) == 3 else None

    end = await eventually(last_of_all, message="the first events to settle")
    start = await position(client)
    assert start == end
    incident = await make_incident(client, title="During")
    await move(client, incident, "acknowledged")

    messages = await read(client, start, max_events=4)
    assert messages[0] == {"id": start, "retry": "2000"}
    events = messages[1:]
    assert [m["event"] for m in events] == [
        "timeline.event_added",
        "incident.created",
        "timeline.event_added",
        "incident.status_changed",
    ]
    assert all(m["data"]["type"] == m["event"] for m in events)
    assert {m["data"]["incident_id"] for m in events} == {incident["id"]}
    assert events[1]["data"]["data"]["incident"]["title"] == "During"
    assert len({m["id"] for m in events}) == 4

    # resume after the second event, by position or by event id: the other two follow
    for resume in (events[1]["id"], events[1]["data"]["id"]):
        again = await read(client, resume, max_events=2)
        assert [m["data"]["id"] for m in again[1:]] == [m["data"]["id"] for m in events[2:]]
    assert (await read(client, events[-1]["id"], once=True))[1:] == []


async def test_type_filter_and_event_limit(client):
    start = await position(client)
    first = await make_incident(client, title="one")
    second = await make_incident(client, title="two")
    created = await read(client, start, type="incident.created", max_events=2)
    assert [m["data"]["data"]["incident"]["id"] for m in created[1:]] == [first["id"], second["id"]]
    one = await read(client, start, max_events=1)
    assert len(one) == 2
    assert one[1]["event"] == "timeline.event_added"


async def test_a_live_stream_sends_heartbeats_then_events_as_they_happen(client, app):
    start = await position(client)
    listening = asyncio.create_task(
        client.get(STREAM, params={"max_events": 2}, headers={"Last-Event-ID": start})
    )
    await asyncio.sleep(app.state.settings.stream_heartbeat_seconds * 3)
    assert not listening.done()
    incident = await make_incident(client)
    response = await asyncio.wait_for(listening, 15)
    messages, comments = parse(response.text)
    assert [m["event"] for m in messages[1:]] == ["timeline.event_added", "incident.created"]
    assert messages[2]["data"]["data"]["incident"]["id"] == incident["id"]
    assert "heartbeat" in comments


async def test_bad_positions_and_missing_credentials_are_problems(client, anon_client):
    unknown = "00000000-0000-0000-0000-000000000000"
    for bad in ("yesterday", "12", "9999999999999999999-1", unknown):
        problem = assert_problem(
            await client.get(STREAM, params={"once": "true"}, headers={"Last-Event-ID": bad}),
            422,
        )
        assert problem["errors"][0]["field"] == "header.Last-Event-ID"
    assert_problem(await client.get(STREAM, params={"type": "nope", "once": "true"}), 422)
    assert_problem(await anon_client.get(STREAM, params={"once": "true"}), 401)


async def test_an_event_that_commits_late_is_not_skipped_on_postgresql(tmp_path):
    """A transaction that took its sequence number first but commits last.

    A plain `seq` cursor would move past its event before it is visible and lose it on
    resume; the stream holds back later events until the earlier transaction ends.
    """
    async with running_app("postgres", tmp_path, dispatcher_enabled=False) as (app, client):
        start = await position(client)
        database = app.state.database
        seq_of = text("SELECT seq FROM outbox_events WHERE data->>'n' = :n")
        async with database.sessionmaker() as slow:
            record_event(slow, EventType.DEPLOY_RECORDED, {"n": "early"})
            await slow.flush()  # takes its seq now, commits last
            async with database.sessionmaker() as fast, fast.begin():
                record_event(fast, EventType.DEPLOY_RECORDED, {"n": "late"})
                await fast.flush()
            assert await slow.scalar(seq_of, {"n": "early"}) < await slow.scalar(
                seq_of, {"n": "late"}
            )
            seen = await read(client, start, once=True)
            assert seen[1:] == []  # not `late` alone: `early` may still commit
            await slow.commit()
        events = await read(client, seen[0]["id"], max_events=2)
        assert [m["data"]["data"]["n"] for m in events[1:]] == ["early", "late"]
