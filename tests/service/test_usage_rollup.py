"""The daily rollup turns the usage ledger into exact per-tenant aggregates, once per day, on both databases."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.db.engine import session_factory
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.usage.report import build_report
from hub.usage.rollup import rollup_day
from hub.usage.schedule import OPEN_DAY_EVERY, daily_rollup_consumer, due_rollups, run_due_rollups
from tests.conftest import Shop

DAY_1 = date(2025, 3, 10)
DAY_2 = date(2025, 3, 11)
Outcome = m.UsageOutcome
# Values a usage_daily row carries besides its identity and when it was computed.
VALUES = [
    "calls",
    "attempts",
    "successes",
    "retries",
    "fallbacks",
    "failures",
    "input_tokens",
    "output_tokens",
    "estimated_rows",
    "cost",
    "latency_p50_ms",
    "latency_p95_ms",
]


def at(day: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, us, tzinfo=UTC)


def usage_row(
    tenant_id: uuid.UUID,
    ts: datetime,
    *,
    feature: str = "chat",
    provider: str = "openai",
    model: str = "gpt-4o-mini",
    request_id: str | None,
    attempt: int = 1,
    outcome: m.UsageOutcome = Outcome.OK,
    tokens: tuple[int, int] = (0, 0),
    latency_ms: int,
    cost: str = "0",
    estimated: bool = False,
) -> dict[str, Any]:
    failed = outcome in (Outcome.RETRYABLE_ERROR, Outcome.ERROR, Outcome.INVALID_OUTPUT)
    return {
        "ts": ts,
        "tenant_id": tenant_id,
        "feature": feature,
        "provider": provider,
        "model": model,
        "prompt_id": f"{feature}.reply",
        "prompt_version": "1.2.0",
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "tokens_estimated": estimated,
        "latency_ms": latency_ms,
        "cost": Decimal(cost),
        "request_id": request_id,
        "trace_id": uuid.uuid4().hex,
        "attempt": attempt,
        "outcome": outcome,
        "price_version": "2025-03-01",
        "error": {
            Outcome.RETRYABLE_ERROR: "HTTP 429",
            Outcome.ERROR: "HTTP 400",
            Outcome.INVALID_OUTPUT: "schema: reply",
        }.get(outcome)
        if failed
        else None,
    }


def ledger(alpha: uuid.UUID, bravo: uuid.UUID) -> list[dict[str, Any]]:
    """Realistic attempts: retries, re-asks, a model switch, a deterministic fallback, estimated tokens, lost ids."""
    a = alpha
    rows = [
        # alpha, day 1, chat on gpt-4o-mini
        usage_row(a, at(DAY_1, 0), request_id="r1", tokens=(100, 20), latency_ms=200, cost="0.00012"),
        usage_row(a, at(DAY_1, 9), request_id="r2", outcome=Outcome.RETRYABLE_ERROR, latency_ms=50),
        usage_row(a, at(DAY_1, 9, 0, 1), request_id="r2", attempt=2, tokens=(120, 30), latency_ms=300, cost="0.00015"),
        usage_row(
            a,
            at(DAY_1, 10),
            request_id="r3",
            outcome=Outcome.INVALID_OUTPUT,
            tokens=(110, 25),
            latency_ms=400,
            cost="0.00013",
        ),
        usage_row(
            a, at(DAY_1, 10, 0, 1), request_id="r3", attempt=2, tokens=(150, 28), latency_ms=350, cost="0.000165"
        ),
        usage_row(a, at(DAY_1, 11), request_id="r4", outcome=Outcome.RETRYABLE_ERROR, latency_ms=1000),
        usage_row(a, at(DAY_1, 12), request_id="r5", outcome=Outcome.RETRYABLE_ERROR, latency_ms=30),
        usage_row(a, at(DAY_1, 12, 0, 1), request_id="r5", attempt=2, outcome=Outcome.RETRYABLE_ERROR, latency_ms=35),
        usage_row(a, at(DAY_1, 12, 0, 2), request_id="r5", attempt=3, outcome=Outcome.ERROR, latency_ms=40),
        # r4 switched model; r5 ran out of models and the deterministic engine answered
        usage_row(
            a,
            at(DAY_1, 11, 0, 2),
            request_id="r4",
            model="gpt-4o",
            attempt=2,
            tokens=(100, 40),
            latency_ms=900,
            cost="0.00065",
        ),
        usage_row(
            a,
            at(DAY_1, 12, 0, 3),
            request_id="r5",
            provider="none",
            model="deterministic",
            attempt=4,
            outcome=Outcome.FALLBACK,
            latency_ms=5,
        ),
        # alpha, day 1, SEO copy: estimated tokens, two rows without a request id, the day's last microsecond
        usage_row(
            a,
            at(DAY_1, 23, 59, 59, 999_999),
            feature="seo_copy",
            model="gpt-4o",
            request_id="s1",
            tokens=(500, 300),
            latency_ms=2000,
            cost="0.00425",
            estimated=True,
        ),
        usage_row(
            a,
            at(DAY_1, 14),
            feature="seo_copy",
            model="gpt-4o",
            request_id=None,
            tokens=(400, 200),
            latency_ms=1500,
            cost="0.003",
            estimated=True,
        ),
        usage_row(
            a,
            at(DAY_1, 15),
            feature="seo_copy",
            model="gpt-4o",
            request_id=None,
            tokens=(100, 50),
            latency_ms=1700,
            cost="0.00123457",
        ),
        # a request whose id was lost: re-asked after invalid output
        usage_row(
            a,
            at(DAY_1, 16),
            feature="seo_copy",
            model="gpt-4o",
            request_id="",
            outcome=Outcome.INVALID_OUTPUT,
            tokens=(200, 100),
            latency_ms=1600,
            cost="0.0011",
        ),
        usage_row(
            a,
            at(DAY_1, 16, 0, 5),
            feature="seo_copy",
            model="gpt-4o",
            request_id="",
            attempt=2,
            tokens=(210, 90),
            latency_ms=1800,
            cost="0.00112",
        ),
        # alpha, day 2, on its first instant
        usage_row(a, at(DAY_2, 0), request_id="r6", tokens=(90, 10), latency_ms=180, cost="0.0000915"),
    ]
    # bravo, day 1: twenty calls with latencies 10..200 ms, written in no particular order
    latencies = list(range(10, 201, 10))
    random.Random(7).shuffle(latencies)
    rows += [
        usage_row(
            bravo,
            at(DAY_1, 8, i),
            feature="returns_triage",
            request_id=f"b{i}",
            tokens=(10, 5),
            latency_ms=ms,
            cost="0.00000123",
        )
        for i, ms in enumerate(latencies)
    ]
    return rows


EXPECTED_DAY_1 = {
    # (tenant, feature, provider, model): calls, attempts, successes, retries, fallbacks, failures,
    #   input, output, estimated, cost, p50, p95
    ("alpha", "chat", "openai", "gpt-4o-mini"): (5, 9, 3, 4, 0, 6, 480, 103, 0, "0.000565", 200, 1000),
    ("alpha", "chat", "openai", "gpt-4o"): (1, 1, 1, 1, 0, 0, 100, 40, 0, "0.00065", 900, 900),
    ("alpha", "chat", "none", "deterministic"): (1, 1, 0, 1, 1, 0, 0, 0, 0, "0", 5, 5),
    ("alpha", "seo_copy", "openai", "gpt-4o"): (4, 5, 4, 1, 0, 1, 1410, 740, 2, "0.01070457", 1700, 2000),
    ("bravo", "returns_triage", "openai", "gpt-4o-mini"): (20, 20, 20, 0, 0, 0, 200, 100, 0, "0.0000246", 100, 190),
}
EXPECTED_DAY_2 = {("alpha", "chat", "openai", "gpt-4o-mini"): (1, 1, 1, 0, 0, 0, 90, 10, 0, "0.0000915", 180, 180)}


@pytest.fixture
async def ledgered(session: AsyncSession, shops: tuple[Shop, Shop]) -> tuple[Shop, Shop]:
    alpha, bravo = shops
    await session.execute(insert(m.UsageRecord), ledger(alpha.tenant_id, bravo.tenant_id))
    await session.commit()
    return shops


async def daily_rows(session: AsyncSession, day: date, shops: tuple[Shop, Shop]) -> dict[tuple, tuple]:
    slugs = {s.tenant_id: s.slug for s in shops}
    rows = (await session.execute(select(m.UsageDaily).where(m.UsageDaily.day == day))).scalars().all()
    found = {}
    for r in rows:
        key = (slugs[r.tenant_id], r.feature, r.provider, r.model)
        assert key not in found, f"duplicate usage_daily row {key}"
        found[key] = tuple(getattr(r, v) for v in VALUES)
    return found


def expected(table: dict[tuple, tuple]) -> dict[tuple, tuple]:
    return {k: (*v[:9], Decimal(v[9]), *v[10:]) for k, v in table.items()}


async def roll(session: AsyncSession, day: date):
    result = await rollup_day(session, day)
    await session.commit()
    return result


async def test_rollup_values_are_exact_per_tenant_feature_and_model(
    session: AsyncSession, ledgered: tuple[Shop, Shop]
) -> None:
    day_1, day_2 = await roll(session, DAY_1), await roll(session, DAY_2)

    assert await daily_rows(session, DAY_1, ledgered) == expected(EXPECTED_DAY_1)
    assert await daily_rows(session, DAY_2, ledgered) == expected(EXPECTED_DAY_2)
    assert (day_1.groups, day_1.tenants, day_1.attempts, day_1.replaced) == (5, 2, 36, 0)
    assert day_1.cost == Decimal("0.01194417")
    assert (day_2.groups, day_2.attempts, day_2.cost) == (1, 1, Decimal("0.0000915"))


async def test_rerunning_a_day_replaces_its_rows_with_identical_values(
    session: AsyncSession, ledgered: tuple[Shop, Shop]
) -> None:
    await roll(session, DAY_1)
    await roll(session, DAY_2)
    first = await daily_rows(session, DAY_1, ledgered)

    again = await roll(session, DAY_1)

    assert again.replaced == 5 and again.groups == 5
    assert await daily_rows(session, DAY_1, ledgered) == first
    assert await daily_rows(session, DAY_2, ledgered) == expected(EXPECTED_DAY_2)
    total = await session.scalar(select(func.count()).select_from(m.UsageDaily))
    assert total == 6


async def test_rollup_totals_reconcile_with_the_raw_ledger(session: AsyncSession, ledgered: tuple[Shop, Shop]) -> None:
    await roll(session, DAY_1)
    await roll(session, DAY_2)

    for tenant in ledgered:
        raw = (
            await session.execute(
                select(m.UsageRecord.cost, m.UsageRecord.input_tokens, m.UsageRecord.output_tokens).where(
                    m.UsageRecord.tenant_id == tenant.tenant_id
                )
            )
        ).all()
        daily = (
            (await session.execute(select(m.UsageDaily).where(m.UsageDaily.tenant_id == tenant.tenant_id)))
            .scalars()
            .all()
        )
        assert sum(d.attempts for d in daily) == len(raw)
        assert sum(d.cost for d in daily) == sum(r.cost for r in raw)
        assert sum(d.input_tokens for d in daily) == sum(r.input_tokens for r in raw)
        assert sum(d.output_tokens for d in daily) == sum(r.output_tokens for r in raw)


async def test_a_tenants_report_never_contains_another_tenants_usage(
    session: AsyncSession, ledgered: tuple[Shop, Shop]
) -> None:
    alpha, bravo = ledgered
    await roll(session, DAY_1)
    await roll(session, DAY_2)

    report = await build_report(session, alpha.tenant_id, DAY_1 - timedelta(days=1), DAY_2)

    assert report.tenant_slug == "alpha"
    assert {f.feature for f in report.features} == {"chat", "seo_copy"}
    assert report.totals.attempts == 17 and report.totals.cost == Decimal("0.01201107")
    assert [(d.day, d.cost) for d in report.days] == [
        (DAY_1 - timedelta(days=1), Decimal(0)),
        (DAY_1, Decimal("0.01191957")),
        (DAY_2, Decimal("0.0000915")),
    ]
    other = await build_report(session, bravo.tenant_id, DAY_1, DAY_2)
    assert [f.feature for f in other.features] == ["returns_triage"]
    assert other.totals.calls == 20 and other.totals.cost == Decimal("0.0000246")


async def test_a_day_without_usage_removes_stale_rows_and_writes_none(
    session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    empty = DAY_1 - timedelta(days=30)
    stale = {v: 1 for v in VALUES} | {"cost": Decimal("1.5")}
    session.add(
        m.UsageDaily(
            day=empty,
            tenant_id=shops[0].tenant_id,
            feature="chat",
            provider="openai",
            model="gpt-4o",
            computed_at=datetime.now(UTC),
            **stale,
        )
    )
    await session.commit()

    result = await roll(session, empty)

    assert (result.groups, result.tenants, result.attempts, result.cost, result.replaced) == (0, 0, 0, Decimal(0), 1)
    assert await daily_rows(session, empty, shops) == {}
    assert (await roll(session, empty)).replaced == 0


async def test_rows_stamped_by_the_database_clock_are_rolled_up(
    session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    row = usage_row(shops[0].tenant_id, datetime.now(UTC), request_id="now-1", latency_ms=42, cost="0.5")
    del row["ts"]  # the server default stamps it: on SQLite as text without microseconds
    await session.execute(insert(m.UsageRecord), [row])
    await session.commit()
    stamped = await session.scalar(select(m.UsageRecord.ts))

    result = await roll(session, stamped.date())

    assert (result.attempts, result.cost) == (1, Decimal("0.5"))


async def test_concurrent_rollups_of_one_day_leave_one_set_of_rows(
    engine: AsyncEngine, ledgered: tuple[Shop, Shop]
) -> None:
    async def one_rollup() -> None:
        async with session_factory(engine)() as s:
            await roll(s, DAY_1)

    await asyncio.gather(*(one_rollup() for _ in range(3)))

    async with session_factory(engine)() as s:
        assert await daily_rows(s, DAY_1, ledgered) == expected(EXPECTED_DAY_1)


async def test_workers_run_each_due_rollup_once(
    engine: AsyncEngine, app_settings: Settings, ledgered: tuple[Shop, Shop]
) -> None:
    now = at(DAY_2, 0, 30)
    workers = [create_redis(app_settings.redis_url or ""), create_redis(app_settings.redis_url or "")]
    try:
        ran = await asyncio.gather(*(run_due_rollups(engine, redis, now) for redis in workers))
        days = sorted(r.day for results in ran for r in results)
        # three closed days (the last one holds day 1's ledger) and the open day, each by one worker
        assert days == [DAY_1 - timedelta(days=2), DAY_1 - timedelta(days=1), DAY_1, DAY_2]
        assert await run_due_rollups(engine, workers[0], now + timedelta(minutes=1)) == []

        later = await run_due_rollups(engine, workers[1], now + OPEN_DAY_EVERY)
        assert [(r.day, r.attempts) for r in later] == [(DAY_2, 1)]
    finally:
        for redis in workers:
            await redis.aclose()
    async with session_factory(engine)() as s:
        assert await daily_rows(s, DAY_1, ledgered) == expected(EXPECTED_DAY_1)


async def test_rollup_consumer_rolls_up_yesterday_and_stops_when_asked(
    engine: AsyncEngine, app_settings: Settings, shops: tuple[Shop, Shop]
) -> None:
    closed = due_rollups(datetime.now(UTC))[-2]
    async with session_factory(engine)() as s:
        row = usage_row(shops[1].tenant_id, at(closed.day, 12), request_id="y1", latency_ms=70, cost="0.25")
        await s.execute(insert(m.UsageRecord), [row])
        await s.commit()
    redis = create_redis(app_settings.redis_url or "")
    stop = asyncio.Event()
    consumer = asyncio.create_task(daily_rollup_consumer(app_settings, redis, stop))
    try:
        async with asyncio.timeout(30):
            while await redis.get(closed.key) != "done":  # noqa: ASYNC110 — polling Redis, not a local event
                await asyncio.sleep(0.05)
        stop.set()
        async with asyncio.timeout(10):
            await consumer
    finally:
        consumer.cancel()
        await redis.aclose()
    async with session_factory(engine)() as s:
        rows = await daily_rows(s, closed.day, shops)
    assert rows == {("bravo", "chat", "openai", "gpt-4o-mini"): (1, 1, 1, 0, 0, 0, 0, 0, 0, Decimal("0.25"), 70, 70)}


async def test_days_not_rolled_up_are_reported_live_with_the_same_numbers_the_rollup_writes(
    session: AsyncSession, ledgered: tuple[Shop, Shop]
) -> None:
    alpha, bravo = ledgered
    later = DAY_2 + timedelta(days=7)

    live = await build_report(session, alpha.tenant_id, DAY_1, DAY_2, today=later)
    await roll(session, DAY_1)
    await roll(session, DAY_2)
    rolled = await build_report(session, alpha.tenant_id, DAY_1, DAY_2, today=later)

    assert [(d.day, d.live) for d in live.days] == [(DAY_1, True), (DAY_2, True)]
    assert [d.live for d in rolled.days] == [False, False] and not any(r.live for r in rolled.rows)
    assert all(r.live for r in live.rows) and live.computed_at is None and rolled.computed_at is not None
    assert [r.model_copy(update={"live": False}) for r in live.rows] == rolled.rows
    assert live.totals == rolled.totals and live.features == rolled.features and live.models == rolled.models
    assert rolled.totals.cost == Decimal("0.01201107")
    # bravo had nothing on day 2, which the rollup has reached: that day is final, not live
    quiet = await build_report(session, bravo.tenant_id, DAY_1, DAY_2, today=later)
    assert [(d.live, d.cost) for d in quiet.days] == [(False, Decimal("0.0000246")), (False, Decimal(0))]


async def test_today_is_computed_live_even_after_an_open_day_rollup(
    session: AsyncSession, ledgered: tuple[Shop, Shop]
) -> None:
    alpha, _ = ledgered
    await roll(session, DAY_1)
    await roll(session, DAY_2)  # the open day's rollup, before this late attempt reached the ledger
    late = usage_row(alpha.tenant_id, at(DAY_2, 23), request_id="late", latency_ms=10, cost="0.5")
    await session.execute(insert(m.UsageRecord), [late])
    await session.commit()

    report = await build_report(session, alpha.tenant_id, DAY_1, DAY_2, today=DAY_2)

    assert [(d.day, d.live, d.cost) for d in report.days] == [
        (DAY_1, False, Decimal("0.01191957")),
        (DAY_2, True, Decimal("0.5000915")),
    ]
