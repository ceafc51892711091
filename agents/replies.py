"""Write the engine's replies in one language: its sentences from the gettext catalogs, its prices and dates in
the shopper's locale.

The English text is the source (each msgid is the sentence English shoppers get); every other language has its
catalog at `agents/locales/<lang>/LC_MESSAGES/engine.po`, read with Babel and compiled in memory on first use, so
there is no build step. `agents/locales/engine.pot` is the template a translator starts from; after a sentence
changes, these bring the template and the catalogs up to date (new and changed messages then need translating):

    pybabel extract --add-location=file --project=HUB -w 120 -o agents/locales/engine.pot agents/engine.py \
        agents/flows.py graphs/turns.py
    pybabel update -i agents/locales/engine.pot -d agents/locales -D engine -w 120

English prices and dates keep the forms the reply validators read (`$39.90`, `2026-11-03`); the other languages
write them as their locale does (`39,90 €`, `3 de marzo de 2026`).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.dates import format_date as babel_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations
from pydantic import BaseModel, Field

from hub.languages import LOCALES, Language
from hub.text import format_date, format_money

LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "engine"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
"""The messages to translate, as extracted from `SOURCES`: the catalog a new language starts from."""
SOURCES = (
    Path(__file__).parent / "engine.py",
    Path(__file__).parent / "flows.py",
    Path(__file__).parent.parent / "graphs" / "turns.py",
)
"""The modules whose messages the catalogs hold, marked with `_`, `N_` and `ngettext` (Babel's default keywords)."""


def catalog_path(language: Language) -> Path:
    """Where the catalog of one language's replies lives."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: Language) -> Catalog:
    """Read one language's `.po` catalog as Babel parses it."""
    with catalog_path(language).open("rb") as po:
        return read_po(po, locale=LOCALES[language], domain=DOMAIN)


@cache
def _translations(language: Language) -> gettext.NullTranslations:
    """The compiled catalog of one language; English, the source text, needs none."""
    if language == "en":
        return gettext.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, read_catalog(language))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:
    """Mark `message` for the catalogs where it is written, to be translated where it is used."""
    return message


@dataclass(frozen=True, slots=True)
class Replies:
    """The engine's sentences, prices and dates in one language."""

    language: Language = "en"

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    def _(self, message: str, /, **values: object) -> str:
        """Translate `message` and fill its named placeholders (`%(title)s`) from `values`."""
        text = _translations(self.language).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """Translate the form of a message that `count` calls for; `count` fills `%(count)d`."""
        text = _translations(self.language).ngettext(singular, plural, count)
        return text % {"count": count, **values}

    def money(self, amount: Decimal, currency: str) -> str:
        """Write a price: as the validators read it in English (`$39.90`, `39.90 EUR`), else as the locale does."""
        if self.language == "en":
            return format_money(amount, currency)
        return format_currency(amount, currency, locale=self.locale)

    def date(self, day: date) -> str:
        """Write a date: `2026-03-03` in English, else the locale's long form (`3 de marzo de 2026`)."""
        if self.language == "en":
            return format_date(day)
        return babel_date(day, format="long", locale=self.locale)


class QuickReply(BaseModel):
    """A choice offered with a reply: a button on the widget, a reply button or a list row on WhatsApp. Tapping it
    sends `title` as the shopper's message (the engine reads titles), so it reads the same on every channel."""

    id: str = Field(max_length=200)
    """Stable for the choice (`yes`, `no`, `item:SKU-1`, `reason:doesnt_fit`): WhatsApp sends it back with the tap."""
    title: str = Field(max_length=24)
    """What the button says: at most 20 characters for a WhatsApp reply button, 24 for a list row."""
    description: str | None = Field(default=None, max_length=72)
    """A second line (a WhatsApp list row's description), e.g. an item's size and SKU."""
