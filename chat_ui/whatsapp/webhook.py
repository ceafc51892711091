"""The WhatsApp webhook: `GET` answers Meta's verification handshake, `POST` checks the signature and queues the body.

The signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the app secret) is checked before the
body is parsed. The body names the phone number it is for, but only parsing would say so for certain, so the
candidate accounts come from a regex over the raw bytes; a signature that matches none of their secrets is
refused, and only changes for numbers whose account holds the verifying secret are handled.

A POST is Meta's hot path (every status of every message sent comes back as one), so it does no more than it
must: the accounts come from this process's `AccountDirectory` (no database query), the raw body is queued once
as it came, with the numbers it was verified for, and the worker parses it and splits it per customer. The
body is still read here, once (`read_webhook`), to refuse what is not JSON (400), to log and count the parts of
it that are malformed (dropped; the rest is handled, and Meta gets its 200 so it does not redeliver the body
for days) and to say how many events were queued.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from chat_ui.whatsapp.accounts import AccountDirectory, open_accounts
from chat_ui.whatsapp.constants import ACCOUNTS, SIGNATURE_HEADER, WEBHOOK_TASK
from chat_ui.whatsapp.events import MalformedBody, count_events, read_webhook
from hub.encryption import SecretBox
from hub.http.errors import ApiError, error_responses
from hub.http.middleware import QUIET
from hub.tenancy.changes import announcing

log = structlog.get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Keep the WhatsApp accounts in memory while the app runs; announce this process's changes to them."""
    res = app.state.resources
    async with (
        announcing(res.redis),
        open_accounts(res.sessions, res.redis, box=SecretBox(res.settings.secret_key.get_secret_value())) as accounts,
    ):
        setattr(app.state, ACCOUNTS, accounts)
        yield


PATH = "/webhooks/whatsapp"
MAX_BODY = 4 * 1024 * 1024
"""Bytes of one webhook POST, refused with 413 as they arrive (before the signature is checked, so an unsigned flood
is never buffered whole). Meta batches up to 1,000 updates in one POST; at 0.5–1.5 KB per update (its message and
status shapes, compact or indented) that is under 1.5 MB."""
router = APIRouter(prefix=PATH, tags=["whatsapp"], lifespan=lifespan)
"""The handshake (`GET`) and the accounts' lifespan; `install` adds Meta's `POST` in front of every other route."""
_PHONE_NUMBER_ID = re.compile(rb'"phone_number_id"\s*:\s*"([0-9]{1,64})"')


class Received(BaseModel):
    received: int
    """Messages and statuses queued for the worker."""


@router.get(
    "",
    responses={
        200: {"content": {"text/plain": {}}},
        **error_responses((403, "Wrong mode or unknown verify token."), 422),
    },
)
async def verify_subscription(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=256)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=256)] = None,
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.verify_token` is a WhatsApp account's verify token."""
    if mode != "subscribe" or not verify_token or not await _accounts(request).knows_verify_token(verify_token):
        raise ApiError(403, "verification_failed", "hub.mode must be subscribe and hub.verify_token a known token")
    return PlainTextResponse(challenge or "")


async def receive(request: Request) -> Response:
    """Verify the signature on the raw body, queue the body once, answer at once."""
    setattr(request.state, QUIET, True)  # hundreds a second: the metrics count them, failures are still logged
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise ApiError(401, "missing_signature", f"the {SIGNATURE_HEADER} header is required")
    body = await request.body()
    ids = {found.decode() for found in _PHONE_NUMBER_ID.findall(body)}
    signers = await _accounts(request).signers(body, signature, ids)
    if not signers:
        log.warning("whatsapp_signature_rejected", phone_number_ids=sorted(ids))
        raise ApiError(403, "invalid_signature", f"{SIGNATURE_HEADER} does not match the body")
    try:
        webhook = read_webhook(body)
    except MalformedBody as exc:
        exc.report()
        raise ApiError(400, "invalid_json", f"the webhook body is not JSON ({exc})") from exc
    webhook.report()
    tenants = {a.external_id: str(a.tenant_id) for a in signers if a.active}
    received = count_events(webhook, tenants)
    if received:
        job: dict[str, Any] = {"body": body.decode(), "tenants": tenants}  # read_webhook took it as UTF-8
        await request.app.state.resources.jobs.enqueue(WEBHOOK_TASK, job, priority="high")
    return Response(b'{"received":%d}' % received, media_type="application/json")


def install(app: FastAPI) -> None:
    """Add the webhook to `app`, its `POST` as the first route the app tries.

    Meta's POSTs are most of the app's requests, and FastAPI tries routes in order, every included router twice:
    matched first, a POST skips that walk (a third of its cost where it used to sit, behind the other routers).
    """
    app.include_router(router)
    app.router.routes.insert(
        0,
        APIRoute(
            PATH,
            receive,
            methods=["POST"],
            tags=["whatsapp"],
            response_model=Received,
            max_body_size=MAX_BODY,
            responses=error_responses(
                (400, "The body is not JSON."),
                (401, f"No {SIGNATURE_HEADER} header."),
                (403, "The signature matches no WhatsApp account's app secret."),
                (413, f"The body is over {MAX_BODY:,} bytes."),
            ),
        ),
    )


def _accounts(request: Request) -> AccountDirectory:
    accounts: AccountDirectory = getattr(request.app.state, ACCOUNTS)
    return accounts
