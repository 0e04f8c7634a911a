import httpx
import pytest

from app.core.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import make_settings


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is a problem document of `status` (and of type `code`, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    if code is not None:
        assert body["type"] == f"urn:muster:problem:{code}", body
    return body


async def test_unknown_route_is_404_problem(client):
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_405_problem(client):
    response = await client.put("/api/v1/api-keys")
    assert_problem(response, 405)
    assert response.headers["allow"]


async def test_validation_errors_name_each_field(client):
    body = assert_problem(await client.post("/api/v1/api-keys", json={"scopes": []}), 422)
    assert body["type"] == "urn:muster:problem:validation-error"
    assert {e["field"] for e in body["errors"]} == {"body.name", "body.scopes"}


async def test_malformed_json_is_a_problem(client):
    response = await client.post(
        "/api/v1/api-keys", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_body_over_the_limit_is_413_by_content_length(client):
    response = await client.post("/api/v1/api-keys", content=b"x" * (1024 * 1024 + 1))
    body = assert_problem(response, 413)
    assert body["type"] == "urn:muster:problem:payload-too-large"


async def test_streamed_body_over_the_limit_is_413(client):
    async def chunks():
        for _ in range(20):
            yield b"y" * 65536  # 1.25 MiB in all, no Content-Length

    response = await client.post(
        "/api/v1/api-keys", content=chunks(), headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 413)
    assert body["type"] == "urn:muster:problem:payload-too-large"


async def test_unexpected_error_is_500_problem_without_internals(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", auto_migrate=False))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-token-abc in a traceback")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    body = assert_problem(response, 500)
    assert "secret-token-abc" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "An unexpected error occurred; it has been logged"


@pytest.mark.parametrize("given", ["abc-123", None])
async def test_request_id_is_echoed_or_generated(client, given):
    headers = {"X-Request-ID": given} if given else {}
    response = await client.get("/healthz", headers=headers)
    request_id = response.headers["x-request-id"]
    assert request_id == given if given else len(request_id) == 32


async def test_405_allows_every_method_served_at_the_path(client):
    # GET and PATCH are separate routes; Starlette alone would name only the first.
    response = await client.put("/api/v1/incidents/INC-1")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, PATCH"


async def test_a_body_that_is_not_utf8_is_a_422_problem(client):
    response = await client.post(
        "/api/v1/incidents",
        content=b'{"title": "\xff\xfe broken"}',
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "body", "message": "not UTF-8", "type": "json_invalid"}]


async def test_a_json_syntax_error_is_located_by_line_and_column(client):
    # The missing value is at line 3, column 15; FastAPI alone says `body.32`.
    text = '{\n  "title": "x",\n  "severity": ,\n}'
    response = await client.post(
        "/api/v1/incidents", content=text, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422)
    reason = "Expecting value at line 3, column 15"
    assert body["detail"] == f"The body is not valid JSON: {reason}"
    assert body["errors"] == [{"field": "body", "message": reason, "type": "json_invalid"}]
    assert (body["line"], body["column"]) == (3, 15)
    assert (await client.get("/api/v1/incidents")).json()["items"] == []


async def test_no_body_at_all_is_a_missing_field_not_a_media_type_problem(client):
    body = assert_problem(await client.post("/api/v1/incidents"), 422)
    assert body["errors"][0]["field"] == "body"


async def test_a_body_sent_as_something_other_than_json_is_415(client):
    response = await client.post(
        "/api/v1/incidents", content=b'{"title": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert assert_problem(response, 415)["type"] == "urn:muster:problem:unsupported-media-type"
