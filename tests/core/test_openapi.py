"""The OpenAPI document states every error a route can answer, as a problem document."""

from typing import Any

import pytest

from app.core.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import make_settings

PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_error_response_is_a_problem_document(document):
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM_JSON: PROBLEM}, (method, path, status)
    schemas = document["components"]["schemas"]
    assert {"Problem", "FieldProblem"} <= set(schemas)
    assert "HTTPValidationError" not in schemas


def test_the_errors_of_the_http_stack_are_documented_where_they_can_occur(document):
    for method, path, operation in _operations(document):
        documented = set(operation["responses"])
        if path.startswith("/api/v1/"):
            # the body limit, parameter/body validation, the database going away
            assert {"413", "422", "503"} <= documented, (method, path)
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert "415" in documented, (method, path)


def test_security_schemes_named_by_operations_are_defined(document):
    defined = set(document["components"]["securitySchemes"])
    for method, path, operation in _operations(document):
        for requirement in operation.get("security", []):
            assert set(requirement) <= defined, (method, path, requirement)
    alertmanager = document["paths"]["/api/v1/webhooks/alertmanager"]["post"]["security"]
    assert alertmanager == [{"AlertmanagerBearer": []}, {"AlertmanagerBasic": []}]
