"""Importing a shop's catalog from Shopify, WooCommerce and HUB's own CSV / JSON Lines: what lands in the products
and variants, what a re-import leaves alone, and every rejected row named by line and column."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from typer.testing import CliRunner

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.catalog.importer import import_catalog, read_catalog
from hub.catalog.records import CatalogFormat, CatalogFormatError, ImportSummary
from hub.db import models as m
from hub.db.engine import session_factory
from hub.prompting.outputs import Intent
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import Shop, make_shop
from tools.context import Audience, ToolContext

SHOPIFY_HEADER = (
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,"
    "Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,"
    "Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,"
    "Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,Image Position,"
    "Image Alt Text,Gift Card,SEO Title,SEO Description,Variant Image,Variant Weight Unit,Variant Tax Code,"
    "Cost per item,Status"
)


def shopify_row(handle: str, **cells: str) -> str:
    """One row of a Shopify export, every other column empty; keys are the headers without spaces or brackets."""
    names = SHOPIFY_HEADER.split(",")
    by_key = {_key(n): n for n in names}
    values = {n: "" for n in names} | {by_key[_key(k)]: v for k, v in cells.items()} | {"Handle": handle}
    return ",".join(_quoted(values[n]) for n in names)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _quoted(value: str) -> str:
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in ',"\n') else value


SHOPIFY = "\n".join(
    [
        SHOPIFY_HEADER,  # line 1
        shopify_row(  # lines 2-3: the body spans two lines
            "linen-shirt",
            Title="Linen Shirt",
            Body_HTML="<p>Breezy <strong>linen</strong> &amp; cool.</p>\n<ul><li>Made in Portugal</li></ul>",
            Vendor="Acme",
            Product_Category="Apparel & Accessories > Clothing > Shirts & Tops",
            Tags="summer, linen",
            Published="TRUE",
            Option1_Name="Size",
            Option1_Value="S",
            Option2_Name="Color",
            Option2_Value="Navy",
            Variant_Grams="200",
            Variant_Inventory_Qty="5",
            Variant_Price="49.00",
            Variant_Compare_At_Price="69.00",
            Image_Src="https://cdn.example/linen-1.jpg",
            Image_Position="1",
            Image_Alt_Text="Front",
            Status="active",
        ),
        shopify_row(  # line 4: zero stock, empty SKU
            "linen-shirt", Option1_Value="M", Option2_Value="Navy", Variant_Inventory_Qty="0", Variant_Price="49.00"
        ),
        shopify_row(  # line 5: its own SKU and price, oversold
            "linen-shirt",
            Option1_Value="L",
            Option2_Value="Sand",
            Variant_SKU="LS-L-SAND",
            Variant_Inventory_Qty="-2",
            Variant_Price="52.00",
        ),
        shopify_row("linen-shirt", Option1_Value="XL", Option2_Value="Sand", Variant_Price="free"),  # line 6: rejected
        shopify_row("linen-shirt", Image_Src="https://cdn.example/linen-2.jpg", Image_Position="2"),  # line 7
        shopify_row(  # line 8: French option names, unpublished
            "robe-ete",
            Title="Robe d'été",
            Body_HTML="Légère",
            Type="Robes",
            Published="FALSE",
            Option1_Name="Taille",
            Option1_Value="38",
            Option2_Name="Couleur",
            Option2_Value="Rouge",
            Option3_Name="Matière",
            Option3_Value="Coton",
            Variant_SKU="ROBE-38",
            Variant_Inventory_Qty="2",
            Variant_Price="80",
        ),
        shopify_row(  # line 9: a product without options
            "mug",
            Title="Coffee Mug",
            Type="Kitchen",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_SKU="MUG-1",
            Variant_Inventory_Qty="12",
            Variant_Price="12.50",
        ),
    ]
)


async def imported(
    engine: AsyncEngine, shop: Shop, data: bytes, fmt: CatalogFormat = CatalogFormat.SHOPIFY, **options: Any
) -> ImportSummary:
    return await import_catalog(
        session_factory(engine), shop.tenant_id, read_catalog(data, fmt), fmt=fmt, currency="EUR", **options
    )


async def products_of(session: AsyncSession, shop: Shop) -> dict[str, m.Product]:
    session.expire_all()
    rows = await session.execute(select(m.Product).where(m.Product.tenant_id == shop.tenant_id))
    return {p.handle or f"hub:{p.sku}": p for p in rows.scalars()}


async def variants_of(session: AsyncSession, product: m.Product) -> list[m.ProductVariant]:
    rows = await session.execute(
        select(m.ProductVariant).where(m.ProductVariant.product_id == product.id).order_by(m.ProductVariant.position)
    )
    return list(rows.scalars())


async def test_a_shopify_export_becomes_products_with_variants_images_and_readable_text(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")

    summary = await imported(engine, shop, SHOPIFY.encode())

    assert summary.as_dict() == {
        "products": 3,
        "variants": 5,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "archived": 0,
        "rejected": [{"line": 6, "column": "Variant Price", "reason": "not a price: 'free'"}],
    }
    products = await products_of(session, shop)
    shirt = products["linen-shirt"]
    assert (shirt.title, shirt.sku, shirt.price, shirt.compare_at_price, shirt.stock, shirt.currency) == (
        "Linen Shirt",
        "LINEN-SHIRT-S-NAVY",
        Decimal("49.00"),
        Decimal("69.00"),
        5,
        "EUR",
    )
    assert shirt.description == "Breezy linen & cool.\n- Made in Portugal"
    assert (shirt.category, shirt.tags, shirt.status, shirt.active) == (
        "Shirts & Tops",
        ["summer", "linen"],
        "active",
        True,
    )
    assert shirt.attributes == {
        "sizes": ["S", "M", "L"],
        "colours": ["Navy", "Sand"],
        "options": {"Size": ["S", "M", "L"], "Color": ["Navy", "Sand"]},
        "images": [
            {"src": "https://cdn.example/linen-1.jpg", "alt": "Front", "position": 1},
            {"src": "https://cdn.example/linen-2.jpg", "alt": "", "position": 2},
        ],
        "vendor": "Acme",
    }
    variants = await variants_of(session, shirt)
    assert [(v.sku, v.options, v.price, v.compare_at_price, v.stock, v.grams) for v in variants] == [
        ("LINEN-SHIRT-S-NAVY", {"Size": "S", "Color": "Navy"}, Decimal("49.00"), Decimal("69.00"), 5, 200),
        ("LINEN-SHIRT-M-NAVY", {"Size": "M", "Color": "Navy"}, Decimal("49.00"), None, 0, None),
        ("LS-L-SAND", {"Size": "L", "Color": "Sand"}, Decimal("52.00"), None, 0, None),
    ]
    dress = products["robe-ete"]
    assert (dress.status, dress.active, dress.category) == ("draft", False, "Robes")
    assert dress.attributes["sizes"] == ["38"] and dress.attributes["colours"] == ["Rouge"]
    assert dress.attributes["material"] == "Coton"
    mug = products["mug"]
    assert (mug.sku, mug.price, mug.stock, mug.attributes) == (
        "MUG-1",
        Decimal("12.50"),
        12,
        {"product_type": "Kitchen"},
    )
    assert [v.options for v in await variants_of(session, mug)] == [{}]
    assert products["hub:SKU-1"].handle is None, "the shop's own product is kept"


async def test_reimporting_the_same_file_changes_nothing_and_a_changed_price_updates_one_product(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")
    await imported(engine, shop, SHOPIFY.encode())
    before = {h: (p.updated_at, p.price) for h, p in (await products_of(session, shop)).items()}
    variant_ids = {v.id for p in (await products_of(session, shop)).values() for v in await variants_of(session, p)}

    again = await imported(engine, shop, SHOPIFY.encode())

    assert (again.created, again.updated, again.unchanged, again.products) == (0, 0, 3, 3)
    after = await products_of(session, shop)
    assert {h: (p.updated_at, p.price) for h, p in after.items()} == before
    assert {v.id for p in after.values() for v in await variants_of(session, p)} == variant_ids

    repriced = await imported(engine, shop, SHOPIFY.replace("12.50", "14.00").encode())

    assert (repriced.created, repriced.updated, repriced.unchanged) == (0, 1, 2)
    assert (await products_of(session, shop))["mug"].price == Decimal("14.00")


async def test_prune_archives_only_imported_products_missing_from_a_full_export(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")
    await imported(engine, shop, SHOPIFY.encode())
    without_mug = "\n".join(line for line in SHOPIFY.split("\n") if not line.startswith("mug,"))

    dry = await imported(engine, shop, without_mug.encode(), prune=True, dry_run=True)
    assert dry.archived == 1 and (await products_of(session, shop))["mug"].status == "active"

    pruned = await imported(engine, shop, without_mug.encode(), prune=True)

    assert (pruned.archived, pruned.unchanged) == (1, 2)
    products = await products_of(session, shop)
    assert (products["mug"].status, products["mug"].active) == ("archived", False)
    assert (products["linen-shirt"].status, products["hub:SKU-1"].status) == ("active", "active")
    assert products["hub:SKU-1"].active, "a product made in HUB is never pruned"
    assert (await imported(engine, shop, without_mug.encode(), prune=True)).archived == 0


async def test_a_dry_run_counts_the_changes_and_stores_nothing(session: AsyncSession, engine: AsyncEngine) -> None:
    shop = await make_shop(session, "alpha")

    summary = await imported(engine, shop, SHOPIFY.encode(), dry_run=True)

    assert (summary.created, summary.variants, len(summary.rejected)) == (3, 5, 1)
    assert list(await products_of(session, shop)) == ["hub:SKU-1"]


async def test_a_sku_another_product_holds_rejects_only_that_row(session: AsyncSession, engine: AsyncEngine) -> None:
    shop = await make_shop(session, "alpha", sku="MUG-1")  # the shop's own product already uses MUG-1
    other = await make_shop(session, "bravo", sku="LS-L-SAND")  # another tenant's SKU is no collision

    summary = await imported(engine, shop, SHOPIFY.encode())

    assert {"line": 9, "column": "Variant SKU", "reason": "SKU 'MUG-1' belongs to another product of this shop"} in (
        summary.as_dict()["rejected"]
    )
    assert sorted(await products_of(session, shop)) == ["hub:MUG-1", "linen-shirt", "robe-ete"]
    assert (await products_of(session, other)).keys() == {"hub:LS-L-SAND"}


async def test_two_products_of_one_file_with_the_same_sku_keep_it_for_the_first(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")
    copy = shopify_row(
        "mug-copy", Title="Mug copy", Option1_Name="Title", Option1_Value="Default Title", Variant_SKU="MUG-1",
        Variant_Price="9",
    )  # fmt: skip

    summary = await imported(engine, shop, f"{SHOPIFY}\n{copy}".encode())

    assert summary.as_dict()["rejected"][-1] == {
        "line": 10,
        "column": "Variant SKU",
        "reason": "SKU 'MUG-1' belongs to product 'mug' on line 9 of this file",
    }
    assert "mug-copy" not in await products_of(session, shop)


WOOCOMMERCE = (
    "\ufeffID,Type,SKU,Name,Published,Short description,Description,In stock?,Stock,Sale price,Regular price,"
    "Categories,Tags,Images,Parent,Attribute 1 name,Attribute 1 value(s),Attribute 1 visible,Attribute 1 global,"
    "Attribute 2 name,Attribute 2 value(s),Attribute 2 visible,Attribute 2 global\n"
    '10,variable,HOODIE,Hoodie,1,Warm,"<p>A <em>warm</em> hoodie</p>",1,,,,"Clothing > Hoodies, Sale",winter,'
    '"https://shop.example/h1.jpg, https://shop.example/h2.jpg",,Size,"S, M",1,1,Colour,Grey,1,1\n'
    "11,variation,HOODIE-S,Hoodie - S,1,,,1,4,35,45,,,,id:10,Size,S,,1,Colour,Grey,,1\n"
    "12,variation,,Hoodie - M,1,,,0,0,,45,,,,HOODIE,Size,M,,1,Colour,Grey,,1\n"
    "13,variation,HOODIE-L,Hoodie - L,1,,,1,3,,,,,,id:10,Size,L,,1,Colour,Grey,,1\n"
    "14,simple,CAP,Cap,0,A cap,,1,,,15,Accessories,,,,Material,Wool,1,0,,,,\n"
    "15,variation,ORPHAN,Orphan,1,,,1,1,,10,,,,id:99,Size,S,,1,,,,\n"
).encode()


async def test_a_woocommerce_export_becomes_variable_products_with_sale_prices(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")

    summary = await imported(engine, shop, WOOCOMMERCE, CatalogFormat.WOOCOMMERCE)

    assert (summary.products, summary.variants, summary.created) == (2, 3, 2)
    assert summary.as_dict()["rejected"] == [
        {"line": 5, "column": "Regular price", "reason": "price is empty"},
        {"line": 7, "column": "Parent", "reason": "no variable product 'id:99' in the file"},
    ]
    products = await products_of(session, shop)
    hoodie = products["HOODIE"]
    assert (hoodie.price, hoodie.compare_at_price, hoodie.stock, hoodie.category) == (
        Decimal("35.00"),
        Decimal("45.00"),
        4,
        "Hoodies",
    )
    assert hoodie.description == "A warm hoodie"
    assert hoodie.attributes["sizes"] == ["S", "M"] and hoodie.attributes["colours"] == ["Grey"]
    assert [i["src"] for i in hoodie.attributes["images"]] == [
        "https://shop.example/h1.jpg",
        "https://shop.example/h2.jpg",
    ]
    assert [v.sku for v in await variants_of(session, hoodie)] == ["HOODIE-S", "HOODIE-M-GREY"]
    cap = products["CAP"]
    assert (cap.price, cap.stock, cap.status, cap.active, cap.attributes["material"]) == (
        Decimal("15.00"),
        1,
        "draft",
        False,
        "Wool",
    )


async def test_hubs_own_csv_reads_windows_1252_with_semicolons_and_json_lines(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    shop = await make_shop(session, "alpha")
    csv_file = (
        "handle;sku;title;description;category;price;compare_at_price;stock;currency;tags;size;colour;option:Fit\n"
        "cafe-tee;TEE-S;Café tee;<b>Soft</b> cotton;T-shirts;19,90;25,00;3;EUR;summer,tee;S;Blanc;Slim\n"
        "cafe-tee;TEE-M;;;;19,90;;0;;;M;Blanc;Slim\n"
        "cafe-tee;TEE-L;;;;cheap;;0;;;L;Blanc;Slim\n"
    ).encode("cp1252")

    summary = await imported(engine, shop, csv_file, CatalogFormat.CSV)

    assert (summary.created, summary.variants) == (1, 2)
    assert summary.as_dict()["rejected"] == [{"line": 4, "column": "price", "reason": "not a price: 'cheap'"}]
    tee = (await products_of(session, shop))["cafe-tee"]
    assert (tee.title, tee.description, tee.price, tee.compare_at_price, tee.tags) == (
        "Café tee",
        "Soft cotton",
        Decimal("19.90"),
        Decimal("25.00"),
        ["summer", "tee"],
    )
    assert tee.attributes["options"] == {"Size": ["S", "M"], "Colour": ["Blanc"], "Fit": ["Slim"]}

    jsonl = "\n".join(
        [
            json.dumps({"handle": "socks", "title": "Socks", "price": 5, "stock": 10, "tags": ["wool"], "size": "M"}),
            json.dumps({"handle": "socks", "price": "5.00", "stock": 4, "size": "L"}),
            "{not json",
            json.dumps({"handle": "cafe-tee", "sku": "TEE-S", "title": "Café tee", "price": "19.90"}),
        ]
    ).encode()
    summary = await imported(engine, shop, jsonl, CatalogFormat.JSONL)
    assert (summary.created, summary.updated, summary.variants) == (1, 1, 3)
    assert summary.as_dict()["rejected"] == [
        {"line": 3, "column": "", "reason": "not JSON: Expecting property name enclosed in double quotes"}
    ]
    socks = (await products_of(session, shop))["socks"]
    assert (socks.stock, socks.tags, socks.attributes["sizes"]) == (14, ["wool"], ["M", "L"])


def test_a_file_of_another_format_is_one_error_naming_the_missing_columns() -> None:
    with pytest.raises(CatalogFormatError, match=r"not a Shopify product CSV: missing column\(s\) Handle, Title"):
        read_catalog(WOOCOMMERCE, CatalogFormat.SHOPIFY)
    with pytest.raises(CatalogFormatError, match="not JSON Lines"):
        read_catalog(SHOPIFY.encode(), CatalogFormat.JSONL)


def test_the_cli_imports_prints_json_last_and_refuses_a_wrong_format_or_tenant(
    cli_settings: Settings, tmp_path: Path
) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "alpha"))
    export = tmp_path / "products_export.csv"
    export.write_text(SHOPIFY, encoding="utf-8-sig")
    runner = CliRunner()
    command = ["catalog", "import", "--tenant", "alpha", str(export), "--format"]

    wrong = runner.invoke(app, [*command, "woocommerce", "--json"])
    assert wrong.exit_code == 1
    assert "not a WooCommerce product CSV: missing column(s) SKU, Name, Regular price" in wrong.stderr

    first = runner.invoke(app, [*command, "shopify", "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout.splitlines()[-1])
    assert (result["created"], result["variants"], result["rejected"]) == (
        3,
        5,
        [{"line": 6, "column": "Variant Price", "reason": "not a price: 'free'"}],
    )

    again = runner.invoke(app, [*command, "shopify"])
    assert again.exit_code == 0
    assert again.stdout.splitlines()[0] == (
        "imported 3 products (5 variants): 0 created, 0 updated, 3 unchanged, 0 archived; 1 rows rejected"
    )

    unknown = runner.invoke(app, ["catalog", "import", "--tenant", "nope", str(export), "--format", "shopify"])
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "error: unknown tenant 'nope'")

    async def handles(session: AsyncSession) -> list[str | None]:
        rows = await session.execute(select(m.Product.handle).where(m.Product.tenant_id == shop.tenant_id))
        return sorted(h or "" for h in rows.scalars())

    assert with_session(cli_settings, handles) == ["", "linen-shirt", "mug", "robe-ete"]


async def test_the_http_twin_imports_for_an_admin_key_only(api: httpx.AsyncClient, session: AsyncSession) -> None:
    shop = await make_shop(session, "alpha")
    url = "/v1/catalog/import?format=shopify"

    refused = await api.post(url, content=SHOPIFY.encode(), headers={"X-Hub-Key": shop.operator_key})
    assert refused.status_code == 403

    wrong = await api.post(
        url.replace("shopify", "woocommerce"), content=SHOPIFY.encode(), headers={"X-Hub-Key": shop.admin_key}
    )
    assert wrong.status_code == 422 and "missing column(s)" in wrong.text

    dry = await api.post(f"{url}&dry_run=true", content=SHOPIFY.encode(), headers={"X-Hub-Key": shop.admin_key})
    assert dry.status_code == 200 and dry.json()["created"] == 3
    done = await api.post(url, content=SHOPIFY.encode(), headers={"X-Hub-Key": shop.admin_key})
    assert done.status_code == 200, done.text
    assert {k: v for k, v in done.json().items() if k != "rejected"} == {
        "products": 3,
        "variants": 5,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "archived": 0,
    }
    assert done.json()["rejected"] == [{"line": 6, "column": "Variant Price", "reason": "not a price: 'free'"}]
    listed = await api.get("/v1/products?q=linen", headers={"X-Hub-Key": shop.storefront_key})
    assert [p["sku"] for p in listed.json()["items"]] == ["LINEN-SHIRT-S-NAVY"]
    assert uuid.UUID(str(shop.tenant_id))


def test_shopifys_newer_template_column_names_read_like_the_classic_export() -> None:
    newer = (
        b"Title,URL handle,Description,Vendor,Product category,Type,Tags,Published on online store,Status,SKU,"
        b"Option1 name,Option1 value,Price,Compare-at price,Inventory quantity,Weight value (grams),Product image URL\n"
        b"Wool Beanie,wool-beanie,<p>Warm</p>,Acme,Apparel > Hats,,,TRUE,Active,,Farbe,Grau,20.00,25.00,3,90,"
        b"https://cdn.example/beanie.jpg\n"
        b",wool-beanie,,,,,,,,BEANIE-BLK,,Schwarz,20.00,,0,90,\n"
    )

    catalog = read_catalog(newer, CatalogFormat.SHOPIFY)

    assert catalog.rejected == []
    (beanie,) = catalog.products
    assert (beanie.handle, beanie.title, beanie.description, beanie.category) == (
        "wool-beanie",
        "Wool Beanie",
        "Warm",
        "Hats",
    )
    assert [(v.sku, v.options, v.price, v.compare_at_price, v.stock, v.grams) for v in beanie.variants] == [
        ("WOOL-BEANIE-GRAU", {"Farbe": "Grau"}, Decimal("20.00"), Decimal("25.00"), 3, 90),
        ("BEANIE-BLK", {"Farbe": "Schwarz"}, Decimal("20.00"), None, 0, 90),
    ]
    assert [i.src for i in beanie.images] == ["https://cdn.example/beanie.jpg"]


FURNITURE = "\n".join(
    [
        SHOPIFY_HEADER,
        shopify_row(
            "oak-dining-table",
            Title="Oak Dining Table",
            Body_HTML="<p>Solid oak, seats six.</p>",
            Type="Tables",
            Published="true",
            Option1_Name="Title",
            Option1_Value="Default Title",
            Variant_SKU="OAK-TBL",
            Variant_Inventory_Qty="2",
            Variant_Price="899.00",
        ),
        shopify_row(
            "walnut-bookcase",
            Title="Walnut Bookcase",
            Type="Storage",
            Published="true",
            Option1_Name="Finish",
            Option1_Value="Natural",
            Variant_SKU="WAL-BK",
            Variant_Inventory_Qty="0",
            Variant_Price="640.00",
        ),
    ]
)


async def test_an_imported_furniture_shop_is_served_with_its_own_product_words(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    # The intent router learned its phrasings from a clothing shop; the catalog's own words ("table", "bookcase")
    # must count as product words, or "do you sell tables?" reads as out of scope.
    shop = await make_shop(session, "woodwork", sku="WW-1")
    await imported(engine, shop, FURNITURE.encode())
    bot, voice = DeterministicEngine(), ShopVoice(name="Woodwork", tone="warm")
    ctx = ToolContext(session=session, tenant_id=shop.tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
    listed = await bot.answer(ctx, "do you sell tables?", pending=Pending(), voice=voice)
    assert listed.intent is Intent.PRODUCT_SEARCH and "Oak Dining Table" in listed.reply and "899.00" in listed.reply
    priced = await bot.answer(ctx, "what's the price of the walnut bookcase", pending=Pending(), voice=voice)
    assert priced.intent is Intent.PRODUCT_QUESTION and "640.00" in priced.reply and "WAL-BK" in priced.reply
    stocked = await bot.answer(ctx, "is the oak table in stock", pending=Pending(), voice=voice)
    assert stocked.intent is Intent.STOCK_CHECK and "2 left" in stocked.reply
