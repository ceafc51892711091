"""A real shop goes live from nothing: created, its Shopify exports and help pages imported, its WhatsApp number
connected, all from the CLI; then a shopper gets grounded answers on the widget API and on WhatsApp."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from hub.db.engine import session_factory
from hub.settings import Settings
from service.app import create_app
from service.cli.main import app as hub_cli
from tests.fake_graph_api import FakeGraphApi
from tests.service.test_catalog_import import SHOPIFY_HEADER, shopify_row
from tests.service.test_whatsapp import Channel

pytestmark = pytest.mark.timeout(120)

NUMBER = "109876543210123"
APP_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SHOPPER = "4915112345678"

PRODUCTS = "\n".join(
    [
        SHOPIFY_HEADER,
        shopify_row(
            "moon-ring",
            Title="Moon Ring",
            Body_HTML="<p>A <em>sterling silver</em> ring with a hammered moon.</p>",
            Vendor="Lune",
            Type="Ring",
            Tags="silver, moon",
            Published="TRUE",
            Option1_Name="Size",
            Option1_Value="6",
            Variant_Inventory_Qty="4",
            Variant_Price="59.00",
            Image_Src="https://cdn.example/moon-ring.jpg",
            Image_Position="1",
            Status="active",
        ),
        shopify_row("moon-ring", Option1_Value="7", Variant_Inventory_Qty="0", Variant_Price="59.00"),
        shopify_row("moon-ring", Option1_Value="8", Variant_Inventory_Qty="2", Variant_Price="64.00"),
        shopify_row("moon-ring", Image_Src="https://cdn.example/moon-ring-2.jpg", Image_Position="2"),
        shopify_row(
            "tide-necklace",
            Title="Tide Necklace",
            Body_HTML="<p>A wave pendant on a fine chain.</p>",
            Type="Necklace",
            Published="TRUE",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_SKU="TIDE-01",
            Variant_Inventory_Qty="11",
            Variant_Price="89.00",
            Variant_Compare_At_Price="110.00",
            Status="active",
        ),
        shopify_row(
            "draft-bangle",
            Title="Secret Bangle",
            Type="Bracelet",
            Published="FALSE",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_Inventory_Qty="5",
            Variant_Price="30.00",
            Status="draft",
        ),
    ]
)
CUSTOMERS = (
    "First Name,Last Name,Email,Accepts Email Marketing,Default Address Country Code,Phone\n"
    "Ana,Silva,ana@example.com,yes,DE,+49 151 12345678\n"
)
ORDERS = (
    "Name,Email,Financial Status,Fulfillment Status,Currency,Subtotal,Shipping,Total,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem sku,Tracking Company,Tracking Number\n"
    "#1001,ana@example.com,paid,fulfilled,EUR,89.00,0,89.00,2026-11-20 10:00:00 +0100,1,Tide Necklace,89.00,"
    "TIDE-01,DHL,00340434161234567890\n"
)
RETURNS = """# Returns

## How long you have

You can send any piece back within 30 days of delivery for a full refund, as long as it is unworn and in its box.

## Engraved pieces

Engraved or resized rings are made for you and cannot be returned.
"""
SHIPPING = """<html><body><h1>Shipping</h1><h2>Delivery times</h2>
<p>Orders within Germany arrive in 2 to 3 working days with DHL. Shipping is free over 50 euros.</p></body></html>"""


@dataclass(frozen=True)
class Shop:
    """What the WhatsApp harness signs and addresses webhooks with: the number and app secret the shop connected."""

    whatsapp_phone_number_id: str = NUMBER
    whatsapp_app_secret: str = APP_SECRET


def hub(*args: str) -> str:
    result = CliRunner().invoke(hub_cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def live_shop(engine: AsyncEngine, cli_settings: Settings, tmp_path: Path) -> str:
    """The shop set up as its README section says, every step a `hub` command; returns its storefront key."""
    files = {
        "products.csv": PRODUCTS.encode("utf-8-sig"),
        "customers.csv": CUSTOMERS.encode(),
        "orders.csv": ORDERS.encode(),
        "returns.md": RETURNS.encode(),
        "shipping.html": SHIPPING.encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    hub("tenants", "create", "--name", "Lune Jewellery", "--slug", "lune")
    key = hub("keys", "create", "--tenant", "lune", "--role", "storefront").strip().splitlines()[-1]
    catalog = json.loads(hub("catalog", "import", "--tenant", "lune", str(tmp_path / "products.csv"),
                             "--format", "shopify", "--json").splitlines()[-1])  # fmt: skip
    assert (catalog["products"], catalog["variants"], catalog["rejected"]) == (3, 5, [])
    hub("customers", "import", "--tenant", "lune", str(tmp_path / "customers.csv"), "--format", "shopify")
    hub("orders", "import", "--tenant", "lune", str(tmp_path / "orders.csv"), "--format", "shopify")
    knowledge = json.loads(hub("knowledge", "add", "--tenant", "lune", str(tmp_path / "returns.md"),
                               str(tmp_path / "shipping.html"), "--json").splitlines()[-1])  # fmt: skip
    assert (knowledge["documents"], knowledge["rejected"]) == (2, [])
    hub("whatsapp", "connect", "--tenant", "lune", "--phone-number-id", NUMBER, "--access-token", "EAAG-lune-token",
        "--app-secret", APP_SECRET, "--verify-token", "lune-verify")  # fmt: skip
    again = json.loads(hub("catalog", "import", "--tenant", "lune", str(tmp_path / "products.csv"),
                           "--format", "shopify", "--json").splitlines()[-1])  # fmt: skip
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3), "a re-import changes nothing"
    return key


@pytest.fixture
async def service(live_shop: str, app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[Channel, str]]:
    async with FakeGraphApi() as graph:
        settings = app_settings.model_copy(update={"whatsapp_api_base": graph.base_url})
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
                channel = Channel(client, app, settings, graph, Shop(), session_factory(engine))
                try:
                    yield channel, live_shop
                finally:
                    await channel.stop_workers()


async def test_a_shop_set_up_from_its_own_files_answers_shoppers_on_the_widget_and_whatsapp(
    service: tuple[Channel, str],
) -> None:
    channel, key = service
    session = "e2e-lune-1"

    async def widget(message: str) -> str:
        response = await channel.client.post(
            "/v1/chat", json={"session_id": session, "message": message}, headers={"X-Hub-Key": key}
        )
        assert response.status_code == 200, response.text
        return response.json()["reply"]

    price = await widget("how much is the moon ring in size 8?")
    assert "64.00" in price and "Moon Ring" in price, price
    stock = await widget("is the moon ring in stock in size 7?")
    assert "7" in stock and ("out of stock" in stock.lower() or "sold out" in stock.lower()), stock
    order = await widget("where is my order 1001? my email is ana@example.com")
    assert "#1001" in order and "shipped" in order.lower() and "DHL" in order, order
    policy = await widget("can I send a necklace back after two weeks?")
    assert "30 days" in policy and "Returns" in policy, policy
    secret = await widget("do you have the secret bangle?")
    assert "30.00" not in secret, "a draft product is not shown to shoppers"

    await channel.say("how long does shipping take to Germany?", wa_id=SHOPPER)
    sends = await channel.graph.wait_for_sends(1)
    reply = sends[-1].text or ""
    assert sends[-1].to == SHOPPER and "2 to 3 working days" in reply and "Shipping" in reply, reply
    await channel.say("tide necklace price?", wa_id=SHOPPER)
    sends = await channel.graph.wait_for_sends(2)
    assert "89.00" in (sends[-1].text or ""), sends[-1].text
