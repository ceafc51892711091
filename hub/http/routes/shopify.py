"""Shopify's webhooks for one shop: `POST /webhooks/shopify/{tenant_slug}` checks the signature, records the delivery
once, queues the body and answers at once; a worker applies it (`hub.shopify.worker`).

The signature (`X-Shopify-Hmac-Sha256`, base64 of the HMAC-SHA256 of the raw body with the shop's webhook secret) is
checked before the body is parsed: nothing unsigned reaches the JSON parser, the database or the queue. Shopify
delivers at least once and retries what is not answered 2xx within seconds, so a delivery's id
(`X-Shopify-Webhook-Id`) is recorded in the idempotency ledger in the transaction that queues it: a redelivery hits
the unique key and is answered 200 without being queued again.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from hub.db import models as m
from hub.encryption import SecretBox
from hub.http.deps import Resources, resources
from hub.http.errors import ApiError, error_responses
from hub.shopify.connect import webhook_signer
from hub.shopify.constants import HMAC_HEADER, TOPIC_HEADER, WEBHOOK_ID_HEADER, WEBHOOK_SOURCE, WEBHOOK_TASK, Topic

log = structlog.get_logger(__name__)

MAX_BODY = 2 * 1024 * 1024
"""Bytes of one webhook: a product with Shopify's maximum of 2,048 variants is about 1.5 MB."""
TOPICS = frozenset(t.value for t in Topic)
router = APIRouter(prefix="/webhooks/shopify", tags=["shopify"], max_body_size=MAX_BODY)


class Accepted(BaseModel):
    status: Literal["queued", "duplicate", "ignored"]
    """`queued` for the worker; `duplicate`: this delivery id was queued before; `ignored`: a topic HUB does not
    apply."""


@router.post(
    "/{tenant_slug}",
    status_code=202,
    responses={
        200: {"model": Accepted, "description": "A redelivery, or a topic HUB does not apply: nothing to do."},
        **error_responses(
            (400, "The body is not a JSON object, or the webhook id header is missing."),
            (401, f"No {HMAC_HEADER} header, or one that does not match the body."),
            (404, "No shop here with a Shopify store connected."),
            (422, "The shop's slug is longer than a slug can be."),
            (413, f"The body is over {MAX_BODY:,} bytes."),
        ),
    },
)
async def receive(
    request: Request,
    response: Response,
    tenant_slug: Annotated[str, Path(max_length=64)],
    res: Annotated[Resources, Depends(resources)],
) -> Accepted:
    """Verify the signature on the raw body, record the delivery once, queue it, answer at once."""
    body = await request.body()
    box = SecretBox(res.settings.secret_key.get_secret_value())
    async with res.sessions() as session:
        signer = await webhook_signer(session, box, tenant_slug)
        if signer is None:
            raise ApiError(404, "not_found", "no shop here with a Shopify store connected")
        signature = request.headers.get(HMAC_HEADER)
        if not signature:
            raise ApiError(401, "missing_signature", f"the {HMAC_HEADER} header is required")
        if not signer.signed(body, signature):
            log.warning("shopify_signature_rejected", tenant_id=str(signer.tenant_id))
            raise ApiError(401, "invalid_signature", f"{HMAC_HEADER} does not match the body")
        webhook_id = request.headers.get(WEBHOOK_ID_HEADER, "").strip()
        if not webhook_id:
            raise ApiError(400, "missing_webhook_id", f"the {WEBHOOK_ID_HEADER} header is required")
        raw_topic = request.headers.get(TOPIC_HEADER, "").strip()
        if raw_topic not in TOPICS:
            log.info("shopify_topic_ignored", tenant_id=str(signer.tenant_id), topic=raw_topic[:100])
            response.status_code = 200
            return Accepted(status="ignored")
        try:
            parsed: object = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"the webhook body is not JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "invalid_json", "the webhook body is not a JSON object")
        session.add(
            m.ProcessedWebhookEvent(
                tenant_id=signer.tenant_id, source=WEBHOOK_SOURCE, event_key=f"{signer.tenant_id}:{webhook_id[:150]}"
            )
        )
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            log.info("shopify_webhook_duplicate", tenant_id=str(signer.tenant_id), webhook_id=webhook_id[:150])
            response.status_code = 200
            return Accepted(status="duplicate")
        job = {"tenant_id": str(signer.tenant_id), "topic": raw_topic, "webhook_id": webhook_id, "body": body.decode()}
        await res.jobs.enqueue(WEBHOOK_TASK, job)
        await session.commit()  # a failed enqueue rolls the ledger row back: Shopify's retry is not a duplicate
    return Accepted(status="queued")
