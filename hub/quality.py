"""Quality between eval runs: a judge grades a sample of production replies in the background.

`maybe_judge`, called after a shopper's turn is committed, picks `HUB_EVAL_SAMPLE_PERCENT` of replies (only when a
model is configured: a judge that cannot answer grades nothing) and queues the job that grades one
(`evals.online`, which the service registers on the channel worker); the job's judge call goes through the gateway
as the tenant's `evals` feature, so it is billed and stops when the budget is spent. `quality_trend` reads the
grades back per use case and language, this week against the one before, for the console's `/quality`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from redis.exceptions import RedisError
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.jobs import JobQueue
from hub.settings import Settings

JUDGE_TASK = "quality.judge_turn"
"""The job that grades one reply: `(tenant_id, message_id)`."""

log = structlog.get_logger(__name__)


async def maybe_judge(
    jobs: JobQueue | None,
    settings: Settings,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    draw: Callable[[], float] = random.random,
) -> bool:
    """Queue the grading of this reply for its share of the sample; whether it did. Never raises: the shopper's
    answer is already committed and sent, and a lost sample is only one fewer grade."""
    if jobs is None or not settings.llm_configured or draw() * 100 >= settings.eval_sample_percent:
        return False
    try:
        await jobs.enqueue(JUDGE_TASK, str(tenant_id), str(message_id), priority="low")
    except (RedisError, OSError) as exc:
        log.warning("quality_sample_not_queued", tenant_id=str(tenant_id), error=str(exc))
        return False
    return True


@dataclass(frozen=True)
class Trend:
    use_case: str
    language: str
    recent: float | None
    """Average score of the last `days` days."""
    recent_n: int
    before: float | None
    """Average score of the `days` days before those."""
    before_n: int
    grounded: float | None
    """Share of the recent replies judged grounded."""


async def quality_trend(
    session: AsyncSession, tenant_id: uuid.UUID, *, days: int = 7, now: datetime | None = None
) -> list[Trend]:
    """This shop's judged replies per use case and language: the last `days` days against the `days` before."""
    now = now or datetime.now(UTC)
    split, start = now - timedelta(days=days), now - timedelta(days=2 * days)
    j = m.TurnJudgement
    recent = j.created_at >= split
    rows = await session.execute(
        select(
            j.use_case,
            func.coalesce(j.language, "?"),
            func.avg(case((recent, j.score))),
            func.count(case((recent, 1))),
            func.avg(case((~recent, j.score))),
            func.count(case((~recent, 1))),
            func.avg(case((recent, case((j.grounded, 1.0), else_=0.0)))),
        )
        .where(j.tenant_id == tenant_id, j.created_at >= start)
        .group_by(j.use_case, func.coalesce(j.language, "?"))
        .order_by(j.use_case, func.coalesce(j.language, "?"))
    )
    return [
        Trend(
            use_case=str(use_case),
            language=str(language),
            recent=None if r is None else float(r),
            recent_n=int(rn),
            before=None if b is None else float(b),
            before_n=int(bn),
            grounded=None if g is None else float(g),
        )
        for use_case, language, r, rn, b, bn, g in rows.all()
    ]
