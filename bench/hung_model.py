"""A model that hangs, on one box: how long shoppers wait, and what everyone else sees meanwhile.

Two phases on the same app, database and data, side by side:

1. baseline: the scripted model answers at once. Shop A's shoppers chat (`--waiting` at a time) while shop B's
   operator reads the catalog and shop B's shoppers chat (AI off: the deterministic engine, which stores rows).
2. hung: the same traffic, but the model accepts every request and never answers.

Printed: shop A's turn latency against the turn deadline (goal: answered by the deadline, and once the first
timeout has opened the circuit, at once), how many of A's turns waited for the deadline, and shop B's p50/p99 as a
ratio of its baseline (goal: p99 ≤ 200 ms, nothing answered 500). The first version held SQLite's write lock
across the model call: B's requests failed with 500 after 30 s.

    python -m bench.hung_model [--waiting 16] [--requests 60] [--deadline 3] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from evals.llm_server import ScriptedLLMServer, Step, reply, stall
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.redis_conn import EmbeddedRedis
from hub.settings import Settings
from hub.tenancy import admin
from hub.usage.rollup import nearest_rank
from service.app import create_app


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.bench", timeout=120) as client:
            yield client


async def shops(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Shop A (model on) and shop B (AI off), a few products each, a storefront and an operator key each."""
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    keys: list[dict[str, str]] = []
    async with session_factory(engine)() as session:
        for name, ai in (("Bench A", True), ("Bench B", False)):
            tenant = await admin.create_tenant(session, name=name)
            if not ai:
                tenant.settings = {"ai_enabled": {"customer_reply": False}}
            for i in range(40):
                session.add(
                    m.Product(tenant_id=tenant.id, sku=f"SKU-{i}", title=f"Tee {i}", category="T-shirts", price=10 + i)
                )
            _, storefront = await admin.issue_key(session, tenant_id=tenant.id, role=m.ApiKeyRole.STOREFRONT)
            _, operator = await admin.issue_key(session, tenant_id=tenant.id, role=m.ApiKeyRole.OPERATOR)
            keys.append({"storefront": storefront, "operator": operator})
        await session.commit()
    await engine.dispose()
    return keys[0], keys[1]


async def chat(client: httpx.AsyncClient, key: str, session_id: str, text: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    r = await client.post("/v1/chat", json={"session_id": session_id, "message": text}, headers={"X-Hub-Key": key})
    engine = r.json().get("engine", "") if r.status_code == 200 else ""
    return time.perf_counter() - started, r.status_code, engine


async def other_tenant(client: httpx.AsyncClient, keys: dict[str, str], requests: int) -> list[tuple[float, int]]:
    """Shop B's traffic, one request at a time: catalog reads and chat turns that store messages."""
    out = []
    for i in range(requests):
        started = time.perf_counter()
        if i % 2:
            r = await client.get("/v1/products", headers={"X-Hub-Key": keys["operator"]})
            out.append((time.perf_counter() - started, r.status_code))
        else:
            elapsed, status, _ = await chat(client, keys["storefront"], f"b-{i}", "do you have tees?")
            out.append((elapsed, status))
    return out


async def phase(
    settings: Settings,
    llm: ScriptedLLMServer,
    step: Step,
    a: dict[str, str],
    b: dict[str, str],
    waiting: int,
    requests: int,
    label: str,
) -> dict[str, object]:
    async with served(settings) as client:
        llm.default = reply("We have tees.")
        for keys in (a, b):  # first-call costs (templates, token counters, clients) outside the timings
            await chat(client, keys["storefront"], f"{label}-warm", "hello")
        llm.default = step
        started = time.perf_counter()
        turns = [asyncio.create_task(chat(client, a["storefront"], f"{label}-{i}", "tees?")) for i in range(waiting)]
        await asyncio.sleep(0.2)  # A's turns are in their model calls
        b_side = await other_tenant(client, b, requests)
        a_side = await asyncio.gather(*turns)
        late = [chat(client, a["storefront"], f"{label}-late-{i}", "tees?") for i in range(waiting)]
        a_late = [await t for t in late]  # after the first wave: the circuit has had its chance to open
        wall = time.perf_counter() - started
    return {"a": a_side, "a_late": a_late, "b": b_side, "wall": wall}


def _p(values: list[float], q: int) -> float:
    return nearest_rank(sorted(values), q) * 1000


async def main(waiting: int, requests: int, deadline: float, database_url: str | None) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLMServer() as llm,
        EmbeddedRedis(Path(tmp) / "redis") as redis,
    ):
        base = Settings(
            data_dir=Path(tmp) / "data",
            database_url=database_url,
            redis_url=redis.url,
            llm_base_url=llm.base_url,
            llm_api_key=SecretStr("k"),
            llm_model="scripted",
            chat_turn_deadline_s=deadline,
            chat_rate_limit_per_client_per_minute=100_000,  # every bench request comes from one address
            chat_rate_limit_per_minute=100_000,
        )
        a, b = await shops(base)
        backend = "Postgres" if database_url else "SQLite (embedded default)"
        print(f"{waiting} of shop A's shoppers at once, shop B: {requests} requests one by one, {backend}")
        results = {}
        for label, step in (("baseline", reply("We have tees.")), ("hung", stall(3600))):
            print(f"  phase {label} …", flush=True)
            results[label] = await phase(base, llm, step, a, b, waiting, requests, label)
    for label, r in results.items():
        a_s = [t for t, _, _ in r["a"]]  # type: ignore[union-attr]
        late = [t for t, _, _ in r["a_late"]]  # type: ignore[union-attr]
        b_s = [t for t, _ in r["b"]]  # type: ignore[union-attr]
        errors = sum(1 for _, status in r["b"] if status >= 500) + sum(1 for _, s, _ in r["a"] if s >= 500)  # type: ignore[union-attr]
        engines = {e for _, _, e in [*r["a"], *r["a_late"]]}  # type: ignore[misc]
        waited = sum(1 for t in [*a_s, *late] if t >= deadline - 1.0)
        print(
            f"  {label:8s}: shop A p50 {_p(a_s, 50):7.0f} ms max {max(a_s) * 1000:6.0f} ms, after the first wave p50 "
            f"{_p(late, 50):5.0f} ms; {waited} of {len(a_s) + len(late)} turns waited for the model's deadline; "
            f"engines {sorted(engines)}; shop B p50 {_p(b_s, 50):6.1f} ms p99 {_p(b_s, 99):6.1f} ms; 5xx {errors}"
        )
    base_b = [t for t, _ in results["baseline"]["b"]]  # type: ignore[union-attr]
    hung_b = [t for t, _ in results["hung"]["b"]]  # type: ignore[union-attr]
    hung_a = [t for t, _, _ in results["hung"]["a"]]  # type: ignore[union-attr]
    print(
        f"  shop B while A's model hangs vs baseline: p50 {_p(hung_b, 50) / _p(base_b, 50):.2f}×, "
        f"p99 {_p(hung_b, 99) / _p(base_b, 99):.2f}× (goal: p99 ≤ 200 ms, no 5xx)"
    )
    print(
        f"  shop A's slowest hung turn / turn deadline: {max(hung_a) / deadline:.2f}× (goal ≤ 1.0×: answered by the deadline)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=16, help="shop A's shoppers waiting on the model at once")
    parser.add_argument("--requests", type=int, default=60, help="shop B's requests, one at a time")
    parser.add_argument("--deadline", type=float, default=3.0, help="HUB_CHAT_TURN_DEADLINE_S for the run")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file (the embedded default)")
    args = parser.parse_args()
    asyncio.run(main(args.waiting, args.requests, args.deadline, args.database_url))
