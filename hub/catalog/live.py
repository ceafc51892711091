"""Change one product of a live catalog as the shop's own systems report it: give a product made in HUB the handle
the upsert matches on, archive a product, set the stock of a product or of one variant, find either by the id a
shop platform knows it by. Whole products are written by `hub.catalog.importer.upsert_products`; this module holds
the partial changes, each through the tenant's repositories (flushed, never committed: the caller commits)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.db import models as m
from hub.tenancy.repository import TenantData


@dataclass(frozen=True)
class StockSet:
    """Where a stock change landed: the product's SKU, the variant's (None for a product without variants), the
    stock it was set to, and the product's stock after it (the sum of its variants')."""

    sku: str
    variant_sku: str | None
    stock: int
    product_stock: int


async def handle_for(data: TenantData, sku: str, given: str | None) -> str:
    """The handle the upsert matches a product sent by SKU on: its stored handle, else `given`, else the SKU.

    A product made in HUB has no handle; it is given one here, so the upsert replaces it instead of refusing its SKU
    as another product's.
    """
    product = await data.products.by_any_sku(sku)
    if product is None:
        return given or sku
    if product.handle is None:
        product.handle = given or sku
        await data.session.flush()
    return product.handle


async def archive_product(data: TenantData, product: m.Product) -> bool:
    """Hide `product` from shoppers (status `archived`); False when it already was."""
    if product.status == "archived" and not product.active:
        return False
    product.status, product.active = "archived", False
    await data.session.flush()
    return True


async def product_by_external_id(data: TenantData, key: str, value: str) -> m.Product | None:
    """The product whose `attributes[key]` is `value`: a platform's id of it."""
    found = await data.products.list(m.Product.attributes[key].as_string() == value, limit=1)
    return found[0] if found else None


async def variant_by_external_id(data: TenantData, key: str, value: str) -> m.ProductVariant | None:
    """The variant whose `attributes[key]` is `value`: a platform's id of it."""
    found = await data.variants.list(m.ProductVariant.attributes[key].as_string() == value, limit=1)
    return found[0] if found else None


async def set_stock(
    data: TenantData, product: m.Product, stock: int, *, variant: m.ProductVariant | None = None
) -> StockSet:
    """Set the stock of `variant` (one of `product`'s) and make the product's the sum of its variants'; of a product
    without variants, set its own. A negative count (oversold) is stored as 0."""
    on_hand = max(0, stock)
    if variant is None:
        product.stock = on_hand
        await data.session.flush()
        return StockSet(product.sku, None, on_hand, on_hand)
    variant.stock = on_hand
    product.stock = sum(v.stock for v in await data.variants.of_product(product.id))
    await data.session.flush()
    return StockSet(product.sku, variant.sku, on_hand, product.stock)
