"""Turn every failure into a JSON error body: `{"error": {"code", "message"}}`, never an HTML page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path
from starlette.types import HTTPExceptionHandler

log = structlog.get_logger(__name__)


class FieldProblem(BaseModel):
    """One field that failed validation."""

    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, then the field's path.")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. `missing`, `string_too_long`, `extra_forbidden`.")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. `missing_key`, `invalid_request`, `unknown_sku`.")
    message: str = Field(description="What went wrong, naming the field or value at fault.")
    details: list[FieldProblem] | None = Field(default=None, description="Every field that failed validation.")


class ErrorBody(BaseModel):
    """What every error answer of HUB's API carries (4xx and 5xx alike)."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No `X-Hub-Key`, or a key that is unknown or revoked.",
    403: "The key's role may not use this endpoint.",
    404: "Not found in the key's shop.",
    409: "The resource is not in a state that allows this.",
    413: "The body is larger than this endpoint accepts.",
    422: "A parameter or the body failed validation; the message names the field.",
    429: "Too many requests (from this address with invalid keys, or past this endpoint's own limit); retry after "
    "`Retry-After` seconds where it is given.",
    503: "Switched off for this shop.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def error_responses(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """Document the error answers a route can give, each with the error envelope (`ErrorBody`) as its schema.

    A status alone gets the usual description; `(status, "description")` says what it means on this route (a later
    entry for a status replaces an earlier one).
    """
    documented: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, description = entry if isinstance(entry, tuple) else (entry, _ERROR_DESCRIPTIONS[entry])
        documented[status] = {"model": ErrorBody, "description": description}
        if status == 429:
            documented[status]["headers"] = _RETRY_AFTER
    return documented


KEY_ERRORS = (401, 429)
"""What any route behind `X-Hub-Key` can answer: no or a bad key, or an address locked out for guessing keys."""
BODY_ERRORS = (400, 413, 422)
"""What any route that reads a JSON body can answer: malformed JSON, over the size limit, failed validation."""


class ApiError(Exception):
    """An error the client caused or can act on; the message names the bad value."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
    if err.get("type") == "json_invalid":
        return f"request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
    return f"{loc}: {err.get('msg')}"


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status_code, "http_error")
    message, headers = str(exc.detail), exc.headers
    if exc.status_code == 405:
        message, headers = _not_allowed(request, exc)
    elif exc.status_code == 413:
        message = body_too_large_message(request.scope.get(MAX_BODY_SIZE_SCOPE_KEY))
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)


def body_too_large_message(limit: int | None) -> str:
    return (
        f"the request body is larger than this endpoint accepts ({limit:,} bytes)"
        if limit
        else "the request body is too large"
    )


def _not_allowed(request: Request, exc: StarletteHTTPException) -> tuple[str, dict[str, str]]:
    """Name every method the path takes. Starlette names only those of the first route that matched the path (the
    webhook's GET and POST answered `Allow: POST`, `/v1/tenant`'s GET and PATCH `Allow: GET`); the OpenAPI schema
    has them all. A path left out of the schema (HUB's pages) keeps Starlette's answer."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    matching = [template for template in paths if compile_path(template)[0].match(request.url.path)]
    # As OpenAPI matches them: a concrete path before a templated one (`/v1/products/bulk` is not the SKU `bulk`).
    concrete = [template for template in matching if "{" not in template]
    methods = {method.upper() for template in concrete or matching for method in paths[template]}
    allow = ", ".join(sorted(methods)) if methods else (exc.headers or {}).get("Allow", "")
    return f"{request.method} is not allowed here; this path takes {allow}", {"Allow": allow}


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # A body model taken by the route and one of its dependencies is validated twice: say each problem once.
    errors = list({(tuple(e.get("loc", ())), e.get("msg"), e.get("type")): e for e in exc.errors()}.values())
    is_json = any(e.get("type") == "json_invalid" for e in errors)
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return JSONResponse(
        error_body(
            "invalid_json" if is_json else "invalid_request", "; ".join(_describe(e) for e in errors), details=details
        ),
        status_code=400 if is_json else 422,
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=type(exc).__name__)
    return JSONResponse(
        error_body("internal_error", "internal error; the request id is in X-Request-ID"), status_code=500
    )


async def _client_gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
    # The client hung up before its body arrived: nothing to answer, nothing broke on our side.
    log.info("client_disconnected", path=request.url.path)
    return JSONResponse(error_body("client_disconnected", "the client closed the connection"), status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    _handle(app, ApiError, _api_error)
    _handle(app, ClientDisconnect, _client_gone)
    _handle(app, StarletteHTTPException, _http_error)
    _handle(app, RequestValidationError, _validation_error)
    _handle(app, Exception, _unexpected)


E = TypeVar("E", bound=Exception)


def _handle(app: FastAPI, exc_class: type[E], handler: Callable[[Request, E], Awaitable[JSONResponse]]) -> None:
    """Answer `exc_class` with `handler`: Starlette types every handler as taking any Exception, but calls one only
    with the class it was installed for."""
    app.add_exception_handler(exc_class, cast(HTTPExceptionHandler, handler))
