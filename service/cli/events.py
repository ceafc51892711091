"""`hub events list|replay`: the events a shop's own systems are sent, and the dead-letter list."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.db.event_status import EventStatus
from service.cli.common import cli_actor, fail, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.db import models as m
    from hub.shop_events.delivery import Replayed

events_app = typer.Typer(no_args_is_help=True, help="Events sent to the shop's webhook (returns, cancellations, …).")

TenantOpt = Annotated[str, typer.Option(help="Tenant slug or id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]


def _row(event: m.OutboxEvent) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": str(event.id),
        "type": event.type,
        "status": str(event.status),
        "attempts": event.attempts,
        "created_at": when(event.created_at),
        "next_attempt_at": when(event.next_attempt_at),
        "delivered_at": when(event.delivered_at),
        "last_error": event.last_error,
        "data": event.data,
    }


@events_app.command("list")
def list_command(
    tenant: TenantOpt,
    status: Annotated[EventStatus | None, typer.Option(help="Only events in this state.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Only events of this type, e.g. return.requested.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most events shown, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the tenant's events, newest first, with their delivery state and last error."""
    from hub.shop_events.delivery import list_events
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        t = await admin.resolve_tenant(session, tenant)
        return [_row(e) for e in await list_events(session, t.id, status=status, type_=type_, limit=limit)]

    rows = with_session(load_settings(), work)
    if as_json:
        typer.echo(json.dumps({"events": rows}))
        return
    if not rows:
        typer.echo("no events")
    for r in rows:
        error = f"  ({r['last_error']})" if r["last_error"] else ""
        typer.echo(
            f"{r['id']}  {r['created_at'][:19]}  {r['type']:<32} {r['status']:<9} {r['attempts']:>2} tries{error}"
        )


@events_app.command("replay")
def replay_command(
    tenant: TenantOpt,
    event_ids: Annotated[
        list[str] | None, typer.Argument(help="Events to send again (dead, delivered or skipped ones).")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Send every dead event of the tenant again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send events again from their first try: a worker delivers them within seconds; audited."""
    from hub.shop_events.delivery import replay
    from hub.tenancy import admin

    if bool(event_ids) == dead:
        raise fail("name the events to replay, or give --dead, not both")
    ids: list[uuid.UUID] = []
    for ref in event_ids or []:
        try:
            ids.append(uuid.UUID(ref))
        except ValueError:
            raise fail(f"{ref!r} is not an event id (hub events list shows them)") from None

    async def work(session: AsyncSession) -> Replayed:
        t = await admin.resolve_tenant(session, tenant)
        done = await replay(session, t.id, ids, all_dead=dead, actor=cli_actor())
        if done.unknown:
            listed = ", ".join(map(str, done.unknown))
            raise fail(f"tenant {t.slug!r} has no event {listed}: nothing was replayed")
        return done

    done = with_session(load_settings(), work)
    if as_json:
        typer.echo(
            json.dumps({"replayed": [str(i) for i in done.replayed], "still_pending": [str(i) for i in done.pending]})
        )
        return
    for event_id in done.pending:
        typer.echo(f"{event_id}: still pending, left as it is")
    typer.echo(f"replayed {len(done.replayed)} event{'' if len(done.replayed) == 1 else 's'}")
