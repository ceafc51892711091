"""`hub catalog import`: load a shop's products from a Shopify or WooCommerce export, or HUB's CSV / JSON Lines."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hub.catalog.records import CatalogFormat
from service.cli.common import fail, load_settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from hub.catalog.importer import Progress
    from hub.catalog.records import ImportSummary, ReadResult
    from hub.db.models import Tenant
    from hub.settings import Settings

_S = TypeVar("_S")

catalog_app = typer.Typer(no_args_is_help=True, help="The shop's catalog.")

SHOWN_REJECTIONS = 50
"""Rejected rows the human summary lists; `--json` lists them all."""


FileArg = Annotated[Path, typer.Argument(help="The export to import.", exists=True, dir_okay=False, readable=True)]
TenantOpt = Annotated[str, typer.Option(help="Tenant slug or id.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Check the file and count changes; write nothing.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]


@catalog_app.command("import")
def import_command(
    file: FileArg,
    tenant: TenantOpt,
    fmt: Annotated[CatalogFormat, typer.Option("--format", help="What wrote the file.")],
    dry_run: DryRunOpt = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="The file is a full export: archive imported products missing from it.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create or update the tenant's products from FILE, matched by handle; rows that fail are reported, not fatal."""
    from hub.catalog.importer import read_catalog
    from hub.catalog.records import CatalogFormatError

    settings = load_settings()
    try:
        catalog = read_catalog(file.read_bytes(), fmt)
    except CatalogFormatError as exc:
        raise fail(f"{file}: {exc}") from None
    s = _run(settings, tenant, catalog, fmt, dry_run=dry_run, prune=prune, show_progress=not as_json)
    counts = (
        f"{s.products} products ({s.variants} variants): {s.created} created, {s.updated} updated, "
        f"{s.unchanged} unchanged, {s.archived} archived"
    )
    report(s.as_dict(), counts, dry_run=dry_run, as_json=as_json)


def _run(
    settings: Settings,
    tenant: str,
    catalog: ReadResult,
    fmt: CatalogFormat,
    *,
    dry_run: bool,
    prune: bool,
    show_progress: bool,
) -> ImportSummary:
    from hub.catalog.importer import import_catalog

    async def job(sessions: async_sessionmaker[AsyncSession], row: Tenant, tick: Progress) -> ImportSummary:
        summary = await import_catalog(
            sessions,
            row.id,
            catalog,
            fmt=fmt,
            currency=str((row.settings or {}).get("currency") or "USD"),
            dry_run=dry_run,
            prune=prune,
            progress=tick,
        )
        if not dry_run and (summary.created or summary.updated):
            await queue_embedding(settings, row.id, tenant)
        return summary

    return run_import(settings, tenant, job, show_progress=show_progress)


@catalog_app.command("embed")
def embed_command(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """Encode the tenant's products for search by meaning now, in this process (a shop without a worker); only
    products that are new or whose text changed are encoded."""
    from hub.catalog.vectors import embed_products

    report = run_import(
        load_settings(),
        tenant,
        lambda sessions, row, tick: embed_products(sessions, row.id, progress=tick),
        show_progress=not as_json,
        label="encoding",
    )
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        typer.echo(f"encoded {report.encoded} products; {report.unchanged} were up to date")


async def queue_embedding(settings: Settings, tenant_id: uuid.UUID, tenant: str) -> None:
    """Queue the tenant's product vectors for a worker; without Redis, say how to encode them here instead."""
    from redis.exceptions import RedisError

    from hub.catalog.vectors import request_embedding
    from hub.jobs import JobQueue

    hint = (
        f"until they are, products are found by their words only; `hub catalog embed --tenant {tenant}` encodes them "
        "here (search by meaning)"
    )
    if not settings.redis_url:
        typer.echo(f"note: with no job queue configured the products were not queued for encoding: {hint}", err=True)
        return
    try:
        async with JobQueue(settings) as jobs:
            await request_embedding(jobs, tenant_id)
    except (RedisError, OSError):
        typer.echo(f"the job queue is unreachable, so the products were not queued for encoding: {hint}", err=True)


def run_import(
    settings: Settings,
    tenant: str,
    job: Callable[[async_sessionmaker[AsyncSession], Tenant, Progress], Awaitable[_S]],
    *,
    show_progress: bool,
    label: str = "importing",
) -> _S:
    """Run one import for the tenant `tenant` names (an unknown one fails with one line), with a progress bar on
    a terminal: the database is migrated first, and `job` gets the sessions, the tenant and the bar's tick."""
    from contextlib import nullcontext

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hub.db.engine import create_engine, session_factory
    from hub.db.migrate import upgrade
    from hub.tenancy import admin

    console = Console(stderr=True)
    bar = (
        Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        if show_progress and console.is_terminal
        else None
    )

    async def main() -> _S:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            sessions = session_factory(engine)
            async with sessions() as session:
                row = await admin.resolve_tenant(session, tenant)
            with bar or nullcontext():
                task = bar.add_task("import", total=None) if bar is not None else None

                def tick(done: int, total: int) -> None:
                    if bar is not None and task is not None:
                        bar.update(task, completed=done, total=total)

                return await job(sessions, row, tick)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except admin.TenancyError as exc:
        raise fail(str(exc)) from None


def report(result: dict[str, Any], counts: str, *, dry_run: bool, as_json: bool) -> None:
    """Print an import's summary: its JSON object as the last line, or `counts` and the first rejected rows."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    rejected: list[dict[str, Any]] = result["rejected"]
    typer.echo(f"{'would import' if dry_run else 'imported'} {counts}; {len(rejected)} rows rejected")
    for r in rejected[:SHOWN_REJECTIONS]:
        typer.echo(f"  line {r['line']}, {r['column'] or '-'}: {r['reason']}")
    if len(rejected) > SHOWN_REJECTIONS:
        typer.echo(f"  … and {len(rejected) - SHOWN_REJECTIONS} more (--json lists them all)")
