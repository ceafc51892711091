"""Time the deterministic engine's reply on a 10,000-product catalog against the 240-product demo shop.

Same messages, same engine, side by side; prints p50/p99 per catalog size and the ratio. Goal: p50 ≤ 15 ms
at 10k products.

    python -m bench.agent_turn [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.seed.catalog import build_demo_shop
from hub.tenancy import admin
from hub.usage.rollup import nearest_rank
from tools.context import Audience, ToolContext

MESSAGES = [
    "hi there",
    "do you have any hoodies under $80",
    "looking for black chelsea boots size 42",
    "is the organic cotton crew tee in stock in M?",
    "how long do refunds take",
    "do you ship to canada",
    "where is my order A-10042",
    "i want to talk to a human",
]


async def shop(session, products: int) -> uuid.UUID:
    demo = build_demo_shop(datetime(2026, 1, 1, tzinfo=UTC))
    tenant = await admin.create_tenant(session, name=f"Bench {products}")
    rows = []
    for i in range(products):
        p = demo.products[i % len(demo.products)]
        rows.append(
            {
                **p,
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "sku": f"SKU-{100000 + i}",
                "title": p["title"] if i < len(demo.products) else f"{p['title']} {i // len(demo.products)}",
            }
        )
    await session.execute(insert(m.Product), rows)
    await session.execute(
        insert(m.PolicyDocument), [{**d, "id": uuid.uuid4(), "tenant_id": tenant.id} for d in demo.policies]
    )
    await session.commit()
    return tenant.id


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            small, large = await shop(session, 240), await shop(session, 10_000)
        bot = DeterministicEngine()
        voice = ShopVoice(name="Bench")
        timings: dict[str, list[float]] = {"240": [], "10k": []}
        async with sessions() as session:
            for tenant_id in (small, large):  # warm: index build, caches
                ctx = ToolContext(
                    session=session, tenant_id=tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB
                )
                await bot.answer(ctx, "hello", pending=Pending(), voice=voice)
            for r in range(rounds):
                for text in MESSAGES:
                    for label, tenant_id in (("240", small), ("10k", large)):
                        ctx = ToolContext(
                            session=session, tenant_id=tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB
                        )
                        started = time.perf_counter()
                        await bot.answer(ctx, text, pending=Pending(), voice=voice)
                        timings[label].append((time.perf_counter() - started) * 1000)
                print(f"  round {r + 1}/{rounds}", flush=True)
        await engine.dispose()
    p50 = {k: nearest_rank(sorted(v), 50) for k, v in timings.items()}
    p99 = {k: nearest_rank(sorted(v), 99) for k, v in timings.items()}
    print(f"deterministic reply latency, {len(MESSAGES)} messages × {rounds} rounds, SQLite")
    for label in timings:
        print(f"  {label:>4} products  p50 {p50[label]:6.2f} ms  p99 {p99[label]:6.2f} ms")
    print(f"  10k/240 ratio p50 {p50['10k'] / p50['240']:.2f}×  (goal: 10k p50 ≤ 15 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
