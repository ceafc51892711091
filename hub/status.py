"""Gather what an operator needs in an incident: circuits, kill switches, budgets against spend, queues, workers.

One function, `platform_status`, serves `hub status` (the whole platform) and the console's `/status` (one shop,
with nothing of any other shop in it). Circuits, queues and workers come from Redis and are left out, not
guessed, when it is unreachable; switches, budgets and spend come from the database, which is the truth for them.
"""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, cast

import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.eval_coverage import EvalCoverage, eval_coverage
from hub.gateway.breaker import BreakerSnapshot, BreakerState, CircuitBreaker
from hub.gateway.config import GatewayConfig
from hub.gateway.switches import Switch, list_switches
from hub.jobs import DEAD_LETTERS, JobQueue
from hub.prompting.registry import PromptError, PromptRegistry
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.usage.billing import BudgetState, check_budget, spend_by_tenant
from hub.workers import live_workers

log = structlog.get_logger(__name__)


class ModelStatus(BaseModel):
    """One model of the configured chains (or one that is switched off): its circuit and its kill switch."""

    model: str
    provider: str
    features: list[str]
    """Features whose chain includes the model, in the default prompt pins."""
    circuit: BreakerState | Literal["unknown"]
    """`unknown` when Redis, where circuits live, is unreachable."""
    failures: int | None = None
    reopens_at: datetime | None = None
    """When an open circuit lets one probe call through (half-open)."""
    switch: Switch | None = None
    """The kill switch that takes this model out of every chain, if it is off."""


class TenantStatus(BaseModel):
    """One shop: its budgets against what it spent (UTC day and month, as the guard counts), and its switches."""

    tenant_id: uuid.UUID
    slug: str
    name: str
    daily_soft: Decimal | None
    daily_hard: Decimal | None
    monthly_soft: Decimal | None
    monthly_hard: Decimal | None
    spent_today: Decimal
    """USD, from the usage table: model calls and photo shoots, billed by the path that keeps the guard's counters."""
    spent_month: Decimal
    budget: BudgetState
    ai_disabled: list[str]
    """Features the shop's own configuration keeps off AI (`TenantConfig.ai_enabled`)."""
    switches: list[Switch]
    """The shop's kill switches that are off."""


class QueueStatus(BaseModel):
    name: str
    unfinished: int
    """Jobs waiting, delayed or running."""


class WorkerStatus(BaseModel):
    id: str
    kind: str
    host: str
    pid: int
    started_at: datetime


class PlatformStatus(BaseModel):
    at: datetime
    tenant_id: uuid.UUID | None
    """The one shop this status is about, or None for the whole platform."""
    provider: str
    redis: Literal["ok", "unreachable"]
    models: list[ModelStatus]
    tenants: list[TenantStatus]
    queues: list[QueueStatus] | None = None
    """None when Redis is unreachable or no job queue was given."""
    dead_letters: int | None = None
    """Platform view only."""
    workers: list[WorkerStatus] | None = None
    """Workers whose heartbeat is live; platform view only."""
    evals: list[EvalCoverage] | None = None
    """Each prompt × model pair served (the shop's, in a shop's view) and its current eval run, if any; None when the
    caller gave no golden sets, empty when no model is configured."""


def _chains(config: GatewayConfig, prompts: PromptRegistry | None) -> dict[str, list[str]]:
    """Model → the features whose chain names it, in chain order of first appearance."""
    features = set(config.feature_models) | set(prompts.use_cases() if prompts else ())
    used: dict[str, list[str]] = {}
    for feature in sorted(features):
        hint = None
        if prompts is not None and feature in prompts.use_cases():
            try:
                hint = prompts.resolve(feature, {}).model
            except PromptError:
                hint = None
        for model in config.chain(feature, hint):
            used.setdefault(model, []).append(feature)
    return used


async def _circuits(
    redis: aioredis.Redis | None, provider: str, models: list[str]
) -> dict[str, BreakerSnapshot] | None:
    if redis is None:
        return None
    try:
        # create_redis decodes replies to str.
        return {
            model: BreakerSnapshot.parse(
                cast("dict[str, str]", await redis.hgetall(CircuitBreaker.key(provider, model)))
            )
            for model in models
        }
    except (RedisError, OSError) as exc:
        log.warning("status_redis_unreachable", error=repr(exc))
        return None


async def platform_status(
    session: AsyncSession,
    redis: aioredis.Redis | None,
    settings: Settings,
    tenant_id: uuid.UUID | None = None,
    *,
    prompts: PromptRegistry | None = None,
    jobs: JobQueue | None = None,
    golden: Mapping[str, str] | None = None,
) -> PlatformStatus:
    """Return the platform's status, or with `tenant_id` one shop's (no other shop's rows, no workers).

    `redis` None means it is unreachable; `prompts` adds the chains that follow prompts' model hints; `jobs`, an
    open queue, adds queue depths; `golden` (use case → golden set sha256) with `prompts` adds which prompt × model
    pairs have no current eval run.
    """
    now = datetime.now(UTC)
    config = GatewayConfig.from_settings(settings)
    switches = await list_switches(session)
    model_switches = {s.model: s for s in switches if s.model is not None}
    chains = _chains(config, prompts)
    names = list(dict.fromkeys([*chains, *model_switches]))
    circuits = await _circuits(redis, config.provider, names)
    models: list[ModelStatus] = []
    for name in names:
        snapshot = circuits.get(name) if circuits is not None else None
        state = snapshot.state(clock.time()) if snapshot is not None else "unknown"
        models.append(
            ModelStatus(
                model=name,
                provider=config.provider,
                features=chains.get(name, []),
                circuit=state,
                failures=snapshot.failures if snapshot is not None else None,
                reopens_at=datetime.fromtimestamp(snapshot.open_until, UTC)
                if snapshot is not None and state == "open"
                else None,
                switch=model_switches.get(name),
            )
        )

    stmt = select(m.Tenant).order_by(m.Tenant.slug)
    if tenant_id is not None:
        stmt = stmt.where(m.Tenant.id == tenant_id)
    shops = list((await session.execute(stmt)).scalars())
    spend = await spend_by_tenant(session, now, tenant_id)
    tenants: list[TenantStatus] = []
    for shop in shops:
        cfg = TenantConfig.model_validate(shop.settings or {})
        today, month = spend.get(shop.id, (Decimal(0), Decimal(0)))
        tenants.append(
            TenantStatus(
                tenant_id=shop.id,
                slug=shop.slug,
                name=shop.name,
                **cfg.budgets.model_dump(),
                spent_today=today,
                spent_month=month,
                budget=check_budget(cfg.budgets, today, month).state,
                ai_disabled=sorted(f for f, on in cfg.ai_enabled.items() if not on),
                switches=[s for s in switches if s.tenant_id == shop.id],
            )
        )

    status = PlatformStatus(
        at=now,
        tenant_id=tenant_id,
        provider=config.provider,
        redis="ok" if circuits is not None else "unreachable",
        models=models,
        tenants=tenants,
    )
    if golden is not None and prompts is not None:
        status.evals = await eval_coverage(session, settings, prompts, golden, tenant_id)
    if circuits is None or redis is None:
        return status
    try:
        if jobs is not None:
            status.queues = [QueueStatus(name=n, unfinished=d) for n, d in (await jobs.depths()).items()]
        if tenant_id is None:
            status.dead_letters = await redis.llen(DEAD_LETTERS)
            heartbeats = await live_workers(redis)
            status.workers = sorted(
                (WorkerStatus.model_validate(w) for w in heartbeats), key=lambda w: (w.kind, w.host)
            )
    except (RedisError, OSError) as exc:
        log.warning("status_redis_unreachable", error=repr(exc))
    return status
