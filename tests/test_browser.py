"""Swagger UI and the incident page as a person uses them: headless Chromium against a
real `muster serve`.

Chromium is Debian's (`apt-get install chromium`; `.ci/run` installs it); Playwright only
drives it, it downloads no browser. Without Chromium these tests skip locally and fail
where the suite must be complete (MUSTER_TEST_REQUIRE_POSTGRES=1, or CI set).
"""

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, fresh_database, unavailable
from tests.identity_provider import AUDIENCE, SIGNING_KEY, IdentityProvider, claims, sign
from tests.processes import Server, launch, muster_env

CHROMIUM = os.environ.get("MUSTER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Where screenshots go when set (otherwise into the test's temporary directory).
SCREENSHOTS = os.environ.get("MUSTER_TEST_SCREENSHOTS")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("the playwright package is not installed (dev extra)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    provider.published[:] = [SIGNING_KEY]
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
async def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, identity_provider: IdentityProvider
) -> AsyncIterator[Server]:
    cwd = tmp_path_factory.mktemp(f"browser-{backend}")
    async with fresh_database(backend, cwd) as url:
        sso = {"oidc_issuer": identity_provider.issuer, "oidc_audience": AUDIENCE}
        muster = launch(muster_env(url, admin_api_key=ADMIN_KEY, **sso), cwd)
        try:
            muster.wait_until_up()
            yield muster
        finally:
            muster.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers) as http:
        yield http


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    tab = await context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    await context.close()


def _shot(tmp_path: Path, name: str) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


async def _authorize(
    page: Any, base: str, screenshot: Path | None = None, credential: str = ADMIN_KEY
) -> None:
    from playwright.async_api import expect  # installed: the browser fixture checked

    await page.goto(f"{base}/docs")
    if screenshot is not None:
        await page.screenshot(path=screenshot.with_name("docs-top.png"))
    await page.click("button.authorize")
    first = page.locator(".auth-container").first
    if screenshot is not None:
        await page.screenshot(path=screenshot)
    # The scheme people need is the first in the dialog, named for them, and in view.
    assert "MusterApiKey" in await first.locator("h4").inner_text()
    await expect(first.locator("h4")).to_be_in_viewport()
    await expect(first.locator("input")).to_be_focused()
    await first.locator("input").fill(credential)
    await first.locator("button.authorize").click()
    await page.click("button.btn-done")


async def _open(page: Any, tag: str, operation_id: str) -> Any:
    """The operation's block, expanded, in "Try it out" mode."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    if not await block.locator(".opblock-body").count():
        await block.locator(".opblock-summary").first.click()
    await block.locator("button.try-out__btn").click()
    return block


async def _execute(page: Any, block: Any, path: str, method: str) -> Any:
    async with page.expect_response(
        lambda r: r.request.method == method and r.url.split("?")[0].endswith(path)
    ) as answer:
        await block.locator("button.execute").click()
    return await answer.value


async def _incidents(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await api.get("/api/v1/incidents", params={"limit": 200})).json()["items"])


async def test_an_incident_run_from_the_examples_as_they_are(page, server, api, tmp_path):
    before = {i["id"] for i in await _incidents(api)}
    await _authorize(page, server.base, _shot(tmp_path, "docs-authorize.png"))

    create = await _open(page, "incidents", "incidents-create-incident")
    created = await _execute(page, create, "/api/v1/incidents", "POST")
    assert created.status == 201, await created.text()
    incident = await created.json()
    assert created.headers["location"] == f"/api/v1/incidents/{incident['reference']}"
    assert created.request.headers["idempotency-key"].startswith("swagger-")

    update = await _open(page, "incidents", "incidents-update-incident")
    await update.locator('tr[data-param-name="incident_id"] input').fill(incident["reference"])
    await update.locator(".examples-select select").first.select_option("acknowledge")
    changed = await _execute(page, update, f"/incidents/{incident['reference']}", "PATCH")
    assert changed.status == 200, await changed.text()
    await page.screenshot(path=_shot(tmp_path, "docs.png"))

    # Through the API: the record says what happened, and nothing else.
    (opened,) = [i for i in await _incidents(api) if i["id"] not in before]
    assert opened["id"] == incident["id"]
    assert opened["status"] == "acknowledged"
    started = datetime.fromisoformat(opened["started_at"])
    assert abs(started - datetime.fromisoformat(opened["created_at"])) < timedelta(seconds=1)
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=2)
    assert opened["commander"] is None
    people = await api.get(f"/api/v1/incidents/{incident['reference']}/participants")
    assert people.json()["items"] == []


async def test_authorize_takes_an_sso_token(page, server, api, identity_provider):
    now = int(datetime.now(UTC).timestamp())
    await _authorize(page, server.base, credential=sign(claims(identity_provider, now)))
    create = await _open(page, "incidents", "incidents-create-incident")
    created = await _execute(page, create, "/api/v1/incidents", "POST")
    assert created.status == 201, await created.text()
    reference = (await created.json())["reference"]
    events = (await api.get("/api/v1/audit-events", params={"target": reference})).json()
    assert [(e["actor"], e["via"]["credential"]) for e in events["items"]] == [("alice", "oidc")]


async def test_enums_are_choices_and_paths_are_ordered_outer_to_inner(page, server):
    await _authorize(page, server.base)
    listing = await _open(page, "incidents", "incidents-list-incidents")
    options = listing.locator('tr[data-param-name="status"] select option')
    assert "triggered" in await options.all_inner_texts()
    decision = await _open(page, "rollback-reviews", "rollback-reviews-decide-rollback")
    names = await decision.locator("tr[data-param-name]").evaluate_all(
        "rows => rows.map(row => row.dataset.paramName)"
    )
    assert names[:2] == ["incident_id", "review_id"]
    assert await decision.locator(".examples-select select option").all_inner_texts() == [
        "Approve",
        "Reject",
    ]


async def test_a_double_click_on_execute_creates_one_incident(page, server, api):
    before = len(await _incidents(api))
    await _authorize(page, server.base)
    create = await _open(page, "incidents", "incidents-create-incident")
    sent: list[Any] = []
    page.on(
        "request",
        lambda r: sent.append(r) if r.method == "POST" and r.url.endswith("/incidents") else None,
    )
    # Two clicks as fast as the page takes them: Swagger UI redraws the button under
    # the pointer after the first, so the second lands when it can.
    execute = create.locator("button.execute")
    await execute.click()
    await execute.click()
    await page.wait_for_function("() => document.querySelectorAll('.live-responses-table').length")
    await page.wait_for_timeout(1000)
    answers = [await request.response() for request in sent]
    assert len(sent) == 2, "the second click sent no request: the test proves nothing"
    assert len({request.headers["idempotency-key"] for request in sent}) == 1
    assert [answer.status for answer in answers] == [201, 201]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert len(await _incidents(api)) == before + 1

    # Another incident is another key: a changed body is a new create.
    body = create.locator("textarea.body-param__text")
    await body.fill(
        re.sub(r'"title": "[^"]*"', '"title": "Search is slow"', await body.input_value())
    )
    again = await _execute(page, create, "/api/v1/incidents", "POST")
    assert again.status == 201
    assert again.request.headers["idempotency-key"] != sent[0].headers["idempotency-key"]
    assert len(await _incidents(api)) == before + 2


async def _script_incident(api: httpx.AsyncClient) -> dict[str, Any]:
    """An incident as a night would leave it: a deploy before, people, ticks, a review."""

    async def send(method: str, path: str, body: Any) -> Any:
        response = await api.request(method, path, json=body)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    service = {"service": "payments-api", "environment": "production"}
    await send("POST", "/api/v1/deploys", service | {"version": "v3.2.0", "status": "failed"})
    incident = await send(
        "POST",
        "/api/v1/incidents",
        {"title": "Payments time out", "severity": "sev1", "services": ["payments-api"]},
    )
    base = f"/api/v1/incidents/{incident['reference']}"
    await send("PATCH", base, {"status": "acknowledged"})
    await send("POST", f"{base}/participants", {"handle": "alice", "role": "commander"})
    await send("POST", f"{base}/participants", {"handle": "sam", "role": "sre"})
    await send("PATCH", f"{base}/checklist/recent_releases_reviewed", {"done": True})
    await send(
        "POST",
        f"{base}/timeline",
        {"kind": "observation", "summary": "p99 at 9 s since v3.2.0", "author": "sam"},
    )
    await send(
        "POST",
        f"{base}/rollback-reviews",
        service
        | {
            "from_version": "v3.2.0",
            "to_version": "v3.1.4",
            "procedure": ["Roll payments-api back to v3.1.4", "Watch the p99"],
            "requested_by": "sam",
        },
    )
    await send(
        "POST",
        f"{base}/rollback-reviews/latest/decision",
        {"decision": "approve", "reviewer": "alice"},
    )
    return incident


async def test_the_incident_page_opens_in_a_browser_with_every_section(page, server, api, tmp_path):
    incident = await _script_incident(api)
    url = f"/api/v1/incidents/{incident['reference']}/page"
    # Without the key, a tab is told how to get in.
    refused = await page.goto(f"{server.base}{url}")
    assert refused.status == 401
    # As a person does: Execute the page's operation in /docs once, then open the URL.
    await _authorize(page, server.base)
    operation = await _open(page, "incidents", "incidents-incident-page")
    await operation.locator('tr[data-param-name="incident_id"] input').fill(incident["reference"])
    fetched = await _execute(page, operation, url, "GET")
    assert fetched.status == 200
    opened = await page.goto(f"{server.base}{url}")
    assert opened.status == 200
    await page.screenshot(path=_shot(tmp_path, "incident-page.png"), full_page=True)

    header = await page.locator("#incident").inner_text()
    for fact in (incident["reference"], "Payments time out", "sev1", "acknowledged", "alice"):
        assert fact in header
    participants = await page.locator("#participants").inner_text()
    assert "sam" in participants
    assert "sre" in participants
    assert "✔ done" in await page.locator("#checklist tr", has_text="Recent releases").inner_text()
    review = await page.locator("#rollback").inner_text()
    assert "v3.2.0 → v3.1.4" in review
    assert "Next step: roll back, then report the execution" in review
    assert "v3.2.0" in await page.locator("#suspects").inner_text()
    timeline = page.locator("#timeline li")
    assert await timeline.count() >= 5
    assert "p99 at 9 s since v3.2.0" in await page.locator("#timeline").inner_text()
    # The postmortem is rendered Markdown: headings and tables, not its source.
    postmortem = page.locator("#postmortem")
    assert await postmortem.locator("h2", has_text="Impact").count() == 1
    assert await postmortem.locator("table").count() >= 2
    assert "| Field |" not in await postmortem.inner_text()
    # Styled by Muster itself.
    color = await page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert color == "rgb(246, 247, 249)"
