"""The channels' own words (the widget's labels, WhatsApp's rating buttons) in the six languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chat_ui.chrome import RATING_TEXT, WIDGET_TEXT, accepted, rating_text, widget_language
from hub.languages import LANGUAGES

PLACEHOLDER = re.compile(r"\{(\w+)\}")
WIDGET_JS = Path(__file__).parents[2] / "chat_ui" / "static" / "widget.js"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_widget_text_with_the_same_placeholders(language: str) -> None:
    english, text = WIDGET_TEXT["en"], WIDGET_TEXT[language]
    assert set(text) == set(english)
    for name, words in text.items():
        assert words.strip(), name
        assert set(PLACEHOLDER.findall(words)) == set(PLACEHOLDER.findall(english[name])), name


def test_the_widget_starts_with_the_same_english_the_server_sends() -> None:
    """widget.js shows its English table until the server answers; the two must not drift apart."""
    table = WIDGET_JS.read_text(encoding="utf-8").split("var T = {", 1)[1].split("};", 1)[0]
    in_js = {name: text.replace("\\'", "'") for name, text in re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', table)}
    assert in_js == WIDGET_TEXT["en"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_whatsapp_rating_buttons_fit_whatsapps_title_limit(language: str) -> None:
    helpful, not_helpful, thanks = RATING_TEXT[language]
    assert len(helpful) <= 20 and len(not_helpful) <= 20 and thanks


def test_the_widget_speaks_the_first_of_the_browsers_languages_the_shop_speaks() -> None:
    every = list(LANGUAGES)
    assert widget_language(["de-AT", "en"], languages=every, default="en") == "de"
    assert widget_language(["pt_BR"], languages=every, default="en") == "pt"
    assert widget_language(["nl-NL", "fr-BE", "en"], languages=every, default="en") == "fr"
    assert widget_language(["fr-CA"], languages=["en", "es"], default="es") == "es", "one the shop does not speak"
    assert widget_language([], languages=every, default="it") == "it"
    assert widget_language(["", "x-klingon", "*"], languages=every, default="en") == "en"


def test_accept_language_is_read_most_wanted_first() -> None:
    assert accepted("en;q=0.4, de-CH, de;q=0.9, fr;q=0") == ["de-CH", "de", "en"]
    assert accepted("garbage;q=x, es") == ["es"]
    assert accepted(None) == [] and accepted("*") == []


def test_a_conversation_in_a_language_hub_does_not_speak_is_rated_in_english() -> None:
    assert rating_text("nl") == RATING_TEXT["en"] and rating_text(None) == RATING_TEXT["en"]
    assert rating_text("es")[0] == "👍 Útil"
