"""The deterministic engine answers in the shopper's language: its sentences from the catalogs, its prices and
dates as the shopper's locale writes them, the shop's own text (product names, policy passages) as the shop wrote it.

The intent router reads English, so these tests give the engine the intent a shopper's message has and let it do the
rest (entities, tools, reply): what is tested here is the reply, not the routing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from babel.dates import format_date as babel_date
from babel.numbers import format_currency
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import DeterministicEngine, EngineTurn, Pending, ShopVoice
from hub.db import models as m
from hub.languages import LOCALES, Language
from hub.prompting.outputs import Intent
from hub.seed.demo import DemoCredentials
from hub.text import format_date, format_money
from tools import engagement as eng
from tools.context import Audience, ToolContext
from tools.validators import validate_reply

VOICE = ShopVoice(name="Northwind Threads")
ENGLISH_TEMPLATE_WORDS = (
    "in stock",
    "out of stock",
    "only ",
    "Here's what I found",
    "close to what you asked",
    " costs ",
    "Order ",
    " is shipped",
    "It travels with",
    "tracking number",
    "Estimated delivery",
    "Items:",
    "Sizes:",
    "Colours:",
    "Care:",
    "From our",
    "I couldn't",
    "colleague",
    "does not come in",
    "running low",
)
"""Words of the English templates that no other language's reply may carry."""


@dataclass(frozen=True)
class Shopper:
    """What a shopper writing one language asks, and the words that say the reply is in it."""

    search: str
    price: str
    """A question about the sample SKU's price; `{sku}` is filled in."""
    order: str
    """`{order}` and `{email}` are filled in."""
    policy: str
    found: str
    costs: str
    shipped: str
    eta: str
    cited: str


SHOPPERS: dict[Language, Shopper] = {
    "en": Shopper(
        "do you have hoodies",
        "how much is {sku}?",
        "where is my order {order}? my email is {email}",
        "how long do refunds take once you get my return",
        "Here's what I found:",
        "costs",
        "is shipped",
        "Estimated delivery:",
        "From our",
    ),
    "es": Shopper(
        "¿tienes hoodies?",
        "¿cuánto cuesta {sku}?",
        "¿dónde está mi pedido {order}? mi email es {email}",
        "¿cuánto tardan los refunds de una devolución (return)?",
        "Esto es lo que he encontrado:",
        "cuesta",
        "ha sido enviado",
        "Entrega estimada:",
        "Según",
    ),
    "de": Shopper(
        "habt ihr hoodies?",
        "was kostet {sku}?",
        "wo ist meine Bestellung {order}? meine E-Mail ist {email}",
        "wie lange dauern refunds nach einem return?",
        "Das habe ich gefunden:",
        "kostet",
        "wurde versandt",
        "Voraussichtliche Zustellung:",
        "Laut",
    ),
    "fr": Shopper(
        "hoodies ?",
        "combien coûte {sku} ?",
        "où est ma commande {order} ? mon e-mail est {email}",
        "combien de temps pour les refunds après un return ?",
        "Voici ce que j’ai trouvé",
        "coûte",
        "a été expédiée",
        "Livraison estimée\xa0:",
        "D’après",
    ),
    "it": Shopper(
        "avete hoodies?",
        "quanto costa {sku}?",
        "dov'è il mio ordine {order}? la mia email è {email}",
        "quanto ci vuole per i refunds dopo un return?",
        "Ecco cosa ho trovato:",
        "costa",
        "è stato spedito",
        "Consegna prevista:",
        "Secondo",
    ),
    "pt": Shopper(
        "procuro um hoodie",
        "quanto custa {sku}?",
        "onde está a minha encomenda {order}? o meu email é {email}",
        "quanto tempo demoram os refunds depois de um return?",
        "Encontrei isto:",
        "custa",
        "foi enviada",
        "Entrega prevista:",
        "Segundo",
    ),
}


@pytest.fixture(scope="module")
def bot() -> DeterministicEngine:
    return DeterministicEngine()


def shopper(session: AsyncSession, demo: DemoCredentials) -> ToolContext:
    return ToolContext(
        session=session, tenant_id=uuid.UUID(demo.tenant_id), audience=Audience.CUSTOMER, channel=m.Channel.WEB
    )


async def ask(ctx: ToolContext, bot: DeterministicEngine, text: str, intent: Intent, language: Language) -> EngineTurn:
    """Answer `text` as a message of `intent`, in `language`."""
    _, entities = await bot.understand(ctx, text, Pending())
    turn = await bot.answer(ctx, text, pending=Pending(), voice=VOICE, language=language, understood=(intent, entities))
    assert turn.language == language and turn.handoff is None, turn.reply
    return turn


def money(language: Language, card: eng.ProductCard) -> str:
    if language == "en":
        return format_money(card.price, card.currency)
    return format_currency(card.price, card.currency, locale=LOCALES[language])


def assert_no_english_template(language: Language, reply: str) -> None:
    if language != "en":
        leaked = [w for w in ENGLISH_TEMPLATE_WORDS if w in reply]
        assert not leaked, (leaked, reply)


@pytest.mark.parametrize("language", list(SHOPPERS))
async def test_the_engine_answers_in_the_shoppers_language(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine, language: Language
) -> None:
    says, ctx = SHOPPERS[language], shopper(session, demo)
    english = language == "en"

    search = await ask(ctx, bot, says.search, Intent.PRODUCT_SEARCH, language)
    assert search.reply.startswith(says.found) and search.products, search.reply
    assert f"- {search.products[0].title} ({search.products[0].sku}): {money(language, search.products[0])}, " in (
        search.reply
    )
    assert_no_english_template(language, search.reply)

    price = await ask(ctx, bot, says.price.format(sku=demo.sample_sku), Intent.PRODUCT_QUESTION, language)
    detail = price.outputs[0]
    assert isinstance(detail, eng.ProductDetail)
    assert f"{detail.title} ({detail.sku}) {says.costs} {money(language, detail)}" in price.reply, price.reply
    assert_no_english_template(language, price.reply)

    for size in ("M", "XXXL"):  # a size it comes in, and one it does not
        stock = await ask(ctx, bot, f"{detail.title} {size}?", Intent.STOCK_CHECK, language)
        assert stock.tools == ["check_stock"] and detail.title in stock.reply, stock.reply
        assert_no_english_template(language, stock.reply)

    order = await ask(
        ctx,
        bot,
        says.order.format(order=demo.sample_order_id, email=demo.sample_order_email),
        Intent.ORDER_STATUS,
        language,
    )
    status = order.outputs[0]
    assert isinstance(status, eng.OrderStatusResult) and status.order is not None and status.order.eta is not None
    eta = format_date(status.order.eta) if english else babel_date(status.order.eta, "long", locale=LOCALES[language])
    assert demo.sample_order_id in order.reply and says.shipped in order.reply, order.reply
    assert f"{says.eta} {eta}." in order.reply and status.order.tracking_number in order.reply
    assert_no_english_template(language, order.reply)

    policy = await ask(ctx, bot, says.policy, Intent.RETURNS_REFUNDS, language)
    answer = policy.outputs[0]
    assert isinstance(answer, eng.PolicyAnswerResult) and answer.found
    passage = answer.passages[0]
    quoted, _, offer = policy.reply.partition("\n\n")  # the policy, then the offer to start a return
    assert quoted.startswith(says.cited) and quoted.endswith(f": {passage.text}"), policy.reply
    assert offer and policy.pending.action == "return", "the shopper can go on to start one"
    assert_no_english_template(language, quoted.removesuffix(passage.text))
    assert_no_english_template(language, offer)

    if english:  # what English shoppers read is unchanged, and the validator still reads every fact in it
        assert (
            f"{detail.title} ({detail.sku}) costs {format_money(detail.price, detail.currency)} and is " in price.reply
        )
        assert order.reply.startswith(f"Order {demo.sample_order_id} is shipped. It travels with ")
        for turn in (search, price, order, policy):
            assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=m.Channel.WEB) == [], turn.reply


GOODBYES: list[tuple[Language, str, str]] = [
    ("en", "thanks, bye!", "You're welcome! Thanks for visiting Northwind Threads, and have a great day."),
    ("en", "thank you", "You're welcome! Is there anything else I can help you with?"),
    ("en", "bye", "Goodbye, and thanks for visiting Northwind Threads!"),
    ("es", "gracias, adiós", "¡De nada! Gracias por visitar Northwind Threads, ¡que tengas un buen día!"),
    (
        "de",
        "danke, tschüss",
        "Gern geschehen! Danke für deinen Besuch bei Northwind Threads, und einen schönen Tag noch.",
    ),
    (
        "fr",
        "merci, au revoir",
        "Avec plaisir\xa0! Merci de votre visite chez Northwind Threads, et excellente journée.",
    ),
    ("it", "grazie, ciao", "Figurati! Grazie per aver visitato Northwind Threads, e buona giornata."),
    ("pt", "obrigado, tchau", "De nada! Obrigado por visitar a loja Northwind Threads, e tenha um ótimo dia."),
]


async def test_thanks_and_goodbye_get_a_goodbye_not_the_greeting(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    for language, text, reply in GOODBYES:
        turn = await bot.answer(shopper(session, demo), text, pending=Pending(), voice=VOICE, language=language)
        assert turn.intent == Intent.GREETING and turn.tools == [], text
        assert turn.reply == reply
    for language, text in [("en", "hi there"), ("de", "hallo"), ("it", "ciao"), ("pt", "olá")]:
        turn = await bot.answer(shopper(session, demo), text, pending=Pending(), voice=VOICE, language=language)
        assert turn.intent == Intent.GREETING and "Northwind Threads" in turn.reply, text
        assert ("assistant" in turn.reply) == (language == "en"), turn.reply
