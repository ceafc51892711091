"""The `hub usage` commands: roll the usage ledger up by day and report a tenant's model costs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.usage.formats import ReportFormat
from service.cli.common import fail, load_settings, with_session

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.db import models as m
    from hub.usage.report import UsageReport
    from hub.usage.rollup import RollupResult

usage_app = typer.Typer(no_args_is_help=True, help="Model usage: daily rollups and cost reports.")

DEFAULT_REPORT_DAYS = 30
MAX_REPORT_DAYS = 731
DAY = "YYYY-MM-DD"


def _today() -> date:
    return datetime.now(UTC).date()


def _yesterday() -> date:
    return _today() - timedelta(days=1)


def _parse_day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise fail(f"{option} {value!r} is not a date: use {DAY}") from None


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def _rollup_days(url: str, days: list[date]) -> list[RollupResult]:
    """Roll each day up in a transaction of its own, so an interrupted backfill keeps the days it did."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from hub.db.engine import create_engine, session_factory
    from hub.db.migrate import upgrade
    from hub.usage.rollup import rollup_day

    engine = create_engine(url)
    results = []
    stderr = Console(stderr=True)
    progress = Progress(
        TextColumn("rolling up {task.fields[day]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=len(days) == 1 or not stderr.is_terminal,
    )
    try:
        await upgrade(engine)
        with progress:
            task = progress.add_task("rollup", total=len(days), day=days[0])
            for day in days:
                progress.update(task, day=day)
                async with session_factory(engine)() as session:
                    result = await rollup_day(session, day)
                    await session.commit()
                results.append(result)
                progress.advance(task)
    finally:
        await engine.dispose()
    return results


@usage_app.command("rollup")
def rollup(
    day: Annotated[
        str | None, typer.Option("--day", metavar=DAY, help="UTC day to roll up (default: yesterday).")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", metavar=DAY, help="First day of a range to backfill.")] = None,
    to: Annotated[
        str | None, typer.Option("--to", metavar=DAY, help="Last day of the range (default: yesterday).")
    ] = None,
) -> None:
    """Recompute the daily usage aggregates from the ledger; re-running a day replaces its rows."""
    one, first, last = _parse_day("--day", day), _parse_day("--from", from_), _parse_day("--to", to)
    if one and (first or last):
        raise fail("give --day or --from/--to, not both")
    if last and not first:
        raise fail("--to needs --from")
    if first:
        last = last or _yesterday()
        if first > last:
            raise fail(f"--from {first} is after --to {last}")
        days = _days(first, last)
    else:
        days = [one or _yesterday()]
    results = asyncio.run(_rollup_days(load_settings().resolved_database_url, days))
    for result in results:
        typer.echo(result.summary())
    if len(days) > 1:
        cost = sum((r.cost for r in results), Decimal(0))
        typer.echo(
            f"rolled up {len(days)} days, {days[0]} to {days[-1]}: {sum(r.groups for r in results):,} rows "
            f"from {sum(r.attempts for r in results):,} attempts, cost {cost:f}"
        )


async def _report_tenant(session: AsyncSession, ref: str | None) -> m.Tenant:
    """The tenant named by --tenant; without it, the only tenant there is."""
    from hub.tenancy import admin

    if ref is not None:
        return await admin.resolve_tenant(session, ref)
    tenants = await admin.list_tenants(session)
    if len(tenants) == 1:
        return tenants[0]
    if not tenants:
        raise admin.TenancyError("no tenant yet: create one with `hub tenants create` or `hub seed demo`")
    slugs = ", ".join(sorted(t.slug for t in tenants))
    raise admin.TenancyError(f"{len(tenants)} tenants, say which with --tenant: {slugs}")


def _print_whole(renderable: RenderableType, console: Console) -> None:
    """Print at the renderable's full width: a narrow terminal wraps lines rather than rich cutting numbers."""
    natural = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    console.width = max(console.width, natural)
    console.print(renderable, crop=False)


@usage_app.command("report")
def report(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant slug or id (default: the only tenant, when there is just one).")
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar=DAY, help=f"First day (default: {DEFAULT_REPORT_DAYS - 1} days before --to)."),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", metavar=DAY, help="Last day (default: today, UTC).")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (html default: usage-<tenant>-<from>-<to>.html in the current directory).",
        ),
    ] = None,
) -> None:
    """Report a tenant's model usage and cost per day, feature and model.

    Rolled-up days come from the daily rollup; today and days not rolled up yet are computed live from
    the ledger and marked as such.
    """
    from rich.console import Console

    from hub.usage.report import build_report, render_csv, render_html, render_json, render_table

    last = _parse_day("--to", to) or _today()
    first = _parse_day("--from", from_) or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    if first > last:
        raise fail(f"--from {first} is after --to {last}")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise fail(f"{first} to {last} is more than {MAX_REPORT_DAYS} days: report a shorter period")

    async def work(session: AsyncSession) -> UsageReport:
        t = await _report_tenant(session, tenant)
        return await build_report(session, t.id, first, last)

    usage = with_session(load_settings(), work)
    text_renderers: dict[ReportFormat, Callable[[UsageReport], str]] = {
        ReportFormat.CSV: render_csv,
        ReportFormat.JSON: render_json,
        ReportFormat.HTML: render_html,
    }
    if fmt is ReportFormat.TABLE and output is None:
        _print_whole(render_table(usage), Console())
        return
    if fmt is ReportFormat.HTML and output is None:
        output = Path(f"usage-{usage.tenant_slug}-{first}-{last}.html")
    if output is None:
        typer.echo(text_renderers[fmt](usage), nl=False)
        return
    try:
        with output.open("w", encoding="utf-8") as f:
            if fmt is ReportFormat.TABLE:
                _print_whole(render_table(usage), Console(file=f))
            else:
                f.write(text_renderers[fmt](usage))
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(str(output))
