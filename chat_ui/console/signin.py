"""Throttle sign-in to the console, per email and per client address, in front of Chainlit's password check.

Chainlit's login route hands the password callback an email and a password only; counting per client address,
refusing with `429`, `Retry-After` and HUB's error envelope, and telling a failure from a success need the
request and the answer, so this wraps Chainlit's app (`mount` puts it around the mounted app, inside HUB's
middleware). Each try is counted before Chainlit checks it and given back when it was right (`hub.tenancy.guessing`):
a few failures are free, then each makes the next try wait longer, and too many lock the email or the address out
for `HUB_SIGNIN_LOCKOUT_S`, a right password included. A lockout writes a `console.sign_in_locked_out` audit event
for the shops whose operator has that email, and counts in `hub_auth_lockouts_total`.
"""

from __future__ import annotations

import structlog
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import HTTPConnection, Request
from starlette.routing import get_route_path  # pyright: ignore[reportPrivateImportUsage]  # its home, starlette._utils, is private
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.audit.events import record
from hub.db import models as m
from hub.http.clients import client_of
from hub.http.deps import Resources
from hub.http.errors import error_body
from hub.metrics import AUTH_FAILURES, AUTH_LOCKOUTS, AUTH_THROTTLED
from hub.tenancy.guessing import Refused, Subject, account_id, sign_in_guesses

log = structlog.get_logger(__name__)

LOGIN = "/login"
"""Chainlit's password sign-in route, under the console's mount."""
MAX_FORM_BYTES = 16 * 1024
"""An email and a password; anything larger is no sign-in."""


class SignInThrottle:
    """Count, throttle and lock out console sign-ins; every other request passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or get_route_path(scope) != LOGIN:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            too_large = error_body("body_too_large", f"a sign-in is at most {MAX_FORM_BYTES:,} bytes")
            await JSONResponse(too_large, status_code=413)(scope, receive, send)
            return
        replay = _replay(body, receive)
        email = await _email(scope, body)
        if email is None:  # no sign-in to count: Chainlit says what is missing
            await self.app(scope, replay, send)
            return
        res: Resources = scope["app"].state.resources
        guesses = sign_in_guesses(res.redis, res.settings)
        client = client_of(HTTPConnection(scope), res.settings.trusted_proxies)
        subjects = {Subject.ACCOUNT: account_id(email), Subject.CLIENT: client}
        if (refused := await guesses.attempt(subjects)) is not None:
            AUTH_THROTTLED.labels("password").inc()
            if refused.locked_now:
                await _locked_out(res, refused.locked_now, email=email, client=client)
            await _refusal(refused)(scope, receive, send)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, replay, send_noting_status)
        finally:
            if status == 200:
                await guesses.succeeded(subjects)
            elif status == 401:
                AUTH_FAILURES.labels("password").inc()
                if locked := await guesses.failed(subjects, counted=True):
                    await _locked_out(res, locked, email=email, client=client)
            else:  # refused for its form, or our failure: no password was judged
                await guesses.released(subjects)


def _refusal(refused: Refused) -> JSONResponse:
    message = refused.message("failed sign-ins for this email or from this address")
    return JSONResponse(
        error_body("too_many_sign_ins", message),
        status_code=429,
        headers={"Retry-After": str(refused.retry_after_s)},
    )


async def _read_body(receive: Receive) -> bytes | None:
    """Return the whole body, or None past `MAX_FORM_BYTES` or when the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then whatever the client sends next (a disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def _email(scope: Scope, body: bytes) -> str | None:
    """The `username` field of the sign-in form (Chainlit's name for the email), as sign-in matches it."""
    request = Request(dict(scope), _replay(body, _no_more))
    try:
        form = await request.form()
    except (HTTPException, MultiPartException):  # a form that does not parse is Chainlit's to refuse
        return None
    try:
        username = form.get("username")
    finally:
        await form.close()
    return username.strip().lower() if isinstance(username, str) and username.strip() else None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}


async def _locked_out(res: Resources, scopes: tuple[Subject, ...], *, email: str, client: str) -> None:
    """Count a lockout and record it for the shops whose operator has that email (a platform event otherwise)."""
    for scope in scopes:
        AUTH_LOCKOUTS.labels("password", scope).inc()
    log.warning("console_sign_in_locked_out", locked=list(scopes), email=email, client=client)
    async with res.sessions() as session:
        tenants: list = []
        if Subject.ACCOUNT in scopes:
            found = await session.execute(select(m.Operator.tenant_id).where(m.Operator.email == email))
            tenants = sorted(set(found.scalars()), key=str)
        for tenant_id in tenants or [None]:
            await record(
                session,
                actor=f"client:{client}",
                action="console.sign_in_locked_out",
                tenant_id=tenant_id,
                subject=(email if Subject.ACCOUNT in scopes else client)[:200],
                data={
                    "locked": list(scopes),
                    "email": email[:200],
                    "client": client,
                    "lockout_s": res.settings.signin_lockout_s,
                },
            )
        await session.commit()
