"""`hub returns list|approve|deny`: the shop's queue of returns, cancellations and address changes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from service.cli.common import cli_actor, fail, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

returns_app = typer.Typer(
    no_args_is_help=True, help="Returns, cancellations and address changes shoppers asked for: list, approve, deny."
)

TenantOpt = Annotated[str, typer.Option("--tenant", help="Shop slug or id.")]
RefArg = Annotated[str, typer.Argument(help="The request's reference (RMA-…, CXL-…, ADR-…) or id.")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why, for the audit trail and the shop's event.")]
KindName = Literal["return", "cancellation", "address_change"]
StatusName = Literal["requested", "approved", "denied"]


@returns_app.command("list")
def list_command(
    tenant: TenantOpt,
    status: Annotated[StatusName | None, typer.Option("--status", help="Only requests in this status.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="Only this order's (any spelling).")] = None,
    kind: Annotated[KindName | None, typer.Option("--kind", help="Only this kind (every kind by default).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """List the shop's requests: the open queue oldest first with --status requested, otherwise newest first."""
    from hub.db.models import RequestKind, RequestStatus
    from hub.order_requests import list_requests, request_view
    from hub.tenancy import admin

    settings = load_settings()

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        shop = await admin.resolve_tenant(session, tenant)
        rows = await list_requests(
            session,
            shop.id,
            kind=RequestKind(kind) if kind else None,
            status=RequestStatus(status) if status else None,
            order_number=order,
            limit=limit,
        )
        return [request_view(r) for r in rows]

    views = with_session(settings, work)
    if as_json:
        typer.echo(json.dumps({"requests": views}))
        return
    _table(views)


def _table(views: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not views:
        typer.echo("no requests")
        return
    table = Table(title=f"{len(views)} requests", title_justify="left")
    for column in ("reference", "kind", "status", "order", "items / address", "reason", "requested", "decided by"):
        table.add_column(column)
    for v in views:
        if v["kind"] == "address_change":
            what = ", ".join(str(x) for x in (v["address"] or {}).values() if isinstance(x, str | int) and x)
        else:
            what = ", ".join(f"{i.get('quantity', 1)}× {i.get('title') or i.get('sku')}" for i in v["items"])
        table.add_row(
            v["reference"],
            v["kind"].replace("_", " "),
            v["status"],
            v["order_number"],
            what or "–",
            " · ".join(p for p in (v["reason"], v["details"]) if p) or "–",
            (v["requested_at"] or "–")[:16].replace("T", " "),
            v["decided_by"] or "–",
        )
    Console(width=160).print(table)


def _decide(tenant: str, ref: str, note: str | None, *, approve: bool) -> None:
    from hub.order_requests import RequestError, RequestNotFound, decide, request_view
    from hub.tenancy import admin

    settings = load_settings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        shop = await admin.resolve_tenant(session, tenant)
        decided = await decide(session, shop.id, ref, approve=approve, by=cli_actor(), note=note)
        return {**request_view(decided.request), "order_status": str(decided.order.status)}

    try:
        view = with_session(settings, work)
    except (RequestNotFound, RequestError) as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"{'approved' if approve else 'denied'} {view['reference']} ({view['kind'].replace('_', ' ')} on order "
        f"{view['order_number']}); the order is now {view['order_status']}"
    )


@returns_app.command("approve")
def approve_command(ref: RefArg, tenant: TenantOpt, note: NoteOpt = None) -> None:
    """Approve an open request: a cancellation cancels the order, an address change replaces its address."""
    _decide(tenant, ref, note, approve=True)


@returns_app.command("deny")
def deny_command(ref: RefArg, tenant: TenantOpt, note: NoteOpt = None) -> None:
    """Deny an open request: the order's status goes back to what it was."""
    _decide(tenant, ref, note, approve=False)
