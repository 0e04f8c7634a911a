"""The one-tap join link: from an SRE notification to "I'm on it", through HTTP; refused
clearly when the link is bad, expired, or the form comes from elsewhere."""

import json
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from app.core.clock import utcnow
from app.engagement import links
from tests.engagement.helpers import LINK_SECRET, at
from tests.factories import make_incident, timeline
from tests.notifications.conftest import running_app
from tests.notifications.receiver import eventually

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _policy(receiver) -> str:
    levels = [
        {"after_minutes": 0, "targets": [{"url": f"{receiver.url}/hook"}]},
        {"after_minutes": 0.05, "targets": [{"url": f"{receiver.url}/later"}]},
    ]
    return json.dumps({"levels": levels})


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


async def test_a_join_link_from_a_notification_joins_an_sre_and_stops_escalation(
    backend, tmp_path, receiver
):
    async with running_app(
        backend,
        tmp_path,
        sre_escalation=_policy(receiver),
        link_secret=SecretStr(LINK_SECRET),
        public_url="http://muster.test",
    ) as (app, client):
        incident = await make_incident(client, severity="sev1", title="Payments <down>")
        (sent,) = await eventually(lambda: at(receiver, "/hook"), message="level 0")
        link = sent["links"]["join"]
        assert link.startswith("http://muster.test/join/")
        path = urlsplit(link).path

        page = await client.get(path, headers=HTML)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "INC-1: Payments &lt;down&gt;" in page.text
        assert "I&#x27;m on it (SRE)" in page.text or "I'm on it (SRE)" in page.text
        assert "Nobody yet." in page.text
        csrf = _csrf(page.text)
        assert page.cookies["muster_join"]

        # Without the page's cookie (a form posted from another site): refused.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://muster.test"
        ) as elsewhere:
            elsewhere.cookies.set("muster_join", "other", domain="muster.test", path="/join/")
            forged = await elsewhere.post(
                path, data={"handle": "mallory", "csrf": csrf}, headers=HTML
            )
            assert forged.status_code == 403
            assert "must be sent from its own page" in forged.text
            elsewhere.cookies.clear()
            bare = await elsewhere.post(path, data={"handle": "mallory", "csrf": csrf})
            assert bare.status_code == 403
            assert bare.json()["type"] == "urn:muster:problem:cross-site-refused"
        cross_site = await client.post(
            path, data={"handle": "mallory", "csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross_site.status_code == 403

        blank = await client.post(path, data={"handle": "  ", "csrf": csrf}, headers=HTML)
        assert blank.status_code == 422
        assert "Type your handle" in blank.text

        joined = await client.post(
            path, data={"handle": "Alice", "csrf": _csrf(blank.text)}, headers=HTML
        )
        assert joined.status_code == 200, joined.text
        assert "you are on it as SRE. Escalation stopped." in joined.text
        assert "alice (sre)" in joined.text
        again = await client.post(
            path, data={"handle": "alice", "csrf": _csrf(joined.text)}, headers=HTML
        )
        assert "already on it" in again.text

        participants = await client.get(f"/api/v1/incidents/{incident['id']}/participants")
        (alice,) = participants.json()["items"]
        assert (alice["handle"], alice["role"], alice["added_by"]) == ("alice", "sre", "alice")
        assert alice["via"]["credential"] == "join-link"
        got = await client.get(f"/api/v1/incidents/{incident['id']}")
        engagement = got.json()["engagement"]
        assert engagement["sre_engaged_at"] is not None
        assert engagement["next_escalation_at"] is None
        entries = await timeline(client, incident)
        (joined_entry,) = [e for e in entries if e["kind"] == "participant_joined"]
        assert joined_entry["author"] == "alice"
        checklist = await client.get(f"/api/v1/incidents/{incident['id']}/checklist")
        (sre_item,) = [i for i in checklist.json()["items"] if i["key"] == "sre_joined"]
        assert sre_item["done"] is True


async def test_bad_and_expired_links_are_clear_pages_and_problems(backend, tmp_path):
    async with running_app(backend, tmp_path, link_secret=SecretStr(LINK_SECRET)) as (_, client):
        incident = await make_incident(client)
        secret = LINK_SECRET.encode()
        expired = links.make_token(
            secret, uuid.UUID(incident["id"]), utcnow() - timedelta(minutes=1)
        )
        good = links.make_token(secret, uuid.UUID(incident["id"]), utcnow() + timedelta(hours=1))
        forged = links.make_token(b"another secret", uuid.UUID(incident["id"]), utcnow())
        gone = links.make_token(secret, uuid.uuid4(), utcnow() + timedelta(hours=1))
        cases = {
            expired: (410, "join-link-expired"),
            forged: (404, "join-link-invalid"),
            gone: (404, "join-link-invalid"),
            "nonsense": (404, "join-link-invalid"),
            good[:-3] + "AAA": (404, "join-link-invalid"),
            "%00%ff.€": (404, "join-link-invalid"),
        }
        for token, (status, code) in cases.items():
            page = await client.get(f"/join/{token}", headers=HTML)
            assert page.status_code == status, token
            assert page.headers["content-type"].startswith("text/html")
            assert "join link" in page.text.lower()
            problem = await client.post(f"/join/{token}", data={"handle": "a", "csrf": "b"})
            assert problem.status_code == status, token
            assert problem.json()["type"] == f"urn:muster:problem:{code}"
        assert (await client.get(f"/join/{good}", headers=HTML)).status_code == 200


async def test_without_a_link_secret_there_are_no_links(backend, tmp_path, receiver):
    async with running_app(backend, tmp_path, sre_escalation=_policy(receiver)) as (_, client):
        await make_incident(client)
        (sent,) = await eventually(lambda: at(receiver, "/hook"), message="level 0")
        assert "links" not in sent
        page = await client.get("/join/anything", headers=HTML)
    assert page.status_code == 404
    assert "MUSTER_LINK_SECRET" in page.text
