"""A cursor this server did not issue is a problem, never a 500; no bound value is logged."""

import base64
import json
import logging
import uuid

import pytest
from sqlalchemy import text

from app.core.errors import PROBLEM_JSON


def cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


CRAFTED = [
    cursor("2026-01-01T00:00:00", str(uuid.uuid4())),  # a naive time
    cursor("0001-01-01T00:00:00+14:00", str(uuid.uuid4())),  # before year 1 in UTC
    cursor("2026-01-01T00:00:00Z", "not-a-uuid"),
    cursor(["2026"], str(uuid.uuid4())),
    cursor(True, str(uuid.uuid4())),
]
PATHS = ["/api/v1/incidents", "/api/v1/deploys", "/api/v1/api-keys", "/api/v1/subscriptions"]


@pytest.mark.parametrize("path", PATHS)
async def test_a_crafted_cursor_is_a_422_problem(client, path, caplog):
    caplog.set_level(logging.DEBUG)
    await client.post("/api/v1/incidents", json={"title": "One", "severity": "sev3"})
    for crafted in CRAFTED:
        response = await client.get(path, params={"cursor": crafted})
        assert response.status_code == 422, (crafted, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["errors"][0]["field"] == "query.cursor"
    assert "[parameters:" not in caplog.text


async def test_timeline_cursor_integers_must_fit_the_column(client):
    incident = (
        await client.post("/api/v1/incidents", json={"title": "One", "severity": "sev3"})
    ).json()
    url = f"/api/v1/incidents/{incident['id']}/timeline"
    for seq in (2**63, -(2**63) - 1, 1.5, "7"):
        response = await client.get(url, params={"cursor": cursor("2026-01-01T00:00:00Z", seq)})
        assert response.status_code == 422, (seq, response.text)


@pytest.mark.usefixtures("client")
async def test_no_bound_value_reaches_an_error_message(app):
    secret = "mst_0123456789ab_bound-secret-value"
    database = app.state.database
    for engine in (database.engine, database.reader):
        async with engine.connect() as connection:
            with pytest.raises(Exception) as failed:  # noqa: PT011 - the driver's own error
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE x = :x"), {"x": secret}
                )
        assert secret not in str(failed.value)
        assert "hidden" in str(failed.value)
