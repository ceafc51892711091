"""`hub customers import` and `hub orders import`: a shop's customers and orders from a Shopify export or HUB's
CSV / JSON Lines."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.people.common import PeopleFormat
from service.cli.catalog import DryRunOpt, FileArg, JsonOpt, TenantOpt, report, run_import
from service.cli.common import fail, load_settings

customers_app = typer.Typer(no_args_is_help=True, help="The shop's customers.")
orders_app = typer.Typer(no_args_is_help=True, help="The shop's orders.")

FormatOpt = Annotated[PeopleFormat, typer.Option("--format", help="What wrote the file.")]


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
    report(
        summary.as_dict(),
        f"{summary.customers} customers: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged",
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
    report(
        summary.as_dict(),
        f"{summary.orders} orders ({summary.line_items} line items): {summary.created} created, "
        f"{summary.updated} updated, {summary.unchanged} unchanged, {summary.customers_created} customers created",
        dry_run=dry_run,
        as_json=as_json,
    )
