"""The `hub audit` commands: purge what retention has run out on, export a tenant for a regulator, verify it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import fail, load_settings, with_session

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.audit.export import ExportRange, ExportResult
    from hub.audit.retention import PurgeResult

audit_app = typer.Typer(no_args_is_help=True, help="Audit trail: retention purge, regulator export, verification.")

DAY = "YYYY-MM-DD"


def _parse_day(option: str, value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise fail(f"{option} {value!r} is not a date: use {DAY}") from None


@audit_app.command("purge")
def purge(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (slug or id) [default: every tenant].")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
) -> None:
    """Delete traces, messages, turn audit events and console threads older than each tenant's retention.

    Usage and cost rows are always kept, as is everything of a tenant without a retention period.
    """
    from graphs.checkpoint import checkpoint_forgetter
    from hub.audit.retention import purge_all, purge_tenant
    from hub.tenancy import admin

    settings = load_settings()
    forget = checkpoint_forgetter(settings.resolved_database_url, settings.data_dir)
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> list[PurgeResult] | str:
        if tenant is None:
            return await purge_all(session, now, forget=forget, dry_run=dry_run, actor="cli")
        t = await admin.resolve_tenant(session, tenant)
        result = await purge_tenant(session, t, now, forget=forget, dry_run=dry_run, actor="cli")
        return [result] if result is not None else t.slug

    results = with_session(settings, work)
    if isinstance(results, str):
        typer.echo(f"{results} has no retention period: everything is kept")
        return
    if not results:
        typer.echo("no tenant has a retention period: nothing to purge")
        return
    verb = "would delete" if dry_run else "deleted"
    for result in results:
        typer.echo(
            f"{result.slug}: {verb} {result.total:,} rows older than {result.cutoff:%Y-%m-%d %H:%M} UTC "
            f"({result.retention_days} days)"
        )
        for table, count in result.deleted.items():
            typer.echo(f"  {table:<20} {count:>10,}")


class _RichProgress:
    """Export progress on stderr: one bar per table (shown only on a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, table: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(table, total=total or None, table=table)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)


async def _export(url: str, tenant_ref: str, period: ExportRange, out: Path | None) -> ExportResult:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy.engine import make_url

    from hub.audit.export import export_tenant
    from hub.db.engine import create_engine, session_factory
    from hub.db.migrate import upgrade
    from hub.tenancy import admin

    engine = create_engine(url)
    stderr = Console(stderr=True)
    progress = Progress(
        TextColumn("exporting {task.fields[table]:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        disable=not stderr.is_terminal,
    )
    try:
        await upgrade(engine)
        reader = engine
        if make_url(url).get_backend_name() == "postgresql":
            # One snapshot for every table, so counts across files agree while the service keeps writing.
            reader = engine.execution_options(isolation_level="REPEATABLE READ")
        async with session_factory(reader)() as session:
            tenant = await admin.resolve_tenant(session, tenant_ref)
            target = out or Path(f"audit-export-{tenant.slug}-{period.first}-{period.last}")
            with progress:
                return await export_tenant(session, tenant, period, target, progress=_RichProgress(progress))
    finally:
        await engine.dispose()


@audit_app.command("export")
def export(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id.")],
    from_: Annotated[str, typer.Option("--from", metavar=DAY, help="First UTC day of the period.")],
    to: Annotated[str, typer.Option("--to", metavar=DAY, help="Last UTC day of the period (included).")],
    out: Annotated[
        Path | None,
        typer.Option(help="New or empty directory [default: ./audit-export-<tenant>-<from>-<to>]."),
    ] = None,
) -> None:
    """Write a tenant's rows for a period as one JSONL file per table plus manifest.json (rows, bytes, sha256)."""
    from hub.audit.export import ExportError, ExportRange, check_output_dir
    from hub.tenancy import admin

    first, last = _parse_day("--from", from_), _parse_day("--to", to)
    try:
        period = ExportRange(first, last)
        if out is not None:
            check_output_dir(out)
        result = asyncio.run(_export(load_settings().resolved_database_url, tenant, period, out))
    except (ExportError, admin.TenancyError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the export: {exc}") from None
    typer.echo(f"wrote {result.directory}")
    typer.echo(
        f"{len(result.files)} files, {result.rows:,} rows, {result.bytes:,} bytes; "
        f"manifest.json sha256 {result.manifest_sha256}"
    )


@audit_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(help="An export directory (holding manifest.json).")],
) -> None:
    """Recompute every exported file's sha256 and row count and compare them with the manifest."""
    from hub.audit.export import ExportError, verify_export

    try:
        verification = verify_export(directory)
    except ExportError as exc:
        raise fail(str(exc)) from None
    for problem in verification.problems:
        typer.echo(f"error: {problem}", err=True)
    if not verification.ok:
        raise typer.Exit(1)
    typer.echo(f"ok: {verification.files} files, {verification.rows:,} rows match the manifest")
