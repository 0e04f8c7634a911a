"""Swagger UI as a form a person fills at 3 a.m.: examples safe to send as they are,
choices for enums, parameters in path order, human summaries, the key scheme first."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.openapi import OUTBOUND_TAG
from app.main import create_app
from tests.conftest import make_settings

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Inbound webhook bodies are what Alertmanager, GitHub and GitLab send, shown as they
# send them (their own ids and times); people do not write them.
SENDERS_TAG = "webhooks"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()


def _operations(document: dict[str, Any], section: str = "paths") -> Iterator[tuple[str, str, Any]]:
    for path, item in document[section].items():
        for method, operation in item.items():
            yield method, path, operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rpartition("/")[2]] if ref else schema


def _schema_examples(document: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> list[Any]:
    """Every example a schema shows, through references, options, items and properties."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen.add(schema["$ref"])
        schema = _resolve(document, schema)
    found = [schema["example"]] if "example" in schema else []
    found += schema.get("examples", [])
    parts = [*schema.get("anyOf", []), *schema.get("allOf", [])]
    parts += [schema["items"]] if isinstance(schema.get("items"), dict) else []
    parts += list(schema.get("properties", {}).values())
    for part in parts:
        found += _schema_examples(document, part, seen)
    return found


def _request_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for method, path, operation in _operations(document):
        if SENDERS_TAG in operation["tags"]:
            continue
        for media in operation.get("requestBody", {}).get("content", {}).values():
            examples = [media["example"]] if "example" in media else []
            examples += [named["value"] for named in media.get("examples", {}).values()]
            examples += _schema_examples(document, media["schema"], set())
            assert examples, f"{method} {path}: a request body without an example"
            for example in examples:
                yield method, path, example


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield name, name  # keys say what a value is
            yield from _leaves(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    else:
        yield key, value


def test_request_examples_hold_no_fixed_time_and_no_id(document):
    """Sent as they are, examples must not back-date the record nor point at made-up rows."""
    checked = 0
    for method, path, example in _request_examples(document):
        checked += 1
        for key, value in _leaves(example):
            where = f"{method} {path}: {key}={value!r}"
            assert not key.endswith(("_at", "_id", "_ids")), where
            assert key not in {"due", "external_id", "commit_sha"}, where
            if isinstance(value, str):
                assert not DATE.search(value), where
                assert not UUID.search(value), where
                assert not re.search(r"\b\d{1,2}:\d{2}\b", value), where  # "done at 14:31"
    assert checked > 20


def test_patch_examples_change_one_thing_each(document):
    patches = [(p, e) for m, p, e in _request_examples(document) if m == "patch"]
    assert len(patches) >= 8
    for path, example in patches:
        assert isinstance(example, dict), path
        # A decline is one change: the move, with the reason (and note) it requires.
        declining = example.get("status") == "declined"
        changes = set(example) - ({"reason", "note"} if declining else set())
        assert len(changes) == 1, (path, example)


def test_operations_with_several_uses_have_named_examples(document):
    def named(path: str, method: str) -> dict[str, Any]:
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        return {name: example["value"] for name, example in body["examples"].items()}

    update = named("/api/v1/incidents/{incident_id}", "patch")
    assert update["acknowledge"] == {"status": "acknowledged"}
    assert update["resolve"] == {"status": "resolved"}
    assert update["raise-severity"] == {"severity": "sev1"}
    assert set(update["hand-over-command"]) == {"commander"}
    assert update["decline-false-alarm"]["status"] == "declined"
    assert update["decline-false-alarm"]["reason"] == "false_positive"
    decision = named(
        "/api/v1/incidents/{incident_id}/rollback-reviews/{review_id}/decision", "post"
    )
    assert decision["approve"]["decision"] == "approve"
    assert decision["reject"]["decision"] == "reject"


def test_examples_name_the_same_services(document):
    """A deploy recorded from its example is a suspect of an incident opened from its own."""
    services: set[str] = set()
    every = [e for _, _, e in _request_examples(document)]
    for schema in document["components"]["schemas"].values():
        every += _schema_examples(document, schema, set())
    for example in every:
        for key, value in _leaves(example):
            if key in {"service", "services"} and value not in {"service", "services"}:
                services.add(value)
    assert services == {"checkout-api", "payments-api"}
    create = document["components"]["schemas"]["IncidentCreate"]["example"]
    deploy = document["components"]["schemas"]["DeployCreate"]["example"]
    review = document["components"]["schemas"]["ReviewCreate"]["example"]
    assert deploy["service"] in create["services"]
    assert review["service"] in create["services"]


def _refers_to_enum(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    options = [schema, *schema.get("anyOf", [])]
    options += [option["items"] for option in options if isinstance(option.get("items"), dict)]
    return any("$ref" in o and "enum" in _resolve(document, o) for o in options)


def test_enums_are_written_inline_so_swagger_ui_offers_choices(document):
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            assert "anyOf" not in schema, (method, path, parameter["name"])  # a text box
            assert not _refers_to_enum(document, schema), (method, path, parameter["name"])
    for name, schema in document["components"]["schemas"].items():
        for field, definition in schema.get("properties", {}).items():
            assert not _refers_to_enum(document, definition), (name, field)
    incidents = document["paths"]["/api/v1/incidents"]["get"]["parameters"]
    status = next(p for p in incidents if p["name"] == "status")["schema"]
    assert status["items"]["enum"][:2] == ["triggered", "acknowledged"]
    severity = document["components"]["schemas"]["IncidentUpdate"]["properties"]["severity"]
    assert "sev1" in (severity.get("enum") or severity["anyOf"][0]["enum"])


def test_path_parameters_come_in_the_order_of_the_path(document):
    checked = 0
    for method, path, operation in _operations(document):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert names == re.findall(r"{([^}]+)}", path), (method, path)
        checked += len(names) > 1
    assert checked >= 8


def test_references_handles_and_latest_are_accepted_in_paths(document):
    def parameter(path: str, method: str, name: str) -> dict[str, Any]:
        found = document["paths"][path][method]["parameters"]
        return next(p for p in found if p["name"] == name)

    participant = parameter(
        "/api/v1/incidents/{incident_id}/participants/{participant_id}", "patch", "participant_id"
    )
    assert participant["schema"]["type"] == "string"
    assert "format" not in participant["schema"]
    assert "handle" in participant["description"]
    review = parameter(
        "/api/v1/incidents/{incident_id}/rollback-reviews/{review_id}/execution",
        "post",
        "review_id",
    )
    assert "format" not in review["schema"]
    assert "`latest`" in review["description"]


def test_checklist_keys_are_listed_where_an_item_is_ticked(document):
    operation = document["paths"]["/api/v1/incidents/{incident_id}/checklist/{item_key}"]["patch"]
    for key in ("errors_metrics_checked", "recent_releases_reviewed", "rollback_decided"):
        assert f"`{key}`" in operation["description"]


def test_every_operation_has_a_summary_people_would_write(document):
    for method, path, operation in _operations(document):
        tag = operation["tags"][0]
        fastapi_default = operation["operationId"].removeprefix(f"{tag}-").replace("-", " ").title()
        assert operation["summary"] != fastapi_default, (method, path, operation["summary"])
    webhooks = document["paths"]["/api/v1/webhooks/github"]["post"]
    assert webhooks["summary"] == "GitHub webhook (sent by GitHub)"


def test_authorize_lists_the_api_key_first_named_for_people(document):
    schemes = document["components"]["securitySchemes"]
    first, scheme = next(iter(schemes.items()))
    assert first == "MusterApiKey"
    assert scheme["scheme"] == "bearer"
    assert "API key" in scheme["description"]
    incident = document["paths"]["/api/v1/incidents"]["post"]["security"]
    assert incident == [{"MusterApiKey": []}]


def test_outbound_webhooks_say_muster_sends_them(document):
    sent = list(_operations(document, "webhooks"))
    assert len(sent) >= 10
    for _, event, operation in sent:
        assert operation["tags"] == [OUTBOUND_TAG], event
        assert operation["summary"] == f"Muster sends {event}"
        assert operation["description"].startswith("**Sent by Muster**"), event
    assert OUTBOUND_TAG in [tag["name"] for tag in document["tags"]]


def test_location_and_etag_are_documented(document):
    created = 0
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status == "201":
                created += 1
                assert "Location" in response["headers"], (method, path)
    assert created >= 8
    incident = document["paths"]["/api/v1/incidents/{incident_id}"]
    assert set(incident["get"]["responses"]["200"]["headers"]) == {"ETag"}
    assert set(incident["patch"]["responses"]["200"]["headers"]) == {"ETag"}
    create = document["paths"]["/api/v1/incidents"]["post"]["responses"]["201"]["headers"]
    assert set(create) == {"Location", "ETag"}
    assert "/api/v1/incidents/INC-7" in create["Location"]["description"]


async def test_an_incident_run_from_the_examples_as_they_are(client, document):
    """Sent unchanged, in the order of an incident, the examples make a coherent record."""
    schemas = document["components"]["schemas"]

    def example(path: str, method: str, name: str | None = None) -> Any:
        media = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        if name is not None:
            return media["examples"][name]["value"]
        return _resolve(document, media["schema"])["example"]

    async def send(
        method: str, path: str, body: Any = None, expected: int = 200, acting_for: str = "alice"
    ) -> Any:
        # The admin key acts for people (`act-as`): alice, and bob for the second pair of eyes.
        headers = {"Muster-Acting-For": acting_for}
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == expected, (method, path, response.text)
        return response.json()

    deploy = await send("POST", "/api/v1/deploys", example("/api/v1/deploys", "post"), 201)
    incident = await send("POST", "/api/v1/incidents", schemas["IncidentCreate"]["example"], 201)
    base = f"/api/v1/incidents/{incident['reference']}"
    item = "/api/v1/incidents/{incident_id}"
    await send("PATCH", base, example(item, "patch", "acknowledge"))
    await send("POST", f"{base}/participants", example(f"{item}/participants", "post"), 201)
    await send("POST", f"{base}/timeline", example(f"{item}/timeline", "post"), 201)
    await send(
        "PATCH", f"{base}/checklist/rollback_decided", schemas["ChecklistItemUpdate"]["example"]
    )
    suspects = await send("GET", f"{base}/suspect-deploys")
    assert [s["id"] for s in suspects["items"]] == [deploy["id"]]
    reviews = f"{item}/rollback-reviews"
    await send("POST", f"{base}/rollback-reviews", example(reviews, "post"), 201)
    latest = f"{base}/rollback-reviews/latest"
    await send(
        "POST",
        f"{latest}/decision",
        example(f"{reviews}/{{review_id}}/decision", "post", "approve"),
        acting_for="bob",
    )
    await send("POST", f"{latest}/execution", schemas["ExecutionIn"]["example"])
    await send("POST", f"{latest}/verification", schemas["VerificationIn"]["example"])
    await send("PATCH", base, example(item, "patch", "raise-severity"))
    await send("PATCH", base, example(item, "patch", "hand-over-command"))
    await send("PATCH", base, example(item, "patch", "resolve"))
    final = await send("GET", base)
    assert (final["status"], final["severity"], final["commander"]) == ("resolved", "sev1", "bob")
    assert final["started_at"] == final["created_at"]
    entries = (await send("GET", f"{base}/timeline?limit=200"))["items"]
    assert entries[0]["kind"] == "incident_created"  # nothing back-dated before it


async def test_the_decline_example_declines_an_incident_opened_from_its_example(client, document):
    create = document["components"]["schemas"]["IncidentCreate"]["example"]
    media = document["paths"]["/api/v1/incidents/{incident_id}"]["patch"]["requestBody"]
    decline = media["content"]["application/json"]["examples"]["decline-false-alarm"]["value"]
    incident = (await client.post("/api/v1/incidents", json=create)).json()
    response = await client.patch(f"/api/v1/incidents/{incident['reference']}", json=decline)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "declined"
    assert response.json()["decline_reason"] == decline["reason"]
