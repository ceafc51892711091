"""Serve the tenant's catalog to its storefront: search and product detail."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from hub.db import models as m
from hub.http.deps import Storefront
from hub.http.errors import KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_OFFSET, NO_NUL

router = APIRouter(prefix="/v1/products", tags=["catalog"], responses=error_responses(*KEY_ERRORS, 422))


class ProductOut(BaseModel):
    sku: str
    title: str
    description: str
    category: str
    price: Decimal
    currency: str
    stock: int
    in_stock: bool
    attributes: dict[str, Any]
    tags: list[str]

    @classmethod
    def of(cls, p: m.Product) -> ProductOut:
        return cls(
            sku=p.sku,
            title=p.title,
            description=p.description,
            category=p.category,
            price=p.price,
            currency=p.currency,
            stock=p.stock,
            in_stock=p.stock > 0,
            attributes=p.attributes,
            tags=p.tags,
        )


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int


@router.get("")
async def search_products(
    auth: Storefront,
    q: Annotated[str | None, Query(max_length=200, description="Words that must all appear.")] = None,
    category: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ProductPage:
    """Search this tenant's active products."""
    items = await auth.data.products.search(q, category=category, limit=limit, offset=offset)
    total = await auth.data.products.count_matching(q, category=category)
    return ProductPage(items=[ProductOut.of(p) for p in items], total=total)


@router.get("/{sku}", responses=error_responses((404, "No such SKU in this tenant's catalog.")))
async def get_product(auth: Storefront, sku: Annotated[str, Path(max_length=64, pattern=NO_NUL)]) -> ProductOut:
    """Return one product of this tenant by its SKU or one of its variants' SKUs."""
    product = await auth.data.products.by_any_sku(sku)
    if product is None or not product.active:
        raise ApiError(404, "unknown_sku", f"Unknown SKU {sku!r}")
    return ProductOut.of(product)
