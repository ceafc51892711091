"""The deterministic engine reads order numbers, contacts, sizes, colours, prices and products out of messages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from agents.entities import CatalogIndex, Entities, extract_entities
from hub.seed.catalog import COLOUR_HEX, build_demo_shop


@pytest.fixture(scope="module")
def catalog() -> CatalogIndex:
    products = build_demo_shop(datetime(2026, 1, 1, tzinfo=UTC)).products
    return CatalogIndex.build([(p["sku"], p["title"], p["category"]) for p in products])


def titles(matches: list) -> list[str]:
    return [m.title for m in matches]


@pytest.mark.parametrize(
    "text",
    [
        "where is A-10423",
        "order a10423 please",
        "my order 10423 hasnt come",
        "Order #10423",
        "order number is 10423",
        "a-10423??",
    ],
)
def test_order_number_is_normalised_however_it_is_written(text: str) -> None:
    assert extract_entities(text).order_numbers == ["A-10423"]


@pytest.mark.parametrize("text", ["I want to order 2 hoodies", "a 2000 thread count towel", "order 123"])
def test_numbers_that_are_not_order_numbers_are_left_alone(text: str) -> None:
    # Four digits after "order" or "#" are an order number (Shopify numbers its orders #1001 on); three are not.
    assert extract_entities(text).order_numbers == []


def test_email_is_found_and_lower_cased() -> None:
    assert extract_entities("it's under Jane.Doe+shop@Gmail.COM.").emails == ["jane.doe+shop@gmail.com"]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("call me on +1 (555) 010-0199", "+15550100199"),
        ("my number is 555-123-4567", "+15551234567"),
        ("ring 1 555 123 4567", "+15551234567"),
        ("+44 7700 900123 is my mobile", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("07911 123456", "07911123456"),
    ],
)
def test_phone_is_normalised_to_e164(text: str, phone: str) -> None:
    assert extract_entities(text).phones == [phone]


@pytest.mark.parametrize("text", ["order 10423", "jeans 30x32", "under $1,000", "on 2026-01-15", "SKU-1001"])
def test_other_numbers_are_not_phones(text: str) -> None:
    assert extract_entities(text).phones == []


@pytest.mark.parametrize("text", ["SKU-1001", "sku 1001", "sku1001", "is Sku#1001 in stock"])
def test_sku_is_normalised(text: str) -> None:
    assert extract_entities(text).skus == ["SKU-1001"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("do you have it in M?", "M"),
        ("size xl please", "XL"),
        ("in a medium", "M"),
        ("an extra large in navy", "XL"),
        ("2XL hoodie", "XXL"),
        ("jeans 32 waist", "32"),
        ("slim jean W30", "30"),
        ("dark wash 31x32", "31"),
        ("chelsea boots size 42", "42"),
        ("the desert boot in a 44", "44"),
        ("US 9 sneakers", "US 9"),
        ("mens size 10.5 trainers", "US 10.5"),
        ("uk 8 loafers", "UK 8"),
        ("is the beanie one size", "One Size"),
    ],
)
def test_size_is_read_in_the_catalog_labels(text: str, size: str) -> None:
    assert extract_entities(text).sizes == [size]


@pytest.mark.parametrize(
    "text",
    [
        "I run a small business",
        "that's a large order",
        "I'm looking for a tee",
        "send us 10 of them",
        "returns within 30 days",
        "thrown in small batches",
    ],
)
def test_ordinary_words_are_not_sizes(text: str) -> None:
    assert extract_entities(text).sizes == []


@pytest.mark.parametrize(
    ("text", "colours"),
    [
        ("a navy tee", ["Navy"]),
        ("HEATHER GRAY hoodie", ["Heather Grey"]),
        ("sky blue or dusty rose", ["Sky Blue", "Dusty Rose"]),
        ("washed black slim jeans", ["Washed Black"]),
        ("burgandy beanie and a lavendar dress", ["Burgundy", "Lavender"]),
        ("terracota cushion", ["Terracotta"]),
        ("anything green", ["Sage", "Olive", "Forest"]),
        ("something off white", ["Ecru", "Cream"]),
        ("where is my store credit", []),
    ],
)
def test_colour_is_matched_to_the_catalog_vocabulary(text: str, colours: list[str]) -> None:
    demo_colours = CatalogIndex.build([], colours=sorted(COLOUR_HEX))
    assert extract_entities(text, demo_colours).colours == colours


@pytest.mark.parametrize(
    ("text", "shop_colours", "found"),
    [
        ("anything green?", ["Emerald", "Forest Green", "Mint", "Ruby"], ["Forest Green", "Emerald", "Mint"]),
        ("a dark blue one", ["Midnight", "Powder Blue", "Royal Blue"], ["Midnight"]),
        ("something pink", ["Blush Pink", "Fuchsia", "Jet"], ["Blush Pink", "Fuchsia"]),
        ("in red please", ["Wine", "Scarlet", "Olive"], ["Scarlet", "Wine"]),
    ],
)
def test_a_colour_word_finds_the_shades_of_any_shop(text: str, shop_colours: list[str], found: list[str]) -> None:
    """A furniture or jewellery shop's shade names are not the demo's: the families are general colour knowledge."""
    assert extract_entities(text, CatalogIndex.build([], colours=shop_colours)).colours == found


def test_without_a_catalog_plain_colour_words_are_understood() -> None:
    assert extract_entities("a black or navy bag").colours == ["Black", "Navy"]


def test_colours_come_from_the_catalog_when_it_has_its_own() -> None:
    index = CatalogIndex.build([("P-1", "Silk Scarf — Scarlet", "Accessories")], colours=["Scarlet", "Jet"])
    assert extract_entities("a scarlett scarf or a jet one, not navy", index).colours == ["Scarlet", "Jet"]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("hoodies under $50", None, "50"),
        ("less than 100 bucks", None, "100"),
        ("between 20 and 40", "20", "40"),
        ("$20-$45 please", "20", "45"),
        ("over 80", "80", None),
        ("at least £30", "30", None),
        ("$60 or less", None, "60"),
        ("no more than €75", None, "75"),
        ("budget is 120", None, "120"),
        ("under $19.99", None, "19.99"),
        ("under 1,000 dollars", None, "1000"),
    ],
)
def test_price_bounds(text: str, low: str | None, high: str | None) -> None:
    entities = extract_entities(text)
    assert entities.min_price == (Decimal(low) if low else None)
    assert entities.max_price == (Decimal(high) if high else None)


@pytest.mark.parametrize(
    "text",
    ["return within 30 days", "more than 2 weeks", "under 5 items", "between sizes 38 and 39", "3 for 2", "size 40-41"],
)
def test_numbers_that_are_not_prices_set_no_bound(text: str) -> None:
    entities = extract_entities(text)
    assert (entities.min_price, entities.max_price) == (None, None)


def test_several_entities_in_one_message(catalog: CatalogIndex) -> None:
    entities = extract_entities(
        "Hi, order A-10423 (jane@example.com, 555-201-3344): can I swap the chelsae boots for size 43 in black, "
        "and add SKU-1205? Anything under $40 in sage would do too.",
        catalog,
    )
    assert entities.order_numbers == ["A-10423"]
    assert entities.emails == ["jane@example.com"]
    assert entities.phones == ["+15552013344"]
    assert entities.skus == ["SKU-1205"]
    assert entities.sizes == ["43"]
    assert entities.colours == ["Black", "Sage"]
    assert entities.max_price == Decimal("40")
    assert entities.products[0].sku == "SKU-1205"
    assert any("Chelsea Boot" in t for t in titles(entities.products))


def test_message_without_entities_is_empty() -> None:
    assert extract_entities("hello there, how are you?") == Entities()


def test_typo_still_finds_the_hoodies(catalog: CatalogIndex) -> None:
    matches = catalog.match("do u have a hodie")
    assert len(matches) == 3
    assert all("Hoodie" in t for t in titles(matches))


@pytest.mark.parametrize("text", ["chelsea boot", "Chelsea boots in size 42", "the chelsae boots"])
def test_chelsea_boots_are_found(catalog: CatalogIndex, text: str) -> None:
    assert all("Chelsea Boot" in t for t in titles(catalog.match(text)))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("trainers", "Sneaker"),
        ("a backpack for my laptop", "Daypack"),
        ("merino beanie", "Merino Ribbed Beanie"),
        ("v neck tee", "V-Neck Tee"),
        ("cardholder", "Card Holder"),
        ("wide leg jeans in dark wash", "Wide-Leg Jean — Dark Wash"),
        ("a jumper", "Sweatshirt"),
    ],
)
def test_best_match_is_the_named_product(catalog: CatalogIndex, text: str, word: str) -> None:
    assert word in catalog.match(text, limit=1)[0].title


def test_colour_in_the_message_picks_the_colour_variant(catalog: CatalogIndex) -> None:
    best = catalog.match("leather card holder in tan", limit=1)[0]
    assert best.title == "Leather Card Holder — Tan"


def test_sku_written_out_is_an_exact_match(catalog: CatalogIndex) -> None:
    best = catalog.match("is SKU-1001 true to size")[0]
    assert (best.sku, best.title, best.score) == ("SKU-1001", "Slub Cotton Crew Tee", 100.0)


@pytest.mark.parametrize(
    "text",
    [
        "how long does shipping take",
        "my card was declined",
        "anything in black?",
        "what's the weather like",
        "can I change my zip code",
    ],
)
def test_message_that_names_no_product_matches_none(catalog: CatalogIndex, text: str) -> None:
    assert extract_entities(text, catalog).products == []


def test_scores_are_between_0_and_1_and_sorted(catalog: CatalogIndex) -> None:
    matches = catalog.match("organic cotton crew tee", limit=5)
    scores = [m.score for m in matches]
    assert len(matches) == 5
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 100 for s in scores)


def test_products_need_a_catalog() -> None:
    assert extract_entities("chelsea boots").products == []


def test_index_knows_its_size(catalog: CatalogIndex) -> None:
    assert len(catalog) == 240
