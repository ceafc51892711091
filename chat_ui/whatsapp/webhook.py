"""The WhatsApp webhook: `GET` answers Meta's verification handshake, `POST` checks the signature and queues events.

The signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the app secret) is checked before the
body is parsed. The body names the phone number it is for, but only parsing would say so for certain, so the
candidate accounts come from a regex over the raw bytes; a signature that matches none of their secrets is
refused, and after parsing only changes for numbers whose account holds the verifying secret are kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_ui.whatsapp.constants import EVENTS_TASK, SIGNATURE_HEADER
from chat_ui.whatsapp.events import batches
from hub.db import models as m
from hub.http.deps import Session
from hub.http.errors import ApiError

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/webhooks/whatsapp", tags=["whatsapp"])
_PHONE_NUMBER_ID = re.compile(rb'"phone_number_id"\s*:\s*"([0-9]{1,64})"')


class Received(BaseModel):
    received: int
    """Messages and statuses queued for the worker."""


@router.get(
    "",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 403: {"description": "Wrong mode or unknown verify token."}},
)
async def verify_subscription(
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.verify_token` is a WhatsApp account's verify token."""
    if mode != "subscribe" or not verify_token or not await _known_verify_token(session, verify_token):
        raise ApiError(403, "verification_failed", "hub.mode must be subscribe and hub.verify_token a known token")
    return PlainTextResponse(challenge or "")


@router.post(
    "",
    responses={
        401: {"description": f"No {SIGNATURE_HEADER} header."},
        403: {"description": "The signature matches no WhatsApp account's app secret."},
    },
)
async def receive(request: Request, session: Session) -> Received:
    """Verify the signature on the raw body, queue the events per customer, answer at once."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise ApiError(401, "missing_signature", f"the {SIGNATURE_HEADER} header is required")
    body = await request.body()
    ids = {found.decode() for found in _PHONE_NUMBER_ID.findall(body)}
    accounts = await _accounts(session, ids)
    secret = next((s for a in accounts if (s := _secret(a)) and _signed(body, signature, s)), None)
    if secret is None:
        log.warning("whatsapp_signature_rejected", phone_number_ids=sorted(ids))
        raise ApiError(403, "invalid_signature", f"{SIGNATURE_HEADER} does not match the body")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the webhook body is not JSON ({exc})") from exc
    tenants: dict[str, uuid.UUID] = {
        a.external_id: a.tenant_id for a, active in accounts.items() if active and _secret(a) == secret
    }
    jobs = request.app.state.resources.jobs
    queued = 0
    for batch in batches(payload, tenants):
        await jobs.enqueue(EVENTS_TASK, batch.model_dump(mode="json"), priority="high")
        queued += len(batch.events)
    return Received(received=queued)


def _signed(body: bytes, signature: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _secret(account: m.ChannelAccount) -> str:
    return str(account.config.get("app_secret") or "")


async def _accounts(session: AsyncSession, phone_number_ids: set[str]) -> dict[m.ChannelAccount, bool]:
    """WhatsApp accounts for the given numbers (every account when the body names none), with tenant activity."""
    query = (
        select(m.ChannelAccount, m.Tenant.active)
        .join(m.Tenant, m.Tenant.id == m.ChannelAccount.tenant_id)
        .where(m.ChannelAccount.channel == m.Channel.WHATSAPP)
    )
    if phone_number_ids:
        query = query.where(m.ChannelAccount.external_id.in_(phone_number_ids))
    return {account: active for account, active in (await session.execute(query)).all()}


async def _known_verify_token(session: AsyncSession, token: str) -> bool:
    found = await session.execute(select(m.ChannelAccount.config).where(m.ChannelAccount.channel == m.Channel.WHATSAPP))
    matches = [
        hmac.compare_digest(str(config.get("verify_token") or "").encode(), token.encode())
        for config in found.scalars()
        if config.get("verify_token")
    ]
    return any(matches)
