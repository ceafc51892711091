"""Check the demo shop looks like a real store: enough rows, consistent orders, policies and reference photos."""

from __future__ import annotations

import dataclasses
import io
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from sqlalchemy import inspect

from hub.db.models import Customer, Order, OrderStatus, Product
from hub.seed.catalog import (
    FREE_SHIPPING_THRESHOLD,
    SHIPPED_STATUSES,
    SHIPPING_RATES,
    DemoShop,
    PolicyTopic,
    ProductType,
    ShippingMethod,
    build_demo_shop,
)
from hub.seed.images import render_logo, render_product_image, write_images
from hub.tenancy.config import BrandKit

ANCHOR = datetime(2025, 11, 26, 15, 30, 12, tzinfo=UTC)
REQUIRED_TOPICS = {
    "shipping_delivery",
    "returns_refunds",
    "cancellations_order_changes",
    "payment",
    "account",
    "invoice",
    "marketing_opt_in",
    "contact_human",
}


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return build_demo_shop(ANCHOR)


@pytest.fixture(scope="module")
def products_by_sku(shop: DemoShop) -> dict[str, dict]:
    return {p["sku"]: p for p in shop.products}


def _columns(model: type, *, without: set[str]) -> set[str]:
    return {c.key for c in inspect(model).columns} - without


# --- shape and determinism -------------------------------------------------------------------------


def test_shop_has_hundreds_of_products_and_customers_and_thousands_of_orders(shop: DemoShop) -> None:
    assert len(shop.products) >= 200
    assert len(shop.customers) >= 500
    assert len(shop.orders) >= 2000
    assert shop.shop_name == "Northwind Threads"
    assert shop.shop_slug == "demo"


def test_same_anchor_and_seed_build_identical_shops(shop: DemoShop) -> None:
    assert build_demo_shop(ANCHOR) == shop


def test_another_seed_builds_another_shop(shop: DemoShop) -> None:
    other = build_demo_shop(ANCHOR, seed=8)
    assert [p["title"] for p in other.products] != [p["title"] for p in shop.products]


def test_a_later_anchor_moves_dates_but_keeps_every_row_identity(shop: DemoShop) -> None:
    later = build_demo_shop(ANCHOR + timedelta(days=3, hours=5))
    assert later.products == shop.products
    assert [c["email"] for c in later.customers] == [c["email"] for c in shop.customers]
    for before, after in zip(shop.orders, later.orders, strict=True):
        assert (after["number"], after["status"], after["items"], after["customer_email"]) == (
            before["number"],
            before["status"],
            before["items"],
            before["customer_email"],
        )
        assert after["placed_at"] - before["placed_at"] == timedelta(days=3, hours=5)


def test_naive_anchor_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        build_demo_shop(datetime(2025, 1, 1))


def test_rows_carry_exactly_the_model_columns(shop: DemoShop) -> None:
    server_side = {"id", "tenant_id", "created_at", "updated_at"}
    assert all(set(p) == _columns(Product, without=server_side | {"active", "status"}) for p in shop.products)
    assert all(set(c) == _columns(Customer, without=server_side) for c in shop.customers)
    order_keys = _columns(Order, without={"id", "tenant_id", "customer_id"}) | {"customer_email"}
    assert all(set(o) == order_keys for o in shop.orders)
    # Policies are not rows: the seed adds each as a Markdown file through `hub knowledge add`.
    assert all(set(d) == {"slug", "topic", "title", "body"} for d in shop.policies)


def test_brand_is_a_valid_brand_kit(shop: DemoShop) -> None:
    brand = BrandKit(**shop.brand)
    assert brand.logo_path == "brand/logo.png"
    assert brand.voice_examples


# --- catalog ---------------------------------------------------------------------------------------


def test_skus_and_titles_are_unique(shop: DemoShop) -> None:
    skus = [p["sku"] for p in shop.products]
    assert len(set(skus)) == len(skus)
    assert all(re.fullmatch(r"SKU-\d{4}", s) for s in skus)
    assert len({p["title"] for p in shop.products}) == len(shop.products)


def test_products_span_categories_with_realistic_stock(shop: DemoShop) -> None:
    assert len({p["category"] for p in shop.products}) >= 8
    out = sum(p["stock"] == 0 for p in shop.products) / len(shop.products)
    assert 0.05 <= out <= 0.15
    assert any(0 < p["stock"] <= 5 for p in shop.products)


def test_products_have_prices_sizes_colours_and_photos(shop: DemoShop) -> None:
    for p in shop.products:
        assert isinstance(p["price"], Decimal) and p["price"].as_tuple().exponent == -2 and p["price"] > 0
        assert p["currency"] == "USD"
        attrs = p["attributes"]
        assert attrs["sizes"] and attrs["colours"] and attrs["material"] and attrs["care"]
        assert ProductType(attrs["product_type"])
        assert p["image_path"] == f"products/{p['sku']}.png"
        assert 2 <= p["description"].count(". ") + 1 <= 4
        assert attrs["care"] in p["description"]
        if p["category"] == "Footwear":
            assert set(attrs["us_sizes"]) == set(attrs["sizes"])


def test_single_colour_titles_name_that_colour(shop: DemoShop) -> None:
    for p in shop.products:
        if " — " in p["title"]:
            assert p["attributes"]["colours"] == [p["title"].split(" — ")[1]]


# --- customers -------------------------------------------------------------------------------------


def test_customer_emails_are_unique_lowercase_on_example_domains(shop: DemoShop) -> None:
    emails = [c["email"] for c in shop.customers]
    assert len(set(emails)) == len(emails)
    for email in emails:
        assert email == email.lower()
        assert email.split("@")[1] in {"example.com", "example.org", "example.net"}
        assert re.fullmatch(r"[a-z0-9._]+@[a-z.]+", email)


def test_customer_phones_are_unique_e164(shop: DemoShop) -> None:
    phones = [c["phone"] for c in shop.customers]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"\+[1-9]\d{9,14}", p) for p in phones)
    assert sum(p.startswith("+1555") for p in phones) > len(phones) * 0.8


def test_a_few_customers_have_dated_notes(shop: DemoShop) -> None:
    noted = [c for c in shop.customers if c["notes"]]
    assert 0 < len(noted) < len(shop.customers) * 0.2
    for note in (n for c in noted for n in c["notes"]):
        assert set(note) == {"at", "author", "text"}
        assert datetime.fromisoformat(note["at"]) <= ANCHOR


def test_orders_per_customer_are_skewed(shop: DemoShop) -> None:
    counts = Counter(o["customer_email"] for o in shop.orders)
    per_customer = [counts.get(c["email"], 0) for c in shop.customers]
    assert per_customer.count(0) >= 20
    assert max(per_customer) >= 15
    assert statistics.median(n for n in per_customer if n) <= 3
    vips = [c for c in shop.customers if "vip" in c["tags"]]
    assert vips and min(counts[c["email"]] for c in vips) > statistics.median(per_customer)


# --- orders ----------------------------------------------------------------------------------------


def test_every_order_status_appears(shop: DemoShop) -> None:
    # but the one only a shopper's request sets: cancellations are asked for in the chat, from a paid order
    assert {o["status"] for o in shop.orders} == set(OrderStatus) - {OrderStatus.CANCEL_REQUESTED}


def test_most_orders_are_delivered(shop: DemoShop) -> None:
    counts = Counter(o["status"] for o in shop.orders)
    assert counts.most_common(1)[0][0] == OrderStatus.DELIVERED
    assert counts[OrderStatus.DELIVERED] / len(shop.orders) > 0.7


def test_order_numbers_are_unique_uppercase_and_chronological(shop: DemoShop) -> None:
    numbers = [o["number"] for o in shop.orders]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"A-\d{5}", n) for n in numbers)
    placed = [o["placed_at"] for o in shop.orders]
    assert placed == sorted(placed)


def test_every_order_belongs_to_a_customer(shop: DemoShop) -> None:
    emails = {c["email"] for c in shop.customers}
    assert all(o["customer_email"] in emails for o in shop.orders)


def test_order_items_use_real_skus_titles_and_prices(shop: DemoShop, products_by_sku: dict[str, dict]) -> None:
    for order in shop.orders:
        assert 1 <= len(order["items"]) <= 4
        for item in order["items"]:
            product = products_by_sku[item["sku"]]
            assert item["title"] == product["title"]
            assert item["unit_price"] == str(product["price"])
            assert re.fullmatch(r"\d+\.\d{2}", item["unit_price"])
            assert item["quantity"] >= 1
            assert item["colour"] in product["attributes"]["colours"]
            if "size" in item:
                assert item["size"] in product["attributes"]["sizes"]


def test_order_totals_add_up(shop: DemoShop) -> None:
    for order in shop.orders:
        subtotal = sum((Decimal(i["unit_price"]) * i["quantity"] for i in order["items"]), Decimal(0))
        assert order["subtotal"] == subtotal
        assert order["total"] == order["subtotal"] + order["shipping"]
        assert order["currency"] == "USD"


def test_shipping_charges_follow_the_published_rates(shop: DemoShop) -> None:
    intl = SHIPPING_RATES[ShippingMethod.INTERNATIONAL]
    express = SHIPPING_RATES[ShippingMethod.EXPRESS]
    for order in shop.orders:
        subtotal, shipping = order["subtotal"], order["shipping"]
        if order["shipping_address"]["country"] != "US":
            assert shipping == intl.fee_for(subtotal)
        elif subtotal >= FREE_SHIPPING_THRESHOLD:
            assert shipping in {Decimal("0.00"), express.fee}
        else:
            assert shipping in {SHIPPING_RATES[ShippingMethod.STANDARD].fee, express.fee}
    assert any(o["shipping"] == 0 for o in shop.orders)
    assert any(o["shipping"] == express.fee for o in shop.orders)


def test_tracking_is_set_exactly_for_orders_that_left_the_warehouse(shop: DemoShop) -> None:
    for order in shop.orders:
        shipped = order["status"] in SHIPPED_STATUSES
        assert (order["carrier"] is not None) is shipped, order["number"]
        assert (order["tracking_number"] is not None) is shipped, order["number"]
    tracking = [o["tracking_number"] for o in shop.orders if o["tracking_number"]]
    assert len(set(tracking)) == len(tracking)


def test_eta_is_set_only_while_an_order_is_on_its_way(shop: DemoShop) -> None:
    on_the_way = {OrderStatus.PAID, OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY}
    for order in shop.orders:
        if order["status"] in on_the_way:
            assert order["eta"] is not None and order["eta"] >= ANCHOR.date()
        else:
            assert order["eta"] is None


def test_order_dates_lie_in_the_year_before_anchor(shop: DemoShop) -> None:
    for order in shop.orders:
        placed, updated = order["placed_at"], order["updated_at"]
        assert placed.utcoffset() == timedelta(0) and updated.utcoffset() == timedelta(0)
        assert ANCHOR - timedelta(days=365) <= placed <= updated <= ANCHOR


def test_open_orders_are_recent(shop: DemoShop) -> None:
    for order in shop.orders:
        age = ANCHOR - order["placed_at"]
        if order["status"] == OrderStatus.PENDING_PAYMENT:
            assert age < timedelta(hours=48)
        if order["status"] in {OrderStatus.PAID, OrderStatus.PROCESSING}:
            assert age < timedelta(days=7)
        if order["status"] in {OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY}:
            assert age < timedelta(days=14)


def test_shipping_addresses_are_complete(shop: DemoShop) -> None:
    for order in shop.orders:
        address = order["shipping_address"]
        assert all(address[key] for key in ("name", "line1", "city", "postcode", "country"))


# --- policies --------------------------------------------------------------------------------------


def test_every_required_policy_topic_is_covered(shop: DemoShop) -> None:
    topics = Counter(d["topic"] for d in shop.policies)
    assert REQUIRED_TOPICS <= set(topics)
    assert set(topics) <= set(PolicyTopic)
    assert max(topics.values()) >= 2
    assert len({d["slug"] for d in shop.policies}) == len(shop.policies)


def test_policy_passages_are_80_to_250_words(shop: DemoShop) -> None:
    for doc in shop.policies:
        assert 80 <= len(doc["body"].split()) <= 250, doc["slug"]


def test_shipping_policies_quote_the_rates_and_carriers_orders_use(shop: DemoShop) -> None:
    shipping_text = " ".join(d["body"] for d in shop.policies if d["topic"] == "shipping_delivery")
    assert f"${FREE_SHIPPING_THRESHOLD}" in shipping_text
    for rate in SHIPPING_RATES.values():
        assert f"${rate.fee}" in shipping_text
    for carrier in {o["carrier"] for o in shop.orders if o["carrier"]}:
        assert carrier in shipping_text


# --- images ----------------------------------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _drawn_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Bounding box of whatever differs from the empty studio backdrop (its left column, repeated)."""
    backdrop = image.crop((0, 0, 1, image.height)).resize(image.size)
    diff = ImageChops.difference(image, backdrop).convert("L").point(lambda v: 255 if v > 12 else 0)
    box = diff.getbbox()
    assert box is not None, "nothing drawn"
    return box


def test_product_images_are_deterministic_and_sized(shop: DemoShop) -> None:
    product = shop.products[0]
    first, second = render_product_image(product), render_product_image(product)
    assert first.size == (384, 384)
    assert _png(first) == _png(second)
    assert render_product_image(product, size=128).size == (128, 128)


def test_product_is_drawn_in_the_centre(shop: DemoShop) -> None:
    image = render_product_image(shop.products[0])
    assert image.getpixel((192, 192)) != image.getpixel((2, 2))


def test_every_product_type_fills_most_of_the_frame(shop: DemoShop) -> None:
    samples = {}
    for product in shop.products:
        samples.setdefault(product["attributes"]["product_type"], product)
    assert set(samples) == set(ProductType)
    for kind, product in samples.items():
        x0, y0, x1, y1 = _drawn_box(render_product_image(product))
        assert max(x1 - x0, y1 - y0) >= 384 * 0.5, kind
        assert abs((x0 + x1) / 2 - 192) < 384 * 0.1 and abs((y0 + y1) / 2 - 192) < 384 * 0.12, kind


def test_product_image_uses_its_first_colour(shop: DemoShop) -> None:
    product = next(p for p in shop.products if p["attributes"]["product_type"] == "tee")
    recoloured = {**product, "attributes": {**product["attributes"], "colours": ["#C01010"]}}
    red, green, blue = render_product_image(recoloured).getpixel((192, 230))
    assert red > 150 and green < 90 and blue < 90


def test_logo_is_drawn_in_the_brand_colours_on_transparency(shop: DemoShop) -> None:
    logo = render_logo(shop.shop_name, shop.brand)
    assert logo.size == (512, 160) and logo.mode == "RGBA"
    assert logo.getpixel((511, 0))[3] == 0
    assert logo.getchannel("A").getbbox() is not None
    assert _png(logo) == _png(render_logo(shop.shop_name, shop.brand))


def test_write_images_writes_each_missing_file_once(shop: DemoShop, tmp_path: Path) -> None:
    small = dataclasses.replace(shop, products=shop.products[:4])
    calls: list[tuple[int, int]] = []
    assert write_images(small, tmp_path, progress=lambda done, total: calls.append((done, total))) == 5
    assert calls[-1] == (5, 5)
    for product in small.products:
        with Image.open(tmp_path / product["image_path"]) as image:
            assert image.size == (384, 384)
    assert (tmp_path / "brand" / "logo.png").is_file()
    assert not list(tmp_path.rglob("*.part"))
    assert write_images(small, tmp_path) == 0
