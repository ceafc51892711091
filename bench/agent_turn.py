"""Time agent turns: HUB's full graph turn against a bare LangGraph react agent, and the deterministic engine.

1. Full turn vs bare agent, same scripted model over real HTTP (one tool call, then a reply): HUB's turn
   (intent routing, gateway guards and ledger, tool permissions, reply validation, checkpoint, messages and
   audit rows) against `create_react_agent` with the same tool and no checkpointer; prints p50s and the ratio.
2. The deterministic engine's reply on a 10,000-product catalog against the 240-product demo shop, side by
   side; prints p50/p99 and the ratio. Goal: p50 ≤ 15 ms at 10k products.

With `--phases` the first part also prints where each side's turn time goes (model HTTP, the tool, the
conversation read, the checkpoint, validation, the turn's write and commit; the rest is graph steps, guards and
routing), as medians over the same turns: wrappers time those calls in this process only, for the run.

    python -m bench.agent_turn [--rounds 5] [--turns 40] [--phases]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
from fastapi import FastAPI
from langchain.agents import create_agent
from langchain_core.tools import StructuredTool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import SecretStr
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import async_sessionmaker

import graphs.conversation
from agents.engine import DeterministicEngine, Pending, ShopVoice
from evals.llm_server import ScriptedLLMServer, Step, last_tool_result, reply, respond, tool_call
from graphs.turns import Conversations, Speaker
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.gateway import tokens
from hub.knowledge.documents import add_documents
from hub.redis_conn import EmbeddedRedis
from hub.seed.catalog import build_demo_shop
from hub.seed.demo import policy_files
from hub.settings import Settings
from hub.tenancy import admin
from hub.usage.rollup import nearest_rank
from service.app import create_app
from tools import registry
from tools.context import Audience, ToolContext
from tools.engagement import ENGAGEMENT_TOOLS
from tools.registry import tools_for

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
    await add_documents(session, tenant.id, policy_files(demo))
    await session.commit()
    return tenant.id


def _scripted_model(messages: list[dict[str, Any]]) -> Step:
    """Search once, then answer quoting the first result: the same behaviour for both agents."""
    found = last_tool_result(messages)
    if found is None:
        return tool_call("search_products", {"query": "hoodie", "max_price": 80})
    card = found["products"][0]
    return reply(f"The {card['title']} ({card['sku']}) is ${card['price']}.")


@asynccontextmanager
async def scripted_app(database_url: str | None = None) -> AsyncIterator[tuple[FastAPI, ScriptedLLMServer]]:
    """The full app on a fresh database (a temporary SQLite file by default), an embedded Redis and the
    scripted model (search once, then answer), started and torn down around the block."""
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer(default=respond(_scripted_model)) as llm:
        with EmbeddedRedis(Path(tmp) / "redis") as redis_server:
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=database_url,
                redis_url=redis_server.url,
                llm_base_url=llm.base_url,
                llm_api_key=SecretStr("k"),
                llm_model="scripted",
            )
            db = create_engine(settings.resolved_database_url)
            await upgrade(db)
            await db.dispose()
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                yield app, llm


@dataclass
class Side:
    """One agent's measurements over the timed turns."""

    ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    request_bytes: list[int] = field(default_factory=list)
    request_tokens: list[int] = field(default_factory=list)
    phases: list[Counter[str]] = field(default_factory=list)
    """Per turn, milliseconds spent in each timed phase (`--phases`)."""


PHASES: list[tuple[object, str, str]] = [
    (openai.AsyncOpenAI, "request", "model HTTP"),
    (registry, "run_tool", "tool"),
    (graphs.conversation, "run_tool", "tool"),
    (Conversations, "conversation", "conversation read"),
    (AsyncSqliteSaver, "aget_tuple", "checkpoint read"),
    (AsyncSqliteSaver, "aput", "checkpoint write"),
    (graphs.conversation, "validate_reply", "validation"),
    (Conversations, "_write", "turn write"),
]
"""What `--phases` times: (owner, attribute, phase). The graph is compiled after these are wrapped, so its nodes
call the wrappers."""


@contextmanager
def phase_timers(enabled: bool) -> Iterator[Counter[str]]:
    """Wrap the `PHASES` calls to add their wall time (ms) to the yielded counter; put the originals back after."""
    spent: Counter[str] = Counter()
    originals = [(owner, name, vars(owner).get(name)) for owner, name, _ in PHASES] if enabled else []
    for owner, name, phase in PHASES if enabled else []:
        setattr(owner, name, _timed(getattr(owner, name), phase, spent))
    try:
        yield spent
    finally:
        for owner, name, original in originals:
            if original is None:  # inherited: drop the wrapper and the base class's shows through again
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _timed(fn: Any, phase: str, spent: Counter[str]) -> Any:
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                spent[phase] += (time.perf_counter() - started) * 1000

        return timed_async

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[phase] += (time.perf_counter() - started) * 1000

    return timed


async def full_vs_bare(turns: int, phases: bool = False) -> tuple[Side, Side]:
    """HUB's full turn and a bare react agent, measured alternately in one run: latency, SQL statements per turn,
    what each model request carried (bytes and tokens of the request body) and, with `phases`, where the time went."""
    with phase_timers(phases) as spent:
        return await _full_vs_bare(turns, spent)


async def _full_vs_bare(turns: int, spent: Counter[str]) -> tuple[Side, Side]:
    async with scripted_app() as (app, llm):
        sessions = app.state.resources.sessions
        async with sessions() as session:
            tenant_id = await shop(session, 240)
        bare = create_agent(
            ChatOpenAI(model="scripted", base_url=llm.base_url, api_key=SecretStr("k"), max_retries=0),
            [_bare_tool(sessions, tenant_id)],
        )
        engine = sessions.kw["bind"].sync_engine
        executed: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: executed.append(statement))
        full, plain = Side(), Side()

        def requests_since(seen: int, side: Side) -> None:
            for request in llm.requests[seen:]:
                body = json.dumps(request.body, separators=(",", ":"))
                side.request_bytes.append(len(body))
                side.request_tokens.append(tokens.count_text("gpt-4o", body))

        for i in range(turns + 2):  # the first two warm caches and connections
            async with sessions() as session:
                tenant = await session.get(m.Tenant, tenant_id)
                await session.commit()
                speaker = Speaker(audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=f"b{i}")
                executed.clear()
                spent.clear()
                seen = len(llm.requests)
                started = time.perf_counter()
                await app.state.conversations.turn(
                    session=session, tenant=tenant, speaker=speaker, text="hoodies under $80?", request_id="b"
                )
                committing = time.perf_counter()
                await session.commit()
                spent["turn write"] += (time.perf_counter() - committing) * 1000
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 2:
                full.ms.append(elapsed)
                full.statements.append(len(executed))
                full.phases.append(Counter(spent))
                requests_since(seen, full)
            executed.clear()
            spent.clear()
            seen = len(llm.requests)
            started = time.perf_counter()
            await bare.ainvoke({"messages": [("user", "hoodies under $80?")]})
            if i >= 2:
                plain.ms.append((time.perf_counter() - started) * 1000)
                plain.statements.append(len(executed))
                plain.phases.append(Counter(spent))
                requests_since(seen, plain)
            if (i + 1) % 10 == 0:
                print(f"  turn {i + 1}/{turns + 2}", flush=True)
    return full, plain


def schema_tokens() -> tuple[int, int]:
    """Tokens of the shopper tools' definitions as pydantic writes them by default, and as HUB sends them."""
    default = [
        {"name": s.name, "description": s.description, "parameters": s.input_model.model_json_schema()}
        for s in tools_for(ENGAGEMENT_TOOLS, Audience.CUSTOMER)
    ]
    compact = [s.schema()["function"] for s in tools_for(ENGAGEMENT_TOOLS, Audience.CUSTOMER)]
    count = lambda value: tokens.count_text("gpt-4o", json.dumps(value, separators=(",", ":")))  # noqa: E731
    return count(default), count(compact)


def _bare_tool(sessions: async_sessionmaker, tenant_id: uuid.UUID) -> StructuredTool:
    spec = next(s for s in ENGAGEMENT_TOOLS if s.name == "search_products")

    async def search_products(**args: Any) -> str:
        async with sessions() as session:
            ctx = ToolContext(session=session, tenant_id=tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
            return (await registry.run_tool(spec, ctx, args)).model_dump_json()

    return StructuredTool.from_function(
        coroutine=search_products, name=spec.name, description=spec.description, args_schema=spec.input_model
    )


def print_phases(full: Side, bare: Side) -> None:
    """Median ms per phase for each side, the rest of the turn, and HUB's excess over the bare agent."""
    names = list(dict.fromkeys(phase for _, _, phase in PHASES))
    print("  where the time goes, median ms per turn (HUB, bare, HUB - bare):")
    rows = []
    for name in names:
        hub, plain = (statistics.median([p[name] for p in side.phases]) for side in (full, bare))
        rows.append((name, hub, plain))
    rest = [
        (ms - sum(p.values()), plain_ms - sum(q.values()))
        for ms, p, plain_ms, q in zip(full.ms, full.phases, bare.ms, bare.phases, strict=True)
    ]
    rows.append(
        (
            "rest: graph steps, guards, routing",
            statistics.median(r[0] for r in rest),
            statistics.median(r[1] for r in rest),
        )
    )
    for name, hub, plain in rows:
        print(f"    {name:36s} {hub:6.2f} {plain:6.2f} {hub - plain:+6.2f}")


async def main(rounds: int, turns: int, phases: bool = False) -> None:
    full, bare = await full_vs_bare(turns, phases)
    p50 = statistics.median
    print(f"full turn vs bare react agent, {turns} turns each, same scripted model over HTTP, SQLite")
    print(f"  HUB full turn  p50 {p50(full.ms):7.2f} ms")
    print(f"  bare react     p50 {p50(bare.ms):7.2f} ms")
    print(
        f"  ratio {p50(full.ms) / p50(bare.ms):.2f}×  (goal ≤ 1.3×; the price of routing, guards, ledger, validation, "
        "checkpoint and audit)"
    )
    print(
        f"  SQL statements per turn: HUB {p50(full.statements):.0f}, bare {p50(bare.statements):.0f} "
        "(HUB's include the turn's messages, audit event, trace and conversation; usage rows are batched apart)"
    )
    for name, side in (("HUB", full), ("bare", bare)):
        sizes = ", ".join(f"{b / 1000:.1f} KB" for b in side.request_bytes[:2])
        print(f"  {name:5s} model requests per turn: {sizes}; tokens {side.request_tokens[:2]}")
    if phases:
        print_phases(full, bare)
    default, compact = schema_tokens()
    print(
        f"  shopper tool definitions: {compact} tokens as sent, {default} as pydantic writes them ({compact / default:.2f}×)"
    )

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
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--phases", action="store_true", help="also print where each side's turn time goes")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.turns, args.phases))
