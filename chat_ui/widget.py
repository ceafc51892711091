"""Serve the storefront chat widget (`GET /widget.js`) and open the chat API to the shops' sites.

Wiring, in the app factory: `app.include_router(widget.router)` and `widget.install(app, settings)`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from chat_ui.api import ChatCorsMiddleware, rate_limit
from hub.settings import Settings

router = APIRouter(tags=["widget"])

_SCRIPT = Path(__file__).with_name("static") / "widget.js"
_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
"""Short: the script's URL carries no version, so a fix reaches every shop within minutes (ETag revalidates)."""


@dataclass(frozen=True)
class _Script:
    body: bytes
    etag: str


@cache
def _script() -> _Script:
    body = _SCRIPT.read_bytes()
    return _Script(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@router.get(
    "/widget.js",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "The cached copy is current."}},
)
async def widget_js(request: Request) -> Response:
    """Return the chat widget script that a shop's page loads with one `<script data-key=...>` tag."""
    script = _script()
    headers = {
        "Cache-Control": _CACHE_CONTROL,
        "ETag": script.etag,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if script.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Add CORS for the chat API to `app` and set its chat rate limits (`app.state.chat_rate_limit`)."""
    app.add_middleware(ChatCorsMiddleware)
    app.state.chat_rate_limit = rate_limit(settings)
