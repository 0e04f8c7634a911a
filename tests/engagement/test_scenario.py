"""Done when: an Alertmanager notification opens a sev1 incident; level 0 reaches Slack at
once; nobody joins; level 1 pages PagerDuty (a `trigger` valid by PagerDuty's schema); an
SRE joins through the join link in a real browser; PagerDuty gets `acknowledge`, level 2
never fires, and resolving sends `resolve`. A real `muster serve`, a real Chromium."""

import asyncio
import json
import time
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY, ALERTMANAGER_TOKEN, FIXTURES, fresh_database
from tests.engagement.helpers import LINK_SECRET, at, pagerduty_events, policy
from tests.notifications.receiver import Receiver, eventually
from tests.processes import free_port, launch, muster_env
from tests.test_browser import browser

__all__ = ["browser"]
LEVEL_1_SECONDS, LEVEL_2_SECONDS = 1.8, 9.0


def _sev1_notification() -> dict[str, Any]:
    """Alertmanager's captured notification, its alerts labelled critical (sev1)."""
    notification = json.loads((FIXTURES / "alertmanager" / "firing-two-alerts.json").read_text())
    for labels in (notification["commonLabels"], *(a["labels"] for a in notification["alerts"])):
        labels["severity"] = "critical"
    return notification


def _actions(receiver: Receiver) -> list[str]:
    return [event["event_action"] for event in pagerduty_events(receiver)]


async def test_an_alert_escalates_until_an_sre_joins_by_the_link_in_a_browser(
    browser, backend, tmp_path
):
    receiver = Receiver().start()
    receiver.default = 202
    port = free_port()
    escalation = policy(receiver, 0, LEVEL_1_SECONDS / 60, LEVEL_2_SECONDS / 60)
    async with fresh_database(backend, tmp_path) as url:
        env = muster_env(
            url,
            admin_api_key=ADMIN_KEY,
            alertmanager_token=ALERTMANAGER_TOKEN,
            sre_escalation=escalation,
            link_secret=LINK_SECRET,
            public_url=f"http://127.0.0.1:{port}",
        )
        server = launch(env, tmp_path, port=port)
        try:
            server.wait_until_up()
            async with httpx.AsyncClient(
                base_url=server.base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ) as api:
                await _scenario(browser, api, receiver, tmp_path)
        finally:
            server.stop()
            receiver.stop()


async def _scenario(browser: Any, api: httpx.AsyncClient, receiver: Receiver, tmp_path) -> None:
    sent = await api.post(
        "/api/v1/webhooks/alertmanager",
        json=_sev1_notification(),
        headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
    )
    assert sent.status_code == 200, sent.text
    started = time.monotonic()
    (reference,) = sent.json()["opened"]
    incident = (await api.get(f"/api/v1/incidents/{reference}")).json()
    assert incident["severity"] == "sev1"

    (slack,) = await eventually(lambda: at(receiver, "/slack"), timeout=5, message="level 0")
    assert time.monotonic() - started < 1.5, "level 0 at once"
    assert reference in slack["text"]

    (trigger,) = await eventually(lambda: pagerduty_events(receiver), timeout=10, message="PD")
    late = time.monotonic() - started - LEVEL_1_SECONDS
    assert -0.1 < late < 1.5, f"level 1 {late:.2f} s after due"
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == incident["id"]
    (join_link,) = [link["href"] for link in trigger["links"] if "/join/" in link["href"]]
    (button,) = [
        element["url"]
        for block in slack["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "/join/" in element["url"]
    ]
    assert button.startswith(f"{str(api.base_url).rstrip('/')}/join/")
    assert join_link.startswith(f"{str(api.base_url).rstrip('/')}/join/")

    context = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        await page.goto(join_link)
        assert reference in await page.locator("h1").inner_text()
        assert "Nobody yet." in await page.locator("#on-it").inner_text()
        await page.screenshot(path=tmp_path / "join.png")
        await page.fill("#handle", "alice")
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        notice = await page.locator("[role=status]").inner_text()
        assert "you are on it as SRE" in notice
        assert "alice (sre)" in await page.locator("#on-it").inner_text()
        await page.fill("#handle", "Alice")  # the same person, however typed
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        assert "already on it" in await page.locator("[role=status]").inner_text()
    finally:
        await context.close()

    participants = (await api.get(f"/api/v1/incidents/{reference}/participants")).json()
    assert [(p["handle"], p["role"]) for p in participants["items"]] == [("alice", "sre")]
    engagement = (await api.get(f"/api/v1/incidents/{reference}")).json()["engagement"]
    assert engagement["escalation_level"] == 1
    assert engagement["next_escalation_at"] is None
    assert engagement["sre_engaged_at"] is not None
    await eventually(lambda: _actions(receiver) == ["trigger", "acknowledge"], message="ack")

    await asyncio.sleep(max(0.0, LEVEL_2_SECONDS + 1 - (time.monotonic() - started)))
    assert at(receiver, "/hook") == [], "level 2 never fires"

    resolved = await api.patch(f"/api/v1/incidents/{reference}", json={"status": "resolved"})
    assert resolved.status_code == 200
    await eventually(
        lambda: _actions(receiver) == ["trigger", "acknowledge", "resolve"], message="resolve"
    )
    summary = (await api.get("/api/v1/reports/summary")).json()
    assert summary["escalations"] == {"0": 1, "1": 1}
    assert summary["not_engaged_within_policy"] == 0
