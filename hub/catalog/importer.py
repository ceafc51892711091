"""Upsert a read catalog into one tenant's products and variants, matched by handle: new products are created,
changed ones updated, equal ones left untouched (a re-import of the same file writes nothing), and with `prune`
the tenant's imported products missing from the file are archived.

Writes go in batches of `BATCH` products, each one transaction holding whole products with all their variants:
an import that fails midway leaves earlier batches imported and never half a product."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import bindparam

from hub.catalog import fields, generic, shopify, woocommerce
from hub.catalog.records import (
    CatalogFormat,
    ImportSummary,
    ProductRecord,
    ReadResult,
    Rejection,
    VariantRecord,
)
from hub.catalog.source import decode
from hub.db import models as m

BATCH = 200
"""Products per transaction."""

_T = TypeVar("_T")

SKU_COLUMN = {
    CatalogFormat.SHOPIFY: "Variant SKU",
    CatalogFormat.WOOCOMMERCE: "SKU",
    CatalogFormat.CSV: "sku",
    CatalogFormat.JSONL: "sku",
}

Progress = Callable[[int, int], None]
"""Called with (products written, products to write) after each batch."""

_PRODUCT_FIELDS = (
    "sku",
    "title",
    "description",
    "category",
    "price",
    "compare_at_price",
    "currency",
    "stock",
    "attributes",
    "tags",
    "active",
    "status",
)
_VARIANT_FIELDS = ("sku", "options", "price", "compare_at_price", "stock", "grams", "position", "attributes")


def read_catalog(data: bytes, fmt: CatalogFormat) -> ReadResult:
    """Parse a file in `fmt`; raise CatalogFormatError when it is not that format."""
    text = decode(data)
    match fmt:
        case CatalogFormat.SHOPIFY:
            return shopify.read(text)
        case CatalogFormat.WOOCOMMERCE:
            return woocommerce.read(text)
        case CatalogFormat.CSV:
            return generic.read_csv(text)
        case CatalogFormat.JSONL:
            return generic.read_jsonl(text)


@dataclass
class _Planned:
    values: dict[str, Any]
    variants: list[dict[str, Any]]
    existing_id: uuid.UUID | None
    variants_changed: bool


Outcome = Literal["created", "updated", "unchanged", "rejected"]
"""What an upsert did with one product record."""


@dataclass
class Upserted:
    """What `upsert_products` did (or, on a dry run, would do): the counts, and each record's outcome in order."""

    summary: ImportSummary
    outcomes: list[Outcome]


async def import_catalog(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    catalog: ReadResult,
    *,
    fmt: CatalogFormat,
    currency: str,
    dry_run: bool = False,
    prune: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Write `catalog` into the tenant's products; on `dry_run` count what would change and write nothing."""
    upserted = await upsert_products(
        sessions,
        tenant_id,
        catalog.products,
        currency=currency,
        sku_column=SKU_COLUMN[fmt],
        dry_run=dry_run,
        progress=progress,
    )
    summary = upserted.summary
    summary.rejected[:0] = catalog.rejected
    if not prune:
        return summary
    products = m.Product.__table__
    listed = {record.handle for record in catalog.products}
    async with sessions() as session:
        rows = await session.execute(
            select(products.c.id, products.c.handle).where(
                products.c.tenant_id == tenant_id, products.c.handle.is_not(None), products.c.status != "archived"
            )
        )
        stale = [pid for pid, handle in rows if handle not in listed]
        summary.archived = len(stale)
        if dry_run or not stale:
            return summary
        for start in range(0, len(stale), 500):
            await session.execute(
                update(products)
                .where(and_(products.c.tenant_id == tenant_id, products.c.id.in_(stale[start : start + 500])))
                .values(status="archived", active=False)
            )
        await session.commit()
    return summary


async def upsert_products(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    records: list[ProductRecord],
    *,
    currency: str,
    sku_column: str = "sku",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Upserted:
    """Create or replace the tenant's products `records` describe, matched by handle, each with all its variants.

    The one write path of the catalog: a file import, the sync API and the Shopify webhooks all come here. A record
    is rejected (the reasons in `summary.rejected`, on its lines) when its handle repeats an earlier record's or
    when none of its variants survives (a SKU that another product holds); the others land regardless.
    """
    summary = ImportSummary()
    outcomes: list[Outcome] = []
    async with sessions() as session:
        existing = await _existing(session, tenant_id)
    plans: list[_Planned] = []
    seen: set[str] = set()
    for record in records:
        if record.handle in seen:
            summary.rejected.append(Rejection(record.line, "", f"handle {record.handle!r} appears twice"))
            outcomes.append("rejected")
            continue
        seen.add(record.handle)
        plan = _plan(record, existing, sku_column, currency, summary.rejected)
        if plan is None:
            outcomes.append("rejected")
            continue
        summary.products += 1
        summary.variants += len(plan.variants)
        if plan.existing_id is None:
            summary.created += 1
            outcomes.append("created")
        elif plan.values or plan.variants_changed:
            summary.updated += 1
            outcomes.append("updated")
        else:
            summary.unchanged += 1
            outcomes.append("unchanged")
        plans.append(plan)
    to_write = [p for p in plans if p.existing_id is None or p.values or p.variants_changed]
    if dry_run:
        return Upserted(summary, outcomes)
    for done, batch in enumerate(batches(to_write), start=1):
        async with sessions() as session:
            await _write(session, tenant_id, batch)
            await session.commit()
        if progress is not None:
            progress(min(done * BATCH, len(to_write)), len(to_write))
    return Upserted(summary, outcomes)


@dataclass
class _Existing:
    products: dict[str, dict[str, Any]]
    """handle → the product's stored values (id included)."""
    variants: dict[uuid.UUID, list[dict[str, Any]]]
    """product id → its stored variants in position order."""
    sku_owner: dict[str, uuid.UUID]
    """Every SKU of the tenant, on a product row or a variant, → the product that holds it."""
    claimed: dict[str, tuple[str, int]] = field(default_factory=dict[str, tuple[str, int]])
    """SKU → (handle, line) of the file's product that took it, for the reason given to a later one."""


async def _existing(session: AsyncSession, tenant_id: uuid.UUID) -> _Existing:
    products, variants = m.Product.__table__, m.ProductVariant.__table__
    result = _Existing({}, {}, {})
    columns = [products.c.id, products.c.handle, *(products.c[f] for f in _PRODUCT_FIELDS)]
    for row in (await session.execute(select(*columns).where(products.c.tenant_id == tenant_id))).mappings():
        result.sku_owner[row["sku"]] = row["id"]
        if row["handle"] is not None:
            result.products[row["handle"]] = dict(row)
    stmt = (
        select(variants.c.product_id, *(variants.c[f] for f in _VARIANT_FIELDS))
        .where(variants.c.tenant_id == tenant_id)
        .order_by(variants.c.product_id, variants.c.position)
    )
    for row in (await session.execute(stmt)).mappings():
        result.sku_owner[row["sku"]] = row["product_id"]
        result.variants.setdefault(row["product_id"], []).append({f: row[f] for f in _VARIANT_FIELDS})
    return result


def _plan(
    record: ProductRecord, existing: _Existing, sku_column: str, currency: str, rejected: list[Rejection]
) -> _Planned | None:
    """What to write for one product: None when none of its variants survive."""
    stored = existing.products.get(record.handle)
    own_id: uuid.UUID | None = stored["id"] if stored else None
    kept: list[VariantRecord] = []
    for variant in record.variants:
        owner = existing.sku_owner.get(variant.sku)
        if owner is not None and owner != own_id:
            claim = existing.claimed.get(variant.sku)
            where = f"product {claim[0]!r} on line {claim[1]} of this file" if claim else "another product of this shop"
            rejected.append(Rejection(variant.line, sku_column, f"SKU {variant.sku!r} belongs to {where}"))
            continue
        kept.append(variant)
    if not kept:
        if not record.variants and not record.rejected_lines:
            rejected.append(Rejection(record.line, "", f"product {record.handle!r} has no variant rows"))
        return None
    new_id = own_id or uuid.uuid4()
    for variant in kept:
        existing.sku_owner[variant.sku] = new_id  # a later product of the file may not take it
        existing.claimed[variant.sku] = (record.handle, variant.line)
    record.variants = kept
    cheapest = min(kept, key=lambda v: v.price)
    values: dict[str, Any] = {
        "sku": kept[0].sku,
        "title": record.title,
        "description": record.description,
        "category": record.category or fields.UNCATEGORIZED,
        "price": cheapest.price,
        "compare_at_price": cheapest.compare_at_price,
        "currency": record.currency or currency,
        "stock": sum(v.stock for v in kept),
        "attributes": fields.attributes(record),
        "tags": record.tags,
        "active": record.status == "active",
        "status": record.status,
    }
    variants = [
        {
            "sku": v.sku,
            "options": v.options,
            "price": v.price,
            "compare_at_price": v.compare_at_price,
            "stock": v.stock,
            "grams": v.grams,
            "position": position,
            "attributes": v.attributes,
        }
        for position, v in enumerate(kept, start=1)
    ]
    if stored is None:
        return _Planned({"id": new_id, "handle": record.handle, **values}, variants, None, True)
    changed = {k: v for k, v in values.items() if not _same(stored[k], v)}
    before = existing.variants.get(new_id, [])
    variants_changed = len(before) != len(variants) or any(
        not _same(a[f], b[f]) for a, b in zip(before, variants, strict=True) for f in _VARIANT_FIELDS
    )
    return _Planned(changed, variants, new_id, variants_changed)


def _same(stored: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and stored is not None:
        return Decimal(stored) == new
    return stored == new


def batches(items: list[_T], size: int = BATCH) -> Iterator[list[_T]]:
    """`items` in runs of `size`: each run is one transaction of an import."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _write(session: AsyncSession, tenant_id: uuid.UUID, batch: list[_Planned]) -> None:
    products, variants = m.Product.__table__, m.ProductVariant.__table__
    new = [p for p in batch if p.existing_id is None]
    if new:
        await session.execute(insert(products), [{"tenant_id": tenant_id, **p.values} for p in new])
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # one executemany per set of changed columns
    for p in batch:
        if p.existing_id is not None and p.values:
            changed.setdefault(tuple(sorted(p.values)), []).append({"_id": p.existing_id, **p.values})
    for columns, params in changed.items():
        await session.execute(
            update(products)
            .where(and_(products.c.tenant_id == tenant_id, products.c.id == bindparam("_id")))
            .values(**{k: bindparam(k) for k in columns}),
            params,
        )
    replaced = [p.existing_id for p in batch if p.existing_id is not None and p.variants_changed]
    if replaced:
        await session.execute(
            delete(variants).where(and_(variants.c.tenant_id == tenant_id, variants.c.product_id.in_(replaced)))
        )
    rows = [
        {"id": uuid.uuid4(), "tenant_id": tenant_id, "product_id": p.existing_id or p.values["id"], **v}
        for p in batch
        if p.variants_changed
        for v in p.variants
    ]
    if rows:
        await session.execute(insert(variants), rows)
