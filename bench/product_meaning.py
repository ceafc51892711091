"""Search by meaning: calibrate its threshold on the demo catalog, and time it at 10,000 products against the
full-text path, side by side on the same database.

`--calibrate` prints, for queries that name something the demo shop sells in other words or another language and
for queries it has no answer to, the best product's cosine and title: `SIMILAR_THRESHOLD` must sit above every
unrelated one. The timing side gives each of the 10,000 products the vector of the demo product it copies (the
240 distinct texts are encoded once), so as many products pass the threshold as in a real catalog of that size.

    python -m bench.product_meaning [--calibrate] [--products 10000] [--rounds 20] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.agent_turn import shop
from hub.catalog.vectors import product_text, text_hash
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.knowledge import encoder
from hub.seed.catalog import build_demo_shop
from hub.usage.rollup import nearest_rank
from tools.context import Audience, ToolContext
from tools.engagement import SearchProductsInput, search_products
from tools.retrieval.meaning import SIMILAR_THRESHOLD, products_by_meaning
from tools.retrieval.products import find_products, search_terms

RELATED = [
    "something warm for winter",
    "zapatillas para correr",
    "shoes for running",
    "a bag to carry my laptop",
    "vestido para una boda",
    "something to wear at the beach",
    "chaqueta impermeable",
    "cozy knit for cold days",
    "pantalones vaqueros",
    "formal shoes for the office",
    "sac en cuir",
    "gorro de lana",
    "una taza para el café",
]
"""Asked in other words or another language, for things the demo shop sells."""
UNRELATED = [
    "car insurance",
    "pizza delivery",
    "mortgage rates",
    "iphone charger",
    "dog food",
    "cheap flights to paris",
    "how to fix a leaking tap",
    "python programming book",
    "seguro de coche",
    "garden hose",
    "vitamins",
    "laptop repair",
    "un collar de plata",
    "engagement ring",
]
"""Things the demo shop does not sell (it has no jewellery: "un collar de plata" is a silver necklace)."""
WORDS = ["hoodie", "black chelsea boots", "linen dresses", "grey jumper", "leather tote"]
"""Searches the full-text index answers."""
SIDES = ("full-text (words)", "meaning fallback", "tool, by meaning", "of which encoding")
"""The full-text candidate query, the fallback alone, the tool on a query only meaning answers (the full-text search
that finds nothing, then the fallback), and the query's encoding on its own (CPU-bound: it swings with the load)."""
MEANINGS = ["chaqueta impermeable", "pantalones vaqueros", "zapatillas deportivas", "mochila ligera"]
"""Searches the index finds nothing for, so the tool falls back to meaning."""


def _demo_texts() -> tuple[list[str], list[str]]:
    products = build_demo_shop(datetime(2026, 1, 1, tzinfo=UTC)).products
    texts = [product_text(p["title"], p["category"], p["attributes"], p["description"]) for p in products]
    return texts, [p["title"] for p in products]


def calibrate() -> None:
    texts, titles = _demo_texts()
    vectors = encoder.encode(texts)
    queries = RELATED + UNRELATED
    cosines = vectors @ encoder.encode(queries).T
    print(f"best product cosine per query, demo catalog ({len(texts)} products); threshold {SIMILAR_THRESHOLD}")
    for j, query in enumerate(queries):
        best = int(cosines[:, j].argmax())
        kind = "related" if query in RELATED else "unrelated"
        kept = "kept" if cosines[best, j] >= SIMILAR_THRESHOLD else "    "
        print(f"  {kind:9s} {kept} {cosines[best, j]:.3f}  {query!r:34s} → {titles[best]}")
    related, unrelated = cosines[:, : len(RELATED)].max(0), cosines[:, len(RELATED) :].max(0)
    print(f"  related {related.min():.3f}–{related.max():.3f}, unrelated {unrelated.min():.3f}–{unrelated.max():.3f}")


async def _vectors(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    texts, _ = _demo_texts()
    distinct = sorted(set(texts), key=texts.index)
    by_text = dict(zip(distinct, encoder.encode(distinct), strict=True))
    p = m.Product
    rows = (await session.execute(select(p.id, p.sku).where(p.tenant_id == tenant_id).order_by(p.sku))).all()
    now = datetime.now(UTC)
    values = []
    for i, (product_id, _) in enumerate(rows):
        t = texts[i % len(texts)]
        values.append(
            {
                "product_id": product_id,
                "tenant_id": tenant_id,
                "text_hash": text_hash(t),
                "vector": encoder.to_bytes(by_text[t]),
                "updated_at": now,
            }
        )
    await session.execute(insert(m.ProductVector), values)
    await session.commit()


async def measure(session: AsyncSession, tenant_id: uuid.UUID, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per search for each side, interleaved search by search so drift hits all alike."""
    ctx = ToolContext(session=session, tenant_id=tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
    timings: dict[str, list[float]] = {name: [] for name in SIDES}
    for r in range(rounds + 1):  # the first round warms caches and loads the encoder
        for words, meaning in zip(WORDS, MEANINGS * 2, strict=False):
            by_words, by_meaning = SearchProductsInput(query=words), SearchProductsInput(query=meaning)
            runs: dict[str, Awaitable[object]] = {
                "full-text (words)": find_products(ctx, by_words, search_terms(words), 5),
                "meaning fallback": products_by_meaning(ctx, by_meaning, meaning, 5),
                "tool, by meaning": search_products(ctx, by_meaning),
                "of which encoding": asyncio.to_thread(encoder.encode, [meaning]),
            }
            for name, run in runs.items():
                started = time.perf_counter()
                await run
                if r:
                    timings[name].append((time.perf_counter() - started) * 1000)
    return timings


async def main(products: int, rounds: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            tenant_id = await shop(session, products)
            await _vectors(session, tenant_id)
        backend = engine.url.get_backend_name()
        try:
            async with sessions() as session:
                timings = await measure(session, tenant_id, rounds)
        finally:
            if database_url:
                async with engine.begin() as conn:
                    await conn.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
            await engine.dispose()
    print(f"product search by meaning, {products:,} products, {rounds} rounds, {backend}")
    p50 = {k: nearest_rank(sorted(v), 50) for k, v in timings.items()}
    for name, values in timings.items():
        print(f"  {name:18s} p50 {p50[name]:7.2f} ms  p99 {nearest_rank(sorted(values), 99):7.2f} ms")
    print(f"  meaning/full-text p50 {p50['meaning fallback'] / p50['full-text (words)']:.2f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="print cosines on the demo catalog and stop")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="a Postgres URL; a temporary SQLite file by default")
    args = parser.parse_args()
    if args.calibrate:
        calibrate()
    else:
        asyncio.run(main(args.products, args.rounds, args.database_url))
