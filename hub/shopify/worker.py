"""Apply a verified Shopify webhook on the job queue: a product is upserted (`upsert_products`), archived, or its
variant's stock set; an order is upserted (`import_orders`). Every change is idempotent, so a job the queue runs
twice (a worker died mid-job) writes the same rows."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal, cast

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.catalog.importer import upsert_products
from hub.catalog.live import archive_product, handle_for, product_by_external_id, set_stock, variant_by_external_id
from hub.catalog.vectors import request_embedding
from hub.db import models as m
from hub.jobs import JobQueue
from hub.people.orders import import_orders
from hub.shopify.constants import INVENTORY_ITEM_ID, PRODUCT_ID, WEBHOOK_TASK, Topic
from hub.shopify.payloads import PayloadError, inventory_level, order_record, product_record
from hub.tenancy.repository import TenantData

log = structlog.get_logger(__name__)

WEBHOOK_TIMEOUT_S = 60.0

Applied = Literal["created", "updated", "unchanged", "archived", "stock_set", "skipped"]


class WebhookJob(BaseModel):
    """What the webhook queues: the shop, the topic and the raw body, verified."""

    tenant_id: uuid.UUID
    topic: Topic
    webhook_id: str
    body: str


def register_jobs(queue: JobQueue) -> None:
    """Register the job that applies one Shopify webhook."""

    @queue.task(WEBHOOK_TASK, timeout_s=WEBHOOK_TIMEOUT_S)
    async def shopify_webhook(payload: dict[str, Any]) -> dict[str, Any]:
        job = WebhookJob.model_validate(payload)
        outcome = await apply(queue.resources.sessions, job)
        if outcome in ("created", "updated"):
            await request_embedding(queue, job.tenant_id)
        return {"topic": job.topic, "outcome": outcome}


async def apply(sessions: async_sessionmaker[AsyncSession], job: WebhookJob) -> Applied:
    """Make the change one webhook reports; `skipped` (logged) when the body cannot be applied or names nothing HUB
    has: a retry would not change that."""
    bound = structlog.get_logger(__name__).bind(
        tenant_id=str(job.tenant_id), topic=job.topic, webhook_id=job.webhook_id
    )
    async with sessions() as session:
        tenant = await session.get(m.Tenant, job.tenant_id)
        if tenant is None or not tenant.active:
            bound.info("shopify_webhook_skipped", reason="shop gone or inactive")
            return "skipped"
        currency = str((tenant.settings or {}).get("currency") or "USD")
    body = json.loads(job.body)
    if not isinstance(body, dict):
        bound.warning("shopify_webhook_skipped", reason="the body is not a JSON object")
        return "skipped"
    try:
        match job.topic:
            case Topic.PRODUCTS_CREATE | Topic.PRODUCTS_UPDATE:
                return await _put_product(sessions, job.tenant_id, cast(dict[str, Any], body), currency)
            case Topic.PRODUCTS_DELETE:
                return await _delete_product(sessions, job.tenant_id, cast(dict[str, Any], body))
            case Topic.INVENTORY_LEVELS_UPDATE:
                return await _set_level(sessions, job.tenant_id, cast(dict[str, Any], body))
            case Topic.ORDERS_CREATE | Topic.ORDERS_UPDATED | Topic.ORDERS_FULFILLED | Topic.ORDERS_CANCELLED:
                record = order_record(cast(dict[str, Any], body))
                summary = await import_orders(sessions, job.tenant_id, [record], [], currency=currency)
                return "created" if summary.created else "updated" if summary.updated else "unchanged"
    except PayloadError as exc:
        bound.warning("shopify_webhook_skipped", reason=str(exc))
        return "skipped"


async def _put_product(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, body: dict[str, Any], currency: str
) -> Applied:
    record, skipped = product_record(body)
    if skipped:
        log.warning("shopify_variants_skipped", handle=record.handle, reasons=skipped)
    async with sessions() as session:
        data = TenantData(session, tenant_id)
        # Matched by Shopify's id first (a renamed handle is the same product), then by a SKU it holds.
        known = await product_by_external_id(data, PRODUCT_ID, record.external.get(PRODUCT_ID, ""))
        if known is not None and known.handle is not None:
            record.handle = known.handle
        elif record.variants:
            record.handle = await handle_for(data, record.variants[0].sku, record.handle)
        await session.commit()
    upserted = await upsert_products(sessions, tenant_id, [record], currency=currency)
    outcome = upserted.outcomes[0]
    if outcome == "rejected":
        reasons = [r.reason for r in upserted.summary.rejected]
        raise PayloadError(f"product {record.handle!r} was rejected: {'; '.join(reasons)}")
    return outcome


async def _delete_product(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, body: dict[str, Any]
) -> Applied:
    if body.get("id") is None:
        raise PayloadError("the deleted product has no id")
    async with sessions() as session:
        data = TenantData(session, tenant_id)
        product = await product_by_external_id(data, PRODUCT_ID, str(body["id"]))
        if product is None:
            raise PayloadError(f"no product has Shopify id {body['id']}")
        await archive_product(data, product)
        await session.commit()
    return "archived"


async def _set_level(sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, body: dict[str, Any]) -> Applied:
    level = inventory_level(body)
    async with sessions() as session:
        data = TenantData(session, tenant_id)
        variant = await variant_by_external_id(data, INVENTORY_ITEM_ID, level.inventory_item_id)
        product = None if variant is None else await data.products.get(variant.product_id)
        if variant is None or product is None:
            raise PayloadError(f"no variant has Shopify inventory item {level.inventory_item_id}")
        await set_stock(data, product, level.available, variant=variant)
        await session.commit()
    return "stock_set"
