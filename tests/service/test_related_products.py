"""Complements for a shop that is not the demo: a jewellery shop imported from its own files is offered what goes
with a piece by the general vocabulary, by what its customers bought together, and by its other categories."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from hub.db import models as m
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import make_shop
from tools.context import Audience, ToolContext
from tools.engagement import RecommendationKind, RecommendProductsInput, recommend_products

CATALOG = [
    {
        "handle": "moon-necklace",
        "title": "Moon Pendant Necklace",
        "category": "Necklaces",
        "price": "89.00",
        "stock": 4,
    },
    {"handle": "moon-studs", "title": "Moon Stud Earrings", "category": "Earrings", "price": "49.00", "stock": 9},
    {"handle": "hoop-earrings", "title": "Gold Hoop Earrings", "category": "Earrings", "price": "59.00", "stock": 0},
    {"handle": "chain-bracelet", "title": "Fine Chain Bracelet", "category": "Bracelets", "price": "39.00", "stock": 7},
    {"handle": "polish-cloth", "title": "Silver Polishing Cloth", "category": "Care", "price": "9.00", "stock": 50},
    {"handle": "gift-box", "title": "Velvet Gift Box", "category": "Packaging", "price": "6.00", "stock": 80},
    {"handle": "travel-case", "title": "Leather Travel Case", "category": "Storage", "price": "35.00", "stock": 3},
]


def _line(number: int, handle: str) -> dict[str, object]:
    """One line item as the shop's order export has it: the SKU the catalog export gave the product."""
    return {
        "number": f"#{number}",
        "email": f"c{number}@example.com",
        "sku": handle.upper(),
        "quantity": 1,
        "unit_price": "1",
    }


def _orders() -> str:
    """Three orders of the necklace with a gift box, two with the polishing cloth, one with the travel case."""
    rows = []
    for number, extra in ((1, "gift-box"), (2, "gift-box"), (3, "gift-box"), (4, "polish-cloth"), (5, "polish-cloth")):
        rows += [_line(number, "moon-necklace"), _line(number, extra)]
    rows += [_line(6, "moon-necklace"), _line(6, "travel-case")]
    return "\n".join(json.dumps(r) for r in rows)


def test_an_imported_jewellery_shop_gets_complements_from_its_own_data(cli_settings: Settings, tmp_path: Path) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "lune"))
    catalog, orders = tmp_path / "catalog.jsonl", tmp_path / "orders.jsonl"
    catalog.write_text("\n".join(json.dumps(row) for row in CATALOG), encoding="utf-8")
    orders.write_text(_orders(), encoding="utf-8")
    runner = CliRunner()
    for kind, path in (("catalog", catalog), ("orders", orders)):
        out = runner.invoke(app, [kind, "import", "--tenant", "lune", str(path), "--format", "jsonl", "--json"])
        assert out.exit_code == 0, out.output

    async def complements(session: AsyncSession, sku: str, limit: int) -> list[tuple[str, str]]:
        ctx = ToolContext(session=session, tenant_id=shop.tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
        result = await recommend_products(
            ctx, RecommendProductsInput(sku=sku, kind=RecommendationKind.COMPLEMENTARY, limit=limit)
        )
        return [(r.product.sku, r.reason) for r in result.recommendations]

    picked = with_session(cli_settings, lambda s: complements(s, "MOON-NECKLACE", 4))
    skus = [sku for sku, _ in picked]
    assert skus[:2] == ["MOON-STUDS", "CHAIN-BRACELET"], "earrings and a bracelet go with a necklace"
    assert "HOOP-EARRINGS" not in skus, "out of stock"
    assert "GIFT-BOX" in skus and "POLISH-CLOTH" in skus, "bought with the necklace in 3 and 2 orders"
    reasons = dict(picked)
    assert reasons["GIFT-BOX"] == "Often bought with the Moon Pendant Necklace."
    assert reasons["MOON-STUDS"] == "Earrings to go with the Moon Pendant Necklace."

    # The travel case shares one order with the necklace: too little to call it "often bought with" it.
    case = with_session(cli_settings, lambda s: complements(s, "TRAVEL-CASE", 3))
    assert all(reason.startswith("From ") for _, reason in case), "nothing known about it: other categories"
    assert "TRAVEL-CASE" not in [sku for sku, _ in case]
