"""The OpenAPI document: problem responses and the errors every API route shares.

Routes document the errors of their own rules with `responses(...)`; a route that
reads a JSON body adds `UnsupportedMediaType` (415). The errors that come from the
HTTP stack rather than from a route are documented once, on every API route, when
its router is included (`COMMON_ERRORS`). Every problem response is
`application/problem+json` with the `Problem` schema, which `install_openapi` adds
to the document's components.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.core.errors import (
    FieldProblem,
    InvalidInput,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    responses,
)

# 413: the body limit applies to every request (`BodyLimitMiddleware`);
# 422: every API route validates parameters or a body;
# 503: every API route opens a database session, and the database may be down.
COMMON_ERRORS = responses(PayloadTooLarge, InvalidInput, ServiceUnavailable)


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
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
