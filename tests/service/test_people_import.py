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


def _run(args: list[str]) -> dict[str, object]:
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout.splitlines()[-1])


async def _customer(session: AsyncSession, tenant_id: object, address: str) -> m.Customer:
    from sqlalchemy import select

    return (
        await session.execute(select(m.Customer).where(m.Customer.tenant_id == tenant_id, m.Customer.email == address))
    ).scalar_one()


async def _order(session: AsyncSession, tenant_id: object, number: str) -> m.Order:
    from sqlalchemy import select

    return (
        await session.execute(select(m.Order).where(m.Order.tenant_id == tenant_id, m.Order.number == number))
    ).scalar_one()


def test_a_classic_windows_export_reads_its_accents_marketing_and_phone(cli_settings: Settings, tmp_path: Path) -> None:
    """Shopify's classic customers export, saved by Excel on Windows: cp1252, `Accepts Marketing`, a national phone."""
    shop = with_session(cli_settings, lambda session: make_shop(session, "gamma"))
    classic = tmp_path / "customers.csv"
    classic.write_bytes(
        (
            "First Name,Last Name,Email,Accepts Marketing,Default Address Country Code,Phone,Tags\n"
            'Zoë,Müller,zoe@example.com,yes,DE,030 901820,"stammkunde, café"\n'
        ).encode("cp1252")
    )
    planned = _run(["customers", "import", "--tenant", "gamma", str(classic), "--format", "shopify", "--dry-run"])
    assert planned["created"] == 1
    none = with_session(cli_settings, lambda s: s.scalar(select_count(shop.tenant_id, "zoe@example.com")))
    assert none == 0, "a dry run writes nothing"

    assert _run(["customers", "import", "--tenant", "gamma", str(classic), "--format", "shopify"])["created"] == 1
    zoe = with_session(cli_settings, lambda s: _customer(s, shop.tenant_id, "zoe@example.com"))
    assert zoe.name == "Zoë Müller" and zoe.marketing_opt_in is True
    assert zoe.phone == "+4930901820", "a national number is stored in E.164 with the address's country"
    assert "café" in zoe.tags


def select_count(tenant_id: object, address: str):
    from sqlalchemy import func, select

    return select(func.count()).where(m.Customer.tenant_id == tenant_id, m.Customer.email == address)


def test_generic_jsonl_and_csv_orders_carry_items_address_and_tracking(cli_settings: Settings, tmp_path: Path) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "delta"))
    jsonl = tmp_path / "orders.jsonl"
    line = {
        "number": "5001",
        "email": "kim@example.com",
        "name": "Kim Park",
        "status": "shipped",
        "currency": "EUR",
        "total": "42.50",
        "sku": "MUG-1",
        "title": "Mug",
        "quantity": 2,
        "unit_price": "21.25",
        "city": "Lyon",
        "country": "FR",
        "carrier": "Colissimo",
        "tracking_number": "6A12345678901",
    }
    lost = line | {"number": "5002", "status": "vanished"}
    jsonl.write_text(json.dumps(line) + "\n" + json.dumps(lost) + "\n", encoding="utf-8")
    summary = _run(["orders", "import", "--tenant", "delta", str(jsonl), "--format", "jsonl"])
    assert summary["created"] == 1
    assert summary["rejected"] == [{"line": 2, "column": "status", "reason": "not an order status: 'vanished'"}]
    order = with_session(cli_settings, lambda s: _order(s, shop.tenant_id, "5001"))
    assert (order.carrier, order.tracking_number, order.currency) == ("Colissimo", "6A12345678901", "EUR")
    assert order.items[0]["sku"] == "MUG-1" and order.items[0]["quantity"] == 2
    assert order.shipping_address["city"] == "Lyon"

    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("email;name;phone;country\nlee@example.com;Lee Wong;+44 20 7946 0958;GB\n", encoding="utf-8")
    assert _run(["customers", "import", "--tenant", "delta", str(csv_file), "--format", "csv"])["created"] == 1
    lee = with_session(cli_settings, lambda s: _customer(s, shop.tenant_id, "lee@example.com"))
    assert (lee.name, lee.phone) == ("Lee Wong", "+442079460958")
