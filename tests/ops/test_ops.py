import gc
import inspect
import json
import re
from pathlib import Path

import httpx

from app.main import GC_THRESHOLDS, create_app
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_is_503_when_the_database_is_unreachable():
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none", auto_migrate=False)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/readyz")
        assert (await http.get("/healthz")).status_code == 200
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The database is unreachable"


async def test_readyz_is_503_when_migrations_are_not_applied(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/empty.db", auto_migrate=False))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert "muster migrate" in response.json()["detail"]


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/api/v1/api-keys")
    await client.delete("/api/v1/api-keys/00000000-0000-0000-0000-000000000000")
    text = (await client.get("/metrics")).text
    assert re.search(
        r'muster_http_requests_total\{method="DELETE",route="/api/v1/api-keys/\{key_id\}",'
        r'status="404"\} [1-9]',
        text,
    )
    assert (
        'muster_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/api-keys"}'
        in text
    )


async def test_swagger_ui_is_served_without_any_external_host(client):
    html = (await client.get("/docs")).text
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "<script>" not in html  # its set-up is a script of its own (CSP: 'self')
    setup = (await client.get("/docs/muster-swagger.js")).text
    assert "SwaggerUIBundle(" in setup
    assert '"url": "/openapi.json"' in setup
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"url: *'([^']+)'", html
    )
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"external asset in /docs: {url}"
        if url != "/openapi.json":
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000
    assert "http://" not in html
    assert "https://" not in html


async def test_committed_openapi_document_matches_the_app():
    committed = json.loads((REPO / "openapi" / "openapi.json").read_text())
    generated = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    assert committed == json.loads(json.dumps(generated)), (
        "openapi/openapi.json is stale: run `make openapi` (muster export-openapi)"
    )


async def test_every_operation_has_a_summary_and_a_stable_id(client):
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method} {path} has no docstring"
            tag = operation["tags"][0]
            assert operation["operationId"].startswith(f"{tag}-"), operation["operationId"]


async def test_every_tag_is_a_described_section(client):
    """Swagger UI orders its sections by the document's tags, not by routing order."""
    document = (await client.get("/openapi.json")).json()
    sections = [tag["name"] for tag in document["tags"]]
    assert sections[0] == "incidents"
    assert all(tag["description"] for tag in document["tags"])
    used = {
        operation["tags"][0]
        for section in ("paths", "webhooks")
        for operations in document[section].values()
        for operation in operations.values()
    }
    assert used == set(sections)


async def test_the_running_app_collects_garbage_rarely(tmp_path):
    """Collections at CPython's default rate cost a tenth of the time under load."""
    default = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        application = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}"))
        async with application.router.lifespan_context(application):
            assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.set_threshold(*default)


def _sync_calls(dependant) -> list[str]:
    call = dependant.call
    found = []
    if call is not None and not any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f)
        for f in (call, type(call).__call__)
    ):
        found.append(f"{call.__module__}.{getattr(call, '__qualname__', call)}")
    for sub in dependant.dependencies:
        found += _sync_calls(sub)
    return found


def test_no_route_runs_in_a_worker_thread(app):
    """A plain `def` endpoint or dependency is run in a thread per request: slow under load."""
    routes = []
    for route in app.router.routes:
        routes += getattr(getattr(route, "original_router", None), "routes", [route])
    dependants = [route.dependant for route in routes if hasattr(route, "dependant")]
    assert len(dependants) > 50
    assert [name for d in dependants for name in _sync_calls(d)] == []
