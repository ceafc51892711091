"""A reply may only state the prices, SKUs, stock, statuses, dates and contacts this turn's tools returned."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

import pytest
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from hub.db.models import Channel, OrderStatus
from hub.languages import LANGUAGES, LOCALES, Language
from tools.engagement import (
    CheckStockResult,
    OrderDetails,
    OrderItem,
    OrderStatusResult,
    PolicyAnswerResult,
    PolicyPassage,
    ProductCard,
    SearchProductsInput,
    SearchProductsResult,
    StockLevel,
)
from tools.validators import CHANNEL_LIMITS, validate_reply

SANDAL = ProductCard(
    sku="SKU-1170",
    title="Suede Slide Sandal — Navy",
    category="Footwear",
    price=Decimal("90.00"),
    currency="USD",
    stock=3,
    in_stock=True,
    stock_level=StockLevel.LOW,
    sizes=["38", "39", "40"],
    colours=["Navy"],
    image_path="t/products/SKU-1170.png",
)
JEAN = SANDAL.model_copy(
    update={"sku": "SKU-1088", "title": "Stretch Slim Jean", "price": Decimal("1049.95"), "stock": 42}
)
SEARCH = SearchProductsResult(
    searched=SearchProductsInput(query="sandal", max_price=Decimal("1100")), products=[SANDAL, JEAN], total=2
)
STOCK = CheckStockResult(
    sku="SKU-1088",
    title="Stretch Slim Jean",
    size="32",
    colour=None,
    variant_offered=True,
    level=StockLevel.IN_STOCK,
    quantity=42,
    can_order=True,
    note=None,
)
ORDER = OrderStatusResult(
    found=True,
    order_number="A-12030",
    order=OrderDetails(
        order_number="A-12030",
        status=OrderStatus.SHIPPED,
        items=[OrderItem(sku="SKU-1170", title="Suede Slide Sandal — Navy", quantity=1, unit_price=Decimal("90.00"))],
        total=Decimal("95.95"),
        currency="USD",
        carrier="FedEx",
        tracking_number="936773461912",
        eta=date(2026, 12, 1),
        placed_on=date(2026, 11, 16),
    ),
)
POLICY = PolicyAnswerResult(
    found=True,
    passages=[
        PolicyPassage(
            passage_id="5f0c3a52-7a0e-4a39-9d1c-0b0f5a0c1e01",
            slug="returns-refunds",
            title="Returns and refunds",
            heading="Returns and refunds",
            topic="returns_refunds",
            kind="policy",
            text=(
                "You can return unworn items within 30 days of delivery. $4.95 is deducted from your refund. "
                "We issue the refund within 5 business days. Cancelled orders are refunded in full. "
                "Standard shipping is free on orders of $75.00 or more."
            ),
            score=4.2,
        ),
        PolicyPassage(
            passage_id="5f0c3a52-7a0e-4a39-9d1c-0b0f5a0c1e02",
            slug="contact-a-person",
            title="Talking to a person",
            heading="Talking to a person",
            topic="contact_human",
            kind="policy",
            text=(
                "The team works Monday to Friday 9 am–6 pm. Email help@northwindthreads.example.com or call "
                "+1 (555) 010-0199 during opening hours."
            ),
            score=3.1,
        ),
    ],
)
ALL = [SEARCH, STOCK, ORDER, POLICY]


def problems(reply: str, outputs: list[BaseModel | dict] | None = None, **kwargs) -> list[str]:
    return validate_reply(
        reply, tool_outputs=ALL if outputs is None else outputs, channel=kwargs.pop("channel", Channel.WEB), **kwargs
    )


def test_a_fully_grounded_reply_passes() -> None:
    reply = (
        "Good news: order A-12030 has shipped with FedEx (tracking 936773461912) and should arrive by Dec 1. "
        "It was placed on November 16, 2026 and came to $95.95. The Suede Slide Sandal (SKU-1170) is $90 and "
        "there are only 3 left; the Stretch Slim Jean (SKU 1088) costs 1,049.95 USD with 42 in stock. Returns "
        "are free within 30 days, refunds take 5 business days, $4.95 comes off for the label, and orders over "
        "$75 ship free. Questions? Email help@northwindthreads.example.com or call 555-010-0199, and we will "
        "reply to jane@example.com."
    )
    assert problems(reply, customer_email="Jane@Example.com") == []


def test_plain_dict_outputs_ground_a_reply_too() -> None:
    output = {"sku": "NW-77", "price": 12.5, "stock": 4, "currency": "EUR", "eta": "2026-03-02"}
    assert problems("NW-77 is €12.50, only 4 left, arriving March 2.", [output]) == []
    assert problems("NW-78 is €12.50.", [output]) == ["SKU NW-78 does not appear in this turn's tool outputs"]


# --- prices -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["$90", "$90.00", "90.00 USD", "USD 90", "US$90", "90 dollars", "$1,049.95"])
def test_prices_from_the_tools_pass_in_any_format(price: str) -> None:
    assert problems(f"That one is {price}.") == []


@pytest.mark.parametrize("price", ["$49.95", "49.95 USD", "USD 49.95", "$89.99", "$1,000"])
def test_invented_prices_are_flagged(price: str) -> None:
    assert problems(f"That one is {price} today.") == [f"price {price} does not appear in this turn's tool outputs"]


def test_a_grounded_amount_in_another_currency_is_flagged() -> None:
    assert problems("The sandal is €90.") == ["price €90 is in a currency the tool outputs do not use (USD)"]


def test_the_shoppers_own_budget_from_the_search_passes() -> None:
    assert problems("Here is what we have under $1,100.") == []


def test_numbers_that_are_not_prices_are_ignored() -> None:
    reply = (
        "Returns within 30 days, refunds in 5 business days, 10% off your first order, EU size 42, a 32-inch "
        "inseam, and 2 pairs per order."
    )
    assert problems(reply) == []


# --- SKUs ---------------------------------------------------------------------------------------------


def test_invented_skus_are_flagged_once_each() -> None:
    found = problems("Try SKU-9999 or sku-9999, or SKU-1170.")
    assert found == ["SKU SKU-9999 does not appear in this turn's tool outputs"]


def test_skus_in_the_tenants_own_format_are_checked() -> None:
    outputs = [{"products": [{"sku": "NW-1001", "price": "10.00"}]}]
    assert problems("NW-1001 is great; NW-1002 too.", outputs) == [
        "SKU NW-1002 does not appear in this turn's tool outputs"
    ]


def test_skus_made_of_words_are_checked_too() -> None:
    """An imported catalog's SKUs are often its handles and option values, with no digit at all."""
    outputs = [{"products": [{"sku": "MOON-STUDS", "price": "49.00"}, {"sku": "LS-M-NAVY", "price": "49.00"}]}]
    reply = "The MOON-STUDS and LS-M-NAVY are in; MOON-RINGS too. A moon-shaped charm, LS-style."
    assert problems(reply, outputs) == ["SKU MOON-RINGS does not appear in this turn's tool outputs"]


def test_order_numbers_references_and_the_word_skus_are_not_skus() -> None:
    outputs = [*ALL, {"reference": "HO-1A2B3C4D", "reason": "complaint"}]
    assert problems("Order A-12030 is with FedEx; your reference is HO-1A2B3C4D. We have many SKUs.", outputs) == []


# --- stock --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim", ["only 3 left", "just 3 pairs left", "42 in stock", "42 units available", "stock: 42", "In stock (3)"]
)
def test_stock_figures_from_the_tools_pass(claim: str) -> None:
    assert problems(f"Good news, {claim}.") == []


@pytest.mark.parametrize("claim", ["only 2 left", "just 7 remaining", "5 in stock", "12 units available", "stock is 9"])
def test_invented_stock_figures_are_flagged(claim: str) -> None:
    found = problems(f"Hurry, {claim}.")
    assert len(found) == 1 and found[0].startswith("stock figure") and claim.split()[-2] in found[0]


def test_counts_that_are_not_stock_are_ignored() -> None:
    reply = "You have only 30 days left to return it, it comes in 4 colours, and it is available in 6 sizes."
    assert problems(reply) == []


# --- order status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "Order A-12030 has shipped.",
        "Your order is on its way with FedEx.",
        "It was dispatched from our warehouse and is in transit.",
        "The status of A-12030 is: Shipped.",
        "Your order has been paid and shipped.",
    ],
)
def test_statuses_matching_the_order_pass(reply: str) -> None:
    assert problems(reply) == []


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("Order A-12030 was delivered yesterday.", "delivered"),
        ("Your order is out for delivery today.", "out for delivery"),
        ("Your order is still being processed.", "being processed"),
        ("Order A-12030 has been cancelled.", "cancelled"),
        ("Order A-12030 has been refunded.", "refunded"),
        ("Your order is awaiting payment.", "awaiting payment"),
    ],
)
def test_statuses_contradicting_the_order_are_flagged(reply: str, label: str) -> None:
    found = problems(reply)
    assert len(found) == 1 and f"is {label}, but" in found[0] and "shipped" in found[0]


def test_a_status_for_an_order_nobody_looked_up_is_flagged() -> None:
    assert problems("Order A-55555 has shipped.") == [
        "the reply says order A-55555 is shipped, but no tool output this turn covers it"
    ]
    assert problems("Your order has been delivered.", [POLICY]) == [
        "the reply says the order is delivered, but no order was looked up this turn"
    ]


def test_conditional_hedged_negated_and_general_statements_are_not_status_claims() -> None:
    reply = (
        "Once your order has shipped you get an email. If it is delivered but missing, tell us. "
        "It should be delivered on Dec 1. It hasn't been delivered yet. "
        "Cancelled orders are refunded in full. An order is cancelled automatically after 48 hours."
    )
    assert problems(reply) == []


# --- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when", ["Dec 1", "December 1st", "1 December 2026", "2026-12-01", "12/01/2026", "Nov 16", "16th of November"]
)
def test_dates_from_the_tools_pass(when: str) -> None:
    assert problems(f"Expect it {when}.") == []


@pytest.mark.parametrize("when", ["Dec 3", "December 2nd", "2026-12-03", "1 December 2025", "12/03/2026"])
def test_invented_dates_are_flagged(when: str) -> None:
    assert problems(f"Expect it {when}.") == [f"date {when} does not appear in this turn's tool outputs"]


def test_relative_days_weekdays_and_hours_are_not_checked() -> None:
    assert problems("It should arrive tomorrow or by Thursday; we answer Monday to Friday 9 am–6 pm.") == []


# --- contacts -----------------------------------------------------------------------------------------


def test_foreign_email_addresses_are_flagged() -> None:
    found = problems("Write to refunds@fake-shop.com or jane@example.com.", customer_email="jane@example.com")
    assert found == [
        "email address refunds@fake-shop.com is neither the customer's own nor in this turn's tool outputs"
    ]


@pytest.mark.parametrize("phone", ["+1 (555) 010-0199", "555-010-0199", "(555) 010 0199", "+15550100199"])
def test_the_shops_phone_in_any_format_passes(phone: str) -> None:
    assert problems(f"Call {phone}.") == []


@pytest.mark.parametrize("phone", ["+1 (415) 555-0123", "415-555-0123", "+44 7700 900123", "07700 900123"])
def test_foreign_phone_numbers_are_flagged(phone: str) -> None:
    assert problems(f"Call {phone}.") == [
        f"phone number {phone} is neither the customer's own nor in this turn's tool outputs"
    ]


def test_the_customers_own_phone_passes() -> None:
    assert problems("We will text +44 7700 900123.", customer_phone="+447700900123") == []


def test_tracking_numbers_dates_and_size_lists_are_not_phone_numbers() -> None:
    assert problems("Tracking 936773461912, placed 2026-11-16, sizes 38, 39 and 40.") == []


# --- length -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "limit"), [(Channel.WHATSAPP, 4096), (Channel.WEB, 4000)])
def test_replies_must_fit_the_channel(channel: Channel, limit: int) -> None:
    assert CHANNEL_LIMITS[channel] == limit
    assert problems("a" * limit, channel=channel) == []
    assert problems("a" * (limit + 1), channel=channel) == [
        f"the reply is {limit + 1} characters long; {channel} allows at most {limit}"
    ]


def test_an_empty_reply_is_flagged() -> None:
    assert problems("  \n ") == ["the reply is empty"]


# --- other languages ----------------------------------------------------------------------------------

BAG = SANDAL.model_copy(
    update={"sku": "SKU-2040", "title": "Bolso de piel", "price": Decimal("39.90"), "currency": "EUR", "stock": 3}
)
COAT = SANDAL.model_copy(
    update={"sku": "SKU-2041", "title": "Abrigo de lana", "price": Decimal("1299.00"), "currency": "EUR", "stock": 50}
)
EU_SEARCH = SearchProductsResult(searched=SearchProductsInput(query="bolso"), products=[BAG, COAT], total=2)
EU_ORDER = OrderStatusResult(
    found=True,
    order_number="A-20417",
    order=OrderDetails(
        order_number="A-20417",
        status=OrderStatus.SHIPPED,
        items=[OrderItem(sku="SKU-2041", title="Abrigo de lana", quantity=1, unit_price=Decimal("1299.00"))],
        total=Decimal("1338.90"),
        currency="EUR",
        carrier="DHL",
        tracking_number="00340434161094042557",
        eta=date(2026, 3, 3),
        placed_on=date(2026, 2, 16),
    ),
)
EU = [EU_SEARCH, EU_ORDER]


class Sample(NamedTuple):
    """One reply per way of getting a fact wrong, in one language, about the `EU` shop."""

    grounded: str
    invented_price: str
    wrong_stock: str
    wrong_date: str
    wrong_status: str
    not_claims: str
    """Counts, dates and statuses that are no claims about the shopper's order (time left, hedges, conditions)."""


SAMPLES: dict[Language, Sample] = {
    "es": Sample(
        grounded=(
            "¡Buenas noticias! El pedido A-20417 ha sido enviado con DHL y llegará el 3 de marzo de 2026; lo hiciste "
            "el 16 de febrero y costó 1.338,90 €. El Bolso de piel (SKU-2040) cuesta 39,90 € y solo quedan 3; "
            "el Abrigo de lana cuesta 1.299,00 € y tenemos 50 unidades. Llegará el 03/03/2026."
        ),
        invented_price="El Bolso de piel cuesta 34,90 €.",
        wrong_stock="Date prisa: solo quedan 2.",
        wrong_date="Tu pedido llegará el 4 de marzo.",
        wrong_status="El pedido A-20417 ha sido entregado.",
        not_claims=(
            "Tienes 30 días para devolverlo y quedan 3 días de rebajas; está disponible en 4 colores. Si tu pedido "
            "ha sido entregado y falta algo, escríbenos. Tu pedido no ha sido entregado todavía."
        ),
    ),
    "de": Sample(
        grounded=(
            "Gute Nachricht: Ihre Bestellung A-20417 wurde mit DHL versandt und kommt am 3. März 2026 an; sie wurde "
            "am 16. Februar aufgegeben und kostete 1.338,90 €. Die Bolso de piel (SKU-2040) kostet 39,90 €, nur noch "
            "3 auf Lager; der Abrigo de lana kostet 1.299,00 €, 50 Stück verfügbar. Lieferung am 03.03.2026."
        ),
        invented_price="Die Bolso de piel kostet 34,90 €.",
        wrong_stock="Schnell sein: nur noch 2 verfügbar.",
        wrong_date="Ihre Bestellung kommt am 4. März.",
        wrong_status="Ihre Bestellung A-20417 wurde zugestellt.",
        not_claims=(
            "Sie haben 30 Tage Zeit für die Rückgabe, nur noch 3 Tage Sale, in 4 Farben verfügbar. Sobald Ihre "
            "Bestellung zugestellt ist, schreiben wir Ihnen. Ihre Bestellung wurde noch nicht zugestellt."
        ),
    ),
    "fr": Sample(
        grounded=(
            "Bonne nouvelle : votre commande A-20417 a été expédiée avec DHL et arrivera le 3 mars 2026 ; elle a été "
            "passée le 16 février pour 1\u202f338,90\u00a0€. Le Bolso de piel (SKU-2040) coûte 39,90 €, il n'en reste "
            "plus que 3 ; l'Abrigo de lana coûte 1 299,00 €, 50 pièces en stock. Livraison le 03/03/2026."
        ),
        invented_price="Le Bolso de piel coûte 34,90 €.",
        wrong_stock="Faites vite : il ne reste plus que 2 pièces.",
        wrong_date="Votre commande arrivera le 4 mars.",
        wrong_status="Votre commande A-20417 a été livrée.",
        not_claims=(
            "Vous avez 30 jours pour le retour, plus que 3 jours de soldes, disponible en 4 couleurs. Si votre "
            "commande a été livrée incomplète, écrivez-nous. Votre commande n'a pas encore été livrée."
        ),
    ),
    "it": Sample(
        grounded=(
            "Buone notizie: l'ordine A-20417 è stato spedito con DHL e arriverà il 3 marzo 2026; l'hai effettuato il "
            "16 febbraio per 1.338,90 €. Il Bolso de piel (SKU-2040) costa 39,90 €, solo 3 rimasti; l'Abrigo de lana "
            "costa 1.299,00 €, 50 pezzi disponibili. Consegna il 03/03/2026."
        ),
        invented_price="Il Bolso de piel costa 34,90 €.",
        wrong_stock="Affrettati: solo 2 rimasti.",
        wrong_date="Il tuo ordine arriverà il 4 marzo.",
        wrong_status="L'ordine A-20417 è stato consegnato.",
        not_claims=(
            "Hai 30 giorni per il reso, restano 3 giorni di saldi, disponibile in 4 colori. Se il tuo ordine è stato "
            "consegnato incompleto, scrivici. Il tuo ordine non è ancora stato consegnato."
        ),
    ),
    "pt": Sample(
        grounded=(
            "Boas notícias: a encomenda A-20417 foi enviada pela DHL e chega a 3 de março de 2026; foi feita a 16 de "
            "fevereiro e custou 1.338,90 €. O Bolso de piel (SKU-2040) custa 39,90 €, apenas 3 em stock; o Abrigo de "
            "lana custa 1 299,00 €, 50 unidades disponíveis. Entrega a 03/03/2026."
        ),
        invented_price="O Bolso de piel custa 34,90 €.",
        wrong_stock="Despache-se: restam apenas 2.",
        wrong_date="A sua encomenda chega a 4 de março.",
        wrong_status="A encomenda A-20417 foi entregue.",
        not_claims=(
            "Tem 30 dias para devolver, restam 3 dias de saldos, disponível em 4 cores. Se a sua encomenda foi "
            "entregue incompleta, escreva-nos. A sua encomenda ainda não foi entregue."
        ),
    ),
}
TRANSLATED: tuple[Language, ...] = tuple(SAMPLES)


def eu_problems(reply: str, language: Language, outputs: list[BaseModel | dict] | None = None) -> list[str]:
    return validate_reply(
        reply, tool_outputs=EU if outputs is None else outputs, channel=Channel.WEB, language=language
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_grounded_reply_passes_in_every_language(language: Language) -> None:
    assert eu_problems(SAMPLES[language].grounded, language) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_an_invented_price_is_flagged_in_every_language(language: Language) -> None:
    assert eu_problems(SAMPLES[language].invented_price, language) == [
        "price 34,90 € does not appear in this turn's tool outputs"
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_wrong_stock_figure_is_flagged_in_every_language(language: Language) -> None:
    found = eu_problems(SAMPLES[language].wrong_stock, language)
    assert len(found) == 1 and found[0].startswith("stock figure") and " 2" in found[0]


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_wrong_date_is_flagged_in_every_language(language: Language) -> None:
    found = eu_problems(SAMPLES[language].wrong_date, language)
    assert len(found) == 1 and found[0].startswith("date 4") and found[0].endswith("tool outputs")


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_wrong_order_status_is_flagged_in_every_language(language: Language) -> None:
    assert eu_problems(SAMPLES[language].wrong_status, language) == [
        "the reply says order A-20417 is delivered, but its status is shipped"
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_time_left_colours_conditions_and_negations_are_no_claims_in_any_language(language: Language) -> None:
    assert eu_problems(SAMPLES[language].not_claims, language) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "price", ["39,90 €", "39.90 EUR", "€39.90", "EUR 39,90", "39,90\u00a0€", "€ 39,90", "39.90 €", "39,90 euros"]
)
def test_a_grounded_price_passes_however_it_is_written(language: Language, price: str) -> None:
    assert eu_problems(f"Son {price}.", language) == []


@pytest.mark.parametrize(
    ("language", "price"),
    [
        ("de", "1.299,00 €"),
        ("es", "1.299,00 €"),
        ("it", "1.299,00 €"),
        ("pt", "1.299,00 €"),
        ("fr", "1 299,00 €"),
        ("fr", "1\u202f299,00 €"),
        ("pt", "1\u00a0299,00 €"),
        ("en", "€1,299.00"),
        ("de", "1,299.00 EUR"),
    ],
)
def test_grouped_thousands_are_read_in_each_languages_way(language: Language, price: str) -> None:
    assert eu_problems(f"Son {price}.", language) == []
    assert len(eu_problems(f"Son {price}.", language, [{"sku": "SKU-2041", "price": "1199.00"}])) == 1


@pytest.mark.parametrize(
    ("price", "currency", "written"),
    [
        ("39.90", "BRL", "R$ 39,90"),
        ("39", "USD", "39 bucks"),
        ("39", "EUR", "39 euros"),
        ("39", "EUR", "39 Euro"),
        ("39", "EUR", "39 €"),
        ("39.90", "USD", "US$ 39.90"),
        ("39.90", "USD", "$39.90"),
        ("39.90", "USD", "39,90 $US"),
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_currency_words_and_symbols_of_every_language_are_read(
    language: Language, price: str, currency: str, written: str
) -> None:
    card = {"sku": "SKU-2040", "price": price, "currency": currency}
    assert eu_problems(f"Cuesta {written}.", language, [card]) == []
    other = {"sku": "SKU-2040", "price": str(Decimal(price) + 5), "currency": currency}
    assert eu_problems(f"Cuesta {written}.", language, [other]) == [
        f"price {written} does not appear in this turn's tool outputs"
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_price_in_another_currency_is_flagged_in_every_language(language: Language) -> None:
    assert eu_problems("Son 39,90 US$.", language) == [
        "price 39,90 US$ is in a currency the tool outputs do not use (EUR)"
    ]


# "1.299" is 1299 where a dot groups thousands (de, es, it, pt), 1.299 in English; French groups with a space, so
# there either reading stands.
@pytest.mark.parametrize(
    ("language", "thousand", "fraction"),
    [
        ("en", False, True),
        ("de", True, False),
        ("es", True, False),
        ("it", True, False),
        ("pt", True, False),
        ("fr", True, True),
    ],
)
def test_a_dot_before_three_digits_is_read_as_the_reply_language_writes_it(
    language: Language, thousand: bool, fraction: bool
) -> None:
    reply = "Son 1.299 €."
    flagged = ["price 1.299 € does not appear in this turn's tool outputs"]
    assert eu_problems(reply, language, [{"price": "1299", "currency": "EUR"}]) == ([] if thousand else flagged)
    assert eu_problems(reply, language, [{"price": "1.299", "currency": "EUR"}]) == ([] if fraction else flagged)


@pytest.mark.parametrize(
    ("language", "thousand", "fraction"),
    [("en", True, False), ("de", False, True), ("fr", False, True), ("pt", False, True)],
)
def test_a_comma_before_three_digits_is_read_as_the_reply_language_writes_it(
    language: Language, thousand: bool, fraction: bool
) -> None:
    reply = "Son 1,299 €."
    flagged = ["price 1,299 € does not appear in this turn's tool outputs"]
    assert eu_problems(reply, language, [{"price": "1299", "currency": "EUR"}]) == ([] if thousand else flagged)
    assert eu_problems(reply, language, [{"price": "1.299", "currency": "EUR"}]) == ([] if fraction else flagged)


@pytest.mark.parametrize(
    ("language", "claim", "count"),
    [
        ("es", "quedan 3", 3),
        ("de", "nur noch 3", 3),
        ("fr", "plus que 3", 3),
        ("it", "solo 3 rimasti", 3),
        ("pt", "apenas 3", 3),
        ("es", "50 unidades", 50),
        ("de", "50 Stück", 50),
        ("fr", "50 pièces", 50),
        ("it", "50 pezzi", 50),
        ("pt", "50 unidades", 50),
        ("es", "only 3 left", 3),
    ],
)
def test_stock_claims_in_every_language_are_held_to_the_tools(language: Language, claim: str, count: int) -> None:
    assert eu_problems(f"¡Ojo, {claim}!", language) == []
    wrong = claim.replace(str(count), str(count + 1))
    found = eu_problems(f"¡Ojo, {wrong}!", language)
    assert len(found) == 1 and found[0].startswith("stock figure") and str(count + 1) in found[0]


@pytest.mark.parametrize(
    ("language", "when"),
    [
        ("es", "el 3 de marzo"),
        ("es", "3 de marzo de 2026"),
        ("de", "3. März"),
        ("de", "3. März 2026"),
        ("fr", "le 3 mars"),
        ("fr", "1er mars"),
        ("it", "il 3 marzo"),
        ("pt", "3 de março"),
        ("pt", "3 de marco de 2026"),
        ("es", "03/03/2026"),
        ("de", "03.03.2026"),
        ("fr", "Mar 3"),
    ],
)
def test_dates_in_every_language_are_held_to_the_tools(language: Language, when: str) -> None:
    grounded = {"eta": "2026-03-03", "note": "2026-03-01"}
    assert eu_problems(f"Llega {when}.", language, [grounded]) == []
    moved = {"eta": "2026-03-04"}
    found = eu_problems(f"Llega {when}.", language, [moved])
    assert len(found) == 1 and found[0].startswith("date ") and found[0].endswith("tool outputs")


def test_slashed_dates_are_day_first_outside_english() -> None:
    tool = [{"eta": "2026-12-01"}]
    assert eu_problems("Llega el 01/12/2026.", "es", tool) == []
    assert eu_problems("Llega el 12/01/2026.", "es", tool) == [
        "date 12/01/2026 does not appear in this turn's tool outputs"
    ]
    assert eu_problems("Arrives 12/01/2026.", "en", tool) == []


@pytest.mark.parametrize(
    ("language", "reply", "label"),
    [
        ("es", "Tu pedido A-20417 fue entregado ayer.", "delivered"),
        ("es", "Tu pedido ha sido cancelado.", "cancelled"),
        ("es", "El pedido A-20417 está pendiente de pago.", "awaiting payment"),
        ("de", "Ihre Bestellung A-20417 wurde storniert.", "cancelled"),
        ("de", "Ihre Bestellung ist in Zustellung.", "out for delivery"),
        ("de", "Die Bestellung A-20417 wurde erstattet.", "refunded"),
        ("fr", "Votre commande A-20417 a été annulée.", "cancelled"),
        ("fr", "Votre commande est en cours de préparation.", "being processed"),
        ("it", "L'ordine A-20417 è stato annullato.", "cancelled"),
        ("it", "Il tuo ordine è stato consegnato ieri.", "delivered"),
        ("pt", "A encomenda A-20417 foi cancelada.", "cancelled"),
        ("pt", "A sua encomenda foi reembolsada.", "refunded"),
    ],
)
def test_statuses_contradicting_the_order_are_flagged_in_every_language(
    language: Language, reply: str, label: str
) -> None:
    found = eu_problems(reply, language)
    assert len(found) == 1 and f"is {label}, but" in found[0] and "shipped" in found[0]


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        ("es", "Tu pedido A-20417 ya fue enviado y está en camino."),
        ("es", "El pedido A-20417 fue expedido ayer."),
        ("de", "Ihre Bestellung A-20417 wurde am 16. Februar versandt und ist unterwegs."),
        ("fr", "Votre commande A-20417 a bien été expédiée, elle est en route."),
        ("it", "L'ordine A-20417 è stato spedito ed è in viaggio."),
        ("pt", "A encomenda A-20417 foi expedida e está a caminho."),
        ("pt", "O seu pedido A-20417 foi enviado."),
    ],
)
def test_statuses_matching_the_order_pass_in_every_language(language: Language, reply: str) -> None:
    assert eu_problems(reply, language) == []


def test_a_status_for_an_order_nobody_looked_up_is_flagged_in_every_language() -> None:
    assert eu_problems("Su pedido A-55555 ha sido enviado.", "es") == [
        "the reply says order A-55555 is shipped, but no tool output this turn covers it"
    ]
    assert eu_problems("Ihre Bestellung wurde versandt.", "de", []) == [
        "the reply says the order is shipped, but no order was looked up this turn"
    ]


@settings(max_examples=40, deadline=None)
@given(
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
    currency=st.sampled_from(["EUR", "USD"]),
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_price_babel_writes_in_any_locale_passes_and_one_more_is_flagged(
    language: Language, price: Decimal, currency: str
) -> None:
    card = {"sku": "SKU-2040", "price": str(price), "currency": currency}
    written = format_currency(price, currency, locale=LOCALES[language])
    assert eu_problems(f"SKU-2040: {written}.", language, [card]) == [], written
    more = format_currency(price + 1, currency, locale=LOCALES[language])
    assert eu_problems(f"SKU-2040: {more}.", language, [card]) == [
        f"price {more} does not appear in this turn's tool outputs"
    ]


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        ("es", "Te hemos enviado un correo con los datos de tu pedido."),
        ("de", "Wir haben Ihnen zu Ihrer Bestellung eine E-Mail verschickt."),
        ("fr", "Nous vous avons envoyé un e-mail au sujet de votre commande."),
        ("it", "Ti abbiamo inviato una mail sul tuo ordine."),
        ("pt", "Enviámos-lhe um e-mail sobre a sua encomenda."),
        ("de", "Jetzt nur noch 39,90 € statt 1.299,00 €."),
        ("pt", "O Bolso de piel custa apenas 39,90 €."),
    ],
)
def test_sent_emails_and_sale_prices_are_no_status_or_stock_claims(language: Language, reply: str) -> None:
    assert eu_problems(reply, language) == []
