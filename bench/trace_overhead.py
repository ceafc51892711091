"""What the audit trail costs a turn: latency with traces stored against the same turns with them dropped.

Same app, same scripted model over real HTTP (one tool call, then a reply), turns alternated between a
normal `TraceStore` and one that drops the spans (they are still built in memory, which is cheap), so both
sides share warm caches and connections. Prints p50/p99 of each, the ratio, and the rows and JSON bytes one
turn's trace adds to the database. Goal: storing traces costs ≤ 10% of a turn's p50.

    python -m bench.trace_overhead [--turns 60] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.agent_turn import scripted_app, shop
from graphs.turns import Speaker
from hub.audit.store import TraceStore
from hub.audit.trace import Trace
from hub.db import models as m
from hub.usage.rollup import nearest_rank
from tools.context import Audience


class DroppingStore(TraceStore):
    """The baseline: spans are built as usual but never written."""

    def store(self, session: AsyncSession, trace: Trace, *, redact_pii: bool) -> list[m.TraceSpan]:
        return []


async def run(turns: int, database_url: str | None) -> None:
    async with scripted_app(database_url) as (app, _):
        sessions = app.state.resources.sessions
        conversations = app.state.conversations
        async with sessions() as session:
            tenant_id = await shop(session, 240)
        stores = {"stored": conversations.traces, "dropped": DroppingStore()}
        timings: dict[str, list[float]] = {name: [] for name in stores}
        for i in range(turns + 2):  # the first two warm caches and connections
            for name, store in stores.items():
                conversations.traces = store
                async with sessions() as session:
                    tenant = await session.get(m.Tenant, tenant_id)
                    speaker = Speaker(audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=f"{name}-{i}")
                    started = time.perf_counter()
                    await conversations.turn(
                        session=session, tenant=tenant, speaker=speaker, text="hoodies under $80?", request_id="b"
                    )
                    await session.commit()
                    if i >= 2:
                        timings[name].append((time.perf_counter() - started) * 1000)
            if (i + 1) % 10 == 0:
                print(f"  turn {i + 1}/{turns + 2}", flush=True)
        conversations.traces = stores["stored"]
        async with sessions() as session:
            spans = (
                (await session.execute(select(m.TraceSpan).where(m.TraceSpan.tenant_id == tenant_id))).scalars().all()
            )
            traces = len({s.trace_id for s in spans})
    size = sum(len(json.dumps(s.attributes)) + len(json.dumps(s.events)) for s in spans)
    backend = "Postgres" if database_url else "SQLite"
    print(f"turn latency with traces stored vs dropped, {turns} turns each, alternated, {backend}")
    for name, values in timings.items():
        ordered = sorted(values)
        print(f"  {name:8} p50 {statistics.median(values):7.2f} ms  p99 {nearest_rank(ordered, 99):7.2f} ms")
    ratio = statistics.median(timings["stored"]) / statistics.median(timings["dropped"])
    print(f"  ratio stored/dropped p50 {ratio:.3f}×  (goal ≤ 1.10×)")
    print(f"  per turn: {len(spans) / traces:.1f} spans, {size / traces / 1024:.1f} KiB of attributes and events")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.turns, args.database_url))
