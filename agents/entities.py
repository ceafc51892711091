"""Find what a customer message names: order numbers, contacts, SKUs, sizes, colours, prices, dates and products.

Shoppers write in English, Spanish, German, French, Italian and Portuguese, and every pattern of every language is
tried on every message: the detected language can be wrong, and one message may mix two ("la Slub Cotton Crew Tee
en XL"). What comes out is language-free: catalog size labels, the shop's colour names, amounts, `datetime.date`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import process
from rapidfuzz.distance import OSA

from hub.languages import LOCALES
from hub.text import (
    CURRENCY_WORDS,
    EMAIL,
    HYPHENATED_CODE,
    ISO_DATE,
    ORDER_FROM_SHOPPER,
    PHONE_FROM_SHOPPER,
    SKU_FROM_SHOPPER,
    format_order_number,
    format_sku,
    month_numbers,
)

MIN_PRODUCT_SCORE = 30.0
"""Weakest product match `extract_entities` reports: below it a message shares only stray words with a title."""


class _SizeSystem(StrEnum):
    LETTER = "letter"
    WAIST = "waist"
    EU = "eu"
    US = "us"
    UK = "uk"
    ONE_SIZE = "one_size"


def _size_label(system: _SizeSystem, value: str) -> str:
    """Write a size as the catalog does (`M`, `32` for a waist, `42` for EU shoes); US and UK shoe sizes keep a prefix."""
    if system in (_SizeSystem.US, _SizeSystem.UK):
        return f"{system.value.upper()} {value}"
    return value


class ProductMatch(NamedTuple):
    sku: str
    title: str
    score: float
    """0 to 100, like rapidfuzz: 100 for a SKU written out; a full title with its colour scores about 85 to 95, a
    product type alone ("hodie") about 40 to 60."""


class Entities(BaseModel):
    """Everything `extract_entities` found, each list in the order the message mentions it, without repeats."""

    model_config = ConfigDict(frozen=True)

    order_numbers: list[str] = Field(default_factory=list, description="Upper-case, e.g. `A-10423`.")
    emails: list[str] = Field(default_factory=list, description="Lower-case.")
    phones: list[str] = Field(
        default_factory=list,
        description="`+` and digits (`+15550100199`); a national number starting with 0 stays digits only, "
        "since its country is unknown.",
    )
    skus: list[str] = Field(default_factory=list, description="As the catalog writes them, e.g. `SKU-1001`.")
    sizes: list[str] = Field(
        default_factory=list,
        description="Catalog size labels: `M`, `XL`, `32` (waist), `42` (EU shoe), `One Size`; US and UK shoe sizes "
        "keep their prefix, `US 9`, `UK 8`.",
    )
    colours: list[str] = Field(
        default_factory=list,
        description="Catalog colour names; a generic word expands to every catalog shade of it (green: Sage, Olive, "
        "Forest).",
    )
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    dates: list[date] = Field(
        default_factory=list,
        description="Days the message names, in any of the six languages (`3 de marzo`, `3. März`, `March 3`, `3/4`); "
        "a day without a year is the nearest such day to today.",
    )
    products: list[ProductMatch] = Field(default_factory=list, description="Best catalog matches first.")


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Café" and "cafe" are the same word (and "weiß" is "weiss")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# --- identifiers ----------------------------------------------------------------------------------

_ORDER_WORD = (
    r"pedido|orden|bestellung|bestellnummer|auftrag|auftragsnummer|commande|ordine|encomenda|n[uú]mero\s+de\s+pedido"
)
_ORDER_IN_WORDS = re.compile(
    rf"\b(?:{_ORDER_WORD})(?:\s*(?:n\.?[°º]|n\.|no\.?|nr\.?|num\.?|n[uú]mero|num[eé]ro|nummer|#|:|n\b))*\s*"
    r"(?:[Aa]\s?-?\s?)?(\d{4,8})\b",
    re.IGNORECASE,
)
"""An order number after the word for an order in Spanish, German, French, Italian or Portuguese: "pedido nº 10023",
"Bestellung Nr. 10023", "commande n° 10023", "ordine n. 10023", "encomenda 10023"; group 1 is its digits."""
_NATIONAL_PHONE = re.compile(r"(?<![\w+])0[1-9](?:[\s.-]?\d{2}){4}(?![\w.,]?\d)")
"""A ten-digit national number written in pairs, as in France: `06 12 34 56 78`."""
_TRUNK_ZERO = re.compile(r"\(0\)")
"""The `(0)` some write after their country code (`+49 (0)30 1234567`): not dialled from abroad."""


# --- dates ------------------------------------------------------------------------------------------


def _month_numbers() -> dict[str, int]:
    """Every language's month names, full and short (`hub.text.month_numbers`, Babel's), accented and folded → the
    month."""
    numbers: dict[str, int] = {}
    for locale in LOCALES.values():
        for spelling, month in month_numbers(locale).items():
            name = spelling.rstrip(".")
            if name not in _AMBIGUOUS_MONTHS:
                numbers[name] = numbers[fold(name)] = month
    return numbers


_AMBIGUOUS_MONTHS = frozenset({"out", "set", "ago"})
"""Short month names that are everyday words ("3 out of 5", "a set", "2 days ago"): read only written in full."""
_MONTHS = _month_numbers()
_MONTH = "|".join(re.escape(name) for name in sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(
    rf"(?<![\w.,/-])(\d{{1,2}})(?:st|nd|rd|th|er|[º°ª]|\.)?\s*(?:de\s+|of\s+|-)?({_MONTH})\b\.?"
    r"(?:,?\s*(?:de\s+|del\s+)?(\d{4})\b)?",
    re.IGNORECASE,
)
"""`3 de marzo`, `3. März`, `1er mars`, `3 marzo 2027`, `3rd of March`."""
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?![\d.,:]?\d)(?:,?\s+(\d{{4}})\b)?", re.IGNORECASE
)
"""`March 3`, `Nov 3rd, 2026`."""
_PHRASE_END = re.compile(r"\s*(?:$|[,.!?;)])")
_NUMERIC_DATE = re.compile(
    r"(?<![\w.,/-])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\w/]|[.,]\d)"
    r"(?!\s*(?:sleeves?|length|zip|price|ärmel|arm|mangas?|manches?|manic[ah]e?|cup))"
    r"|(?<![\w.,/-])(\d{1,2})\.(\d{1,2})\.(\d{4})?(?![\w.]|,\d)",
    re.IGNORECASE,
)
"""`3/4`, `03/04/2027`, `3.4.` and `3.4.2027`: day first, as five of the six languages (and British English) write
it, unless the second number cannot be a month (`4/13`); `3/4` before "sleeves" is a length."""


def _a_date(year: int | None, month: int, day: int, today: date) -> date | None:
    """The date, or for one without a year the nearest to `today` of last, this and next year's."""
    years = [year] if year is not None else [today.year - 1, today.year, today.year + 1]
    dates = []
    for y in years:
        try:
            dates.append(date(y, month, day))
        except ValueError:
            continue
    return min(dates, key=lambda d: abs(d - today), default=None)


def _dates(text: str, today: date) -> list[tuple[int, tuple[int, int], date]]:
    """Each date the text writes: its position, its span and the date."""
    found: list[tuple[int, tuple[int, int], date]] = []

    def add(m: re.Match[str], year: str | None, month: int, day: str) -> None:
        when = _a_date(int(year) if year else None, month, int(day), today)
        if when is not None and all(m.end() <= a or m.start() >= b for _, (a, b), _ in found):
            found.append((m.start(), m.span(), when))

    for m in ISO_DATE.finditer(text):
        add(m, m["year"], int(m["mnum"]), m["day"])
    for m in _DAY_MONTH.finditer(text):
        add(m, m.group(3), _MONTHS[fold(m.group(2))], m.group(1))
    for m in _MONTH_DAY.finditer(text):
        # "I may 2 ..." is a verb: a lower-case "may" is the month only where the date ends the phrase.
        if m.group(1) == "may" and m.group(3) is None and not _PHRASE_END.match(text, m.end()):
            continue
        add(m, m.group(3), _MONTHS[fold(m.group(1))], m.group(2))
    for m in _NUMERIC_DATE.finditer(text):
        first, second, year = (
            (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        )
        day, month = (first, second) if int(second) <= 12 else (second, first)
        if year is not None and len(year) == 2:
            year = f"20{year}"
        add(m, year, int(month), day)
    return sorted(found, key=lambda item: item[0])


# --- sizes -------------------------------------------------------------------------------------------

_LETTER_SIZES = {
    "xxs": "XXS",
    "xs": "XS",
    "s": "S",
    "m": "M",
    "l": "L",
    "xl": "XL",
    "xxl": "XXL",
    "2xl": "XXL",
    "xxxl": "XXXL",
    "3xl": "XXXL",
    "extra small": "XS",
    "x-small": "XS",
    "x small": "XS",
    "small": "S",
    "medium": "M",
    "med": "M",
    "large": "L",
    "extra large": "XL",
    "x-large": "XL",
    "x large": "XL",
    "xx-large": "XXL",
    "extra extra large": "XXL",
}
_SIZE_WORD = (
    r"extra extra large|extra small|extra large|xx-large|x-small|x small|x-large|x large|small|medium|med|large"
)
_LETTER = r"xxs|xs|s|m|l|xl|xxl|2xl|xxxl|3xl"
_SIZE_CONTEXT = r"size|sz|talla|talle|taille|taglia|tamanho|gr(?:ö|oe|o)(?:ß|ss)e|konfektionsgr(?:ö|oe)(?:ß|ss)e"
"""The word before a size in each language: "size M", "talla M", "Größe L", "taille 40", "taglia 42", "tamanho 38"."""
_IN = r"in|en|em"
""""in XL" in English, German and Italian, "en XL" in Spanish and French, "em XL" in Portuguese."""
# A size word only counts as a size where the wording says so: "size large", "in a medium", "an XL", "talla M"; a
# single letter never alone, so "I", "a" and "s" in ordinary words stay words.
_LETTER_SIZE = re.compile(
    rf"\b(?:{_SIZE_CONTEXT})\s*[:=]?\s*({_LETTER}|{_SIZE_WORD})\b(?![\w'’-])"
    rf"|\b(?:{_IN})\s+(?:an?\s+)?({_LETTER}|{_SIZE_WORD})\b(?![\w'’-]|\s+(?:batch|batches|amounts?|"
    rf"quantit|print|letters|numbers|pieces|parts|business|town|groups?|steps|ways|doses))"
    rf"|\ban?\s+({_SIZE_WORD}|xxs|xs|xl|xxl|2xl|xxxl|3xl)(?=\s*(?:$|[,.!?;)]|\s(?:in|please|pls|size|and|or|if|thanks|"
    rf"thank|for\s+(?:me|my|him|her))\b))"
    rf"|\b({_SIZE_WORD})\s+size\b"
    r"|(?<![\w'’.&-])(XXS|XS|XL|XXL|2XL|XXXL|3XL|xxs|xs|xl|xxl|2xl|xxxl|3xl)(?![\w'’&-])",
    re.IGNORECASE,
)
_MORE_LETTER_SIZES = re.compile(
    rf"\s*(?:,|/|\b(?:or|and|o|y|e|ou|oder|und|et)\b)\s*({_LETTER})(?![\w'’-])", re.IGNORECASE
)
"""The next size of a list that began in a size context: the L of "in M or L", "talla S o M", "Größe S oder M"."""
_WAIST = re.compile(
    r"\b(?:waist|w)\s*[:=]?\s*(\d{2})\b(?!\s*(?:\$|dollars|bucks|%))"
    r"|\b(\d{2})\s*(?:\"|inch(?:es)?)?\s*(?:waist|w)\b"
    r"|\b(\d{2})\s*[x/]\s*(\d{2})\b",
    re.IGNORECASE,
)
_NUMERIC_SIZE = re.compile(
    rf"\b(?:(eu|us|uk|men'?s|mens|women'?s|womens)\s*)?(?:{_SIZE_CONTEXT})\s*[:=]?\s*(?:(eu|us|uk)\s*)?(\d{{1,2}}(?:[.,]5)?)\b"
    r"(?:\s*(eu|us|uk)\b)?"
    r"|\b((?-i:US)|eu|uk)\s*(\d{1,2}(?:[.,]5)?)\b"
    rf"|\b(?:{_IN})\s+(?:an?\s+)?(\d{{2}}(?:[.,]5)?)\b(?!\s*(?:%|days?|hours?|mins?|minutes?|weeks?|months?|years?|\$|dollars|"
    r"bucks|cm|mm|inch|inches|pieces|colou?rs|items))",
    re.IGNORECASE,
)
_SHOE_CONTEXT = re.compile(
    r"\b(?:shoes?|boots?|sneakers?|trainers?|loafers?|sandals?|slides?|runners?|feet|foot"
    r"|zapat(?:os?|illas?)|botas?|botines|sandalias|schuhe?n?|stiefel[n]?|turnschuhe?n?|sandalen|chaussures?|bottes?"
    r"|bottines?|baskets?|scarpe|scarpa|stivali|stivaletti|sapatos?|t[eê]nis|sapatilhas?)\b",
    re.IGNORECASE,
)
_TROUSER_CONTEXT = re.compile(
    r"\b(?:jeans?|trousers?|chinos?|pants?|cargos?|waist|denim|pantal(?:ones?|ons?|oni)|vaqueros|hosen?|cal[cç]as)\b",
    re.IGNORECASE,
)
_ONE_SIZE = re.compile(
    r"\bone[\s-]size\b|\btall[ae]\s+[uú]nica\b|\btaille\s+unique\b|\btaglia\s+unica\b|\btamanho\s+[uú]nico\b"
    r"|\beinheitsgr(?:ö|oe|o)(?:ß|ss)e\b",
    re.IGNORECASE,
)

# --- prices ------------------------------------------------------------------------------------------

# Read in accent-folded lower case (`fold`), so "más", "über" and "jusqu'à" are written here without accents. The
# words of all six languages are read whatever language the message is in: its detected language may be wrong.
_AMOUNT = (
    rf"(?:[$£€]\s?)?(\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?:\.\d{{3}})+|\d+)(?:[.,](\d{{1,2}}))?(?!\d)(?![.,]\d)"
    rf"(?:\s?(?:(?:{CURRENCY_WORDS})\b|[$€£]))?"
)
_NOT_MONEY = (
    r"(?!\s*(?:%|percent|days?|hours?|hrs?|mins?|minutes?|weeks?|months?|years?|yrs?|times?|kg|g\b|lbs?|cm|mm|ml|"
    r"inch|inches|items?|pieces?|pairs?|orders?|waist|eu\b|us\b|uk\b|x\s?\d|/\d|-?pack|"
    r"dias?\b|tage?n?\b|jours?\b|giorni|semanas?|wochen?|semaines?|settimane?|mes(?:es)?\b|monate?n?\b|mois\b|mesi\b|"
    r"anos?\b|jahre?n?\b|ans\b|anni\b|horas?\b|stunden?|heures?|ore\b|minutos?|minuten?|minuti|veces|mal\b|fois\b|"
    r"volte\b|vezes|unidades|stucke?\b|pezzi|pecas|articulos|artikel|articles|articoli|artigos|pares\b|paare?\b|"
    r"paires?|paia\b|pedidos?|bestellungen|commandes?|ordini|encomendas?|tallas?\b|grossen?\b|tailles?\b|taglie\b|"
    r"tamanhos?\b))"
)
_BETWEEN_WORD = r"between|from|entre|zwischen|tra|fra|de|desde|von|da"
"""Before the lower of two bounds; "de", "desde", "von" and "da" are everyday words, so after them the range counts
only with a currency ("de 20 a 40 €")."""
_LOOSE_BETWEEN = frozenset({"de", "desde", "von", "da"})
_PRICE_BETWEEN = re.compile(
    rf"\b({_BETWEEN_WORD})\s+{_AMOUNT}\s*(?:and|&|-|–|to|y|e|et|und|a|al|bis|ate)\s*{_AMOUNT}{_NOT_MONEY}"
    rf"|(?<![\w.-])([$£€]\s?\d+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)\s?(?:-|–|to|a|bis)\s?"
    rf"([$£€]?\s?\d+(?:[.,]\d{{1,2}})?)\s?({CURRENCY_WORDS}|[$€£])?\b",
    re.IGNORECASE,
)
_MAX_WORDS = (
    r"under|below|less\s+than|cheaper\s+than|up\s+to|max(?:imum)?|no\s+more\s+than|not\s+more\s+than|at\s+most|within|"
    r"budget\s*(?:of|is|:)?|spend(?:ing)?\s+(?:up\s+to\s+)?"
    r"|menos\s+de|por\s+debajo\s+de|hasta|maximo|no\s+mas\s+de|como\s+mucho|inferior\s+a|mas\s+barato\s+que"
    r"|presupuesto\s+(?:de|es)?"
    r"|unter|unterhalb\s+von|bis\s+zu|bis|hochstens|maximal|weniger\s+als|nicht\s+mehr\s+als|billiger\s+als"
    r"|moins\s+de|en\s+dessous\s+de|au[\s-]dessous\s+de|jusqu['’\s]?a|pas\s+plus\s+de|au\s+plus|au\s+maximum"
    r"|inferieur\s+a|moins\s+cher\s+que"
    r"|meno\s+di|sotto\s+(?:i\s+)?|fino\s+a(?:i)?|al\s+massimo|non\s+piu\s+di|massimo|inferiore\s+a"
    r"|abaixo\s+de|ate|no\s+maximo|nao\s+mais\s+de|mais\s+barato\s+que"
)
_AMBIGUOUS_MAX = re.compile(r"ate\b")
"""Portuguese "até" (up to), folded, is English "ate": a bound after it needs a currency ("até 50 €")."""
_MIN_WORDS = (
    r"over|above|(?<!\bno\s)(?<!\bnot\s)more\s+than|at\s+least|minimum|min|starting\s+(?:at|from)"
    r"|(?<!\bno\s)mas\s+de|a\s+partir\s+de|desde|minimo|por\s+encima\s+de|al\s+menos"
    r"|uber|(?<!\bnicht\s)mehr\s+als|ab|mindestens|oberhalb\s+von"
    r"|(?<!\bpas\s)plus\s+de|au\s+moins|au[\s-]dessus\s+de|superieur\s+a"
    r"|(?<!\bnon\s)piu\s+di|sopra\s+(?:i\s+)?|a\s+partire\s+da|almeno|oltre\s+(?:i\s+)?|superiore\s+a"
    r"|(?<!\bnao\s)mais\s+de|acima\s+de|pelo\s+menos|no\s+minimo"
)
_PRICE_MAX = re.compile(
    rf"(?:\b(?:{_MAX_WORDS})|<=?|≤)\s*(?:about\s+|around\s+|unos\s+|etwa\s+|environ\s+|circa\s+|cerca\s+de\s+)?"
    rf"{_AMOUNT}{_NOT_MONEY}"
    rf"|{_AMOUNT}\s*(?:or\s+(?:less|under|below|cheaper)|o\s+menos|oder\s+weniger|ou\s+moins|o\s+meno|ou\s+menos"
    rf"|max(?:imum)?\b|maximo\b|maximal\b|massimo\b|tops\b|hochstens\b)",
    re.IGNORECASE,
)
_PRICE_MIN = re.compile(
    rf"(?:\b(?:{_MIN_WORDS})|>=?|≥)\s*{_AMOUNT}"
    rf"{_NOT_MONEY}"
    rf"|{_AMOUNT}\s*(?:or\s+(?:more|over|above)|\+(?!\d)|and\s+up\b|o\s+mas\b|oder\s+mehr\b|ou\s+plus\b|o\s+piu\b"
    rf"|ou\s+mais\b|y\s+mas\b|und\s+mehr\b|et\s+plus\b|e\s+piu\b|e\s+mais\b)",
    re.IGNORECASE,
)
_HAS_CURRENCY = re.compile(rf"[$£€]|\b(?:{CURRENCY_WORDS})\b", re.IGNORECASE)

# --- colours -----------------------------------------------------------------------------------------

_COLOUR_FAMILIES: dict[str, tuple[str, ...]] = {
    "black": ("black", "jet", "onyx", "ebony"),
    "white": ("white",),
    "grey": ("grey", "charcoal", "graphite", "slate", "ash", "silver", "anthracite"),
    "light grey": ("heather grey", "light grey", "pale grey", "ash", "silver"),
    "dark grey": ("charcoal", "dark grey", "graphite", "anthracite", "slate"),
    "green": ("green", "sage", "olive", "forest", "emerald", "mint", "moss", "bottle", "jade"),
    "dark green": ("forest", "dark green", "bottle", "emerald"),
    "bottle green": ("forest", "bottle"),
    "forest green": ("forest",),
    "sage green": ("sage",),
    "olive green": ("olive",),
    "blue": ("blue", "navy", "sky", "cobalt", "indigo", "azure", "royal"),
    "light blue": ("sky", "light blue", "baby blue", "powder", "pale blue"),
    "baby blue": ("sky", "baby blue", "powder"),
    "dark blue": ("navy", "dark blue", "midnight", "indigo"),
    "navy blue": ("navy", "midnight"),
    "brown": ("brown", "chocolate", "cognac", "tan", "camel", "chestnut", "mocha", "espresso", "walnut"),
    "dark brown": ("chocolate", "dark brown", "espresso", "mocha"),
    "light brown": ("tan", "camel", "light brown"),
    "beige": ("beige", "oatmeal", "stone", "khaki", "ecru", "sand", "taupe", "nude", "biscuit"),
    "off white": ("ecru", "cream", "off white", "ivory", "bone"),
    "off-white": ("ecru", "cream", "off white", "ivory", "bone"),
    "ivory": ("cream", "ecru", "ivory"),
    "red": ("red", "burgundy", "rust", "crimson", "scarlet", "wine", "cherry", "maroon"),
    "maroon": ("burgundy", "maroon", "wine", "oxblood"),
    "pink": ("pink", "rose", "blush", "fuchsia", "magenta", "salmon"),
    "rose": ("rose",),
    "blush": ("rose", "blush"),
    "purple": ("purple", "lavender", "lilac", "violet", "plum", "mauve", "aubergine"),
    "lilac": ("lavender", "lilac"),
    "yellow": ("yellow", "mustard", "lemon", "butter", "ochre"),
    "orange": ("orange", "rust", "terracotta", "coral", "apricot", "tangerine"),
    "burnt orange": ("rust", "terracotta", "burnt orange"),
    "gold": ("gold", "brass"),
    "silver": ("silver", "chrome", "platinum"),
    "turquoise": ("turquoise", "teal", "aqua"),
}
"""General colour knowledge: a word a shopper uses for a colour → the words of shade names that belong to it. A
catalog colour belongs to a family when its name holds one of them as whole words ("Forest Green", "Heather Grey")."""
_A = r"(?:e[nrs]?)?"
"""A German adjective's endings: schwarz, schwarze, schwarzen, schwarzer, schwarzes."""
_COLOUR_TRANSLATIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("navy", "navy blue"),
        r"azul marino|azul marinho|marineblau" + _A + r"|navyblau|bleu marine|blu (?:navy|marino|notte)",
    ),
    (
        ("light blue", "blue"),
        r"azul (?:claro|celeste|bebe)|celeste|hellblau" + _A + r"|bleu (?:clair|ciel)|blu chiaro|azzurr[oaie]",
    ),
    (("dark blue", "navy", "blue"), r"azul (?:oscuro|escuro)|dunkelblau" + _A + r"|bleu fonce|blu scuro"),
    (("light grey", "grey"), r"gris (?:claro|clair)|hellgrau" + _A + r"|grigio chiaro|cinza claro"),
    (
        ("dark grey", "grey"),
        r"gris (?:oscuro|fonce)|dunkelgrau" + _A + r"|grigio scuro|cinza escuro|antracita|anthrazit",
    ),
    (("olive", "olive green", "green"), r"verde oliva|olivgrun" + _A + r"|vert olive"),
    (("dark green", "green"), r"verde (?:oscuro|escuro|scuro)|dunkelgrun" + _A + r"|vert fonce"),
    (("light green", "mint", "green"), r"verde (?:claro|chiaro)|hellgrun" + _A + r"|vert clair"),
    (("black",), r"negr[oa]s?|schwarz" + _A + r"|noire?s?|ner[oaie]|pret[oa]s?"),
    (("white",), r"blanc(?:[oa]s?|hes?|s)?|weiss" + _A + r"|bianc[oa]|bianch[ie]|branc[oa]s?"),
    (("grey",), r"gris(?:es)?|grau" + _A + r"|grigi[oae]?|cinza|cinzent[oa]s?"),
    (("blue",), r"azul(?:es)?|blau" + _A + r"|bleue?s?|blu"),
    (("red",), r"roj[oa]s?|rot" + _A + r"|rouges?|ross[oaie]|vermelh[oa]s?"),
    (("green",), r"verdes?|verdi|verte?s?|grun" + _A + r"|gruen" + _A),
    (("yellow",), r"amarill[oa]s?|gelb" + _A + r"|jaunes?|giall[oaie]|amarel[oa]s?"),
    (("orange",), r"naranjas?|arancion[ei]|laranjas?"),
    (("pink",), r"rosa(?:s|d[oa]s?)?|rosafarben" + _A),
    (("lilac", "purple"), r"lila|lilas"),
    (("purple",), r"morad[oa]s?|violett" + _A + r"|violetas?|viola|purpura|rox[oa]s?"),
    (("brown",), r"marron(?:es)?|marrone|marroni|marrom|braun" + _A + r"|castan(?:h)?[oa]s?"),
    (("beige",), r"beis|bege"),
    (("gold",), r"dorad[oa]s?|golden" + _A + r"|doree?s?|oro|dorat[oa]|ouro"),
    (("silver",), r"platead[oa]s?|plata|silber(?:n|ne[nrs]?)?|argentee?s?|argento|argentat[oa]|pratead[oa]s?|prata"),
    (("cream", "off white"), r"crema|creme|cremefarben" + _A),
    (("burgundy", "maroon"), r"burdeos|bordeaux|bordo|granate|weinrot" + _A),
    (("turquoise",), r"turquesa|turkis|turchese"),
    (("khaki", "beige"), r"caqui|kaki|cachi"),
)
"""Colour words of Spanish, German, French, Italian and Portuguese (accent-folded, as `_colours` reads them) → the
English words to look for among a shop's colour names and the families, in order: "azul marino" is a shop's Navy,
else its shades of navy blue."""
_COLOUR_WORD = re.compile(
    r"\b(?:" + "|".join(f"(?P<c{i}>{words})" for i, (_, words) in enumerate(_COLOUR_TRANSLATIONS)) + r")\b"
)
DEFAULT_COLOURS: tuple[str, ...] = tuple(
    dict.fromkeys(shade.title() for shade in ("white", "black", *(s for f in _COLOUR_FAMILIES.values() for s in f)))
)
"""Colour names understood when no catalog says which it uses; a `CatalogIndex` brings the catalog's own."""


def _family_members(family: str, by_name: dict[str, str]) -> list[str]:
    """The catalog colours (folded name → as the shop writes it) of a family, in the order of its shades."""
    shades = [f" {shade} " for shade in _COLOUR_FAMILIES[family]]
    ranked = []
    for folded, name in by_name.items():
        rank = next((i for i, shade in enumerate(shades) if shade in f" {folded} "), None)
        if rank is not None:
            ranked.append((rank, name))
    return [name for _, name in sorted(ranked, key=lambda item: item[0])]


_COMMON_WORDS = frozenset(
    """a about above after again against all also am an and any anything are around as ask at back be because been
    before being below between both but buy by can cant could did do does doing dont down during each else even ever
    every few for from get getting give go going good got had has have having he her here hers him his how i if in
    into is it its just know last least less like little look looking lot made make many may me might more most much
    must my need new next no nor not now of off on once one only or other our out over own please pls put quite
    rather really same say see she should show since so some something still such sure take tell than thanks thank
    that the their them then there these they thing things think this those though through to too under until up us
    very want was way we well were what when where whether which while who why will wish with within without would
    yes yet you your yours cost costs note both short store stores handle packet slice alive dream scary weather
    feather write blank order orders ordered size sizes colour colours color colors price prices shipping delivery return
    returns refund stock available today tomorrow week weekend friday days time times sent send still hello hey hi
    help later wear worn wore fit fits long wide tall small large medium top low half quarter crew court market field
    rain everyday straight slim relaxed classic pack cover card zip pocket neck leg set pull standard slip lined line
    lines liner coast""".split()
)
"""Everyday words, some a typo away from a catalog word ("cost", "coat"): never matched with a typo, and alone they
do not make a message name a product ("how long", "my card")."""

# --- products ----------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_INDEX_STOPWORDS = frozenset("a an and the of for with in on to set".split())
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "tshirt": ("tee", "t", "shirt"),
    "tshirts": ("tee", "t", "shirt"),
    "shirt": ("tee", "shirt"),
    "tees": ("tee",),
    "hoody": ("hoodie",),
    "hoodies": ("hoodie",),
    "hoodys": ("hoodie",),
    "jumper": ("sweatshirt",),
    "sweater": ("sweatshirt",),
    "jeans": ("jean",),
    "pants": ("pant", "trouser"),
    "trousers": ("trouser",),
    "joggers": ("trouser", "drawstring"),
    "trainer": ("sneaker", "runner"),
    "trainers": ("sneaker", "runner"),
    "kicks": ("sneaker",),
    "shoe": ("footwear",),
    "shoes": ("footwear",),
    "backpack": ("daypack",),
    "rucksack": ("daypack",),
    "duffel": ("weekender",),
    "duffle": ("weekender",),
    "holdall": ("weekender",),
    "wallet": ("card", "holder"),
    "cardholder": ("card", "holder"),
    "pillow": ("cushion",),
    "cup": ("mug",),
    "blanket": ("throw", "blanket"),
    "flipflops": ("sandal",),
    "slides": ("slide", "sandal"),
    "hat": ("cap", "beanie", "hat"),
    "raincoat": ("rain", "jacket"),
    "parka": ("puffer", "jacket"),
    "gray": ("grey",),
}


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _allowed_typos(word: str) -> int:
    """Edits a word of this length may contain and still match: none under 5 letters, one under 8, then two."""
    return 0 if len(word) < 5 else 1 if len(word) < 8 else 2


class CatalogIndex:
    """Fuzzy lookup of products by title words, built once per catalog and read by many messages.

    A title is a bag of words weighted by rarity (a word on every title, "cotton", counts for little). A message
    word matches a title word exactly, through a synonym ("trainers": sneaker) or with up to one typo (two for words
    of eight letters or more: "hodie", "chelsae"). The score is 100 times the cosine between the matched words and
    the title; a SKU written out scores 100.
    """

    def __init__(
        self,
        *,
        skus: list[str],
        titles: list[str],
        vocabulary: dict[str, int],
        postings: list[np.ndarray],
        shares: list[np.ndarray],
        weights: np.ndarray,
        norms: np.ndarray,
        weak_words: frozenset[int],
        colours: tuple[str, ...],
        sizes: tuple[str, ...] = (),
    ) -> None:
        self._skus = skus
        self._titles = titles
        self._vocabulary = vocabulary
        self._words = list(vocabulary)
        self._postings = postings
        self._shares = shares
        """Per posting, how much the word counts in that product: 1 in the title, 0.5 in the category only."""
        self._weights = weights
        self._norms = norms
        self._weak_words = weak_words
        # Equal scores go to the shorter title, then to the earlier product.
        self._tiebreak = -1e-7 * np.array([len(t) for t in titles]) - 1e-12 * np.arange(len(titles))
        self._sku_lookup = {sku.lower(): i for i, sku in enumerate(skus)}
        self.colours = colours
        """The catalog's colour names, the vocabulary `extract_entities` matches colours against."""
        self.sizes = sizes
        """The catalog's size labels; `extract_entities` reads those the everyday size patterns miss ("S/M")."""
        self.own_sizes = _catalog_sizes(sizes)
        self._typo_cache: dict[str, tuple[tuple[int, float], ...]] = {}

    @classmethod
    def build(
        cls,
        products: Iterable[tuple[str, str, str]],
        *,
        colours: Iterable[str] = DEFAULT_COLOURS,
        sizes: Iterable[str] = (),
    ) -> CatalogIndex:
        """Index `(sku, title, category)` rows; `colours` and `sizes` are the catalog's colour and size vocabulary,
        as the shop spells them (an imported shop's option values)."""
        skus: list[str] = []
        titles: list[str] = []
        documents: list[dict[str, float]] = []
        for sku, title, category in products:
            skus.append(sku)
            titles.append(title)
            document = dict.fromkeys(_title_words(category), 0.5)
            document.update(dict.fromkeys(_title_words(title), 1.0))
            documents.append(document)
        vocabulary: dict[str, int] = {}
        rows: list[list[int]] = []
        row_shares: list[list[float]] = []
        for number, document in enumerate(documents):
            for word, share in document.items():
                word_id = vocabulary.setdefault(word, len(vocabulary))
                if word_id == len(rows):
                    rows.append([])
                    row_shares.append([])
                rows[word_id].append(number)
                row_shares[word_id].append(share)
        postings = [np.array(row, dtype=np.int32) for row in rows]
        shares = [np.array(row, dtype=np.float64) for row in row_shares]
        frequency = np.array([len(row) for row in rows], dtype=np.float64)
        weights = np.log((1 + len(documents)) / (1 + frequency)) + 1.0
        norms = np.array(
            [
                np.sqrt(sum((weights[vocabulary[w]] * share) ** 2 for w, share in document.items())) or 1.0
                for document in documents
            ]
        )
        colours = tuple(dict.fromkeys(colours))
        colour_tokens = {word for colour in colours for word in _title_words(colour)}
        weak = colour_tokens | _COMMON_WORDS
        weak_words = frozenset(i for w, i in vocabulary.items() if w in weak or len(w) == 1)
        return cls(
            skus=skus,
            titles=titles,
            vocabulary=vocabulary,
            postings=postings,
            shares=shares,
            weights=weights,
            norms=norms,
            weak_words=weak_words,
            colours=colours,
            sizes=tuple(dict.fromkeys(sizes)),
        )

    def __len__(self) -> int:
        return len(self._skus)

    @cached_property
    def product_words(self) -> frozenset[str]:
        """The catalog's own words for its products (from titles and categories; common words, colours and short
        words left out), singular and plural: what the intent router reads as naming a product."""
        weak = {self._words[i] for i in self._weak_words}
        words = {w for w in self._vocabulary if w not in weak and len(w) > 2 and w.isalpha()}
        return frozenset(words | {f"{w}s" for w in words} | {f"{w}es" for w in words})

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word of the catalog's titles and categories, lower-case: in a shopper's message they name products
        and say nothing about the language the message is written in."""
        return frozenset(self._vocabulary)

    def sku(self, code: str) -> str | None:
        """Return the catalog's spelling of a SKU written in any case, or None when the catalog has no such SKU."""
        index = self._sku_lookup.get(code.lower())
        return None if index is None else self._skus[index]

    def match(self, text: str, limit: int = 3, *, min_score: float = 0.0) -> list[ProductMatch]:
        """Return up to `limit` products the message names, best first, scoring at least `min_score` (0 to 100)."""
        written = [*_skus_in(text), *HYPHENATED_CODE.findall(text)]
        exact = [self._sku_lookup[s.lower()] for s in written if s.lower() in self._sku_lookup]
        found: dict[int, float] = {}
        for word_id, similarity in self._matched_words(text):
            found[word_id] = max(found.get(word_id, 0.0), similarity)
        results = [ProductMatch(self._skus[i], self._titles[i], 100.0) for i in dict.fromkeys(exact)]
        if found and len(results) < limit:
            scores = np.zeros(len(self._skus))
            evidence = np.zeros(len(self._skus), dtype=bool)
            query_norm = 0.0
            for word_id, similarity in found.items():
                weight = self._weights[word_id]
                scores[self._postings[word_id]] += weight * weight * similarity * self._shares[word_id]
                query_norm += (weight * similarity) ** 2
                if word_id not in self._weak_words:
                    evidence[self._postings[word_id]] = True
            scores = np.where(evidence, scores / (self._norms * np.sqrt(query_norm)), 0.0)
            for i in exact:
                scores[i] = 0.0
            ranked = np.where(scores > 0, scores + self._tiebreak, 0.0)
            wanted = limit - len(results)
            top = np.argpartition(-ranked, min(wanted, len(ranked) - 1))[:wanted]
            top = sorted(top, key=lambda i: -ranked[i])
            results.extend(
                ProductMatch(self._skus[i], self._titles[i], round(min(100 * float(scores[i]), 100.0), 1))
                for i in top
                if scores[i] > 0
            )
        return [m for m in results if m.score >= min_score][:limit]

    def _matched_words(self, text: str) -> list[tuple[int, float]]:
        folded = fold(text).replace("'", "").replace("\u2019", "")
        words = [w for w in _WORD.findall(folded) if w not in _INDEX_STOPWORDS]
        candidates: list[str] = []
        for i, word in enumerate(words):
            candidates.extend(_SYNONYMS.get(word, ()))
            # A synonym widens a word, never replaces one the catalog itself uses ("Merino Crew Jumper").
            if word not in _SYNONYMS or word in self._vocabulary or _singular(word) in self._vocabulary:
                candidates.append(word)
            if i + 1 < len(words):
                joined = word + words[i + 1]
                if joined in self._vocabulary or joined in _SYNONYMS:
                    candidates.extend(_SYNONYMS.get(joined, (joined,)))
        matched: list[tuple[int, float]] = []
        for word in dict.fromkeys(candidates):
            matched.extend(self._lookup(word))
        return matched

    def _lookup(self, word: str) -> tuple[tuple[int, float], ...]:
        cached = self._typo_cache.get(word)
        if cached is not None:
            return cached
        singular = _singular(word)
        exact = self._vocabulary.get(word, self._vocabulary.get(singular))
        if exact is not None:
            result: tuple[tuple[int, float], ...] = ((exact, 1.0),)
        elif word in _COMMON_WORDS or singular in _COMMON_WORDS or _allowed_typos(singular) == 0 or word.isdigit():
            result = ()
        else:
            hits = process.extract(
                singular, self._words, scorer=OSA.distance, score_cutoff=_allowed_typos(singular), limit=3
            )
            result = tuple(
                (self._vocabulary[hit], 1.0 - distance / max(len(hit), len(singular)))
                for hit, distance, _ in hits
                if len(hit) >= 5
            )
        if len(self._typo_cache) < 50_000:
            self._typo_cache[word] = result
        return result


def _title_words(text: str) -> list[str]:
    words = (_singular(w) for w in _WORD.findall(fold(text)))
    return list(dict.fromkeys(w for w in words if w not in _INDEX_STOPWORDS and not w.isdigit()))


def _skus_in(text: str) -> list[str]:
    return [format_sku(m.group(1)) for m in SKU_FROM_SHOPPER.finditer(text)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace matched spans with spaces, so later patterns neither see nor split them."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _normalise_phone(raw: str) -> str | None:
    if raw.startswith(("+", "00")):
        raw = _TRUNK_ZERO.sub("", raw)
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if raw.startswith("00"):
        return f"+{digits[2:]}" if 8 <= len(digits) - 2 <= 15 else None
    if len(digits) == 10 and digits[0] in "23456789":
        return f"+1{digits}"
    if len(digits) == 11 and digits[0] == "1":
        return f"+{digits}"
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        return digits
    return None


def _amount(whole: str | None, cents: str | None) -> Decimal | None:
    if whole is None:
        return None
    try:
        return Decimal(whole.replace(",", "").replace(".", "") + (f".{cents}" if cents else ""))
    except InvalidOperation:
        return None


def _loose_amount(raw: str | None) -> Decimal | None:
    if not raw:
        return None
    raw = re.sub(r"[$£€\s]", "", raw).replace(",", ".")
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def _prices(text: str) -> tuple[Decimal | None, Decimal | None]:
    text = fold(text)
    low: Decimal | None = None
    high: Decimal | None = None
    for m in _PRICE_BETWEEN.finditer(text):
        if m.group(1) is not None and (m.group(1) not in _LOOSE_BETWEEN or _HAS_CURRENCY.search(m.group(0))):
            a, b = _amount(m.group(2), m.group(3)), _amount(m.group(4), m.group(5))
        elif m.group(1) is None and _HAS_CURRENCY.search(m.group(0)):
            a, b = _loose_amount(m.group(6)), _loose_amount(m.group(7))
        else:
            continue
        if a is not None and b is not None and a < b:
            low, high = a, b
    for m in _PRICE_MAX.finditer(text):
        value = _amount(m.group(1), m.group(2)) if m.group(1) is not None else _amount(m.group(3), m.group(4))
        currency = _HAS_CURRENCY.search(m.group(0))
        if value is not None and (currency or (m.group(1) is not None and not _AMBIGUOUS_MAX.match(m.group(0)))):
            high = value
    for m in _PRICE_MIN.finditer(text):
        value = _amount(m.group(1), m.group(2)) if m.group(1) is not None else _amount(m.group(3), m.group(4))
        if value is not None and (m.group(1) is not None or _HAS_CURRENCY.search(m.group(0))):
            low = value
    if low is not None and high is not None and low > high:
        low = None
    return low, high


def _sizes(text: str, catalog_sizes: _CatalogSizes | None = None) -> list[str]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []

    def add(position: int, span: tuple[int, int], system: _SizeSystem, value: str) -> None:
        found.append((position, _size_label(system, value)))
        taken.append(span)

    if catalog_sizes is not None:
        for m in catalog_sizes.pattern.finditer(text):
            found.append((m.start(1), catalog_sizes.labels[m.group(1).casefold()]))
            taken.append(m.span())

    def free(span: tuple[int, int]) -> bool:
        return all(span[1] <= a or span[0] >= b for a, b in taken)

    shoes = bool(_SHOE_CONTEXT.search(text))
    trousers = bool(_TROUSER_CONTEXT.search(text))
    for m in _ONE_SIZE.finditer(text):
        add(m.start(), m.span(), _SizeSystem.ONE_SIZE, "One Size")
    for m in _WAIST.finditer(text):
        raw = m.group(1) or m.group(2) or m.group(3)
        inseam_ok = m.group(4) is None or 26 <= int(m.group(4)) <= 38
        if 24 <= int(raw) <= 44 and inseam_ok and free(m.span()):
            add(m.start(), m.span(), _SizeSystem.WAIST, raw)
    for m in _NUMERIC_SIZE.finditer(text):
        if not free(m.span()):
            continue
        marker = (m.group(1) or m.group(2) or m.group(4) or m.group(5) or "").lower().replace("'", "")
        raw = (m.group(3) or m.group(6) or m.group(7)).replace(",", ".")
        number = float(raw)
        if m.group(7) is not None and not (shoes or trousers):
            continue  # "in 42" is a size only next to a shoe or a trouser
        if marker in {"us", "mens", "womens"}:
            system = _SizeSystem.US
        elif marker in {"eu", "uk"}:
            system = _SizeSystem(marker)
        elif 35 <= number <= 47 and not (trousers and not shoes and number <= 38):
            system = _SizeSystem.EU
        elif 24 <= number <= 34 and number.is_integer():
            system = _SizeSystem.WAIST
        elif 2 <= number <= 15 and (shoes or not number.is_integer()):
            system = _SizeSystem.US  # a half size ("size 10.5") is a shoe's, whatever the message names
        else:
            continue
        value = raw[:-2] if raw.endswith(".0") else raw
        add(m.start(), m.span(), system, value)
    for m in _LETTER_SIZE.finditer(text):
        raw = next(g for g in m.groups() if g)
        if free(m.span()):
            add(m.start(), m.span(), _SizeSystem.LETTER, _LETTER_SIZES[raw.lower()])
            more = _MORE_LETTER_SIZES.match(text, m.end())
            while more is not None and free(more.span(1)):
                add(more.start(1), more.span(1), _SizeSystem.LETTER, _LETTER_SIZES[more.group(1).lower()])
                more = _MORE_LETTER_SIZES.match(text, more.end())
    found.sort(key=lambda item: item[0])
    return _unique(label for _, label in found)


class _CatalogSizes(NamedTuple):
    """A catalog's own size labels that the everyday size patterns do not read ("S/M", "Petite", "10-12Y")."""

    pattern: re.Pattern[str]
    """Such a label after "size" or "in (a)": group 1 is the label as written."""
    labels: dict[str, str]
    """Case-folded label → the catalog's spelling."""


def _catalog_sizes(sizes: Iterable[str]) -> _CatalogSizes | None:
    own = {s.strip().casefold(): s.strip() for s in sizes if s.strip() and _sizes(f"size {s.strip()}") != [s.strip()]}
    if not own:
        return None
    alternatives = "|".join(re.escape(label) for label in sorted(own, key=len, reverse=True))
    pattern = re.compile(rf"(?:\b(?:size|sz)\s*[:=]?\s*|\bin\s+(?:an?\s+)?)({alternatives})(?![\w'’/-])", re.IGNORECASE)
    return _CatalogSizes(pattern, own)


def _colour_names(english: tuple[str, ...], by_name: dict[str, str]) -> list[str]:
    """The shop's colours for the first of these English words that names one of them, or a family with any."""
    for word in english:
        if word in by_name:
            return [by_name[word]]
        if word in _COLOUR_FAMILIES and (members := _family_members(word, by_name)):
            return members
    return []


def _colours(text: str, colours: tuple[str, ...]) -> list[str]:
    folded = " " + " ".join(_WORD.findall(fold(text).replace("gray", "grey"))) + " "
    by_name = {fold(c).replace("gray", "grey"): c for c in colours}
    hits: list[tuple[int, list[str]]] = []
    # Words of other languages first, each blanked, so "bleu marine" is navy and "blu" is not read again.
    for m in list(_COLOUR_WORD.finditer(folded)):
        english = _COLOUR_TRANSLATIONS[int((m.lastgroup or "c0")[1:])][0]
        hits.append((m.start(), _colour_names(english, by_name)))
        folded = folded[: m.start()] + "#" * (m.end() - m.start()) + folded[m.end() :]
    # Longest names first, and each match blanked, so "washed black" is not also "black".
    phrases = sorted({*by_name, *_COLOUR_FAMILIES}, key=len, reverse=True)
    for phrase in phrases:
        needle = f" {phrase} "
        start = folded.find(needle)
        while start != -1:
            if phrase in by_name:
                hits.append((start, [by_name[phrase]]))
            else:
                hits.append((start, _family_members(phrase, by_name)))
            folded = folded[: start + 1] + "#" * len(phrase) + folded[start + 1 + len(phrase) :]
            start = folded.find(needle)
    single = [name for name in by_name if " " not in name and len(name) >= 5]
    for m in re.finditer(r"[a-z]{5,}", folded):
        word = m.group(0)
        if word in _COMMON_WORDS:
            continue
        hit = process.extractOne(word, single, scorer=OSA.distance, score_cutoff=_allowed_typos(word))
        if hit is not None:
            hits.append((m.start(), [by_name[hit[0]]]))
    hits.sort(key=lambda item: item[0])
    return _unique(name for _, names in hits for name in names)


def extract_entities(text: str, catalog: CatalogIndex | None = None, *, today: date | None = None) -> Entities:
    """Find the identifiers, sizes, colours, price bounds, dates and (given a catalog) products one message names, in
    any of the six languages whatever language the message is in; a date without a year is read near `today`."""
    spans: list[tuple[int, int]] = []
    emails = []
    for m in EMAIL.finditer(text):
        emails.append(m.group(0).lower())
        spans.append(m.span())
    rest = _blank(text, spans)

    skus: list[tuple[int, str]] = []
    for m in SKU_FROM_SHOPPER.finditer(rest):
        skus.append((m.start(), format_sku(m.group(1))))
        spans.append(m.span())
    rest = _blank(text, spans)
    if catalog is not None:
        for m in HYPHENATED_CODE.finditer(rest):
            sku = catalog.sku(m.group(0))
            if sku is not None:
                skus.append((m.start(), sku))
                spans.append(m.span())
    rest = _blank(text, spans)

    orders: list[tuple[int, str]] = []
    for pattern in (ORDER_FROM_SHOPPER, _ORDER_IN_WORDS):
        for m in pattern.finditer(rest):
            orders.append((m.start(), format_order_number(next(g for g in m.groups() if g))))
            spans.append(m.span())
        rest = _blank(text, spans)

    phones: list[tuple[int, str]] = []
    for pattern in (PHONE_FROM_SHOPPER, _NATIONAL_PHONE):
        for m in pattern.finditer(rest):
            phone = _normalise_phone(m.group(0).strip())
            if phone is not None:
                phones.append((m.start(), phone))
                spans.append(m.span())
        rest = _blank(text, spans)

    dates = _dates(rest, today or date.today())
    spans += [span for _, span, _ in dates]
    rest = _blank(text, spans)

    min_price, max_price = _prices(rest)
    colours = _colours(rest, catalog.colours if catalog is not None else DEFAULT_COLOURS)
    products = catalog.match(text, min_score=MIN_PRODUCT_SCORE) if catalog is not None else []
    return Entities(
        order_numbers=_unique(order for _, order in sorted(orders)),
        emails=_unique(emails),
        phones=_unique(phone for _, phone in sorted(phones)),
        skus=_unique(sku for _, sku in sorted(skus)),
        sizes=_sizes(rest, catalog.own_sizes if catalog is not None else None),
        colours=colours,
        min_price=min_price,
        max_price=max_price,
        dates=list(dict.fromkeys(when for _, _, when in dates)),
        products=products,
    )
