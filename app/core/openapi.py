"""The OpenAPI document: problem responses and the errors every API route shares.

Routes document the errors of their own rules with `responses(...)`. The errors that
come from the HTTP stack rather than from a route are documented once, on every API
route, when its router is included (`COMMON_ERRORS`), and every operation that reads a
JSON body gets the 415 of the validation handler when the document is generated.
Every problem response is `application/problem+json` with the `Problem` schema, which
`install_openapi` adds to the document's components.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.security.base import SecurityBase

from app.core.errors import (
    FieldProblem,
    InvalidInput,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    UnsupportedMediaType,
    responses,
)

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


def install_openapi(app: FastAPI) -> None:
    """Generate the document as FastAPI does, then add the problem schemas it refers to."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _problem_schemas()
            )
            _document_media_type_errors(document)
            document["components"].setdefault("securitySchemes", {}).update(
                {
                    name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
                    for name, scheme in _ROUTE_CHECKED.items()
                }
            )
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
