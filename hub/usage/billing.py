"""Bill every kind of spend to a tenant, and judge what it spent against its budgets.

One path for model attempts (the gateway's `UsageLedger` flushes through `bill`) and for the imaging service's
GPU and CPU seconds (the studio bills each round through `bill`): the rows go to the `usage` table, which reports
and `hub status` sum, and their cost to the Redis spend counters the gateway's guard reads before every model call.
`check_budget` is the one rule that turns a day's and a month's spend into ok, a soft warning or a hard stop, for
the guard, photo jobs and `hub status` alike.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import redis.asyncio as aioredis
import structlog
from sqlalchemy import BigInteger, case, cast, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.constants import SPEND
from hub.db.models import UsageRecord
from hub.tenancy.config import Budgets
from hub.usage.rollup import COST_SCALE

log = structlog.get_logger(__name__)

BudgetState = Literal["ok", "soft_limit", "exhausted"]
_SPEND_TTL_S = {"day": 3 * 86400, "month": 40 * 86400}
_INSERT = insert(UsageRecord.__table__)
_ZERO = Decimal(0)
_CENT_MILLIONTH = Decimal("0.00000001")
"""The ledger's precision (`usage.cost` is NUMERIC(18, 8))."""


def spend_keys(tenant_id: uuid.UUID, at: datetime) -> tuple[str, str]:
    """The tenant's day and month spend counters for `at` (a UTC time); every billed row looks them up."""
    return _spend_keys(tenant_id, at.year, at.month, at.day)


@lru_cache(maxsize=4096)
def _spend_keys(tenant_id: uuid.UUID, year: int, month: int, day: int) -> tuple[str, str]:
    return f"{SPEND}:{tenant_id}:{year:04d}-{month:02d}-{day:02d}", f"{SPEND}:{tenant_id}:{year:04d}-{month:02d}"


async def bill(
    engine: AsyncEngine,
    redis: aioredis.Redis,
    rows: Sequence[dict[str, Any]],
    *,
    on_stored: Callable[[], None] | None = None,
) -> None:
    """Store usage rows (each a `UsageRecord`'s every column, `ts` a UTC time) in one INSERT, then add their cost
    to the tenants' spend counters; `on_stored` runs in between (the gateway counts the spend in its own view
    there, before a sync could read the counters with it already added).

    Raises when the INSERT fails: then nothing was billed and the caller keeps the rows to try again. A counter
    update that fails is logged and not retried (the rows are stored; `hub status` reads them).
    """
    if not rows:
        return
    async with engine.begin() as connection:  # Core, not an ORM session: a batch is one INSERT
        await connection.execute(_INSERT, list(rows))
    if on_stored is not None:
        on_stored()
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["cost"]:
            day_key, month_key = spend_keys(row["tenant_id"], row["ts"])
            totals[(day_key, "day")] += row["cost"]
            totals[(month_key, "month")] += row["cost"]
    if not totals:
        return
    try:
        pipe = redis.pipeline(transaction=False)
        for (key, period), amount in totals.items():
            pipe.incrbyfloat(key, float(amount))
            pipe.expire(key, _SPEND_TTL_S[period])
        await pipe.execute()
    except Exception:
        log.exception("spend_counter_update_failed")


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    state: BudgetState
    detail: str | None = None
    """Which budget is spent (`exhausted`) or reached (`soft_limit`), and the spend: what callers are told."""


OK = BudgetCheck("ok")


def check_budget(budgets: Budgets, spent_day: Decimal, spent_month: Decimal) -> BudgetCheck:
    """Judge a UTC day's and month's spend: a hard budget reached stops model calls and photo jobs; a soft one warns."""
    for spent, hard, label in (
        (spent_day, budgets.daily_hard, "daily"),
        (spent_month, budgets.monthly_hard, "monthly"),
    ):
        if hard is not None and spent >= hard:
            return BudgetCheck("exhausted", f"{label} budget of ${hard:f} spent (${usd(spent)})")
    warning = None
    for spent, soft, label in (
        (spent_day, budgets.daily_soft, "daily"),
        (spent_month, budgets.monthly_soft, "monthly"),
    ):
        if soft is not None and spent >= soft:
            warning = f"{label} soft budget of ${soft:f} reached (${usd(spent)})"
    return BudgetCheck("soft_limit", warning) if warning else OK


def usd(amount: Decimal) -> str:
    """Dollars to four places, or to the first digit that is not zero for less than that (a photo's CPU seconds)."""
    text = f"{amount:.4f}"
    return f"{amount.quantize(_CENT_MILLIONTH).normalize():f}" if amount and Decimal(text) == 0 else text


def has_budget(budgets: Budgets) -> bool:
    """Whether any budget is set (the guard's fast path skips reading spend without one)."""
    b = budgets
    return (
        b.daily_hard is not None or b.monthly_hard is not None or b.daily_soft is not None or b.monthly_soft is not None
    )


async def spend_by_tenant(
    session: AsyncSession, now: datetime, tenant_id: uuid.UUID | None = None
) -> dict[uuid.UUID, tuple[Decimal, Decimal]]:
    """Tenant → (spent today, spent this month) in USD from the usage table, summed exactly in integer units like
    the rollup; one tenant's with `tenant_id`, else every tenant's that spent this month."""
    u = UsageRecord
    day_start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    month_start = day_start.replace(day=1)
    units = cast(func.round(u.cost * 10**COST_SCALE), BigInteger)
    stmt = select(u.tenant_id, func.sum(case((u.ts >= day_start, units), else_=0)), func.sum(units)).where(
        u.ts >= month_start
    )
    if tenant_id is not None:
        stmt = stmt.where(u.tenant_id == tenant_id)
    rows = await session.execute(stmt.group_by(u.tenant_id))
    scale = 10**COST_SCALE
    return {shop: (Decimal(int(day or 0)) / scale, Decimal(int(month or 0)) / scale) for shop, day, month in rows}


async def tenant_budget(session: AsyncSession, tenant_id: uuid.UUID, budgets: Budgets) -> BudgetCheck:
    """Judge one tenant's spend so far today and this month (UTC) against its budgets (no query without one)."""
    if not has_budget(budgets):
        return OK
    day, month = (await spend_by_tenant(session, datetime.now(UTC), tenant_id)).get(tenant_id, (_ZERO, _ZERO))
    return check_budget(budgets, day, month)
