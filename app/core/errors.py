"""RFC 9457 problem details: one error base class, one renderer, documented responses."""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("muster.errors")


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted location of the offending input, e.g. `body.title`")
    message: str
    type: str = Field(description="Machine-readable error code")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": "urn:muster:problem:not-found",
                "title": "Not found",
                "status": 404,
                "detail": "No incident INC-42",
                "instance": "/api/v1/incidents/INC-42",
            }
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class AppError(Exception):
    """Base of every error Muster raises on purpose; rendered as a problem document."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    @classmethod
    def type_uri(cls) -> str:
        return f"urn:muster:problem:{cls.code}"


class BadRequest(AppError):
    pass


class NotFound(AppError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Missing scope"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition-required", "Precondition required"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidInput(AppError):
    status, code, title = 422, "validation-error", "Invalid request"

    @classmethod
    def from_errors(cls, errors: Sequence[Any], *, prefix: tuple[str, ...] = ()) -> "InvalidInput":
        """From pydantic's `errors()`, each field located under `prefix` (e.g. `body`)."""
        problems = [
            FieldProblem(
                field=_location((*prefix, *err["loc"])), message=err["msg"], type=err["type"]
            )
            for err in errors
        ]
        fields = ", ".join(sorted({p.field for p in problems}))
        return cls(f"Invalid input: {fields}" if fields else "Invalid input", errors=problems)


class ServiceUnavailable(AppError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


_BY_STATUS: dict[int, type[AppError]] = {413: PayloadTooLarge}


def problem_response(
    status: int,
    title: str,
    *,
    type_uri: str = "about:blank",
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type_uri, title=title, status=status, detail=detail, instance=instance, errors=errors
    ).model_dump(exclude_none=True)
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


PROBLEM_REF = "#/components/schemas/Problem"


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route from the error classes it can raise.

    Each is `application/problem+json` with the `Problem` schema (which
    `app.core.openapi` adds to the document's components); errors that share a
    status share an entry whose description names each.
    """
    documented: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = documented.setdefault(
            error.status,
            {
                "description": error.title,
                "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
            },
        )
        if error.title not in entry["description"]:
            entry["description"] += f"; {error.title}"
    return documented


def _location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    return ".".join(str(part) for part in loc)


# Why FastAPI could not read a JSON body, besides a JSON syntax error (which it reports).
_UNREADABLE_BODY = {
    UnicodeDecodeError: "not UTF-8",
    RecursionError: "nested too deeply",
}


def _unreadable_body(cause: BaseException | None) -> InvalidInput | None:
    """FastAPI answers a body it cannot decode with an untyped 400: it is malformed JSON."""
    reason = next((why for kind, why in _UNREADABLE_BODY.items() if isinstance(cause, kind)), None)
    if reason is None:
        return None
    return InvalidInput(
        f"The body is not valid JSON: {reason}",
        errors=[FieldProblem(field="body", message=reason, type="json_invalid")],
    )


def _json_syntax_error(exc: RequestValidationError) -> InvalidInput | None:
    """FastAPI locates a JSON syntax error by character offset (`body.22`); people need
    the line and column their editor shows."""
    (error, *others) = exc.errors() or [{}]
    document = exc.body
    if others or error.get("type") != "json_invalid" or not isinstance(document, str):
        return None
    offset = error["loc"][-1]
    if not isinstance(offset, int):
        return None
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    reason = f"{error.get('ctx', {}).get('error', 'invalid JSON')} at line {line}, column {column}"
    return InvalidInput(
        f"The body is not valid JSON: {reason}",
        errors=[FieldProblem(field="body", message=reason, type="json_invalid")],
        extra={"line": line, "column": column},
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        route_methods = route.methods
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


# PostgreSQL cannot store, nor compare with, text holding NUL (U+0000), whether in a
# text column or in JSON; SQLite can. The statement fails and its transaction rolls
# back, so nothing changed: the request was bad input, not a server fault.
_UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
_UNSTORABLE_TEXT_DETAIL = (
    "The request holds a NUL character (U+0000), which the database cannot store or "
    "search for; remove it"
)


def _unstorable_text(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT_SQLSTATES


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return problem_response(
            exc.status,
            exc.title,
            type_uri=exc.type_uri(),
            detail=exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        content_type = request.headers.get("content-type", "")
        body_errors = any(err["loc"][:1] == ("body",) for err in exc.errors())
        # A body was sent, but not as JSON (no body at all is a missing field: 422).
        if body_errors and exc.body is not None and "json" not in content_type.lower():
            return problem_response(
                415,
                UnsupportedMediaType.title,
                type_uri=UnsupportedMediaType.type_uri(),
                detail="Send the body as JSON with Content-Type: application/json"
                + (f", not {content_type}" if content_type else ""),
                instance=request.url.path,
            )
        syntax = _json_syntax_error(exc)
        return await app_error(request, syntax or InvalidInput.from_errors(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        unreadable = _unreadable_body(exc.__cause__)
        if unreadable is not None:  # malformed JSON, answered like any other (422)
            return await app_error(request, unreadable)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        known = _BY_STATUS.get(exc.status_code)
        return problem_response(
            exc.status_code,
            known.title if known else phrase,
            type_uri=known.type_uri() if known else "about:blank",
            detail=detail,
            instance=request.url.path,
            headers=headers,
        )

    async def integrity_error(request: Request, exc: Exception) -> JSONResponse:
        log.info("integrity error on %s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            409,
            Conflict.title,
            type_uri=Conflict.type_uri(),
            detail="The change conflicts with the current state; reload and retry",
            instance=request.url.path,
        )

    async def driver_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if _unstorable_text(exc):
            return await app_error(request, InvalidInput(_UNSTORABLE_TEXT_DETAIL))
        # A driver error is an outage when the connection broke, when the server says
        # so (OperationalError), or when no statement was running: the connection
        # itself failed, e.g. closed by the server in the middle of the handshake.
        if exc.connection_invalidated or isinstance(exc, OperationalError) or exc.statement is None:
            return await database_unavailable(request, exc)
        return await unexpected_error(request, exc)

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            503,
            ServiceUnavailable.title,
            type_uri=ServiceUnavailable.type_uri(),
            detail="The database is unavailable; retry later",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(
            500,
            "Internal server error",
            detail="An unexpected error occurred; it has been logged",
            instance=request.url.path,
        )

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(DBAPIError, driver_error)
    app.add_exception_handler(PoolTimeoutError, database_unavailable)
    app.add_exception_handler(ConnectionError, database_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
