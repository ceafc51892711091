"""Operators work the queues of returns, cancellations and address changes: over HTTP with an operator key, and
with `hub returns`; the order follows each decision, a decision is made once, and no shop sees another's."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from hub.db import models as m
from hub.db.models import OrderStatus, RequestKind
from hub.order_requests import Asked, Where, confirm, propose
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import make_shop

NEW_ADDRESS = {"line1": "1 Harbour St", "city": "Boston", "postcode": "02110", "country": "US"}


async def ask_for(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    order: m.Order,
    kind: RequestKind,
    *,
    reason: str | None = None,
    address: dict[str, Any] | None = None,
) -> m.OrderRequest:
    """Record a shopper's confirmed request as the conversation would: proposed in one turn, confirmed in the next."""
    items = [{k: i[k] for k in ("sku", "title", "quantity")} for i in order.items] if kind is RequestKind.RETURN else []
    asked = Asked(kind=kind, items=items, reason=reason, details="too small" if reason else None, address=address)
    ref = f"web-{order.number}-{kind}"
    await propose(session, tenant_id, order, asked, Where("web", ref, "t1", f"customer:web:{ref}"))
    confirmed = await confirm(session, tenant_id, order, asked, Where("web", ref, "t2", f"customer:web:{ref}"))
    assert confirmed is not None and confirmed.created
    await session.commit()
    return confirmed.request


async def orders_in(session: AsyncSession, tenant_id: uuid.UUID, status: OrderStatus, n: int) -> list[m.Order]:
    rows = await session.execute(
        select(m.Order)
        .where(m.Order.tenant_id == tenant_id, m.Order.status == status)
        .order_by(m.Order.number)
        .limit(n)
    )
    found = list(rows.scalars())
    assert len(found) == n, f"the demo shop has {n} orders {status}"
    return found


async def test_operators_list_approve_and_deny_requests_and_the_order_follows(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    [delivered] = await orders_in(session, tenant_id, OrderStatus.DELIVERED, 1)
    to_cancel, to_keep, to_move = await orders_in(session, tenant_id, OrderStatus.PAID, 3)
    rma = await ask_for(session, tenant_id, delivered, RequestKind.RETURN, reason="doesnt_fit")
    cxl = await ask_for(session, tenant_id, to_cancel, RequestKind.CANCELLATION)
    kept = await ask_for(session, tenant_id, to_keep, RequestKind.CANCELLATION)
    adr = await ask_for(session, tenant_id, to_move, RequestKind.ADDRESS_CHANGE, address=NEW_ADDRESS)
    op = {"X-Hub-Key": demo.operator_key}

    listed = (await api.get("/v1/returns", headers=op)).json()
    assert [r["reference"] for r in listed["returns"]] == [rma.reference]
    assert listed["returns"][0]["items"] and listed["returns"][0]["reason"] == "doesnt_fit"
    spelled = "#" + delivered.number.lower().replace("-", " ")
    assert len((await api.get("/v1/returns", params={"order": spelled}, headers=op)).json()["returns"]) == 1
    assert (await api.get("/v1/returns", params={"order": to_cancel.number}, headers=op)).json() == {"returns": []}
    assert (await api.get("/v1/returns", params={"status": "approved"}, headers=op)).json() == {"returns": []}
    bad = await api.get("/v1/returns", params={"status": "draft"}, headers=op)
    assert bad.status_code == 422 and "status" in bad.json()["error"]["message"]
    cancellations = (await api.get("/v1/cancellations?status=requested", headers=op)).json()["cancellations"]
    assert {r["reference"] for r in cancellations} == {cxl.reference, kept.reference}
    assert [r["address"] for r in (await api.get("/v1/address-changes", headers=op)).json()["address_changes"]] == [
        NEW_ADDRESS
    ]

    shown = await api.get(f"/v1/orders/{quote(spelled)}", headers=op)
    assert shown.status_code == 200, shown.text
    order = shown.json()
    assert order["number"] == delivered.number and order["status"] == "return_requested"
    assert [r["reference"] for r in order["requests"]] == [rma.reference] and order["shipping_address"] is not None

    denied = await api.post(f"/v1/returns/{rma.reference.lower()}/deny", json={"note": "worn"}, headers=op)
    assert denied.status_code == 200, denied.text
    assert denied.json()["status"] == "denied" and denied.json()["note"] == "worn"
    assert denied.json()["decided_by"].startswith("key:")
    assert (await api.get(f"/v1/orders/{delivered.number}", headers=op)).json()["status"] == "delivered"
    again = await api.post(f"/v1/returns/{rma.id}/approve", headers=op)
    assert again.status_code == 409 and f"denied by {denied.json()['decided_by']}" in again.json()["error"]["message"]
    wrong_queue = await api.post(f"/v1/returns/{cxl.reference}/approve", headers=op)
    assert wrong_queue.status_code == 404 and cxl.reference in wrong_queue.json()["error"]["message"]

    assert (await api.post(f"/v1/cancellations/{cxl.id}/approve", headers=op)).json()["status"] == "approved"
    assert (await api.get(f"/v1/orders/{to_cancel.number}", headers=op)).json()["status"] == "cancelled"
    assert (await api.post(f"/v1/cancellations/{kept.reference}/deny", headers=op)).status_code == 200
    assert (await api.get(f"/v1/orders/{to_keep.number}", headers=op)).json()["status"] == "paid"
    moved = await api.post(f"/v1/address-changes/{adr.reference}/approve", json={"note": "ok"}, headers=op)
    assert moved.status_code == 200, moved.text
    address = (await api.get(f"/v1/orders/{to_move.number}", headers=op)).json()["shipping_address"]
    assert {k: address[k] for k in NEW_ADDRESS} == NEW_ADDRESS
    extra = await api.post(f"/v1/address-changes/{adr.reference}/deny", json={"notes": "x"}, headers=op)
    assert extra.status_code == 422

    events = await session.execute(
        select(m.OutboxEvent.type).where(m.OutboxEvent.tenant_id == tenant_id).order_by(m.OutboxEvent.created_at)
    )
    assert {"return.denied", "order.cancelled", "order.cancel_denied", "order.address_changed"} <= set(events.scalars())


async def test_a_shop_never_sees_or_decides_anothers_requests_and_shopper_keys_are_refused(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    [paid] = await orders_in(session, tenant_id, OrderStatus.PAID, 1)
    cxl = await ask_for(session, tenant_id, paid, RequestKind.CANCELLATION)
    other = await make_shop(session, "bravo")
    theirs = {"X-Hub-Key": other.operator_key}
    assert (await api.get("/v1/cancellations", headers=theirs)).json() == {"cancellations": []}
    for key in (cxl.reference, str(cxl.id)):
        r = await api.post(f"/v1/cancellations/{key}/approve", headers=theirs)
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_request"
    assert (await api.get(f"/v1/orders/{paid.number}", headers=theirs)).status_code == 404

    shopper = {"X-Hub-Key": demo.storefront_key}
    for method, path in [("GET", "/v1/cancellations"), ("POST", f"/v1/cancellations/{cxl.reference}/deny")]:
        assert (await api.request(method, path, headers=shopper)).status_code == 403
        assert (await api.request(method, path)).status_code == 401
    await session.refresh(paid)
    assert paid.status == OrderStatus.CANCEL_REQUESTED, "nobody else decided it"
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"/v1/returns", "/v1/cancellations/{ref}/approve", "/v1/address-changes/{ref}/deny"} <= set(paths)


def test_hub_returns_lists_as_json_and_decides_once(cli_settings: Settings) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "alpha"))

    async def ask(session: AsyncSession) -> str:
        order = await session.scalar(select(m.Order).where(m.Order.tenant_id == shop.tenant_id))
        assert order is not None
        return (await ask_for(session, shop.tenant_id, order, RequestKind.CANCELLATION)).reference

    ref = with_session(cli_settings, ask)
    runner = CliRunner()

    def run(*args: str) -> Any:
        out = runner.invoke(app, ["returns", *args])
        assert out.exit_code == 0, out.output
        return out

    listed = json.loads(run("list", "--tenant", "alpha", "--json").stdout.splitlines()[-1])
    assert [(r["reference"], r["kind"], r["status"]) for r in listed["requests"]] == [
        (ref, "cancellation", "requested")
    ]
    assert json.loads(run("list", "--tenant", "alpha", "--kind", "return", "--json").stdout.splitlines()[-1]) == {
        "requests": []
    }
    assert ref in run("list", "--tenant", "alpha", "--order", "a10001").stdout
    assert "cancelled" in run("approve", ref, "--tenant", "alpha", "--note", "customer called").stdout
    decided = json.loads(run("list", "--tenant", "alpha", "--status", "approved", "--json").stdout.splitlines()[-1])
    [view] = decided["requests"]
    assert view["decided_by"].startswith("cli:") and view["note"] == "customer called"
    twice = runner.invoke(app, ["returns", "deny", ref, "--tenant", "alpha"])
    assert twice.exit_code == 1 and "already approved" in twice.output
    assert runner.invoke(app, ["returns", "list", "--tenant", "alpha", "--status", "draft"]).exit_code == 2
