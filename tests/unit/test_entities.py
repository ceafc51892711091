"""The deterministic engine reads order numbers, contacts, sizes, colours, prices and products out of messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
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


# --- every language -------------------------------------------------------------------------------------
# The patterns of all six languages are read whatever language a message is in: the detector can be wrong, and a
# shopper mixes them ("the Slub Cotton Crew Tee en talla M").


@pytest.mark.parametrize(
    "text",
    [
        "¿dónde está mi pedido A-10023?",
        "mi pedido 10023 no ha llegado",
        "número de pedido: 10023",
        "pedido n.º 10023",
        "wo ist meine Bestellung Nr. 10023?",
        "Bestellnummer: 10023",
        "où est ma commande n° 10023 ?",
        "commande numéro 10023",
        "il mio ordine n. 10023 non è arrivato",
        "a minha encomenda nº 10023",
        "encomenda 10023",
    ],
)
def test_order_number_is_found_in_every_language(text: str) -> None:
    assert extract_entities(text).order_numbers == ["A-10023"]


@pytest.mark.parametrize("text", ["pedido de 2 camisetas", "un pedido del 2024", "Bestellung vom 12.03.2026"])
def test_counts_and_years_after_the_word_for_order_are_not_order_numbers(text: str) -> None:
    assert extract_entities(text).order_numbers == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("mi móvil es +34 612 345 678", "+34612345678"),
        ("meine Nummer: +49 (0)30 1234567", "+49301234567"),
        ("appelez-moi au 06 12 34 56 78", "0612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("il mio numero è +39 333 123 4567", "+393331234567"),
        ("o meu telemóvel é 00351 912 345 678", "+351912345678"),
    ],
)
def test_international_phone_numbers_are_normalised(text: str, phone: str) -> None:
    assert extract_entities(text).phones == [phone]


def test_email_is_found_in_any_sentence() -> None:
    assert extract_entities("mi correo es Ana.Lopez@Example.ES, gracias").emails == ["ana.lopez@example.es"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("¿la tienen en talla M?", "M"),
        ("la quiero en L", "L"),
        ("Haben Sie die in Größe L?", "L"),
        ("in Grösse S bitte", "S"),
        ("vous l'avez en taille 40 ?", "40"),
        ("c'est dispo en XL ?", "XL"),
        ("ce l'avete in taglia 42?", "42"),
        ("tem em tamanho 38?", "38"),
        ("tem em M?", "M"),
        ("do you have it in XXL", "XXL"),
        ("zapatillas talla 43", "43"),
        ("size 10.5", "US 10.5"),
        ("talla única", "One Size"),
        ("Einheitsgröße?", "One Size"),
    ],
)
def test_size_is_read_in_every_language(text: str, size: str) -> None:
    assert extract_entities(text).sizes == [size]


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("Slub Cotton Crew Tee in XL", ["XL"]),
        ("is it XS or 2XL", ["XS", "XXL"]),
        ("I need M", []),
        ("Is it a tee? I think so, Mark's size", []),
        ("it's Sam's L plate", []),
        ("a s m l", []),
        ("do you have it in M or L?", ["M", "L"]),
        ("¿hay talla S o M?", ["S", "M"]),
        ("Größe S, M oder L", ["S", "M", "L"]),
        ("in M and a cap", ["M"]),
    ],
)
def test_a_single_letter_is_a_size_only_where_the_wording_says_so(text: str, sizes: list[str]) -> None:
    """The letters M, L and S alone are sizes only after "in", "size", "talla", "Größe"...; the L of XL is XL's."""
    assert extract_entities(text).sizes == sizes


@pytest.mark.parametrize(
    ("text", "colours"),
    [
        ("una camiseta negra", ["Black"]),
        ("vaqueros negros", ["Black"]),
        ("eine schwarze Jacke", ["Black"]),
        ("une robe noire", ["Black"]),
        ("una maglia nera", ["Black"]),
        ("uma camisola preta", ["Black"]),
        ("zapatillas blancas", ["White"]),
        ("weiße Sneaker", ["White"]),
        ("un t-shirt blanc", ["White"]),
        ("camicia bianca", ["White"]),
        ("ténis brancos", ["White"]),
        ("sudadera gris", ["Heather Grey", "Charcoal"]),
        ("Pullover in grau", ["Heather Grey", "Charcoal"]),
        ("felpa grigia", ["Heather Grey", "Charcoal"]),
        ("casaco cinza", ["Heather Grey", "Charcoal"]),
        ("jersey azul marino", ["Navy"]),
        ("marineblaue Hose", ["Navy"]),
        ("pull bleu marine", ["Navy"]),
        ("maglione blu navy", ["Navy"]),
        ("camisola azul-marinho", ["Navy"]),
        ("algo verde", ["Sage", "Olive", "Forest"]),
        ("etwas Braunes", ["Chocolate", "Cognac", "Tan", "Camel"]),
        ("bonnet bordeaux", ["Burgundy"]),
        ("vestito rosa", ["Dusty Rose"]),
        ("robe rose", ["Dusty Rose"]),
        ("una camiseta roja o amarilla", ["Burgundy", "Rust", "Mustard"]),
    ],
)
def test_colour_words_of_every_language_find_the_shops_colours(text: str, colours: list[str]) -> None:
    demo_colours = CatalogIndex.build([], colours=sorted(COLOUR_HEX))
    assert extract_entities(text, demo_colours).colours == colours


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("una negra", ["Jet"]),
        ("in Weiß", ["Optic White"]),
        ("bleu marine", ["Midnight Navy"]),
        ("grigio chiaro", ["Pale Grey"]),
    ],
)
def test_a_foreign_colour_word_finds_the_shades_of_any_shop(text: str, found: list[str]) -> None:
    shop = CatalogIndex.build([], colours=["Jet", "Optic White", "Midnight Navy", "Pale Grey"])
    assert extract_entities(text, shop).colours == found


def test_without_a_catalog_foreign_colour_words_are_the_plain_colours() -> None:
    assert extract_entities("negro, weiß, gris o azul marino").colours == ["Black", "White", "Grey", "Navy"]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("sudaderas por menos de 50 €", None, "50"),
        ("unter 80 Euro", None, "80"),
        ("moins de 30 euros", None, "30"),
        ("meno di 40 €", None, "40"),
        ("menos de 60 euros", None, "60"),
        ("entre 20 y 40 €", "20", "40"),
        ("zwischen 20 und 40 Euro", "20", "40"),
        ("entre 20 et 40 €", "20", "40"),
        ("tra 20 e 40 euro", "20", "40"),
        ("de 20 a 40 €", "20", "40"),
        ("über 100 €", "100", None),
        ("a partir de 30", "30", None),
        ("plus de 50 €", "50", None),
        ("più di 50 euro", "50", None),
        ("mais de 50 euros", "50", None),
        ("no más de 50 €", None, "50"),
        ("nicht mehr als 60 Euro", None, "60"),
        ("menos de 39,90 €", None, "39.90"),
        ("unter 1.000 €", None, "1000"),
        ("unter €50", None, "50"),
        ("bis 50€", None, "50"),
        ("under 50 EUR", None, "50"),
        ("50 € o menos", None, "50"),
        ("30 € oder mehr", "30", None),
        ("under $50", None, "50"),
        ("below 50 bucks", None, "50"),
    ],
)
def test_price_bounds_in_every_language(text: str, low: str | None, high: str | None) -> None:
    entities = extract_entities(text)
    assert (entities.min_price, entities.max_price) == (
        Decimal(low) if low else None,
        Decimal(high) if high else None,
    )


@pytest.mark.parametrize(
    "text",
    [
        "llega en de 3 a 5 días",
        "hasta 5 días",
        "ab 3 Tagen",
        "plus de 2 semaines",
        "a partir del 3 de marzo",
        "de 2 a 3 camisetas",
        "39,90 €",
        "I ate 2 burgers",
    ],
)
def test_numbers_that_are_not_price_bounds_in_every_language(text: str) -> None:
    entities = extract_entities(text)
    assert (entities.min_price, entities.max_price) == (None, None)


TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("¿llegará el 3 de marzo?", date(2027, 3, 3)),
        ("Lieferung am 3. März", date(2027, 3, 3)),
        ("livré le 3 mars", date(2027, 3, 3)),
        ("consegna il 3 marzo", date(2027, 3, 3)),
        ("entrega a 3 de março", date(2027, 3, 3)),
        ("by March 3", date(2027, 3, 3)),
        ("on 3/4", date(2027, 4, 3)),
        ("on 4/13", date(2027, 4, 13)),
        ("le 1er mars 2027", date(2027, 3, 1)),
        ("I ordered it on November 28th", date(2026, 11, 28)),
        ("bestellt am 28.11.", date(2026, 11, 28)),
        ("enviado el 15 de enero de 2026", date(2026, 1, 15)),
        ("due 2026-12-24", date(2026, 12, 24)),
    ],
)
def test_date_is_read_in_every_language(text: str, day: date) -> None:
    assert extract_entities(text, today=TODAY).dates == [day]


@pytest.mark.parametrize(
    "text", ["3/4 sleeves", "3 out of 5 stars", "I may 2 hoodies", "costs 39.90", "jeans 31/32", "a set 3"]
)
def test_numbers_that_are_not_dates(text: str) -> None:
    assert extract_entities(text, today=TODAY).dates == []


def test_a_date_is_not_a_price_bound_or_an_order_number() -> None:
    entities = extract_entities("pedido 10023: menos de 50 € y que llegue antes del 3 de marzo", today=TODAY)
    assert entities.order_numbers == ["A-10023"]
    assert (entities.min_price, entities.max_price) == (None, Decimal("50"))
    assert entities.dates == [date(2027, 3, 3)]


def test_a_spanish_message_with_everything(catalog: CatalogIndex) -> None:
    entities = extract_entities(
        "Hola, del pedido A-10023 (ana@example.es, +34 612 345 678): ¿tienen la Slub Cotton Crew Tee en XL, "
        "en negro, por menos de 40 €? La necesito para el 3 de marzo.",
        catalog,
        today=TODAY,
    )
    assert entities.order_numbers == ["A-10023"]
    assert entities.emails == ["ana@example.es"]
    assert entities.phones == ["+34612345678"]
    assert entities.sizes == ["XL"]
    assert entities.colours == ["Black"]
    assert entities.max_price == Decimal("40")
    assert entities.dates == [date(2027, 3, 3)]
    assert entities.products[0].title == "Slub Cotton Crew Tee"


def test_a_synonym_does_not_hide_a_word_the_catalog_uses() -> None:
    """The word "jumper" also means sweatshirt, but a shop that calls its product a jumper is found by that word."""
    index = CatalogIndex.build(
        [("MCJ-1", "Merino Crew Jumper", "Knitwear"), ("CS-1", "Crew Sweatshirt", "Sweatshirts")]
    )
    best = index.match("Is the Merino Crew Jumper in stock in size L?", limit=1)[0]
    assert best.sku == "MCJ-1" and best.score >= 80
