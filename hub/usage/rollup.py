"""Roll the usage ledger up into one `usage_daily` row per day × tenant × feature × provider × model."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    Date,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m

COST_SCALE = 8
"""Decimal places of `usage.cost`; sums run over integers of 10**-COST_SCALE so they stay exact."""
FAILURES = (m.UsageOutcome.INVALID_OUTPUT, m.UsageOutcome.RETRYABLE_ERROR, m.UsageOutcome.ERROR)
_ADVISORY_LOCK_SPACE = 0x7573_6167
"""First key of the Postgres advisory lock that serialises rollups of one day (the second is the day)."""


@dataclass(frozen=True, slots=True)
class RollupResult:
    """What one rollup wrote for one UTC day."""

    day: date
    groups: int
    """usage_daily rows written."""
    tenants: int
    attempts: int
    """Ledger rows rolled up."""
    cost: Decimal
    replaced: int
    """usage_daily rows of this day that existed before and were replaced."""

    def summary(self) -> str:
        return (
            f"{self.day}: {_count(self.groups, 'row')} for {_count(self.tenants, 'tenant')} "
            f"from {_count(self.attempts, 'attempt')}, cost {self.cost:f} (replaced {self.replaced})"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


T = TypeVar("T", int, float)


def nearest_rank(sorted_values: Sequence[T], percent: int) -> T:
    """Return the nearest-rank percentile: the smallest value with `percent`% of values at or below it."""
    if not sorted_values:
        raise ValueError("nearest_rank needs at least one value")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    rank = -(-percent * len(sorted_values) // 100)  # ceil without floats
    return sorted_values[rank - 1]


def day_window(day: date) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) that make up `day`."""
    start = datetime.combine(day, time.min, UTC)
    return start, start + timedelta(days=1)


def _ts_in_days(dialect: str, first: date, last: date) -> ColumnElement[bool]:
    start, end = day_window(first)[0], day_window(last)[1]
    if dialect == "sqlite":
        # SQLite keeps timestamps as text. Rows written by SQLAlchemy carry microseconds
        # ("2024-05-01 00:00:00.000000") but rows stamped by the CURRENT_TIMESTAMP server default do
        # not ("2024-05-01 00:00:00"); bounds without microseconds order both forms correctly.
        ts = type_coerce(m.UsageRecord.ts, String())
        return and_(ts >= f"{start:%Y-%m-%d %H:%M:%S}", ts < f"{end:%Y-%m-%d %H:%M:%S}")
    return and_(m.UsageRecord.ts >= start, m.UsageRecord.ts < end)


def _utc_day(dialect: str) -> ColumnElement[Any]:
    """The UTC day of a ledger row: text on SQLite (its timestamps are UTC text), a date on Postgres."""
    if dialect == "sqlite":
        return func.date(type_coerce(m.UsageRecord.ts, String()))
    # A literal, not a bound parameter: Postgres matches GROUP BY to the select list by its text.
    return cast(func.timezone(literal_column("'UTC'"), m.UsageRecord.ts), Date)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Group days into runs of consecutive days, (first, last) each, so a range query covers each run."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _latencies(dialect: str) -> ColumnElement[Any]:
    # Fetched per group inside the aggregate query, so counts and percentiles see the same rows.
    if dialect == "postgresql":
        return func.array_agg(m.UsageRecord.latency_ms)
    return func.group_concat(m.UsageRecord.latency_ms)


def _sorted_latencies(aggregated: list[int] | str) -> list[int]:
    """Sort what `_latencies` gave back: a Postgres array, or SQLite's comma-joined text."""
    return sorted(aggregated if isinstance(aggregated, list) else map(int, aggregated.split(",")))


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True, slots=True)
class DailyAggregate:
    """The ledger rows of one UTC day × tenant × feature × provider × model, summed: a usage_daily row's values."""

    day: date
    tenant_id: uuid.UUID
    feature: str
    provider: str
    model: str
    calls: int
    attempts: int
    successes: int
    retries: int
    fallbacks: int
    failures: int
    input_tokens: int
    output_tokens: int
    estimated_rows: int
    cost: Decimal
    latency_p50_ms: int
    latency_p95_ms: int


async def aggregate_days(
    session: AsyncSession, days: Iterable[date], *, tenant_id: uuid.UUID | None = None
) -> list[DailyAggregate]:
    """Sum the ledger rows of these UTC days (of one tenant, or all), per day × tenant × feature × provider × model.

    Reads only; this is the one definition of the numbers, used by the rollup and by reports of days
    not rolled up yet. Counts, tokens and costs are summed in SQL (costs over integer units of
    10**-8, so totals equal the ledger's to the last digit on SQLite too); each group's latencies
    come back in the same query and their percentiles are nearest-rank, computed here (p95 of 20
    attempts is the 19th fastest).

    `calls` counts distinct request ids; among rows without one (NULL or empty), each first attempt
    is a call. A request that moved to another model counts once in each model's row.
    """
    runs = _runs(days)
    if not runs:
        return []
    dialect = session.get_bind().dialect.name
    u = m.UsageRecord
    day = _utc_day(dialect)
    keys = (day, u.tenant_id, u.feature, u.provider, u.model)
    where = or_(*(_ts_in_days(dialect, first, last) for first, last in runs))
    if tenant_id is not None:
        where = and_(u.tenant_id == tenant_id, where)
    totals = select(
        *keys,
        func.count(func.nullif(u.request_id, "").distinct())
        + _count_where(and_(or_(u.request_id.is_(None), u.request_id == ""), u.attempt == 1)),
        func.count(),
        _count_where(u.outcome == m.UsageOutcome.OK),
        _count_where(u.attempt > 1),
        _count_where(u.outcome == m.UsageOutcome.FALLBACK),
        _count_where(u.outcome.in_(FAILURES)),
        func.sum(u.input_tokens),
        func.sum(u.output_tokens),
        _count_where(u.tokens_estimated.is_(True)),
        func.sum(cast(func.round(u.cost * 10**COST_SCALE), BigInteger)),
        _latencies(dialect),
    ).where(where)
    aggregates: list[DailyAggregate] = []
    for row_day, tenant, feature, provider, model, calls, attempts, ok, retries, fallbacks, failures, *rest in (
        await session.execute(totals.group_by(*keys).order_by(*keys))
    ).all():
        input_tokens, output_tokens, estimated, cost_units, aggregated_latencies = rest
        latency = _sorted_latencies(aggregated_latencies)
        aggregates.append(
            DailyAggregate(
                day=row_day if isinstance(row_day, date) else date.fromisoformat(row_day),
                tenant_id=tenant,
                feature=feature,
                provider=provider,
                model=model,
                calls=int(calls),
                attempts=int(attempts),
                successes=int(ok),
                retries=int(retries),
                fallbacks=int(fallbacks),
                failures=int(failures),
                input_tokens=int(input_tokens),
                output_tokens=int(output_tokens),
                estimated_rows=int(estimated),
                cost=Decimal(int(cost_units)).scaleb(-COST_SCALE),
                latency_p50_ms=nearest_rank(latency, 50),
                latency_p95_ms=nearest_rank(latency, 95),
            )
        )
    return aggregates


async def rollup_day(session: AsyncSession, day: date) -> RollupResult:
    """Replace `day`'s usage_daily rows, for every tenant, with `aggregate_days` of that UTC day's ledger rows.

    Idempotent: a re-run gives the same values. Runs in the caller's transaction: commit to publish
    the new rows, which replace the old ones atomically. On Postgres, concurrent rollups of the same
    day wait for each other.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_LOCK_SPACE, day.toordinal())))
    # Writing first makes this a write transaction from the start: on SQLite a read that upgrades
    # to a write later fails at once if another connection wrote in between.
    deleted = await session.execute(delete(m.UsageDaily).where(m.UsageDaily.day == day))
    replaced = typing.cast("CursorResult[Any]", deleted).rowcount  # a DML statement's result is a CursorResult

    computed_at = datetime.now(UTC)
    aggregates = await aggregate_days(session, [day])
    if aggregates:
        await session.execute(insert(m.UsageDaily), [asdict(a) | {"computed_at": computed_at} for a in aggregates])
    return RollupResult(
        day=day,
        groups=len(aggregates),
        tenants=len({a.tenant_id for a in aggregates}),
        attempts=sum(a.attempts for a in aggregates),
        cost=sum((a.cost for a in aggregates), Decimal(0).scaleb(-COST_SCALE)),
        replaced=replaced or 0,
    )
