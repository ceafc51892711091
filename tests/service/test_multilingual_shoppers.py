"""A shopper writes to the demo shop in their own language, on the widget's API and on WhatsApp, and is answered in
it: the right intent, the shop's facts, prices written as their locale writes them, and no English sentence."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.seed.demo import DemoCredentials
from tests.service.test_whatsapp import Channel, channel, graph, wa_settings

__all__ = ["channel", "graph", "wa_settings"]  # the WhatsApp harness's fixtures, used here

ENGLISH_TEMPLATE_WORDS = ("Here's what I found", " costs ", "in stock", "Order ", "I couldn't", "From our", "Hi! I'm")

ASKED = {
    "es": {
        "order": "Hola, ¿dónde está mi pedido {order}? Mi correo es {email}",
        "price": "¿Cuánto cuesta el {sku}?",
        "shipping": "¿Cuánto tarda el envío y cuánto cuesta?",
    },
    "de": {
        "order": "Hallo, wo ist meine Bestellung {order}? Meine E-Mail ist {email}",
        "price": "Was kostet der Artikel {sku}?",
        "shipping": "Wie lange dauert der Versand und was kostet er?",
    },
    "fr": {
        "order": "Bonjour, où en est ma commande {order} ? Mon e-mail est {email}",
        "price": "Combien coûte l'article {sku} ?",
        "shipping": "Combien de temps prend la livraison et combien coûte-t-elle ?",
    },
    "it": {
        "order": "Ciao, dov'è il mio ordine {order}? La mia email è {email}",
        "price": "Quanto costa l'articolo {sku}?",
        "shipping": "Quanto tempo ci vuole per la spedizione e quanto costa?",
    },
    "pt": {
        "order": "Olá, onde está a minha encomenda {order}? O meu email é {email}",
        "price": "Quanto custa o artigo {sku}?",
        "shipping": "Quanto tempo demora o envio e quanto custa?",
    },
}
"""What a shopper asks, by language: an order's status, a product's price, the shipping policy."""

EXPECTED_INTENTS = {"order": "order_status", "price": "product_question", "shipping": "shipping_delivery"}


async def _chat(client: httpx.AsyncClient, key: str, session_id: str, message: str) -> dict[str, object]:
    response = await client.post(
        "/v1/chat", json={"session_id": session_id, "message": message}, headers={"X-Hub-Key": key}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("language", sorted(ASKED))
async def test_a_shopper_is_answered_in_their_language_on_the_widget(
    channel: Channel, demo: DemoCredentials, language: str
) -> None:
    facts = {"order": demo.sample_order_id, "email": demo.sample_order_email, "sku": demo.sample_sku}
    for kind, question in ASKED[language].items():
        out = await _chat(channel.client, demo.storefront_key, f"web-{language}", question.format(**facts))
        reply = str(out["reply"])
        assert (out["language"], out["intent"]) == (language, EXPECTED_INTENTS[kind]), (question, out)
        assert not [w for w in ENGLISH_TEMPLATE_WORDS if w in reply], reply
        if kind == "order":
            assert demo.sample_order_id in reply, reply
        if kind == "price":
            assert demo.sample_sku in reply and re.search(r"\d,\d\d", reply), "a price as the locale writes it"


async def test_a_shopper_is_answered_in_their_language_on_whatsapp(channel: Channel, demo: DemoCredentials) -> None:
    numbers = {language: f"3460011122{i}" for i, language in enumerate(sorted(ASKED))}
    for language, number in numbers.items():
        await channel.say(ASKED[language]["price"].format(sku=demo.sample_sku), wa_id=number)
    sends = await channel.graph.wait_for_sends(len(numbers))
    by_shopper = {s.to: s.text or "" for s in sends}
    price_word = {"es": "cuesta", "de": "kostet", "fr": "coûte", "it": "costa", "pt": "custa"}
    for language, number in numbers.items():
        reply = by_shopper[number]
        assert demo.sample_sku in reply and price_word[language] in reply.lower(), (language, reply)
        assert not [w for w in ENGLISH_TEMPLATE_WORDS if w in reply], reply
        assert (await channel.conversation(number)).language == language
