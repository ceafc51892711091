"""Importing a shop's customers and orders from Shopify exports: counts, idempotent re-imports, rejected rows, and
the order-status answer a shopper gets for an imported order."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.db import models as m
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import make_shop
from tools.context import Audience, ToolContext

CUSTOMERS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Country Code,Phone,"
    "Accepts SMS Marketing,Note,Tags\n"
    '1,Ana,Silva,Ana@Example.com,yes,US,(415) 555-2671,no,VIP,"vip, ny"\n'
    "2,Bo,Lee,bo@example.com,no,,,no,,\n"
    "3,No,Mail,,no,,,no,,\n"
)
ORDERS = (
    "Name,Email,Financial Status,Fulfillment Status,Currency,Subtotal,Shipping,Total,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem sku,Billing Name,Shipping City,Cancelled at\n"
    "#1001,ana@example.com,paid,fulfilled,USD,60.00,5.00,65.00,2024-03-05 10:12:01 -0500,1,Linen Shirt - M / Navy,"
    "40.00,LS-M-NAVY,Ana Silva,Boston,\n"
    "#1001,ana@example.com,,,,,,,,2,Mug,10.00,MUG-1,,,\n"
    "#1002,new@example.com,paid,,USD,10.00,0,10.00,2024-03-06 09:00:00 -0500,1,Mug,10.00,MUG-1,New Person,,"
    "2024-03-07 09:00:00 -0500\n"
    "#1003,bo@example.com,refunded,fulfilled,USD,10.00,0,10.00,2024-03-06 09:00:00 -0500,1,Mug,10.00,MUG-1,,,\n"
    "#1004,bo@example.com,paid,,USD,10.00,0,10.00,2024-03-06 09:00:00 -0500,one,Mug,10.00,MUG-1,,,\n"
)


def test_customers_and_orders_import_reimport_unchanged_and_the_shopper_hears_the_status(
    cli_settings: Settings, tmp_path: Path
) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "alpha"))
    customers, orders = tmp_path / "customers.csv", tmp_path / "orders.csv"
    customers.write_text(CUSTOMERS.replace(",", ";"), encoding="utf-8-sig")
    orders.write_text(ORDERS, encoding="utf-8-sig")
    runner = CliRunner()

    def run(kind: str, file: Path, fmt: str = "shopify") -> dict[str, object]:
        out = runner.invoke(app, [kind, "import", "--tenant", "alpha", str(file), "--format", fmt, "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout.splitlines()[-1])

    first = run("customers", customers)
    assert (first["customers"], first["created"]) == (2, 2)
    assert first["rejected"] == [{"line": 4, "column": "Email", "reason": "email is empty"}]
    assert (run("customers", customers)["unchanged"]) == 2

    placed = run("orders", orders)
    assert (placed["orders"], placed["line_items"], placed["created"], placed["customers_created"]) == (3, 4, 3, 1)
    assert placed["rejected"] == [{"line": 6, "column": "Lineitem quantity", "reason": "not a number: 'one'"}]
    again = run("orders", orders)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)

    wrong = runner.invoke(app, ["orders", "import", "--tenant", "alpha", str(customers), "--format", "shopify"])
    assert wrong.exit_code == 1 and "missing column(s) Name" in wrong.stderr
    unknown = runner.invoke(app, ["customers", "import", "--tenant", "nope", str(customers), "--format", "shopify"])
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "error: unknown tenant 'nope'")

    async def ask(session: AsyncSession, text: str) -> str:
        ctx = ToolContext(session=session, tenant_id=shop.tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
        turn = await DeterministicEngine().answer(ctx, text, pending=Pending(), voice=ShopVoice(name="Alpha"))
        return turn.reply

    shipped = with_session(cli_settings, lambda s: ask(s, "where is my order 1001? my email is ana@example.com"))
    assert "#1001 is shipped" in shipped and "Linen Shirt" in shipped, shipped
    cancelled = with_session(cli_settings, lambda s: ask(s, "where is my order #1002? my email is new@example.com"))
    assert "is cancelled" in cancelled, cancelled
    refunded = with_session(cli_settings, lambda s: ask(s, "order 1003 please, email bo@example.com"))
    assert "is refunded" in refunded, refunded
