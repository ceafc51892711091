"""What `hub catalog import` costs: a Shopify export of 10,000 products (30,000 variant rows, an image-only row per
product) imported into a fresh SQLite database through the library, against a baseline that only parses the same
file with `csv.DictReader` and inserts its rows with one plain `executemany`. Then the same file again, which must
find everything unchanged, and one where every price went up, which updates every product. Goal: the import takes
≤ 30 s.

    python -m bench.catalog_import [--products 10000] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from hub.catalog.importer import import_catalog, read_catalog
from hub.catalog.records import CatalogFormat
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.tenancy import admin

GOAL_S = 30.0
HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published", "Option1 Name",
    "Option1 Value", "Option2 Name", "Option2 Value", "Variant SKU", "Variant Grams", "Variant Inventory Qty",
    "Variant Price", "Variant Compare At Price", "Image Src", "Image Position", "Image Alt Text", "Status",
]  # fmt: skip
SIZES = ("S", "M", "L")


def write_export(path: Path, products: int, *, markup: int = 0) -> None:
    """A Shopify-shaped export: three sizes per product, some SKUs left empty, one image-only row per product."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for n in range(products):
            handle = f"product-{n:05d}"
            for i, size in enumerate(SIZES):
                first = i == 0
                row = {
                    "Handle": handle,
                    "Title": f"Product {n} tee" if first else "",
                    "Body (HTML)": f"<p>Soft <strong>cotton</strong> tee number {n}.</p><ul><li>Machine wash</li></ul>"
                    if first
                    else "",
                    "Vendor": "Acme" if first else "",
                    "Type": "T-Shirts" if first else "",
                    "Tags": "summer, cotton" if first else "",
                    "Published": "TRUE" if first else "",
                    "Option1 Name": "Size" if first else "",
                    "Option1 Value": size,
                    "Option2 Name": "Color" if first else "",
                    "Option2 Value": "Navy",
                    "Variant SKU": "" if n % 3 == 0 else f"SKU-{n:05d}-{size}",
                    "Variant Grams": "180",
                    "Variant Inventory Qty": str((n + i) % 7),
                    "Variant Price": f"{19 + markup + n % 20}.00",
                    "Variant Compare At Price": "49.00" if n % 5 == 0 else "",
                    "Image Src": f"https://cdn.example/{handle}-1.jpg" if first else "",
                    "Image Position": "1" if first else "",
                    "Status": "active" if first else "",
                }
                out.writerow([row.get(h, "") for h in HEADER])
            image_only = {"Handle": handle, "Image Src": f"https://cdn.example/{handle}-2.jpg", "Image Position": "2"}
            out.writerow([image_only.get(h, "") for h in HEADER])


async def baseline(url: str, data: bytes) -> float:
    """Parse with csv.DictReader and insert every row as it is: the floor any importer sits above."""
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE raw_rows (handle TEXT, title TEXT, sku TEXT, price TEXT, qty TEXT)"))
            await conn.execute(
                text("INSERT INTO raw_rows VALUES (:handle, :title, :sku, :price, :qty)"),
                [
                    {
                        "handle": r["Handle"],
                        "title": r["Title"],
                        "sku": r["Variant SKU"],
                        "price": r["Variant Price"],
                        "qty": r["Variant Inventory Qty"],
                    }
                    for r in rows
                ],
            )
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def run(products: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "products_export.csv"
        write_export(export, products)
        data = export.read_bytes()
        size_mib = len(data) / 2**20
        url = database_url or f"sqlite+aiosqlite:///{tmp}/hub.db"
        engine = create_engine(url)
        try:
            await upgrade(engine)
            sessions = session_factory(engine)
            async with sessions() as session:
                tenant = await admin.create_tenant(session, name="Bench Shop", slug=f"bench-{time.time_ns()}")
                await session.commit()
            repriced = Path(tmp) / "repriced.csv"
            write_export(repriced, products, markup=1)
            timings: list[float] = []
            for body in (data, data, repriced.read_bytes()):
                started = time.perf_counter()
                catalog = read_catalog(body, CatalogFormat.SHOPIFY)
                summary = await import_catalog(sessions, tenant.id, catalog, fmt=CatalogFormat.SHOPIFY, currency="USD")
                timings.append(time.perf_counter() - started)
                print(f"  {summary.as_dict() | {'rejected': len(summary.rejected)}}", flush=True)
        finally:
            await engine.dispose()
        floor = await baseline(f"sqlite+aiosqlite:///{tmp}/baseline.db", data)
    first, again, updated = timings
    print(f"file: {products} products, {products * len(SIZES)} variant rows, {size_mib:.1f} MiB")
    print(f"baseline (csv.DictReader + executemany): {floor:.2f} s")
    print(f"import:                                   {first:.2f} s  ({first / floor:.1f}× baseline)")
    print(f"re-import, all unchanged:                 {again:.2f} s  ({again / floor:.1f}× baseline)")
    print(f"re-import, every price changed:           {updated:.2f} s  ({updated / floor:.1f}× baseline)")
    print(f"goal ≤ {GOAL_S:.0f} s: {'met' if first <= GOAL_S else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.products, args.database_url))
