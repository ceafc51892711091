"""Time product search at 10,000 products: the `search_products` tool end to end, and its candidate query on the
database's full-text index against the `LIKE` prefilter it replaced, side by side on the same database.

The baseline is the old prefilter, kept only here: every term as `LIKE '%stem%'` over a lower-cased haystack of the
title, category, description, attributes and tags, products with the most title hits first, 400 rows read whole.
The index side reads the same 400 candidates ranked by field (`bm25()` / `ts_rank_cd`) and whole rows only for the
five it shows. Goal: the tool's p99 ≤ 20 ms on SQLite.

    python -m bench.product_search [--products 10000] [--rounds 20] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import ColumnElement, String, case, cast, func, literal, or_, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.agent_turn import shop
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.usage.rollup import nearest_rank
from tools.context import Audience, ToolContext
from tools.engagement import SearchProductsInput, search_products
from tools.retrieval.products import SEARCH_PREFILTER_LIMIT, find_products, search_filters, search_terms
from tools.retrieval.text import stem_of

GOAL_P99_MS = 20.0
SEARCHES = [
    SearchProductsInput(query="hoodie", max_price=Decimal(80)),
    SearchProductsInput(query="black chelsea boots", size="42"),
    SearchProductsInput(query="organic cotton crew tee"),
    SearchProductsInput(query="linen dresses"),
    SearchProductsInput(query="t-shirts"),
    SearchProductsInput(query="sneakers", colour="white", size="42", in_stock=True),
    SearchProductsInput(query="grey jumper"),
    SearchProductsInput(query="linen dress for my sister"),
    SearchProductsInput(query="snowboard"),
    SearchProductsInput(category="footwear", max_price=Decimal(100)),
]
"""What shoppers ask for: one word, several, synonyms, filters, a word no product has, a category alone."""


def any_like(column: ColumnElement[str], patterns: list[str]) -> ColumnElement[bool]:
    """The baseline's condition: the column matches any of the `LIKE` patterns."""
    return or_(*(column.like(pattern) for pattern in patterns))


def _haystack() -> ColumnElement[str]:
    p = m.Product
    return func.lower(
        p.title + " " + p.category + " " + p.description + " " + cast(p.attributes, String) + " " + cast(p.tags, String)
    )


def _like_pattern(word: str) -> str:
    stem = stem_of(word)
    return f"%{stem[:-1] if stem.endswith('i') and len(stem) >= 4 else stem}%"


async def like_prefilter(ctx: ToolContext, args: SearchProductsInput) -> list[m.Product]:
    """The replaced candidate query: a superset by `LIKE`, products whose titles hold the most words first."""
    where, hits = search_filters(args), []
    for term in search_terms(args.query):
        patterns = [_like_pattern(a) for a in term.alternatives]
        where.append(any_like(_haystack(), patterns))
        hits.append(case((any_like(func.lower(m.Product.title), patterns), 1), else_=0))
    title_hits = sum(hits, start=literal(0))
    return await ctx.data.products.list(
        *where, order_by=[title_hits.desc(), m.Product.title, m.Product.sku], limit=SEARCH_PREFILTER_LIMIT
    )


async def index_candidates(ctx: ToolContext, args: SearchProductsInput) -> object:
    return await find_products(ctx, args, search_terms(args.query), args.limit)


async def tool(ctx: ToolContext, args: SearchProductsInput) -> object:
    return await search_products(ctx, args)


Timed = Callable[[ToolContext, SearchProductsInput], Awaitable[object]]


async def measure(session: AsyncSession, tenant_id: uuid.UUID, rounds: int) -> dict[str, list[list[float]]]:
    """Milliseconds per round of each search for each side, the sides interleaved search by search so drift hits all
    alike."""
    sides: dict[str, Timed] = {"LIKE prefilter": like_prefilter, "index candidates": index_candidates, "tool": tool}
    ctx = ToolContext(session=session, tenant_id=tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
    timings: dict[str, list[list[float]]] = {name: [[] for _ in SEARCHES] for name in sides}
    for r in range(rounds + 1):  # the first round warms caches
        for i, args in enumerate(SEARCHES):
            for name, run in sides.items():
                started = time.perf_counter()
                await run(ctx, args)
                if r:
                    timings[name][i].append((time.perf_counter() - started) * 1000)
    return timings


def describe(args: SearchProductsInput) -> str:
    filters = {k: v for k, v in args.model_dump(exclude_defaults=True).items() if k != "query"}
    return " ".join([repr(args.query)] if args.query else []) + "".join(f" {k}={v}" for k, v in filters.items())


async def main(products: int, rounds: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            tenant_id = await shop(session, products)
        backend = engine.url.get_backend_name()
        if backend == "postgresql":  # what autovacuum does after a bulk load: the GIN's pending list, statistics
            async with engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE products"))
        try:
            async with sessions() as session:
                timings = await measure(session, tenant_id, rounds)
        finally:
            if database_url:
                async with engine.begin() as conn:
                    await conn.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
            await engine.dispose()
    every = {k: sorted(t for search in v for t in search) for k, v in timings.items()}
    p50 = {k: nearest_rank(v, 50) for k, v in every.items()}
    p99 = {k: nearest_rank(v, 99) for k, v in every.items()}
    print(f"product search, {products:,} products, {len(SEARCHES)} searches × {rounds} rounds, {backend}")
    print("  the tool per search, p50 / max ms:")
    for args, search in zip(SEARCHES, timings["tool"], strict=True):
        print(f"    {nearest_rank(sorted(search), 50):6.2f} / {max(search):6.2f}  {describe(args)}")
    for name in timings:
        print(f"  {name:17s} p50 {p50[name]:7.2f} ms  p99 {p99[name]:7.2f} ms")
    like, index = "LIKE prefilter", "index candidates"
    print(f"  index/LIKE ratio  p50 {p50[index] / p50[like]:.2f}×  p99 {p99[index] / p99[like]:.2f}×")
    print(f"  tool p99 {p99['tool']:.2f} ms (goal ≤ {GOAL_P99_MS:.0f} ms on SQLite)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="a Postgres URL; a temporary SQLite file by default")
    args = parser.parse_args()
    asyncio.run(main(args.products, args.rounds, args.database_url))
