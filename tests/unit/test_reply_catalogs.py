"""The engine's replies in six languages: every sentence translated with the same placeholders, prices and dates
written for the shopper's locale, and a goodbye told from a hello in each language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from agents.engine import ORDER_STATUS_LINES, Closing, closing_of
from agents.replies import SOURCES, TEMPLATE, Replies, read_catalog
from hub.db.models import OrderStatus
from hub.languages import LANGUAGES, Language

TRANSLATED: tuple[Language, ...] = tuple(lang for lang in LANGUAGES if lang != "en")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _template_ids() -> set[str]:
    with TEMPLATE.open("rb") as pot:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}


def test_every_sentence_the_engine_writes_is_in_the_template() -> None:
    """A sentence added to the engine without `pybabel extract` would reach every shopper in English."""
    marked = {
        message if isinstance(message, str) else message[0]
        for source in SOURCES
        for _, message, _, _ in extract_from_file("python", source)
    }
    assert marked == _template_ids()
    assert set(ORDER_STATUS_LINES) == set(OrderStatus), "every order status needs its own sentence"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(language: Language) -> None:
    catalog = read_catalog(language)
    messages = [m for m in catalog if m.id]
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in messages} == _template_ids()
    for message in messages:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        texts = [message.string] if isinstance(message.string, str) else list(message.string)
        assert not message.fuzzy, message.id
        assert texts and all(t.strip() for t in texts), f"{language}: {message.id!r} is not translated"
        wanted = {frozenset(PLACEHOLDER.findall(i)) for i in ids}
        for text in texts:
            assert frozenset(PLACEHOLDER.findall(text)) in wanted, f"{language}: {text!r} for {message.id!r}"
            assert "%" not in PLACEHOLDER.sub("", text), f"{language}: a stray % in {text!r}"


def test_english_prices_and_dates_read_as_they_always_have() -> None:
    english = Replies("en")
    assert english.money(Decimal("39.90"), "USD") == "$39.90"
    assert english.money(Decimal("39.90"), "EUR") == "39.90 EUR"
    assert english.date(date(2026, 3, 3)) == "2026-03-03"
    assert english._("in stock") == "in stock"
    assert english.ngettext("only %(count)d left", "only %(count)d left", 1) == "only 1 left"


@pytest.mark.parametrize(
    ("language", "price", "day"),
    [
        ("es", "39,90\xa0€", "3 de marzo de 2026"),
        ("de", "39,90\xa0€", "3. März 2026"),
        ("fr", "39,90\xa0€", "3 mars 2026"),
        ("it", "39,90\xa0€", "3 marzo 2026"),
        ("pt", "39,90\xa0€", "3 de março de 2026"),
    ],
)
def test_prices_and_dates_are_written_the_shoppers_way(language: Language, price: str, day: str) -> None:
    replies = Replies(language)
    assert replies.money(Decimal("39.90"), "EUR") == price
    assert replies.date(date(2026, 3, 3)) == day


def test_a_count_picks_the_plural_its_language_needs() -> None:
    spanish = Replies("es")
    assert spanish.ngettext("only %(count)d left", "only %(count)d left", 1) == "solo queda 1"
    assert spanish.ngettext("only %(count)d left", "only %(count)d left", 3) == "solo quedan 3"


@pytest.mark.parametrize(
    ("text", "closing"),
    [
        ("thanks, bye!", "thanks_bye"),
        ("thank you so much", "thanks"),
        ("bye", "bye"),
        ("muchas gracias, adiós", "thanks_bye"),
        ("¡gracias!", "thanks"),
        ("danke, tschüss", "thanks_bye"),
        ("Auf Wiedersehen", "bye"),
        ("merci, au revoir", "thanks_bye"),
        ("merci beaucoup", "thanks"),
        ("grazie mille, ciao", "thanks_bye"),
        ("arrivederci", "bye"),
        ("obrigado, tchau", "thanks_bye"),
        ("obrigada", "thanks"),
        ("hi there", None),
        ("hola", None),
        ("ciao", None),
        ("bonjour", None),
        ("olá", None),
    ],
)
def test_a_goodbye_is_told_from_a_hello_in_every_language(text: str, closing: Closing | None) -> None:
    assert closing_of(text) == closing
