"""`hub customers import` and `hub orders import`: a shop's customers and orders from a Shopify export or HUB's
CSV / JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.people.common import PeopleFormat
from service.cli.catalog import SHOWN_REJECTIONS, run_import
from service.cli.common import fail, load_settings

if TYPE_CHECKING:
    from hub.catalog.records import Rejection

customers_app = typer.Typer(no_args_is_help=True, help="The shop's customers.")
orders_app = typer.Typer(no_args_is_help=True, help="The shop's orders.")

FileArg = Annotated[Path, typer.Argument(help="The export to import.", exists=True, dir_okay=False, readable=True)]
TenantOpt = Annotated[str, typer.Option(help="Tenant slug or id.")]
FormatOpt = Annotated[PeopleFormat, typer.Option("--format", help="What wrote the file.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Check the file and count changes; write nothing.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]


@customers_app.command("import")
def import_customers_command(
    file: FileArg, tenant: TenantOpt, fmt: FormatOpt, dry_run: DryRunOpt = False, as_json: JsonOpt = False
) -> None:
    """Create or update the tenant's customers from FILE, matched by email; rows that fail are reported."""
    from hub.catalog.records import CatalogFormatError
    from hub.people.customers import import_customers, read_customers

    settings = load_settings()
    try:
        records, rejected = read_customers(file.read_bytes(), fmt)
    except CatalogFormatError as exc:
        raise fail(f"{file}: {exc}") from None
    summary = run_import(
        settings,
        tenant,
        lambda sessions, row, tick: import_customers(
            sessions, row.id, records, rejected, dry_run=dry_run, progress=tick
        ),
        show_progress=not as_json,
    )
    _report(
        summary.as_dict(),
        f"{summary.customers} customers: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged",
        summary.rejected,
        dry_run=dry_run,
        as_json=as_json,
    )


@orders_app.command("import")
def import_orders_command(
    file: FileArg, tenant: TenantOpt, fmt: FormatOpt, dry_run: DryRunOpt = False, as_json: JsonOpt = False
) -> None:
    """Create or update the tenant's orders from FILE, matched by order number; a missing customer is created."""
    from hub.catalog.records import CatalogFormatError
    from hub.people.orders import import_orders, read_orders

    settings = load_settings()
    try:
        records, rejected = read_orders(file.read_bytes(), fmt)
    except CatalogFormatError as exc:
        raise fail(f"{file}: {exc}") from None
    summary = run_import(
        settings,
        tenant,
        lambda sessions, row, tick: import_orders(
            sessions,
            row.id,
            records,
            rejected,
            currency=str((row.settings or {}).get("currency") or "USD"),
            dry_run=dry_run,
            progress=tick,
        ),
        show_progress=not as_json,
    )
    _report(
        summary.as_dict(),
        f"{summary.orders} orders ({summary.line_items} line items): {summary.created} created, "
        f"{summary.updated} updated, {summary.unchanged} unchanged, {summary.customers_created} customers created",
        summary.rejected,
        dry_run=dry_run,
        as_json=as_json,
    )


def _report(result: dict[str, Any], counts: str, rejected: list[Rejection], *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{'would import' if dry_run else 'imported'} {counts}; {len(rejected)} rows rejected")
    listed: list[dict[str, Any]] = result["rejected"]
    for r in listed[:SHOWN_REJECTIONS]:
        typer.echo(f"  line {r['line']}, {r['column'] or '-'}: {r['reason']}")
    if len(listed) > SHOWN_REJECTIONS:
        typer.echo(f"  … and {len(listed) - SHOWN_REJECTIONS} more (--json lists them all)")
