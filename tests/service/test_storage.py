"""Migrations and the tenant-scoped repository layer, on SQLite and on Postgres."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.db.migrate import current_revision, head_revision, upgrade
from hub.db.search import include_name
from hub.tenancy.repository import MissingTenantError, Products, TenantData
from tests.conftest import Shop


async def test_migrations_reach_head_and_rerun_changes_nothing(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as conn:
        before = await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
    await upgrade(engine)
    async with engine.connect() as conn:
        after = await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
    assert before == after
    assert {
        "tenants",
        "api_keys",
        "operators",
        "products",
        "customers",
        "orders",
        "policy_documents",
        "conversations",
        "messages",
        "usage",
        "audit_events",
        "image_jobs",
        "processed_webhook_events",
        "channel_accounts",
    } <= set(after)


# SQLite's reflection cannot read an expression index (the case-folded SKU's) and says so; Alembic then leaves such
# indexes out of the comparison on SQLite, and Postgres compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(conn):
        return compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}), m.Base.metadata
        )

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_repository_only_sees_its_own_tenant(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, bravo = shops
    a, b = TenantData(session, alpha.tenant_id), TenantData(session, bravo.tenant_id)
    a_product, b_product = await a.products.by_sku("SKU-1"), await b.products.by_sku("SKU-1")
    assert a_product.price == Decimal("10.00") and b_product.price == Decimal("99.00")
    assert await a.products.get(b_product.id) is None
    assert await a.products.count() == 1
    assert [o.total for o in await a.orders.list()] == [Decimal("10.00")]
    assert (await a.orders.by_number("a-10001")).tenant_id == alpha.tenant_id
    assert await a.customers.by_email("jane@bravo.example.com") is None


async def test_repository_cannot_be_built_or_used_without_a_tenant(session: AsyncSession) -> None:
    with pytest.raises(MissingTenantError):
        Products(session, None)  # type: ignore[arg-type]
    with pytest.raises(MissingTenantError):
        Products(session, "alpha")  # type: ignore[arg-type]
    repo = Products(session, uuid.uuid4())
    with pytest.raises(ValueError, match="tenant_id comes from the repository"):
        repo.add(tenant_id=uuid.uuid4(), sku="X", title="x", category="c", price=Decimal(1))


async def test_sku_is_unique_per_tenant_not_globally(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    TenantData(session, alpha.tenant_id).products.add(sku="SKU-1", title="dup", category="c", price=Decimal(1))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_webhook_event_is_recorded_once(session: AsyncSession) -> None:
    session.add(m.ProcessedWebhookEvent(source="whatsapp", event_key="wamid.1"))
    await session.commit()
    session.add(m.ProcessedWebhookEvent(source="whatsapp", event_key="wamid.1"))
    with pytest.raises(IntegrityError):
        await session.commit()
