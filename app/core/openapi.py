"""The OpenAPI document: problem responses and the errors every API route shares.

Routes document the errors of their own rules with `responses(...)`. The errors that
come from the HTTP stack rather than from a route are documented once, on every API
route, when its router is included (`COMMON_ERRORS`), and every operation that reads a
JSON body gets the 415 of the validation handler when the document is generated.
Every problem response is `application/problem+json` with the `Problem` schema, which
`install_openapi` adds to the document's components.

The rest makes Swagger UI a form a person can fill at 3 a.m.: a human summary on every
operation, path parameters in the order of the path, enums written inline where Swagger
UI would otherwise show a text box, the API-key scheme first in Authorize, response
headers documented, and the outbound webhooks marked as what Muster sends.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.security.base import SecurityBase

from app.core.api import API_PREFIX
from app.core.errors import (
    FieldProblem,
    InvalidInput,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    UnsupportedMediaType,
    responses,
)
from app.core.security import API_KEY_SCHEME

# 413: the body limit applies to every request (`BodyLimitMiddleware`);
# 422: every API route validates parameters or a body;
# 503: every API route opens a database session, and the database may be down.
COMMON_ERRORS = responses(PayloadTooLarge, InvalidInput, ServiceUnavailable)


# Security schemes that routes check inside one dependency of their own (see
# `checked_by_route`); FastAPI documents only those that are dependencies.
_ROUTE_CHECKED: dict[str, SecurityBase] = {}


def checked_by_route(*schemes: SecurityBase) -> dict[str, Any]:
    """`openapi_extra` for a route that checks any of `schemes` itself.

    One dependency reading `Authorization` costs less on every request than one
    dependency per scheme, and hot routes (Alertmanager's) feel it.
    """
    _ROUTE_CHECKED.update({scheme.scheme_name: scheme for scheme in schemes})
    return {"security": [{scheme.scheme_name: []} for scheme in schemes]}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    assert set(definitions) <= {FieldProblem.__name__}
    return {Problem.__name__: schema, **definitions}


def install_openapi(app: FastAPI, *, checklist_keys: list[str]) -> None:
    """Generate the document as FastAPI does, then add the problem schemas it refers to."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _problem_schemas()
            )
            _document_media_type_errors(document)
            schemes = document["components"].setdefault("securitySchemes", {})
            schemes.update(
                {
                    name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
                    for name, scheme in _ROUTE_CHECKED.items()
                }
            )
            # Authorize lists the schemes in this order: the one people need first.
            document["components"]["securitySchemes"] = {
                API_KEY_SCHEME: schemes.pop(API_KEY_SCHEME),
                **schemes,
            }
            _humanise(document, checklist_keys)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_media_type_errors(document: dict[str, Any]) -> None:
    """Every operation with a JSON request body can answer 415 (a non-JSON body)."""
    (unsupported,) = responses(UnsupportedMediaType).values()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                operation["responses"].setdefault(
                    str(UnsupportedMediaType.status),
                    {
                        "description": unsupported["description"],
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    },
                )


# Swagger UI titles each operation with its summary; FastAPI's default is the function's
# name ("Github Webhook"). A test fails when an operation is missing here.
SUMMARIES = {
    "incidents-create-incident": "Open an incident",
    "incidents-list-incidents": "Find incidents",
    "incidents-get-incident": "Read an incident",
    "incidents-update-incident": "Change an incident or move its status",
    "incidents-incident-page": "Read an incident as a web page",
    "incidents-merge-incident": "Merge into another incident",
    "incidents-relate-incident": "Relate to another incident",
    "incidents-list-relations": "Related incidents",
    "incidents-unrelate-incident": "Remove a relation",
    "updates-publish-update": "Publish an update for stakeholders",
    "updates-list-updates": "The incident's updates",
    "participants-list-participants": "Who is on the incident",
    "participants-join-incident": "Join the incident with a role",
    "participants-change-role": "Change a participant's role",
    "participants-leave-incident": "Leave the incident",
    "participants-join-page": "Open a join link (web page)",
    "participants-join-by-link": "Join as SRE through a join link (web form)",
    "timeline-list-timeline": "Read the timeline",
    "timeline-add-entry": "Add a note, action, decision or observation",
    "timeline-update-entry": "Correct a timeline entry",
    "timeline-delete-entry": "Delete a timeline entry",
    "timeline-list-entry-revisions": "Read the versions of a timeline entry",
    "checklist-get-checklist": "Read the checklist",
    "checklist-update-checklist-item": "Tick a checklist item",
    "rollback-reviews-propose-rollback": "Propose a rollback",
    "rollback-reviews-list-rollback-reviews": "List rollback reviews",
    "rollback-reviews-get-rollback-review": "Read a rollback review",
    "rollback-reviews-decide-rollback": "Approve or reject a rollback",
    "rollback-reviews-execute-rollback": "Report the rollback executed",
    "rollback-reviews-verify-rollback": "Report whether the service recovered",
    "alerts-list-incident-alerts": "Alerts attached to the incident",
    "action-items-list-incident-action-items": "The incident's action items",
    "action-items-create-action-item": "Add an action item",
    "action-items-list-action-items": "Find action items across incidents",
    "action-items-get-action-item": "Read an action item",
    "action-items-update-action-item": "Update an action item or its rollout",
    "postmortems-get-postmortem": "Read the postmortem (Markdown or JSON)",
    "postmortems-write-retrospective": "Write the retrospective (If-Match)",
    "postmortems-review-retrospective": "Send the retrospective for review",
    "postmortems-publish-retrospective": "Publish the retrospective",
    "postmortems-list-revisions": "Published revisions of the retrospective",
    "postmortems-get-recurrence": "Is this a recurrence?",
    "contributing-factors-list-categories": "Categories of contributing factors",
    "contributing-factors-list-factors": "The incident's contributing factors",
    "contributing-factors-add-factor": "Name a contributing factor",
    "contributing-factors-get-factor": "Read a contributing factor",
    "contributing-factors-remove-factor": "Remove a contributing factor",
    "reports-get-summary": "Response-time, change-failure and lead-time figures",
    "reports-get-contributing-factors": "The ledger of contributing factors, and signals",
    "deploys-record-deploy": "Record a deploy (any CI)",
    "deploys-list-deploys": "Release history",
    "deploys-get-deploy": "Read a deploy",
    "deploys-list-suspect-deploys": "Deploys suspected of the incident",
    "services-create-service": "Add or describe a service",
    "services-list-services": "The service catalog",
    "services-get-service": "Read a service",
    "services-get-service-overview": "The service page, with rollback readiness",
    "services-update-service": "Change a service",
    "incidents-list-incident-links": "The incident's runbooks, dashboards and links",
    "incidents-add-incident-link": "Add a link to the incident",
    "webhooks-receive-alertmanager": "Alertmanager webhook (sent by Alertmanager)",
    "webhooks-github-webhook": "GitHub webhook (sent by GitHub)",
    "webhooks-gitlab-webhook": "GitLab webhook (sent by GitLab)",
    "subscriptions-create-subscription": "Subscribe a URL to events",
    "subscriptions-list-subscriptions": "List subscriptions",
    "subscriptions-get-subscription": "Read a subscription",
    "subscriptions-update-subscription": "Change or re-enable a subscription",
    "subscriptions-delete-subscription": "Delete a subscription",
    "subscriptions-list-deliveries": "A subscription's deliveries and attempts",
    "deliveries-redeliver": "Send a delivery again",
    "events-stream-events": "Live event stream (use curl -N; Swagger UI waits forever)",
    "api-keys-create-api-key": "Create an API key",
    "api-keys-list-api-keys": "List API keys",
    "api-keys-revoke-api-key": "Revoke an API key",
    "audit-list-audit-events": "Who wrote what: the audit trail",
    "operations-healthz": "Is the process alive?",
    "operations-readyz": "Is the database reachable and migrated?",
    "operations-metrics": "Prometheus metrics",
}

# Webhooks the document describes are sent by Muster; Swagger UI draws them like
# operations, so each says so where it is read first.
OUTBOUND_TAG = "sent-by-muster"
_OUTBOUND_NOTE = (
    "**Sent by Muster** to your subscription's URL: this is not an endpoint to call. "
    "Your receiver gets this body with the Standard Webhooks headers.\n\n"
)

_HEADERS = {
    "Location": {
        "description": "Where it is now; an incident by reference (`/api/v1/incidents/INC-7`)",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The incident's version: send it back as `If-Match` to change it safely",
        "schema": {"type": "string"},
    },
}
# Which responses carry an ETag besides their Location (every 201 has a Location).
_ETAG_RESPONSES = {
    ("post", f"{API_PREFIX}/incidents", "201"),
    ("get", f"{API_PREFIX}/incidents/{{incident_id}}", "200"),
    ("patch", f"{API_PREFIX}/incidents/{{incident_id}}", "200"),
}


def _humanise(document: dict[str, Any], checklist_keys: list[str]) -> None:
    schemas: dict[str, Any] = document["components"]["schemas"]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            operation["summary"] = SUMMARIES.get(operation["operationId"], operation["summary"])
            parameters = operation.get("parameters", [])
            # FastAPI lists a route's own parameters before its dependencies': the
            # review before the incident it belongs to. People read paths outside in.
            parameters.sort(
                key=lambda p: path.index("{" + p["name"] + "}") if p["in"] == "path" else len(path)
            )
            for parameter in parameters:
                parameter["schema"] = _choice(parameter["schema"], schemas)
            for status, response in operation["responses"].items():
                names = ["Location"] if status == "201" else []
                names += ["ETag"] if (method, path, status) in _ETAG_RESPONSES else []
                if names:
                    response["headers"] = {name: _HEADERS[name] for name in names}
    for schema in schemas.values():
        for name, field in schema.get("properties", {}).items():
            schema["properties"][name] = _inline_enum(field, schemas)
    for operations in document.get("webhooks", {}).values():
        for operation in operations.values():
            operation["tags"] = [OUTBOUND_TAG]
            operation["summary"] = f"Muster sends {operation['summary']}"
            operation["description"] = _OUTBOUND_NOTE + operation.get("description", "")
    checklist = document["paths"][f"{API_PREFIX}/incidents/{{incident_id}}/checklist/{{item_key}}"]
    checklist["patch"]["description"] += "\n\nThe checklist's keys: " + ", ".join(
        f"`{key}`" for key in checklist_keys
    )


def _enum_of(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    """The enum schema `schema` refers to, if it is a reference to one."""
    ref = schema.get("$ref", "")
    target = schemas.get(ref.rpartition("/")[2]) if ref.startswith("#/components/") else None
    return dict(target) if target is not None and "enum" in target else None


def _inline_enum(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a reference to an enum (also as an option or as items) written inline."""
    if (enum := _enum_of(schema, schemas)) is not None:
        return {**enum, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_inline_enum(option, schemas) for option in schema["anyOf"]]}
    if schema.get("type") == "array" and "items" in schema:
        return {**schema, "items": _inline_enum(schema["items"], schemas)}
    return schema


def _choice(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema as Swagger UI can draw it: a choice for an enum.

    Swagger UI draws a text box for `anyOf`; a parameter left out is already "none",
    so the `null` option of an optional parameter says nothing a query string can send.
    """
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**options[0], **rest}
    return _inline_enum(schema, schemas)
