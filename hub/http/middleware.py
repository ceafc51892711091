"""Give every request an id, log one line per request with tenant and timing, count it."""

from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.http.errors import body_too_large_message, error_body
from hub.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("hub.http")

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"
"""A client's own X-Request-ID is kept when it looks like an id; anything else (spaces, quotes, control characters,
an essay) could forge log lines, so it is replaced with a fresh one. OpenAPI documents the header with this pattern."""
_VALID_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
QUIET = "quiet"
"""`request.state.quiet = True`: a route with Meta-sized traffic (the WhatsApp webhook) writes no access line for a
request that succeeds; it still gets its request id and is counted in the metrics, and a failure is logged."""


class RequestContextMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so context bound here reaches the endpoint's task.

    The app wraps its whole stack in it (`hub.http.app.install_core`), Starlette's 500 handler included: every response, a 500
    or a CORS preflight too, carries `X-Request-ID`, and a failure the 500 handler has answered ends here instead
    of reaching the server, which would close the client's keep-alive connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        answered = enveloped = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered, enveloped
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                if status == 413 and headers.get("content-type", "").startswith("text/plain"):
                    # Starlette's body limit answers plain text when the Content-Length alone is over the limit.
                    enveloped = True
                    body = _body_too_large(scope)
                    headers["Content-Type"] = "application/json"
                    headers["Content-Length"] = str(len(body))
                    await send(message)
                    await send({"type": "http.response.body", "body": body})
                    return
            elif message["type"] == "http.response.body":
                if enveloped:
                    return
                answered = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not (answered or enveloped):
                raise
            # Starlette's 500 handler has logged the failure and sent the error body, then re-raised it for the
            # server: the response is whole, and the connection can serve the client's next request.
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            tenant_id = state.get("tenant_id")
            if status >= 400 or not state.get(QUIET):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                    tenant_id=str(tenant_id) if tenant_id else None,
                )


def _body_too_large(scope: Scope) -> bytes:
    return json.dumps(error_body("body_too_large", body_too_large_message(scope.get(MAX_BODY_SIZE_SCOPE_KEY)))).encode()
