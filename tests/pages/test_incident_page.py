"""The incident page: read with an API key, or in a browser with the cookie it sets."""

import re

from markdown_it import MarkdownIt

from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident

COOKIE = "muster_page"


def _page(incident) -> str:
    return f"/api/v1/incidents/{incident['reference']}/page"


async def _key(client, *scopes: str) -> tuple[str, str]:
    response = await client.post("/api/v1/api-keys", json={"name": "viewer", "scopes": scopes})
    assert response.status_code == 201, response.text
    return response.json()["key"], response.json()["id"]


async def test_the_page_is_linked_from_the_incident_and_needs_a_key(client, anon_client):
    incident = await make_incident(client, title="Checkout <script>alert(1)</script>")
    assert incident["links"]["page"] == _page(incident)
    listed = (await client.get("/api/v1/incidents")).json()["items"][0]
    assert listed["links"] == incident["links"]

    body = assert_problem(await anon_client.get(_page(incident)), 401)
    assert "Execute this operation once in /docs" in body["detail"]
    assert_problem(await anon_client.get("/api/v1/incidents/INC-999/page"), 401)  # tells nothing
    assert_problem(await client.get("/api/v1/incidents/INC-999/page"), 404)

    response = await client.get(_page(incident))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "<script>" not in html  # people's text is escaped
    assert "Checkout &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html
    assert "https://" not in html


async def test_a_browser_opens_the_page_with_the_cookie_its_key_set(client, anon_client, clock):
    key, key_id = await _key(client, "incidents:read")
    incident = await make_incident(client)
    keyed = await anon_client.get(_page(incident), headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 200
    cookie = keyed.cookies[COOKIE]
    assert key not in cookie
    set_cookie = keyed.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/api/v1/incidents/", "Max-Age=900"):
        assert attribute.lower() in set_cookie.lower(), set_cookie
    other = await make_incident(client)

    def opened(value: str):
        return anon_client.get(_page(other), headers={"Cookie": f"{COOKIE}={value}"})

    assert (await opened(cookie)).status_code == 200
    # It opens the page only: the API itself still wants the key.
    api = await anon_client.get(
        f"/api/v1/incidents/{other['reference']}", headers={"Cookie": f"{COOKIE}={cookie}"}
    )
    assert_problem(api, 401)
    subject, expires, signature = cookie.split(".")
    forged = f"{subject}.{int(expires) + 3600}.{signature}"
    assert_problem(await opened(forged), 401)
    assert_problem(await opened(f"{subject}.{expires}.{'0' * 64}"), 401)
    assert_problem(await opened("garbage"), 401)
    clock.advance(minutes=16)
    assert_problem(await opened(cookie), 401)
    clock.advance(minutes=-10)
    assert (await opened(cookie)).status_code == 200
    assert (await client.delete(f"/api/v1/api-keys/{key_id}")).status_code == 200
    assert_problem(await opened(cookie), 401)  # dies with its key


async def test_a_key_that_cannot_read_incidents_cannot_read_the_page(client, anon_client):
    key, _ = await _key(client, "deploys:write")
    incident = await make_incident(client)
    response = await anon_client.get(_page(incident), headers={"Authorization": f"Bearer {key}"})
    assert_problem(response, 403)
    assert COOKIE not in response.cookies


async def test_every_section_is_on_the_page(client):
    incident = await make_incident(client, services=["checkout-api"])
    await join(client, incident, "alice", "commander")
    base = f"/api/v1/incidents/{incident['reference']}"
    await client.patch(f"{base}/checklist/rollback_decided", json={"done": True, "note": "yes"})
    await client.post(f"{base}/timeline", json={"kind": "action", "summary": "Scaled up"})
    proposed = await client.post(
        f"{base}/rollback-reviews",
        json={
            "service": "checkout-api",
            "environment": "production",
            "to_version": "v1",
            "procedure": ["Roll back"],
            "requested_by": "alice",
        },
    )
    assert proposed.status_code == 201, proposed.text
    html = (await client.get(f"{base}/page")).text
    for section in (
        "incident",
        "participants",
        "checklist",
        "rollback",
        "suspects",
        "timeline",
        "postmortem",
    ):
        assert f'id="{section}"' in html, section
    assert "Next step: a second person (not alice) approves or rejects it" in html
    assert "Scaled up" in html
    assert re.search(r"✔ done</span></td><td>Rollback decided", html)
    # The postmortem is rendered, not shown as Markdown source.
    postmortem = html.split('id="postmortem"', 1)[1]
    assert f"<h1>{incident['reference']}: " in postmortem
    assert "<table>" in postmortem
    assert "| Field |" not in postmortem
    assert MarkdownIt().render("# x") == "<h1>x</h1>\n"  # the same renderer's idea of a heading
