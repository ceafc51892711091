"""`hub seed demo` builds a realistic shop once; running it again changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.db.engine import session_factory
from hub.encryption import SecretBox
from hub.seed.demo import seed_demo
from hub.settings import Settings
from hub.tenancy import admin
from tests.unit.test_demo_catalog import REQUIRED_TOPICS


async def snapshot(session: AsyncSession) -> dict[str, object]:
    counts = {}
    for model in (
        m.Tenant,
        m.Product,
        m.Customer,
        m.Order,
        m.PolicyDocument,
        m.ApiKey,
        m.Operator,
        m.ChannelAccount,
        m.AuditEvent,
    ):
        counts[model.__tablename__] = (await session.execute(select(func.count()).select_from(model))).scalar_one()
    counts["product_updates"] = (await session.execute(select(func.max(m.Product.updated_at)))).scalar_one()
    return counts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


async def seed(engine: AsyncEngine, settings: Settings):
    async with session_factory(engine)() as session:
        creds = await seed_demo(session, settings)
        await session.commit()
        return creds, await snapshot(session)


async def test_demo_shop_is_realistic(engine: AsyncEngine, settings: Settings) -> None:
    creds, counts = await seed(engine, settings)
    assert counts["products"] >= 200 and counts["customers"] >= 500 and counts["orders"] >= 2000
    async with session_factory(engine)() as session:
        statuses = set((await session.execute(select(m.Order.status).distinct())).scalars())
        # every status but the one only a shopper's request sets (the cancellation flows start from a paid order)
        assert statuses == {s.value for s in m.OrderStatus} - {m.OrderStatus.CANCEL_REQUESTED}
        topics = set((await session.execute(select(m.PolicyDocument.topic).distinct())).scalars())
        assert REQUIRED_TOPICS <= topics
        categories = (await session.execute(select(func.count(m.Product.category.distinct())))).scalar_one()
        assert categories >= 5
        tracked = (
            await session.execute(
                select(func.count()).where(m.Order.status == m.OrderStatus.SHIPPED, m.Order.tracking_number.is_(None))
            )
        ).scalar_one()
        assert tracked == 0

        storefront = await admin.authenticate_key(session, creds.storefront_key)
        operator = await admin.authenticate_key(session, creds.operator_key)
        assert storefront.role == m.ApiKeyRole.STOREFRONT and operator.role == m.ApiKeyRole.OPERATOR
        assert str(storefront.tenant_id) == creds.tenant_id
        assert await admin.authenticate_operator(session, creds.operator_email, creds.operator_password)

        order = (await session.execute(select(m.Order).where(m.Order.number == creds.sample_order_id))).scalar_one()
        customer = await session.get(m.Customer, order.customer_id)
        assert customer.email == creds.sample_order_email
        product = (await session.execute(select(m.Product).where(m.Product.sku == creds.sample_sku))).scalar_one()
        assert product.stock > 0 and (settings.media_dir / product.image_path).is_file()
        tenant = await session.get(m.Tenant, storefront.tenant_id)
        assert (settings.media_dir / tenant.settings["brand"]["logo_path"]).is_file()
        account = (await session.execute(select(m.ChannelAccount))).scalar_one()
        assert account.external_id == creds.whatsapp_phone_number_id
        assert account.config["verify_token"] == creds.whatsapp_verify_token
        box = SecretBox(settings.secret_key.get_secret_value())
        assert account.config["app_secret"] != creds.whatsapp_app_secret, "the app secret is stored encrypted"
        assert box.open(account.config["app_secret"]) == creds.whatsapp_app_secret


async def test_second_seed_changes_nothing(engine: AsyncEngine, settings: Settings) -> None:
    first_creds, first = await seed(engine, settings)
    second_creds, second = await seed(engine, settings)
    assert second == first
    assert second_creds.as_dict() == first_creds.as_dict()
    assert second_creds.summary.startswith("0 new products, 0 new customers, 0 new orders, 0 new policies, 0 images")
