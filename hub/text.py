"""Write and recognise the commerce facts in text: money, SKUs, order numbers, phone numbers, emails and dates.

The engine and the tools write these forms; the router, the entity extractor and the reply validators read
them. They live together because they must agree: a validator that does not recognise what the engine writes
lets an invented fact through. Where callers need different recognisers the variants are named here, each
saying why. The service writes English (`$12.00`, `Nov 3, 2026`, `2026-11-03`); the reply validators also read
money and dates as the shop's other languages write them (`money_in`, `day_month`), with Babel's locale data.

Names say who reads a form: `*_FROM_SHOPPER` reads what a customer types, to act on it; `*_MENTION` finds the
same thing loosely in lowercased text, where the intent router only masks it as a feature; the plain names
read what the service itself writes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal, NamedTuple

from babel.dates import get_month_names
from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol, parse_decimal

# --- money: writing -----------------------------------------------------------------------------------

MoneyStyle = Literal["exact", "grouped", "cents"]
"""How `format_money` writes an amount:
- `exact`: the amount as the tool stated it (`$59.00`, `$4.5`), so a reply copies the figure it was given;
- `grouped`: two places with thousands separators (`$1,049.95`), for text written for people to read;
- `cents`: two places without separators (`$0.42`), for budgets in operator reports.
"""

NO_AMOUNT = "–"
"""What `format_usd_limit` writes where no limit is set."""


def format_money(amount: object, currency: str = "USD", *, style: MoneyStyle = "exact") -> str:
    """Write an amount as the service's replies do: `$` before US dollars, the ISO code after any other currency."""
    if style == "grouped":
        figure = f"{amount:,.2f}"
    elif style == "cents":
        figure = f"{amount:.2f}"
    else:
        figure = f"{amount}"
    return f"${figure}" if currency == "USD" else f"{figure} {currency}"


def format_usd_limit(amount: Decimal | None, *, style: MoneyStyle = "exact") -> str:
    """Write a spending limit in US dollars, or `NO_AMOUNT` where none is set."""
    return NO_AMOUNT if amount is None else format_money(amount, "USD", style=style)


# --- money: reading -----------------------------------------------------------------------------------

_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
PRICE = re.compile(
    rf"(?P<pre>US\$|CA\$|A\$|\$|€|£|\b(?:USD|EUR|GBP|CAD|AUD)\s?)\s?(?P<a1>{_AMOUNT})(?![\d])"
    rf"|(?<![\w.,$€£])(?P<a2>{_AMOUNT})\s?(?P<post>(?:USD|EUR|GBP|CAD|AUD|dollars?|euros?)(?!\w)|€|£)"
)
"""An amount with its currency, in every way a reply writes one: `$1,049.95`, `US$90`, `90.00 USD`, `€12.50`.

Only these five currencies are read: a price `format_money` writes in another (`12.50 SEK`) goes unchecked."""
CURRENCIES_OF = {
    "$": {"USD", "CAD", "AUD"},
    "US$": {"USD"},
    "CA$": {"CAD"},
    "A$": {"AUD"},
    "€": {"EUR"},
    "£": {"GBP"},
    "DOLLAR": {"USD", "CAD", "AUD"},
    "DOLLARS": {"USD", "CAD", "AUD"},
    "EURO": {"EUR"},
    "EUROS": {"EUR"},
    "R$": {"BRL"},
    "$US": {"USD"},
    "BUCKS": {"USD", "CAD", "AUD"},
    "DÓLAR": {"USD", "CAD", "AUD"},
    "DÓLARES": {"USD", "CAD", "AUD"},
    "DOLAR": {"USD", "CAD", "AUD"},
    "DOLARES": {"USD", "CAD", "AUD"},
    "DOLLARI": {"USD", "CAD", "AUD"},
    "REAIS": {"BRL"},
}
"""The currencies a symbol or word in `PRICE` or `MONEY` may stand for; an ISO code stands for itself."""
AMOUNT_WITH_SYMBOL = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d{1,2})?")
"""An amount after a currency symbol, kept as written: a follow-up draft's amounts are compared as text with
the operator's request, which states them the same way."""
CURRENCY_WORDS = r"dollars?|bucks|usd|quid|pounds?|euros?|eur|gbp"
"""How shoppers name a currency in words (a pattern fragment, to be matched ignoring case)."""
PRICE_MENTION = re.compile(rf"[$£€]\s?\d+(?:[.,]\d+)?|\b\d+(?:\.\d+)?\s?(?:{CURRENCY_WORDS})\b")
"""A price a shopper writes, in lowercased text (the router masks it as a feature)."""


class Price(NamedTuple):
    """One amount of money found in text."""

    text: str
    """As written, e.g. `US$90`."""
    amount: Decimal
    currencies: set[str]
    """The ISO codes it may be in: `$` is any dollar."""


def prices_in(text: str) -> Iterator[Price]:
    """Find every amount of money `PRICE` recognises in `text`, in order."""
    for match in PRICE.finditer(text):
        try:
            amount = Decimal((match["a1"] or match["a2"]).replace(",", ""))
        except (InvalidOperation, ValueError):
            continue
        unit = (match["pre"] or match["post"] or "").strip().upper()
        yield Price(match.group(0).strip(), amount, CURRENCIES_OF.get(unit, {unit}))


# --- money: reading in any language -------------------------------------------------------------------

NUMBER_LOCALES = ("en_US", "es_ES", "de_DE", "fr_FR", "it_IT", "pt_PT", "pt_BR")
"""The Babel locales whose ways of writing a number `money_in` reads (`1,299.00`, `1.299,00`, `1 299,00`)."""
_SPACES = " \u00a0\u202f"
_MONEY_PRE = r"US\$|CA\$|A\$|R\$|\$|€|£|\b(?i:USD|EUR|GBP|CAD|AUD|BRL)"
_MONEY_POST = (
    r"(?i:USD|EUR|GBP|CAD|AUD|BRL|dollars?|d[oó]lar(?:es)?|dollari|bucks|euros?|reais)(?!\w)"
    r"|(?:\$US|US\$|R\$|\$|€|£)(?![\s\u00a0\u202f]?\d)"  # not `2 $90`: that symbol is the next price's
)


def _money_pattern(groups: str) -> re.Pattern[str]:
    figure = rf"\d{{1,3}}(?P<group>[{groups}])\d{{3}}(?:(?P=group)\d{{3}})*(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?"
    return re.compile(
        rf"(?:(?P<pre>{_MONEY_PRE})[{_SPACES}]?)?(?<![\w.,])(?P<figure>{figure})(?!\d|[.,]\d)"
        rf"(?:[{_SPACES}]?(?P<post>{_MONEY_POST}))?"
    )


MONEY = _money_pattern(".,\u00a0\u202f")
"""An amount with its currency as any of the shop's languages writes it: `39,90 €`, `€39.90`, `EUR 39,90`, `R$ 39,90`,
`1.299,00 €`, `1\u202f299,00 €`, `39 bucks`; a plain space groups thousands only in `MONEY_SPACED`, since in English
`3 299 €` is more likely three at 299."""
MONEY_SPACED = _money_pattern(".,\u00a0\u202f ")
"""`MONEY`, also reading a plain space as a thousands separator (`1 299,00 €`), as French and Portuguese write."""


class Money(NamedTuple):
    """One amount of money found in text, with every value its figure may stand for."""

    text: str
    """As written, e.g. `1.299,00 €`."""
    amounts: frozenset[Decimal]
    """`1.299 €` is 1299 in German and 1.299 in English: where the locales do not settle it, both."""
    currencies: set[str]


def money_in(text: str, *, locales: tuple[str, ...] = ()) -> Iterator[Money]:
    """Find every amount of money `MONEY` recognises in `text`, in order, its figure read with Babel.

    `locales` are the Babel locales the text is written in: where they settle a figure that reads two ways
    (`1.299`, `1,299`), only their reading counts; without them, or where they do not settle it, every reading does.
    """
    spaced = not locales or any(get_group_symbol(locale) in _SPACES for locale in locales)
    for match in (MONEY_SPACED if spaced else MONEY).finditer(text):
        unit = (match["pre"] or match["post"] or "").strip().upper()
        if not unit:
            continue
        amounts = figure_readings(match["figure"], locales)
        if amounts:
            yield Money(match.group(0).strip(), amounts, CURRENCIES_OF.get(unit, {unit}))


@lru_cache(maxsize=4096)
def figure_readings(figure: str, locales: tuple[str, ...] = ()) -> frozenset[Decimal]:
    """Every value a written number stands for in the `NUMBER_LOCALES`, narrowed to the reading `locales` give
    a lone `.` or `,` before three digits (the only figure two of them read differently)."""
    readings: dict[str, Decimal] = {}
    for locale in NUMBER_LOCALES:
        group = get_group_symbol(locale)
        written = re.sub(f"[{_SPACES}]", group, figure) if group in _SPACES else figure
        try:
            readings[locale] = parse_decimal(written, locale=locale, strict=True)
        except NumberFormatError:
            continue
    values = frozenset(readings.values())
    if len(values) < 2 or not locales:
        return values
    mark = next(c for c in figure if not c.isdigit())
    groups = {get_group_symbol(locale) for locale in locales}
    decimals = {get_decimal_symbol(locale) for locale in locales}
    if mark in groups and mark not in decimals:
        return frozenset(v for loc, v in readings.items() if get_group_symbol(loc) == mark)
    if mark in decimals and mark not in groups:
        return frozenset(v for loc, v in readings.items() if get_decimal_symbol(loc) == mark)
    return values


# --- SKUs ---------------------------------------------------------------------------------------------

SKU_LIKE = re.compile(r"\bSKU[-_ ]?(?=[A-Z0-9-]*\d)[A-Z0-9]+(?:-[A-Z0-9]+)*\b", re.IGNORECASE)
"""Anything a reply writes as a SKU (`SKU-1170`, `sku 1088`), whatever the shop's format."""
SKU_PREFIX = re.compile(r"^([A-Za-z]+[-_]?)\d")
"""The letters a shop's SKUs start with (`NW-` of `NW-1001`): with `sku_with_prefix`, its own SKUs are found."""
SKU_FROM_SHOPPER = re.compile(r"\bsku\s*[-#:_]?\s*(\d{3,6})\b", re.IGNORECASE)
"""A demo-catalog SKU as a shopper writes it (`sku 1001`, `SKU#1001`); group 1 is its number."""
SKU_MENTION = re.compile(r"\bsku[\s#:_-]*\d{3,6}\b")
"""Any SKU a shopper writes, in lowercased text; looser than `SKU_FROM_SHOPPER` because masking a stray match as
a feature costs nothing, while reading a wrong SKU would look up the wrong product."""
PRODUCT_CODE = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b", re.IGNORECASE)
"""A SKU in any shop's letters-dash-digits format, as an operator types it after a console command."""
HYPHENATED_CODE = re.compile(r"\b[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")
"""Anything shaped like a product code, to be looked up in the catalog's own SKUs."""


def format_sku(number: int | str) -> str:
    """Write a demo-catalog SKU from its number: `SKU-1001`."""
    return f"SKU-{number}"


def sku_with_prefix(prefix: str) -> re.Pattern[str]:
    """Return a pattern for SKUs that start with `prefix` (as `SKU_PREFIX` found it) followed by a digit."""
    return re.compile(rf"\b{re.escape(prefix)}\d[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\b")


WORD_SKU_PREFIX = re.compile(r"^([A-Z][A-Z0-9]*[-_])[A-Z]+(?:[-_][A-Z0-9]+)*$")
"""The first part of a SKU made of capitals words (`LS-` of `LS-M-NAVY`, `MOON-` of `MOON-STUDS`), as a shop's
export or `hub catalog import` spells SKUs without digits: with `word_sku_with_prefix`, its own SKUs are found."""


def word_sku_with_prefix(prefix: str) -> re.Pattern[str]:
    """Return a pattern for capitals SKUs that start with `prefix` (as `WORD_SKU_PREFIX` found it); case-sensitive,
    so prose ("moon-shaped") is never read as one."""
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(prefix)}[A-Z0-9]+(?:[-_][A-Z0-9]+)*(?![A-Za-z0-9-])")


# --- order numbers ------------------------------------------------------------------------------------

ORDER_NUMBER = re.compile(r"\b[A-Z]{1,4}-\d{3,}\b")
"""An order number as the records and the tools write it (`A-10423`), whatever the shop's letters."""
ORDER_REFERENCE = re.compile(r"(?:\b[Oo]rder(?:\s+(?:number|no\.?))?\s*#?\s*|#\s?)([A-Za-z]{0,4}-?\d{3,})\b")
"""An order a reply names after the word `order` or `#`, even written loosely (`order #a10423`); group 1."""
ORDER_REFERENCE_TRANSLATED = re.compile(
    r"\b(?:[Pp]edido|[Ee]ncomenda|[Bb]estellung|[Cc]ommande|[Oo]rdine)"
    r"(?:\s+(?:n\.?[º°o]\.?|[Nn]r\.?|número|numéro|numero|[Nn]ummer))?\s*#?\s*([A-Za-z]{0,4}-?\d{3,})\b"
)
"""`ORDER_REFERENCE` in the other languages: `pedido A-10423`, `Bestellung Nr. A-10423`, `commande n° A-10423`."""
ORDER_FROM_SHOPPER = re.compile(
    r"\b[Aa](?:\s?-\s?|)(\d{4,8})\b"
    r"|\border\s*(?:number|no\.?|num|nr|id|#)?\s*(?:is|was|:)?\s*#?\s*(\d{4,8})\b"
    r"|#\s?(\d{4,8})\b",
    re.IGNORECASE,
)
"""A demo-shop order number as a shopper writes it (`a10423`, `order no 10423`, `#10423`); the first group
that matched holds its digits."""
ORDER_MENTION = re.compile(r"\ba-?\s?\d{4,8}\b|#\s?\d{4,8}\b")
"""`a10423` or `#10423` in lowercased text, for the router to mask."""
ORDER_AFTER_WORD_MENTION = re.compile(r"\b(order\s*(?:number|no|num|nr|id)?\s*(?:is\s*)?)#?\d{5,8}\b")
"""`order no 10423` in lowercased text, for the router to mask the number; group 1 is the words before it."""
_ORDER_SPELLING = re.compile(r"^([A-Z]+)-?(\d+)$")


def format_order_number(number: int | str) -> str:
    """Write a demo-shop order number from its digits: `A-10423`."""
    return f"A-{number}"


def order_number_spellings(raw: str) -> list[str]:
    """Spellings to try for an order number: `#a10001` and `A 10001` both find `A-10001`, and the digits of any
    (`1001`, `A-1001`) find an imported Shopify order stored as `#1001`."""
    number = re.sub(r"[\s#]", "", raw).upper()
    spellings = [number]
    if match := _ORDER_SPELLING.match(number):
        spellings += [f"{match[1]}-{match[2]}", f"{match[1]}{match[2]}"]
    if digits := re.fullmatch(r"[A-Z]*-?(\d+)", number):
        spellings += [f"#{digits[1]}", digits[1]]
    return list(dict.fromkeys(spellings))


# --- contacts -----------------------------------------------------------------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
"""An email address."""
EMAIL_MENTION = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
"""An email address in lowercased text, loosely (no top-level domain needed), for the router to mask."""

PHONE = re.compile(
    r"(?<![\w+])\+\d[\d\s().-]{6,}\d(?!\w)"  # international, with a leading +
    r"|(?<![\w(])\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\w)"  # North American, grouped
    r"|(?<!\w)0\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{3,4}(?!\w)"  # national, with a trunk 0
    r"|(?<![\w.,-])\d{9,15}(?![\w.,-]?\d)"  # one long run of digits
)
"""A phone number a reply or a tool output writes, in any common grouping (compare them with `same_phone`)."""
PHONE_FROM_SHOPPER = re.compile(
    r"(?<![\w+])(?:\+|00)\d[\d\s().-]{6,18}\d(?!\w)"
    r"|(?<![\w+])\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"
    r"|(?<![\w+])1[\s.-]\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"
    r"|(?<![\w+])0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\w)"
)
"""A phone number a shopper gives: also `00` international and ungrouped North American numbers, but no bare
run of digits, which in a shopper's message is more often an order or tracking number."""
PHONE_MENTION = re.compile(r"(?:\+|\b00)?\d[\d ().-]{7,}\d\b")
"""Anything phone-shaped in lowercased text, for the router to mask."""
PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
"""Anything phone-shaped in a customer summary: checked against the records' digits, so it may over-match."""
_IDENTIFIERS = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[a-z]{1,4}-?\s?\d{4,8}\b|#\s?\d{2,8}\b|(?:\+|\b00)?\d[\d ().-]{2,}\d\b",
    re.IGNORECASE,
)


def without_identifiers(text: str) -> str:
    """`text` without its emails, order numbers, phone numbers and other runs of digits, spaces tidied: what a
    sentence vector should read of a message, whose meaning does not change with the order it names."""
    return " ".join(_IDENTIFIERS.sub(" ", text).split())


PHONE_ONLY = re.compile(r"[\d\s()+.-]+")
"""Text that is nothing but a phone number (use `fullmatch`), however it is spaced."""


def phone_digits(phone: str) -> str:
    """Return a phone number's digits, without a leading `00` international prefix."""
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("00"):
        digits = digits[2:]
    return digits


def same_phone(given: str, stored: str) -> bool:
    """Whether two phone numbers are one, however they are written (`+1 (555) 010-0199` = `555 010 0199`).

    A number without its country code, or with a national trunk `0`, matches when it is at least 9 digits
    and the rest of the full number ends with it.
    """
    a, b = phone_digits(given), phone_digits(stored)
    if not a or not b:
        return False
    if a == b:
        return True
    short, full = sorted((a.removeprefix("0"), b.removeprefix("0")), key=len)
    return len(short) >= 9 and full.endswith(short)


# --- dates --------------------------------------------------------------------------------------------

MONTH_NUMBERS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
"""A month's number by the first three letters of its English name."""
MONTH = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
"""A month's name, in full or short (a pattern fragment with the group `month`)."""

ISO_DATE = re.compile(r"(?<![\w-])(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})(?!\d)")
"""`2026-11-03`, as the engine and the tools write a date."""
MONTH_DAY = re.compile(rf"\b{MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>\d{{4}})\b)?")
"""`Nov 3`, `November 3rd, 2026`."""
DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\b\.?(?:,?\s+(?P<year>\d{{4}})\b)?")
"""`3 Nov`, `3rd of November 2026`."""
SLASHED_DATE = re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})\b")
"""`11/03/2026`: month first or day first, which the text alone cannot tell (groups `a`, `b`)."""
MONTH_YEAR = re.compile(rf"\b{MONTH}\.?,?\s+(?P<year>\d{{4}})\b")
"""`November 2026`."""


DAY_FIRST_DATE = re.compile(r"(?<![\w.,/-])(?P<day>\d{1,2})(?P<sep>[./-])(?P<mnum>\d{1,2})(?P=sep)(?P<year>\d{4})\b")
"""`03/03/2026`, `3.3.2026`, `03-03-2026`: day first, as every language but English writes a date in figures."""


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=16)
def month_numbers(locale: str) -> dict[str, int]:
    """A month's number by each of its names in `locale` (Babel's, wide and abbreviated, lower-case, the abbreviation
    with its dot and without), also without accents (`marco`, `decembre`), as shoppers type them."""
    numbers: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            names = get_month_names(width, context, locale)
            for number in range(1, 13):
                name: str = names[number]
                for spelling in {name.lower(), name.lower().rstrip(".")}:
                    if len(spelling.rstrip(".")) >= 3:
                        numbers.setdefault(spelling, number)
                        numbers.setdefault(_plain(spelling), number)
    return numbers


@lru_cache(maxsize=16)
def day_month(locale: str) -> re.Pattern[str]:
    """`3 de marzo de 2026`, `3. März 2026`, `le 1er mars`, `3 marzo`, `3 de março`: a day, then a month named in
    `locale` (groups `day`, `month`, `year`; look the month up in `month_numbers`)."""
    names = "|".join(re.escape(n) for n in sorted(month_numbers(locale), key=len, reverse=True))
    return re.compile(
        rf"(?<![\w.,])(?P<day>\d{{1,2}})(?:\.\s*|(?:er|º|°|ª)?\s+)(?:de\s+)?(?P<month>{names})(?!\w)"
        rf"(?:,?\s+(?:de\s+|del\s+)?(?P<year>\d{{4}})\b)?",
        re.IGNORECASE,
    )


def format_date(day: date) -> str:
    """Write a date as the engine's replies do: `2026-11-03`."""
    return day.isoformat()
