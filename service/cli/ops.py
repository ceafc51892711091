"""The platform owner's incident commands: `hub switch off|on|list` (kill switches) and `hub status`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from hub.text import format_usd_limit
from service.cli.common import cli_actor, fail, load_settings, with_session

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from rich.console import Console
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.gateway.switches import Switch
    from hub.settings import Settings
    from hub.status import PlatformStatus, TenantStatus

switch_app = typer.Typer(
    no_args_is_help=True,
    help="Kill switches: stop AI for one shop's feature, or take a model out of every chain, at once.",
)
REDIS_PING_TIMEOUT_S = 3.0

TenantOption = Annotated[str | None, typer.Option("--tenant", help="Shop slug or id.")]
FeatureOption = Annotated[
    str | None, typer.Option("--feature", help="A feature (customer_reply, seo_product_copy, photography, …) or '*'.")
]
ModelOption = Annotated[str | None, typer.Option("--model", help="A model name, switched for every shop.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who flips it, for the audit [default: cli:$USER].")]


@asynccontextmanager
async def _reachable_redis(settings: Settings) -> AsyncIterator[aioredis.Redis | None]:
    """Yield a Redis client that answered a ping, or None; closed on exit."""
    from redis.exceptions import RedisError

    from hub.redis_conn import create_redis, running_redis_url

    url = running_redis_url(settings.redis_url, settings.data_dir)
    client = create_redis(url) if url else None
    if client is not None:
        try:
            async with asyncio.timeout(REDIS_PING_TIMEOUT_S):
                await client.ping()
        except (RedisError, OSError, TimeoutError):
            await client.aclose()
            client = None
    try:
        yield client
    finally:
        if client is not None:
            await client.aclose()


async def _announce(settings: Settings) -> bool:
    from hub.gateway.switches import announce

    async with _reachable_redis(settings) as redis:
        return redis is not None and await announce(redis)


async def announce_tenancy_change(settings: Settings) -> bool:
    """Tell running processes to reload tenants and channel accounts; False when no Redis answered."""
    from hub.tenancy.changes import announce

    async with _reachable_redis(settings) as redis:
        return redis is not None and await announce(redis)


def _target(tenant: str | None, feature: str | None, model: str | None) -> None:
    if model is not None and (tenant is not None or feature is not None):
        raise fail("give --model alone, or --tenant with --feature, not both")
    if model is None and tenant is None:
        raise fail("give --tenant with --feature (one shop), or --model (every shop)")
    if tenant is not None and feature is None:
        raise fail("--tenant needs --feature: a feature name, or '*' for all of the shop's AI features")
    if feature is not None and tenant is None:
        raise fail("--feature needs --tenant (a model is switched for every shop with --model)")


def _flip(
    settings: Settings, *, off: bool, tenant: str | None, feature: str | None, model: str | None, reason: str, by: str
) -> tuple[Switch | None, str]:
    """Flip one switch in one committed transaction; return the switch and how the shop is called."""
    from hub.gateway.switches import SwitchError, check_feature, switch_off, switch_on, switchable_features
    from hub.prompting.registry import load_prompts
    from hub.tenancy import admin

    known = switchable_features(load_prompts(settings).use_cases()) if feature is not None else []

    async def work(session: AsyncSession) -> tuple[Switch | None, str]:
        shop = await admin.resolve_tenant(session, tenant) if tenant is not None else None
        if feature is not None:
            check_feature(feature, known)
        flip = switch_off if off else switch_on
        switch = await flip(
            session, tenant_id=shop.id if shop else None, feature=feature, model=model, reason=reason, by=by
        )
        return switch, (f"shop {shop.slug}" if shop else "every shop")

    try:
        return with_session(settings, work)
    except SwitchError as exc:
        raise fail(str(exc)) from None


def _report_announcement(settings: Settings) -> None:
    if asyncio.run(_announce(settings)):
        typer.echo("announced: running processes apply it now")
    else:
        typer.echo(
            f"Redis is not reachable from here: running processes pick it up within {settings.switch_poll_s:g}s "
            "(HUB_SWITCH_POLL_S)"
        )


@switch_app.command("off")
def off(
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit and every fallback it causes.")],
    tenant: TenantOption = None,
    feature: FeatureOption = None,
    model: ModelOption = None,
    by: ByOption = None,
) -> None:
    """Switch AI off for a shop's feature (`--tenant T --feature F`, F may be '*') or a model everywhere (`--model M`)."""
    _target(tenant, feature, model)
    settings = load_settings()
    switch, where = _flip(
        settings, off=True, tenant=tenant, feature=feature, model=model, reason=reason, by=by or cli_actor()
    )
    assert switch is not None
    typer.echo(f"switched off: {switch.scope} for {where} (by {switch.set_by}: {switch.reason})")
    _report_announcement(settings)


@switch_app.command("on")
def on(
    tenant: TenantOption = None,
    feature: FeatureOption = None,
    model: ModelOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why it may run again (optional, audited).")] = "",
    by: ByOption = None,
) -> None:
    """Switch a shop's feature or a model back on."""
    _target(tenant, feature, model)
    settings = load_settings()
    was, where = _flip(
        settings, off=False, tenant=tenant, feature=feature, model=model, reason=reason, by=by or cli_actor()
    )
    if was is None:
        typer.echo("it was not switched off; nothing changed")
        return
    typer.echo(f"switched on: {was.scope} for {where} (off since {was.set_at:%Y-%m-%d %H:%M} UTC, by {was.set_by})")
    _report_announcement(settings)


@switch_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False) -> None:
    """List every switch that is off, with who switched it off, when and why."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from hub.db import models as m
    from hub.gateway.switches import list_switches

    async def work(session: AsyncSession) -> list[tuple[Switch, str | None]]:
        slugs = dict((await session.execute(select(m.Tenant.id, m.Tenant.slug))).tuples().all())
        return [(s, slugs.get(s.tenant_id) if s.tenant_id else None) for s in await list_switches(session)]

    rows = with_session(load_settings(), work)
    if as_json:
        typer.echo(json.dumps([{**s.model_dump(mode="json"), "tenant": slug} for s, slug in rows]))
        return
    if not rows:
        typer.echo("every switch is on")
        return
    table = Table("switched off", "shop", "by", "since (UTC)", "reason")
    for s, slug in rows:
        table.add_row(s.scope, slug or "every shop", s.set_by, f"{s.set_at:%Y-%m-%d %H:%M}", s.reason)
    Console().print(table)


# --- hub status -------------------------------------------------------------------------------------


async def _gather(settings: Settings, tenant: str | None) -> PlatformStatus:
    from redis.exceptions import RedisError

    from evals.cases import golden_hashes
    from hub.db.engine import create_engine, session_factory
    from hub.db.migrate import upgrade
    from hub.jobs import JobQueue
    from hub.prompting.registry import load_prompts
    from hub.redis_conn import running_redis_url
    from hub.status import platform_status
    from hub.tenancy import admin

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, _reachable_redis(settings) as redis:
            tenant_id = (await admin.resolve_tenant(session, tenant)).id if tenant else None
            async with contextlib.AsyncExitStack() as stack:
                jobs = None
                if redis is not None:
                    url = running_redis_url(settings.redis_url, settings.data_dir)
                    jobs = JobQueue(settings.model_copy(update={"redis_url": url}))
                    try:
                        await stack.enter_async_context(jobs)
                    except (RedisError, OSError):
                        jobs = None
                return await platform_status(
                    session,
                    redis,
                    settings,
                    tenant_id,
                    prompts=load_prompts(settings),
                    jobs=jobs,
                    golden=golden_hashes(),
                )
    finally:
        await engine.dispose()


def _spend(spent: Decimal, soft: Decimal | None, hard: Decimal | None) -> str:
    soft_limit, hard_limit = format_usd_limit(soft, style="cents"), format_usd_limit(hard, style="cents")
    return f"${spent:.4f} (soft {soft_limit}, hard {hard_limit})"


def render_status(status: PlatformStatus, console: Console) -> None:
    """Print the status as tables: circuits and model switches, shops, queues, workers."""
    from rich.table import Table

    console.print(
        f"[bold]HUB status[/bold] at {status.at:%Y-%m-%d %H:%M:%S} UTC · provider {status.provider} · "
        f"Redis {status.redis}"
    )
    models = Table("model", "features", "circuit", "failures", "reopens at (UTC)", "kill switch", title="Models")
    for model in status.models:
        models.add_row(
            model.model,
            ", ".join(model.features) or "–",
            model.circuit,
            "–" if model.failures is None else str(model.failures),
            f"{model.reopens_at:%H:%M:%S}" if model.reopens_at else "–",
            f"OFF by {model.switch.set_by}: {model.switch.reason}" if model.switch else "on",
        )
    if status.models:
        console.print(models)
    else:
        console.print("No model is configured: the deterministic engine answers every call.")
    shops = Table("shop", "today", "this month", "budget", "switched off", "AI off by the shop", title="Shops")
    for shop in status.tenants:
        shops.add_row(
            shop.slug,
            _spend(shop.spent_today, shop.daily_soft, shop.daily_hard),
            _spend(shop.spent_month, shop.monthly_soft, shop.monthly_hard),
            shop.budget,
            _switches(shop),
            ", ".join(shop.ai_disabled) or "–",
        )
    console.print(shops)
    if status.queues is not None:
        queues = Table("queue", "unfinished jobs", title="Queues")
        for queue in status.queues:
            queues.add_row(queue.name, str(queue.unfinished))
        console.print(queues)
    if status.dead_letters is not None:
        console.print(f"Dead-lettered jobs: {status.dead_letters}")
    if status.workers is not None:
        workers = Table("kind", "host", "pid", "id", "since (UTC)", title="Live workers")
        for worker in status.workers:
            workers.add_row(worker.kind, worker.host, str(worker.pid), worker.id, f"{worker.started_at:%Y-%m-%d %H:%M}")
        console.print(workers if status.workers else "No live worker heartbeat.")
    if status.evals is not None:
        render_eval_coverage(status, console)


def render_eval_coverage(status: PlatformStatus, console: Console) -> None:
    """Print which prompt × model pairs in use have no current eval run on that model."""
    from rich.table import Table

    coverage = status.evals or []
    missing = [c for c in coverage if not c.current]
    if not coverage:
        console.print("Evals: no model is configured, so no prompt × model pair needs an eval run.")
    elif not missing:
        console.print(f"Evals: all {len(coverage)} prompt × model pairs in use have a current run on their model.")
    else:
        table = Table("use case", "prompt", "model", "used by", title="Prompt × model pairs with no current eval run")
        for pair in missing:
            table.add_row(pair.use_case, pair.prompt_version, pair.model, ", ".join(pair.used_by))
        console.print(table)
        console.print(f"{len(missing)} of {len(coverage)} pairs are stale: `hub eval run --stale` runs them.")


def _switches(shop: TenantStatus) -> str:
    return "; ".join(f"{s.feature} (by {s.set_by}: {s.reason})" for s in shop.switches) or "–"


def status_command(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this shop (slug or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show circuits, kill switches, budgets against spend, queue depths and live workers."""
    from rich.console import Console

    from hub.tenancy import admin

    settings = load_settings()
    try:
        status = asyncio.run(_gather(settings, tenant))
    except admin.TenancyError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(status.model_dump_json())
        return
    render_status(status, Console())
