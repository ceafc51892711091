"""Create the demo shop in the database, idempotently, with reproducible demo credentials."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.encryption import SecretBox
from hub.knowledge.documents import KnowledgeFile, add_documents
from hub.seed.catalog import RETURN_WINDOW_DAYS, SHOP_SLUG, DemoShop, build_demo_shop
from hub.seed.images import write_images
from hub.settings import Settings
from hub.tenancy import admin
from hub.tenancy import secrets as sec
from hub.tenancy.config import BrandKit, OrderPolicy, TenantConfig

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
"""Sites besides HUB's own that the demo shop allows. HUB's own pages (`/demo`) need no entry on any host or
port: the chat API admits a request whose origin is the address it was sent to."""


@dataclass(frozen=True)
class DemoCredentials:
    """Everything the interface contract's `hub seed demo --json` object carries, and a summary."""

    tenant_id: str
    storefront_key: str
    operator_key: str
    admin_key: str
    operator_email: str
    operator_password: str
    whatsapp_phone_number_id: str
    whatsapp_verify_token: str
    whatsapp_app_secret: str
    sample_sku: str
    sample_order_id: str
    sample_order_email: str
    delivered_order_id: str
    delivered_order_email: str
    unfulfilled_order_id: str
    unfulfilled_order_email: str
    shop_name: str
    summary: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["shop_name"], data["summary"]
        return data


async def _existing(session: AsyncSession, column: Any, tenant_id: uuid.UUID) -> dict[str, uuid.UUID]:
    model = column.class_
    rows = await session.execute(select(column, model.id).where(model.tenant_id == tenant_id))
    return {key: row_id for key, row_id in rows.all()}


async def _insert_missing(
    session: AsyncSession, model: type[m.Base], key: str, rows: list[dict[str, Any]], existing: dict[str, uuid.UUID]
) -> int:
    fresh = [r for r in rows if r[key] not in existing]
    if fresh:
        await session.execute(insert(model), fresh)
        for r in fresh:
            existing[r[key]] = r["id"]
    return len(fresh)


def _key_seed(master: str, slug: str, role: m.ApiKeyRole) -> bytes:
    return sec.derive_secret(master, f"demo:{slug}:key:{role}", 64).encode()


async def _ensure_key(session: AsyncSession, tenant: m.Tenant, role: m.ApiKeyRole, master: str) -> str:
    seed = _key_seed(master, tenant.slug, role)
    minted = sec.mint_key(role, seed=seed)
    found = await session.execute(select(m.ApiKey).where(m.ApiKey.prefix == minted.prefix))
    if found.scalar_one_or_none() is None:
        await admin.issue_key(session, tenant_id=tenant.id, role=role, name=f"demo {role}", seed=seed, actor="seed")
    return minted.plaintext


@dataclass(frozen=True)
class DemoStorefront:
    """The seeded demo shop as its storefront page shows it."""

    tenant: m.Tenant
    storefront_key: str | None
    """None when the demo's storefront key was revoked: the page shows the catalog without the widget."""


async def demo_storefront(session: AsyncSession, master: str) -> DemoStorefront | None:
    """Return the active demo shop and its working storefront key, or None when the demo is not seeded.

    Keys are stored only hashed; the demo's is derived again from the instance secret, the way the seed
    minted it, and checked against the database like any caller's key.
    """
    tenant = await admin.tenant_by_slug(session, SHOP_SLUG)
    if tenant is None or not tenant.active:
        return None
    key = sec.mint_key(m.ApiKeyRole.STOREFRONT, seed=_key_seed(master, SHOP_SLUG, m.ApiKeyRole.STOREFRONT)).plaintext
    caller = await admin.authenticate_key(session, key)
    return DemoStorefront(tenant=tenant, storefront_key=key if caller and caller.tenant_id == tenant.id else None)


async def seed_demo(
    session: AsyncSession,
    settings: Settings,
    *,
    progress: Callable[[int, int], None] | None = None,
    images: bool = True,
) -> DemoCredentials:
    """Create whatever part of the demo shop is missing and return its credentials.

    `images=False` skips drawing the product photos (evals and tests read rows, never photos).
    """
    master = settings.secret_key.get_secret_value()
    tenant = await admin.tenant_by_slug(session, SHOP_SLUG)
    if tenant is None:
        shop = build_demo_shop(datetime.now(UTC))
        tenant = await admin.create_tenant(session, name=shop.shop_name, slug=shop.shop_slug, actor="seed")
        # Media paths are relative to the media dir and start with the tenant id, like product photos.
        brand_fields: dict[str, Any] = {**shop.brand, "logo_path": f"{tenant.id}/{shop.brand['logo_path']}"}
        brand = BrandKit(**brand_fields)
        # The demo's own policy page: cancel or change an order while it is Pending payment or Paid.
        before_packing = [m.OrderStatus.PENDING_PAYMENT, m.OrderStatus.PAID]
        orders = OrderPolicy(cancellable_statuses=before_packing, address_change_statuses=before_packing)
        tenant.settings = TenantConfig(brand=brand, allowed_origins=DEMO_ORIGINS, orders=orders).to_column()
    else:
        # Rebuild against the original anchor so a re-run produces exactly the rows already stored.
        shop = build_demo_shop(tenant.created_at)
    counts = await _insert_shop(session, tenant, shop)

    def secret(label: str, length: int = 24) -> str:
        return sec.derive_secret(master, f"demo:{tenant.slug}:{label}", length)

    storefront_key = await _ensure_key(session, tenant, m.ApiKeyRole.STOREFRONT, master)
    operator_key = await _ensure_key(session, tenant, m.ApiKeyRole.OPERATOR, master)
    admin_key = await _ensure_key(session, tenant, m.ApiKeyRole.ADMIN, master)
    operator_email = f"operator@{tenant.slug}.example.com"
    operator_password = secret("operator-password", 20)
    if await admin.authenticate_operator(session, operator_email, operator_password) is None:
        await admin.create_operator(
            session,
            tenant_id=tenant.id,
            email=operator_email,
            password=operator_password,
            name="Demo Operator",
            actor="seed",
        )
    phone_number_id = str(int(secret("whatsapp-phone", 12), 16))[:15]
    account = await session.execute(
        select(m.ChannelAccount).where(
            m.ChannelAccount.channel == m.Channel.WHATSAPP, m.ChannelAccount.external_id == phone_number_id
        )
    )
    if account.scalar_one_or_none() is None:
        session.add(
            m.ChannelAccount(
                tenant_id=tenant.id,
                channel=m.Channel.WHATSAPP,
                external_id=phone_number_id,
                config=SecretBox(master).seal_config(
                    {
                        "verify_token": secret("whatsapp-verify-token"),
                        "app_secret": secret("whatsapp-app-secret", 32),
                        "access_token": secret("whatsapp-access-token", 40),
                        "display_phone_number": "15550100000",
                    }
                ),
            )
        )
    await session.flush()
    written = write_images(shop, settings.media_dir / str(tenant.id), progress=progress) if images else 0
    sample_sku = next(p["sku"] for p in shop.products if p["stock"] > 0)
    sample_order = next(o for o in shop.orders if o["status"] == m.OrderStatus.SHIPPED)
    delivered = returnable_order(shop)
    unfulfilled = next(o for o in shop.orders if o["status"] == m.OrderStatus.PAID)
    summary = ", ".join(f"{n} new {what}" for what, n in counts.items()) + f", {written} images written"
    return DemoCredentials(
        tenant_id=str(tenant.id),
        storefront_key=storefront_key,
        operator_key=operator_key,
        admin_key=admin_key,
        operator_email=operator_email,
        operator_password=operator_password,
        whatsapp_phone_number_id=phone_number_id,
        whatsapp_verify_token=secret("whatsapp-verify-token"),
        whatsapp_app_secret=secret("whatsapp-app-secret", 32),
        sample_sku=sample_sku,
        sample_order_id=sample_order["number"],
        sample_order_email=sample_order["customer_email"],
        delivered_order_id=delivered["number"],
        delivered_order_email=delivered["customer_email"],
        unfulfilled_order_id=unfulfilled["number"],
        unfulfilled_order_email=unfulfilled["customer_email"],
        shop_name=tenant.name,
        summary=summary,
    )


def returnable_order(shop: DemoShop) -> dict[str, Any]:
    """The demo's example of a return that can be started: the latest delivered order, well inside the return window,
    of one item that is not final sale (so a shopper's return asks only why, the item's condition and yes)."""
    final_sale = {p["sku"] for p in shop.products if "final-sale" in p["tags"]}
    now = datetime.now(UTC)
    delivered = [o for o in shop.orders if o["status"] == m.OrderStatus.DELIVERED]
    recent = [o for o in delivered if (now - o["updated_at"]).days < RETURN_WINDOW_DAYS // 2]
    single = [o for o in recent if len(o["items"]) == 1 and o["items"][0]["sku"] not in final_sale]
    return (single or recent or delivered)[-1]


def policy_files(shop: DemoShop) -> list[KnowledgeFile]:
    """The demo shop's policies as the Markdown files a real shop would add with `hub knowledge add`."""
    return [
        KnowledgeFile(f"{p['slug']}.md", f"# {p['title']}\n\n{p['body']}\n".encode(), topic=p["topic"])
        for p in shop.policies
    ]


async def _insert_shop(session: AsyncSession, tenant: m.Tenant, shop: DemoShop) -> dict[str, int]:
    tid = tenant.id
    products = [
        {**p, "id": uuid.uuid4(), "tenant_id": tid, "image_path": f"{tid}/{p['image_path']}"} for p in shop.products
    ]
    customers = [{**c, "id": uuid.uuid4(), "tenant_id": tid} for c in shop.customers]
    counts = {
        "products": await _insert_missing(
            session, m.Product, "sku", products, await _existing(session, m.Product.sku, tid)
        ),
    }
    customer_ids = await _existing(session, m.Customer.email, tid)
    counts["customers"] = await _insert_missing(session, m.Customer, "email", customers, customer_ids)
    orders: list[dict[str, Any]] = []
    for o in shop.orders:
        row = {k: v for k, v in o.items() if k != "customer_email"}
        orders.append({**row, "id": uuid.uuid4(), "tenant_id": tid, "customer_id": customer_ids[o["customer_email"]]})
    counts["orders"] = await _insert_missing(
        session, m.Order, "number", orders, await _existing(session, m.Order.number, tid)
    )
    # Without vectors: the first policy question encodes them, so `hub serve --demo` starts without the encoder.
    counts["policies"] = (await add_documents(session, tid, policy_files(shop), encode=False)).added
    return counts
