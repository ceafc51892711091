"""Guard the browsers that open HUB: security headers on every response, and CORS for HUB's own origins only.

Both are set here once for the whole app (`install`), whatever route or mounted app (the console) answered:

- `Content-Security-Policy`: HUB's HTML (its pages, the console) runs only scripts from HUB's own origin and
  talks only to it; the API docs page also runs its inline start-up script; everything else (JSON, images)
  may not run or load anything. No HUB response may be framed (`frame-ancestors 'none'`, `X-Frame-Options`):
  the storefront widget is a script a shop's page loads, never a frame, and scripts are not subject to framing.
- `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` everywhere.
- With `HUB_ENV=production`, `Strict-Transport-Security` and the `Secure` flag on every cookie (the console's
  session among them): production is served over HTTPS.

A route that sets one of these headers itself keeps its own (HUB's pages have a stricter policy of their own).

CORS: browsers on HUB's own origins (`HUB_PUBLIC_ORIGINS`; a page on the request's own origin needs no CORS) may
call any route with credentials; any other origin gets no CORS header and its preflight is refused with the
error envelope. The storefront chat API answers its shops' sites itself, in front of this (`chat_ui.api`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.http.clients import origin_of
from hub.http.errors import error_body
from hub.settings import Environment, Settings

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # The console's components and the pages style elements inline; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""HTML: HUB's own scripts, styles, pictures and connections (the console's socket included) only."""
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
"""The API docs (Swagger UI, ReDoc) start from an inline script; the page shows the schema, nothing a user wrote."""
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""JSON, images and files: nothing to run or load, should a browser ever open one as a page."""
_SCRIPT_TYPES = ("javascript", "text/css")
"""Scripts and style sheets get no policy of their own: a script started as a worker would live under it."""

HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, production: bool, docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.production = production
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self._headers(headers.get("content-type", ""), path):
                    if name not in headers:
                        headers[name] = value
                if self.production:
                    message["headers"] = [_secure_cookie(pair) for pair in message["headers"]]
            await send(message)

        await self.app(scope, receive, send_secured)

    def _headers(self, content_type: str, path: str) -> Iterable[tuple[str, str]]:
        yield "X-Content-Type-Options", "nosniff"
        yield "X-Frame-Options", "DENY"
        yield "Referrer-Policy", "same-origin"
        if content_type.startswith("text/html"):
            yield "Content-Security-Policy", DOCS_POLICY if path in self.docs_paths else PAGE_POLICY
        elif not any(kind in content_type for kind in _SCRIPT_TYPES):
            yield "Content-Security-Policy", RESOURCE_POLICY
        if self.production:
            yield "Strict-Transport-Security", HSTS


def _secure_cookie(pair: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = pair
    if name.lower() != b"set-cookie":
        return pair
    attributes = {part.strip().lower() for part in value.split(b";")[1:]}
    return pair if b"secure" in attributes else (name, value + b"; Secure")


class OwnOriginsCorsMiddleware:
    """Answer CORS for HUB's own origins, with credentials; refuse every other origin's preflight (403)."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o for o in (origin_of(origin) for origin in origins) if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin_of(origin) in self.origins
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers, allowed=allowed)(scope, receive, send)
            return
        if not self.origins:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if allowed:
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Allow-Credentials"] = "true"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str, headers: Headers, *, allowed: bool) -> Response:
        if not allowed:
            return JSONResponse(
                error_body(
                    "cors_refused",
                    f"origin {origin!r} is not one of HUB's own; list it in HUB_PUBLIC_ORIGINS if HUB is served there",
                ),
                status_code=403,
                headers={"Vary": "Origin"},
            )
        cors = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        if requested := headers.get("access-control-request-headers"):
            cors["Access-Control-Allow-Headers"] = requested
        return Response(status_code=204, headers=cors)


DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
"""Where fastapi-offline serves the API docs pages (its defaults, which the app factory keeps)."""


def install(app: FastAPI, settings: Settings, *, docs_paths: Collection[str] = DOCS_PATHS) -> None:
    """Add both middlewares to `app`; call once, in the app factory."""
    app.add_middleware(OwnOriginsCorsMiddleware, origins=settings.public_origins)
    app.add_middleware(
        SecurityHeadersMiddleware, production=settings.env is Environment.PRODUCTION, docs_paths=docs_paths
    )
