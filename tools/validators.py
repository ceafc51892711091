"""Check a drafted reply against this turn's tool outputs: every commerce fact it states must come from them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from hub.db.models import Channel, OrderStatus
from hub.languages import LOCALES, Language
from hub.text import (
    DAY_FIRST_DATE,
    DAY_MONTH,
    EMAIL,
    ISO_DATE,
    MONTH_DAY,
    MONTH_NUMBERS,
    ORDER_REFERENCE,
    ORDER_REFERENCE_TRANSLATED,
    PHONE,
    SKU_LIKE,
    SKU_PREFIX,
    SLASHED_DATE,
    WORD_SKU_PREFIX,
    day_month,
    money_in,
    month_numbers,
    same_phone,
    sku_with_prefix,
    word_sku_with_prefix,
)

CHANNEL_LIMITS: dict[Channel, int] = {Channel.WHATSAPP: 4096, Channel.WEB: 4000, Channel.CONSOLE: 16000}
"""The longest reply each channel accepts, in characters."""

READING_LOCALES: dict[Language, tuple[str, ...]] = {
    **{language: (locale,) for language, locale in LOCALES.items()},
    "pt": (LOCALES["pt"], "pt_BR"),
}
"""The Babel locales whose numbers a reply in each language is read in: Portuguese replies group thousands with a
dot as in Brazil (`1.299,00`) as often as with a space as in Portugal (`1 299,00`)."""

_MONEY_KEYS = ("price", "total", "amount", "cost", "fee", "shipping", "refund", "charge", "balance", "credit")
_STOCK_KEYS = ("stock", "quantity")


# --- what the tool outputs say ------------------------------------------------------------------------

_ENGLISH_DATES = (ISO_DATE, MONTH_DAY, DAY_MONTH)
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
_DIGIT_RUN = re.compile(r"\d{6,}")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=512)
def _key_kind(key: str) -> tuple[bool, bool]:
    """Whether a tool output's key names an amount of money, and whether it names a stock count."""
    return any(k in key for k in _MONEY_KEYS), any(k in key for k in _STOCK_KEYS)


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text).upper()


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


@dataclass(frozen=True)
class _Date:
    month: int
    day: int
    year: int | None


def _dates_in(text: str, language: Language) -> Iterator[tuple[re.Match[str], _Date]]:
    """Every date in `text`: English ones, and outside English those written out in `language` or day first."""
    locale = LOCALES[language]
    if language == "en":
        patterns = (*_ENGLISH_DATES, SLASHED_DATE)
    else:
        patterns = (*_ENGLISH_DATES, DAY_FIRST_DATE, day_month(locale))
    for pattern in patterns:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            year = int(groups["year"]) if groups.get("year") else None
            name: str | None = groups.get("month")
            if groups.get("mnum"):
                found = [(int(groups["mnum"]), int(groups["day"]))]
            elif name is None:
                a, b = int(groups["a"]), int(groups["b"])
                found = [(a, b), (b, a)]  # in English 11/28/2026 or 28/11/2026: either may be the grounded one
            elif pattern in _ENGLISH_DATES:
                found = [(MONTH_NUMBERS[name[:3].lower()], int(groups["day"]))]
            elif number := month_numbers(locale).get(name.lower()):
                found = [(number, int(groups["day"]))]
            else:
                continue
            for month, day in found:
                yield match, _Date(month, day, year)


@dataclass
class _Grounding:
    """Everything this turn's tool outputs state, indexed for the checks."""

    texts: list[str] = field(default_factory=list)
    money: set[Decimal] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)
    stock: set[int] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)
    sku_prefixes: set[str] = field(default_factory=set)
    word_sku_prefixes: set[str] = field(default_factory=set)
    dates: set[_Date] = field(default_factory=set)
    orders: dict[str, tuple[str, OrderStatus]] = field(default_factory=dict)
    """Order number without punctuation → (the number as written, its status)."""
    emails: set[str] = field(default_factory=set)
    phones: list[str] = field(default_factory=list)
    digit_runs: set[str] = field(default_factory=set)
    language: Language = "en"
    """The reply's language: a policy passage in it may write its dates in it."""

    @classmethod
    def of(cls, outputs: Iterable[BaseModel | Mapping[str, Any] | Any], language: Language = "en") -> _Grounding:
        facts = cls(language=language)
        for output in outputs:
            facts._walk(output.model_dump(mode="json") if isinstance(output, BaseModel) else output, "")
        return facts

    def _walk(self, value: Any, key: str) -> None:
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, Mapping):
            self._order(value)
            for k, v in value.items():
                self._walk(v, str(k).lower())
        elif isinstance(value, list | tuple | set | frozenset):
            for v in value:
                self._walk(v, key)
        elif value is not None:
            self._leaf(value, key)

    def _order(self, mapping: Mapping[str, Any]) -> None:
        number = mapping.get("order_number") or mapping.get("number")
        status = mapping.get("order_status") or mapping.get("status")
        if isinstance(number, str) and status in OrderStatus._value2member_map_:
            self.orders[_alnum(number)] = (number, OrderStatus(status))

    def _leaf(self, value: Any, key: str) -> None:
        money_key, stock_key = _key_kind(key)
        if money_key and (amount := _decimal(value)) is not None:
            self.money.add(amount)
        if stock_key and isinstance(value, int) and not isinstance(value, bool):
            self.stock.add(value)
        if key == "currency" and isinstance(value, str):
            self.currencies.add(value.upper())
        if key == "sku" and isinstance(value, str):
            if prefix := SKU_PREFIX.match(value):
                self.sku_prefixes.add(prefix[1])
            elif prefix := WORD_SKU_PREFIX.match(value):
                self.word_sku_prefixes.add(prefix[1])
        if isinstance(value, bool):
            return
        text = str(value)
        self.texts.append(text)
        self.identifiers.update(_alnum(t) for t in _TOKEN.findall(text))
        if "@" in text:
            self.emails.update(e.lower() for e in EMAIL.findall(text))
        if _DIGIT.search(text) is None:
            return  # prices, dates, phone numbers and long numbers all have a digit
        self.digit_runs.update(_DIGIT_RUN.findall(text))
        for _, amounts, currencies in money_in(text):
            self.money.update(amounts)
            self.currencies.update(c for c in currencies if len(currencies) == 1)
        for _, when in _dates_in(text, self.language):
            self.dates.add(when)
            self.dates.add(_Date(when.month, when.day, None))
        self.phones.extend(m.group(0) for m in PHONE.finditer(text))

    def quotes(self, sentence: str) -> bool:
        """Whether the sentence is copied from a tool output (a policy passage, say), whitespace aside."""
        wanted = " ".join(sentence.split()).lower()
        return len(wanted) > 20 and any(wanted in " ".join(t.split()).lower() for t in self.texts)


# --- checks -------------------------------------------------------------------------------------------


def _check_length(reply: str, channel: Channel) -> list[str]:
    if not reply.strip():
        return ["the reply is empty"]
    limit = CHANNEL_LIMITS.get(channel)
    if limit is not None and len(reply) > limit:
        return [f"the reply is {len(reply)} characters long; {channel} allows at most {limit}"]
    return []


def _check_prices(reply: str, facts: _Grounding) -> list[str]:
    problems = []
    for text, amounts, currencies in money_in(reply, locales=READING_LOCALES[facts.language]):
        if amounts.isdisjoint(facts.money):
            problems.append(f"price {text} does not appear in this turn's tool outputs")
        elif facts.currencies and currencies.isdisjoint(facts.currencies):
            problems.append(
                f"price {text} is in a currency the tool outputs do not use ({', '.join(sorted(facts.currencies))})"
            )
    return problems


def _check_skus(reply: str, facts: _Grounding) -> list[str]:
    patterns = [SKU_LIKE] + [sku_with_prefix(prefix) for prefix in sorted(facts.sku_prefixes)]
    patterns += [word_sku_with_prefix(prefix) for prefix in sorted(facts.word_sku_prefixes)]
    invented = {
        _alnum(match.group(0)): match.group(0)
        for pattern in patterns
        for match in pattern.finditer(reply)
        if _alnum(match.group(0)) not in facts.identifiers
    }
    return [f"SKU {sku} does not appear in this turn's tool outputs" for sku in invented.values()]


_REFERENCE = re.compile(r"\b(?:RMA|CXL|ADR|HO)-[0-9A-Z]{8}\b", re.IGNORECASE)


def _check_references(reply: str, facts: _Grounding) -> list[str]:
    """A request's or a handoff's reference (`RMA-7KQ2M4XD`, `HO-1A2B3C4D`) must be one a tool gave this turn: an
    invented one sends the shopper chasing a request that does not exist."""
    invented = {m.group(0).upper() for m in _REFERENCE.finditer(reply) if _alnum(m.group(0)) not in facts.identifiers}
    return [f"reference {ref} does not appear in this turn's tool outputs" for ref in sorted(invented)]


_NOT_TIME = r"(?!(?:days?|weeks?|hours?|minutes?|months?|years?|business|working)\b)"
_ENGLISH_STOCK_CLAIMS = (
    re.compile(
        rf"\b(?:only|just)\s+(\d+)\s+(?:{_NOT_TIME}[A-Za-z/-]+\s+){{0,2}}?(?:left|remaining|in stock|available)\b", re.I
    ),
    re.compile(r"\b(\d+)\s+(?:(?:units?|pieces?|pairs?|items?)\s+)?(?:left|remaining|in stock)\b", re.I),
    re.compile(r"\b(\d+)\s+(?:units?|pieces?|pairs?)\s+available\b", re.I),
    re.compile(r"\b(?:stock|quantity|inventory)(?:\s+level)?\s*(?:of|is|:|=)\s*(\d+)\b", re.I),
    re.compile(r"\bin stock\s*[:(]\s*(\d+)", re.I),
)
_STOCK_WORDS: dict[Language, tuple[str, ...]] = {
    "es": (
        r"\b(?:quedan?|restan?)\s+(?:(?:solo|sólo|solamente|únicamente)\s+)?(\d+)\b(?!\s+(?:días|semanas|horas|minutos|meses|años)\b)",
        r"\b(?:solo|sólo|apenas)\s+(\d+)\s+(?:(?:unidades?|pares|artículos?)\s+)?(?:disponibles?|en stock|en existencia|restantes?)\b",
        r"\b(\d+)\s+unidades\b(?!\s+(?:por|cada|como máximo)\b)",
        r"\b(\d+)\s+(?:(?:unidades?|pares|artículos?)\s+)?(?:disponibles?|en stock|en existencia|restantes?)\b",
        r"\b(?:stock|existencias|inventario)\s*(?::|=|de|es de|es)\s*(\d+)\b",
    ),
    "de": (
        r"\bnur\s+noch\s+(\d+)\b(?!\s+(?:Tagen?|Wochen?|Stunden?|Minuten?|Monaten?|Monate|Jahren?|Werktagen?)\b)",
        r"\bnoch\s+(\d+)\s+(?:(?:Stück|Paar|Artikel)\s+)?(?:verfügbar|auf Lager|vorrätig|übrig|da)\b",
        r"\b(\d+)\s+Stück\b(?!\s+(?:pro|je)\b)",
        r"\b(\d+)\s+(?:(?:Stück|Paar|Artikel)\s+)?(?:auf Lager|vorrätig|verfügbar|übrig)\b",
        r"\b(?:Lagerbestand|Bestand)\s*(?::|=|von|beträgt|liegt bei)\s*(\d+)\b",
    ),
    "fr": (
        r"\bplus\s+que\s+(\d+)\b(?!\s+(?:jours?|semaines?|heures?|minutes?|mois|ans|années?)\b)",
        r"\bil\s+(?:en\s+)?reste\s+(?:(?:seulement|encore)\s+)?(\d+)\b(?!\s+(?:jours?|semaines?|heures?|minutes?|mois|ans)\b)",
        r"\b(?:seulement|que)\s+(\d+)\s+(?:(?:pièces?|articles?|exemplaires?|paires?)\s+)?(?:en stock|disponibles?|restant(?:e?s)?)\b",
        r"\b(\d+)\s+pièces?\b(?!\s+(?:par|chacune)\b)",
        r"\b(\d+)\s+(?:(?:pièces?|articles?|exemplaires?|paires?)\s+)?(?:en stock|disponibles?|restant(?:e?s)?)\b",
        r"\bstock\s*(?::|=|de|est de)\s*(\d+)\b",
    ),
    "it": (
        r"\bsolo\s+(\d+)\s+(?:(?:pezzi|paia|articoli)\s+)?(?:rimast[ie]|disponibili|in magazzino|in stock)\b",
        r"\b(?:ne\s+)?(?:rimangono|restano)\s+(?:(?:solo|soltanto)\s+)?(\d+)\b(?!\s+(?:giorni|settimane|ore|minuti|mesi|anni)\b)",
        r"\b(\d+)\s+pezzi\b(?!\s+(?:per|a testa)\b)",
        r"\b(\d+)\s+(?:(?:pezzi|paia|articoli)\s+)?(?:rimast[ie]|disponibili|in magazzino|in stock)\b",
        r"\b(?:giacenza|scorte)\s*(?::|=|di|è di)\s*(\d+)\b",
    ),
    "pt": (
        r"\bapenas\s+(\d+)\b(?=\s*(?:[.,;:!?)]|$|(?:unidades?|pares|peças|artigos|restantes?|disponíve(?:l|is)|em (?:stock|estoque))\b))",
        r"\b(?:só\s+)?(?:restam|sobram)\s+(?:(?:apenas|só|somente)\s+)?(\d+)\b(?!\s+(?:dias|semanas|horas|minutos|meses|anos)\b)",
        r"\b(\d+)\s+unidades\b(?!\s+(?:por|cada)\b)",
        r"\b(\d+)\s+(?:(?:unidades?|pares|peças|artigos)\s+)?(?:restantes?|disponíve(?:l|is)|em (?:stock|estoque))\b",
        r"\b(?:stock|estoque)\s*(?::|=|de|é de)\s*(\d+)\b",
    ),
}
_NOT_MONEY = r"(?![.,]\d|\s*(?:%|€|\$|£|(?:USD|EUR|GBP|CAD|AUD|BRL|euros?|dollars?|bucks|reais)\b))"
"""After a count: `nur noch 39,90 €` and `apenas 39 €` are sale prices, not stock."""
_STOCK_CLAIMS: dict[Language, tuple[re.Pattern[str], ...]] = {
    "en": _ENGLISH_STOCK_CLAIMS,
    **{
        language: _ENGLISH_STOCK_CLAIMS
        + tuple(re.compile(p.replace(r"(\d+)", r"(\d+)" + _NOT_MONEY, 1), re.I) for p in patterns)
        for language, patterns in _STOCK_WORDS.items()
    },
}
"""The stock claims read in a reply in each language: its own, and the English ones a reply may slip into."""


def _check_stock(reply: str, facts: _Grounding) -> list[str]:
    problems = []
    seen: set[tuple[int, int]] = set()
    for pattern in _STOCK_CLAIMS[facts.language]:
        for match in pattern.finditer(reply):
            if match.span(1) in seen:
                continue
            seen.add(match.span(1))
            if int(match[1]) not in facts.stock:
                problems.append(f"stock figure {match.group(0)!r} does not match this turn's tool outputs")
    return problems


def _check_dates(reply: str, facts: _Grounding) -> list[str]:
    problems = []
    by_match: dict[tuple[int, int], tuple[str, bool]] = {}
    for match, when in _dates_in(reply, facts.language):
        grounded = when in facts.dates
        text, before = by_match.get(match.span(), (match.group(0), False))
        by_match[match.span()] = (text, before or grounded)
    spans = sorted(by_match)
    for span in spans:
        text, grounded = by_match[span]
        inside_longer = any(o != span and o[0] <= span[0] and span[1] <= o[1] for o in spans)
        if not grounded and not inside_longer:
            problems.append(f"date {text} does not appear in this turn's tool outputs")
    return problems


_S = OrderStatus
_AFTER_DISPATCH = frozenset(
    {_S.SHIPPED, _S.OUT_FOR_DELIVERY, _S.DELIVERED, _S.RETURN_REQUESTED, _S.RETURNED, _S.REFUNDED}
)
_BE = r"(?:is|was|been|has been|have been|had been|got|already|now)"
_STATUS_CLAIMS: tuple[tuple[re.Pattern[str], frozenset[OrderStatus], str], ...] = tuple(
    (re.compile(pattern, re.I), frozenset(statuses), label)
    for pattern, statuses, label in (
        (r"\bout for delivery\b|\bout_for_delivery\b", {_S.OUT_FOR_DELIVERY}, "out for delivery"),
        (
            rf"\b{_BE}\s+delivered\b|\bdelivered\s+on\b",
            _AFTER_DISPATCH - {_S.SHIPPED, _S.OUT_FOR_DELIVERY},
            "delivered",
        ),
        (r"\bin transit\b|\bon (?:its|the) way\b", {_S.SHIPPED, _S.OUT_FOR_DELIVERY}, "on its way"),
        (
            rf"\b(?:has|have|had|{_BE})\s+(?:shipped|dispatched)\b|\bleft (?:our|the) warehouse\b",
            _AFTER_DISPATCH,
            "shipped",
        ),
        (
            rf"\b(?:being|{_BE})\s+(?:processed|prepared|packed|picked)\b|\bis\s+processing\b",
            {_S.PAID, _S.PROCESSING},
            "being processed",
        ),
        (
            r"\b(?:pending|awaiting|waiting for(?: your)?)\s+payment\b|\bpayment (?:is )?(?:still )?pending\b|\bpending_payment\b",
            {_S.PENDING_PAYMENT},
            "awaiting payment",
        ),
        (rf"\b{_BE}\s+(?:cancell?ed)\b", {_S.CANCELLED}, "cancelled"),
        (
            rf"\b{_BE}\s+refunded\b|\brefund (?:has been|was) (?:issued|processed|sent)\b",
            {_S.REFUNDED, _S.CANCELLED},
            "refunded",
        ),
        (
            r"\breturn (?:has been |was |is )?(?:requested|started|opened|open|in progress)\b|\breturn_requested\b",
            {_S.RETURN_REQUESTED, _S.RETURNED, _S.REFUNDED},
            "return requested",
        ),
        (rf"\b(?:received|got) (?:your|the) return\b|\b{_BE}\s+returned\b", {_S.RETURNED, _S.REFUNDED}, "returned"),
        (
            rf"\b{_BE}\s+paid\b|\bpayment (?:has been |was )?(?:received|confirmed)\b",
            set(_S) - {_S.PENDING_PAYMENT},
            "paid",
        ),
        (
            r"\bstatus(?: is|:)\s*[\"'“]?(?:pending payment|paid|processing|shipped|delivered|cancell?ed|returned|refunded)\b",
            set(),
            "status",
        ),
    )
)
_STATUS_WORDS = {
    "pending payment": _S.PENDING_PAYMENT,
    "paid": _S.PAID,
    "processing": _S.PROCESSING,
    "shipped": _S.SHIPPED,
    "delivered": _S.DELIVERED,
    "cancelled": _S.CANCELLED,
    "canceled": _S.CANCELLED,
    "returned": _S.RETURNED,
    "refunded": _S.REFUNDED,
}
_CONDITIONAL = re.compile(r"\b(?:if|once|when|whenever|after|until|unless|before|as soon as)\b", re.I)
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\byet to)\s+(?:\w+\s+){0,2}$", re.I)
_HEDGED = re.compile(
    r"\b(?:will|would|should|could|may|might|to|expected|estimated|scheduled)\s+(?:\w+\s+){0,2}$", re.I
)
_DEFINITE = re.compile(r"\b(?:your|the|this|that)\s+(?:order|parcel|package|shipment|delivery)\b|\bit\b|\bit's\b", re.I)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")

_DELIVERED = _AFTER_DISPATCH - {_S.SHIPPED, _S.OUT_FOR_DELIVERY}
_ON_ITS_WAY = frozenset({_S.SHIPPED, _S.OUT_FOR_DELIVERY})
_PROCESSING = frozenset({_S.PAID, _S.PROCESSING})
_RETURN_REQUESTED = frozenset({_S.RETURN_REQUESTED, _S.RETURNED, _S.REFUNDED})
_RETURNED = frozenset({_S.RETURNED, _S.REFUNDED})
_PAID = frozenset(set(_S) - {_S.PENDING_PAYMENT})
_NOT_A_PARCEL = (
    r"(?!\s+(?:\w+\s+){0,2}?(?:correo|e-?mail|mail|mensaje|message|messaggio|mensagem|SMS|enlace|lien|link)\b)"
)
"""After a verb for sending (`PARCEL` in a claim): `te hemos enviado un correo` sends an email, not the order."""


@dataclass(frozen=True)
class _StatusWording:
    """How a reply in one language claims an order status, and how it says it is claiming none."""

    claims: tuple[tuple[re.Pattern[str], frozenset[OrderStatus], str], ...]
    """Each claim's pattern, the statuses that bear it out, and its English label for the problem."""
    not_a_claim: re.Pattern[str] | None
    """Words that, anywhere in the clause before a claim, make it conditional, negated or hedged. The window is the
    whole clause, not English's two words, because the verb may come last (`wurde noch nicht am Montag versandt`)."""
    definite: re.Pattern[str]
    """Words that say a sentence is about the shopper's own order."""


def _wording(
    aux: str, claims: dict[str, tuple[str, frozenset[OrderStatus]]], not_a_claim: str, definite: str
) -> _StatusWording:
    return _StatusWording(
        claims=_STATUS_CLAIMS
        + tuple(
            (re.compile(pattern.replace("AUX", aux).replace("PARCEL", _NOT_A_PARCEL), re.I), statuses, label)
            for label, (pattern, statuses) in claims.items()
        ),
        not_a_claim=re.compile(not_a_claim, re.I),
        definite=re.compile(rf"{_DEFINITE.pattern}|{definite}", re.I),
    )


_STATUS_WORDING: dict[Language, _StatusWording] = {
    "en": _StatusWording(_STATUS_CLAIMS, None, _DEFINITE),
    "es": _wording(
        r"\b(?:(?:ya\s+)?(?:ha|han|hemos)\s+(?:sido\s+)?|(?:ya\s+)?(?:fue|fueron|está|están|estaba)\s+|ya\s+|se\s+(?:ha|han)\s+)",
        {
            "out for delivery": (
                r"\ben\s+reparto\b|\bsalió\s+(?:a|para)\s+(?:reparto|entrega)\b",
                frozenset({_S.OUT_FOR_DELIVERY}),
            ),
            "delivered": (r"AUX(?:entregad[oa]s?)\b|\bse\s+entregó\b", _DELIVERED),
            "on its way": (r"\ben\s+(?:camino|tránsito)\b", _ON_ITS_WAY),
            "shipped": (
                r"AUX(?:enviad|despachad|expedid)[oa]s?\bPARCEL|\bse\s+(?:envió|despachó|expidió)\b",
                _AFTER_DISPATCH,
            ),
            "being processed": (
                r"\ben\s+(?:preparación|proceso)\b|\b(?:se\s+está|estamos)\s+(?:preparando|procesando)\b",
                _PROCESSING,
            ),
            "awaiting payment": (
                r"\bpendiente\s+de\s+pago\b|\besperando\s+(?:el\s+)?pago\b",
                frozenset({_S.PENDING_PAYMENT}),
            ),
            "cancelled": (r"AUX(?:cancelad|anulad)[oa]s?\b", frozenset({_S.CANCELLED})),
            "refunded": (
                r"AUXreembolsad[oa]s?\b|\breembolso\s+(?:ha\s+sido|fue)\s+(?:emitido|procesado|enviado)\b",
                frozenset({_S.REFUNDED, _S.CANCELLED}),
            ),
            "return requested": (
                r"\bdevolución\s+(?:ha\s+sido\s+|fue\s+|está\s+)?(?:solicitada|abierta|registrada|en\s+curso)\b",
                _RETURN_REQUESTED,
            ),
            "returned": (r"AUXdevuelt[oa]s?\b|\brecibido\s+(?:tu|su|la)\s+devolución\b", _RETURNED),
            "paid": (r"AUXpagad[oa]s?\b|\bpago\s+(?:ha\s+sido\s+|fue\s+)?(?:recibido|confirmado)\b", _PAID),
        },
        r"\b(?:si|cuando|una\s+vez|en\s+cuanto|tan\s+pronto|hasta\s+que|antes\s+de|después\s+de|no|nunca|ni"
        r"|será|serán|sería|debería|deberían|podría|puede|va\s+a|van\s+a|previst[oa]|estimad[oa]|programad[oa]|para\s+ser)\b",
        r"\b(?:tu|su|el|este|ese)\s+(?:pedido|paquete|envío)\b",
    ),
    "de": _wording(
        "",
        {
            "out for delivery": (r"\bin\s+(?:der\s+)?Zustellung\b", frozenset({_S.OUT_FOR_DELIVERY})),
            "delivered": (r"\b(?:zugestellt|geliefert|ausgeliefert)\b", _DELIVERED),
            "on its way": (r"\bunterwegs\b|\bauf\s+dem\s+Weg\b", _ON_ITS_WAY),
            "shipped": (
                r"\b(?:versandt|versendet|verschickt|abgeschickt)\b|\bhat\s+(?:unser|das)\s+Lager\s+verlassen\b",
                _AFTER_DISPATCH,
            ),
            "being processed": (
                r"\bin\s+Bearbeitung\b|\bwird\s+(?:gerade\s+)?(?:bearbeitet|vorbereitet|verpackt)\b",
                _PROCESSING,
            ),
            "awaiting payment": (
                r"\bwartet\s+(?:noch\s+)?auf\s+(?:die\s+|Ihre\s+|deine\s+)?Zahlung\b|\bZahlung\s+(?:ist\s+)?(?:noch\s+)?ausstehend\b|\bZahlung\s+steht\s+(?:noch\s+)?aus\b",
                frozenset({_S.PENDING_PAYMENT}),
            ),
            "cancelled": (r"\b(?:storniert|annulliert)\b", frozenset({_S.CANCELLED})),
            "refunded": (r"\b(?:erstattet|rückerstattet|zurückerstattet)\b", frozenset({_S.REFUNDED, _S.CANCELLED})),
            "return requested": (
                r"\b(?:Rücksendung|Retoure)\s+(?:ist\s+|wurde\s+)?(?:angemeldet|beantragt|eröffnet)\b",
                _RETURN_REQUESTED,
            ),
            "returned": (
                r"\b(?:Rücksendung|Retoure)\s+(?:ist\s+)?(?:eingegangen|erhalten)\b|\b(?:zurückgeschickt|zurückgesandt|retourniert)\b",
                _RETURNED,
            ),
            "paid": (
                r"\b(?:ist|wurde)\s+(?:bereits\s+)?bezahlt\b|\bZahlung\s+(?:ist\s+|wurde\s+)?(?:eingegangen|bestätigt)\b",
                _PAID,
            ),
        },
        r"\b(?:wenn|sobald|falls|nachdem|bis|bevor|ob|nicht|kein|keine|nie|noch\s+nicht"
        r"|wird|werden|würde|sollte|soll|kann|könnte|voraussichtlich|geplant|erwartet"
        r"|E-Mail|Mail|Nachricht|SMS|Link|Rechnung|Code)\b",
        r"\b(?:Ihre|Deine|deine|die|diese)\s+(?:Bestellung|Sendung|Lieferung)\b|\b(?:Ihr|Dein|dein|das|dieses)\s+Paket\b",
    ),
    "fr": _wording(
        r"\b(?:(?:a|ont|avons)\s+(?:bien\s+|déjà\s+)?(?:été\s+)?|(?:est|sont|était)\s+(?:bien\s+|déjà\s+)?)",
        {
            "out for delivery": (r"\ben\s+cours\s+de\s+livraison\b", frozenset({_S.OUT_FOR_DELIVERY})),
            "delivered": (r"AUXlivrée?s?(?!\w)", _DELIVERED),
            "on its way": (r"\ben\s+(?:route|chemin|transit)\b|\ben\s+cours\s+d['’]acheminement\b", _ON_ITS_WAY),
            "shipped": (
                r"AUX(?:expédiée?s?|envoyée?s?)(?!\w)PARCEL|\ba\s+quitté\s+(?:notre\s+|l['’])entrepôt\b",
                _AFTER_DISPATCH,
            ),
            "being processed": (r"\ben\s+(?:cours\s+de\s+)?(?:préparation|traitement)\b", _PROCESSING),
            "awaiting payment": (r"\ben\s+attente\s+(?:de|du)\s+paiement\b", frozenset({_S.PENDING_PAYMENT})),
            "cancelled": (r"AUXannulée?s?(?!\w)", frozenset({_S.CANCELLED})),
            "refunded": (
                r"AUXremboursée?s?(?!\w)|\bremboursement\s+(?:a\s+été|est)\s+(?:effectué|émis|envoyé)\b",
                frozenset({_S.REFUNDED, _S.CANCELLED}),
            ),
            "return requested": (
                r"\bretour\s+(?:a\s+été\s+|est\s+)?(?:demandé|enregistré|ouvert|en\s+cours)\b",
                _RETURN_REQUESTED,
            ),
            "returned": (r"AUXretournée?s?(?!\w)|\breçu\s+(?:votre|le)\s+retour\b", _RETURNED),
            "paid": (r"AUXpayée?s?(?!\w)|\bpaiement\s+(?:a\s+été\s+)?(?:reçu|confirmé)\b", _PAID),
        },
        r"(?:\b(?:si|quand|lorsque|lorsqu|dès\s+que|une\s+fois|après|avant|jusqu|ne|pas|jamais"
        r"|sera|seront|serait|devrait|devraient|pourrait|peut|va|vont|prévue?s?|estimée?s?|pour\s+être)\b|\b[ns]['’])",
        r"\b(?:votre|ta|la|cette)\s+(?:commande|livraison)\b|\b(?:votre|ton|le|ce)\s+colis\b|\belle\b",
    ),
    "it": _wording(
        r"\b(?:(?:è|sono|era)\s+(?:già\s+)?(?:stat[oaie]\s+)?|(?:abbiamo|ha|hanno)\s+(?:già\s+)?)",
        {
            "out for delivery": (r"\bin\s+(?:corso\s+di\s+)?consegna\b", frozenset({_S.OUT_FOR_DELIVERY})),
            "delivered": (r"AUXconsegnat[oaie]\b", _DELIVERED),
            "on its way": (r"\bin\s+(?:viaggio|transito|arrivo)\b|\bin\s+cammino\b", _ON_ITS_WAY),
            "shipped": (
                r"AUX(?:spedit|inviat)[oaie]\bPARCEL|\bha\s+lasciato\s+il\s+(?:nostro\s+)?magazzino\b",
                _AFTER_DISPATCH,
            ),
            "being processed": (r"\bin\s+(?:preparazione|lavorazione|elaborazione)\b", _PROCESSING),
            "awaiting payment": (r"\bin\s+attesa\s+(?:di|del)\s+pagamento\b", frozenset({_S.PENDING_PAYMENT})),
            "cancelled": (r"AUX(?:annullat|cancellat)[oaie]\b", frozenset({_S.CANCELLED})),
            "refunded": (
                r"AUXrimborsat[oaie]\b|\brimborso\s+(?:è\s+stato\s+)?(?:emesso|effettuato|elaborato)\b",
                frozenset({_S.REFUNDED, _S.CANCELLED}),
            ),
            "return requested": (
                r"\breso\s+(?:è\s+stato\s+)?(?:richiesto|aperto|registrato|in\s+corso)\b",
                _RETURN_REQUESTED,
            ),
            "returned": (r"AUX(?:restituit|res)[oaie]\b|\bricevuto\s+il\s+(?:tuo\s+|suo\s+)?reso\b", _RETURNED),
            "paid": (r"AUXpagat[oaie]\b|\bpagamento\s+(?:è\s+stato\s+)?(?:ricevuto|confermato)\b", _PAID),
        },
        r"\b(?:se|quando|una\s+volta|appena|dopo|prima|finché|non|mai"
        r"|sarà|saranno|sarebbe|dovrebbe|potrebbe|può|verrà|verranno|previst[oa]|stimat[oa])\b",
        r"\b(?:il\s+(?:tuo\s+|suo\s+)?|quest[o']\s*|l['’])(?:ordine|pacco)\b|\b(?:la\s+(?:tua\s+|sua\s+)?)spedizione\b",
    ),
    "pt": _wording(
        r"\b(?:(?:já\s+)?(?:foi|foram|está|estão|estava)\s+(?:já\s+)?|já\s+|(?:tem|têm)\s+sido\s+)",
        {
            "out for delivery": (
                r"\bsaiu\s+para\s+(?:a\s+)?entrega\b|\bem\s+(?:rota\s+de\s+)?entrega\b|\bem\s+distribuição\b",
                frozenset({_S.OUT_FOR_DELIVERY}),
            ),
            "delivered": (r"AUX(?:entregues?|entregad[oa]s?)\b", _DELIVERED),
            "on its way": (r"\ba\s+caminho\b|\bem\s+trânsito\b", _ON_ITS_WAY),
            "shipped": (
                r"AUX(?:enviad|expedid|despachad)[oa]s?\bPARCEL|\bsaiu\s+do\s+(?:nosso\s+)?armazém\b",
                _AFTER_DISPATCH,
            ),
            "being processed": (
                r"\bem\s+(?:preparação|processamento)\b|\bestá\s+(?:a\s+ser|sendo)\s+(?:preparad|processad)[oa]\b",
                _PROCESSING,
            ),
            "awaiting payment": (
                r"\b(?:aguarda(?:ndo)?|à\s+espera\s+d[oe])\s+(?:o\s+)?pagamento\b|\bpendente\s+de\s+pagamento\b",
                frozenset({_S.PENDING_PAYMENT}),
            ),
            "cancelled": (r"AUX(?:cancelad|anulad)[oa]s?\b", frozenset({_S.CANCELLED})),
            "refunded": (r"AUXreembolsad[oa]s?\b", frozenset({_S.REFUNDED, _S.CANCELLED})),
            "return requested": (
                r"\bdevolução\s+(?:foi\s+|está\s+)?(?:solicitada|pedida|registada|registrada|aberta|em\s+curso)\b",
                _RETURN_REQUESTED,
            ),
            "returned": (r"AUXdevolvid[oa]s?\b|\brecebemos\s+a\s+(?:sua\s+)?devolução\b", _RETURNED),
            "paid": (r"AUXpag[oa]s?\b|\bpagamento\s+(?:foi\s+)?(?:recebido|confirmado)\b", _PAID),
        },
        r"\b(?:se|quando|assim\s+que|logo\s+que|depois|antes|até|uma\s+vez|não|nunca"
        r"|será|serão|seria|deverá|deve|deveria|poderá|pode|vai|vão|previst[oa]|estimad[oa])\b",
        r"\b(?:a\s+sua|o\s+seu|sua|seu|a|o|esta|este|essa|esse)\s+(?:encomenda|pedido|pacote|envio)\b",
    ),
}
"""How replies in each language claim statuses: their own words, and the English ones a reply may slip into."""


def _sentences(reply: str, language: Language) -> Iterator[str]:
    """The reply's sentences; outside English a dot in a figure or a date (`39.90`, `am 3. März`) ends none."""
    if language == "en":
        yield from (m.group(0).strip() for m in _SENTENCE.finditer(reply))
        return
    undotted = re.sub(r"(?<=\d)\.(?=\d)", " ", reply)
    undotted = day_month(LOCALES[language]).sub(lambda m: m.group(0).replace(".", " "), undotted)
    yield from (reply[m.start() : m.end()].strip() for m in _SENTENCE.finditer(undotted))


def _claims(sentence: str, wording: _StatusWording) -> Iterator[tuple[frozenset[OrderStatus], str]]:
    for pattern, statuses, label in wording.claims:
        for match in pattern.finditer(sentence):
            clause = re.split(r"[,;:]", sentence[: match.start()])[-1]
            before = sentence[: match.start()]
            if _CONDITIONAL.search(clause) or _NEGATED.search(before) or _HEDGED.search(before):
                continue
            if wording.not_a_claim is not None and wording.not_a_claim.search(clause):
                continue
            if label == "status":
                word = match.group(0).split()[-1].strip("\"'“:").lower()
                if word not in _STATUS_WORDS:
                    continue
                yield frozenset({_STATUS_WORDS[word]}), word
            else:
                yield statuses, label


def _check_order_status(reply: str, facts: _Grounding) -> list[str]:
    problems = []
    statuses_known = {status for _, status in facts.orders.values()}
    wording = _STATUS_WORDING[facts.language]
    for sentence in _sentences(reply, facts.language):
        claims = list(_claims(sentence, wording))
        if not claims or facts.quotes(sentence):
            continue
        tokens = {_alnum(t) for t in _TOKEN.findall(sentence)}
        refs = {n: facts.orders[n][0] for n in facts.orders if n in tokens}
        for pattern in (ORDER_REFERENCE, ORDER_REFERENCE_TRANSLATED) if facts.language != "en" else (ORDER_REFERENCE,):
            refs.update({_alnum(r): r for r in pattern.findall(sentence) if _alnum(r) not in refs})
        for statuses, label in claims:
            for key, number in sorted(refs.items()):
                if key not in facts.orders:
                    problems.append(f"the reply says order {number} is {label}, but no tool output this turn covers it")
                elif (status := facts.orders[key][1]) not in statuses:
                    problems.append(f"the reply says order {number} is {label}, but its status is {status}")
            if refs or not wording.definite.search(sentence):
                continue
            if not facts.orders:
                problems.append(f"the reply says the order is {label}, but no order was looked up this turn")
            elif statuses_known.isdisjoint(statuses):
                known = ", ".join(sorted(statuses_known))
                problems.append(f"the reply says the order is {label}, but the order status is {known}")
    return problems


def _check_contacts(reply: str, facts: _Grounding, customer_email: str | None, customer_phone: str | None) -> list[str]:
    problems = []
    allowed_emails = facts.emails | ({customer_email.strip().lower()} if customer_email else set())
    for email in EMAIL.findall(reply):
        if email.lower() not in allowed_emails:
            problems.append(f"email address {email} is neither the customer's own nor in this turn's tool outputs")
    without_emails = EMAIL.sub(" ", reply)
    for match in PHONE.finditer(without_emails):
        number = match.group(0).strip()
        digits = re.sub(r"\D", "", number)
        if not 9 <= len(digits) <= 15 or digits in facts.digit_runs:
            continue
        known = facts.phones + ([customer_phone] if customer_phone else [])
        if not any(same_phone(number, phone) for phone in known):
            problems.append(f"phone number {number} is neither the customer's own nor in this turn's tool outputs")
    return problems


def validate_reply(
    reply: str,
    *,
    tool_outputs: list[BaseModel | dict[str, Any]],
    channel: Channel,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    language: Language = "en",
) -> list[str]:
    """Return what is wrong with a drafted reply, as sentences to show the model and the audit; empty means send it.

    Prices, SKUs, stock figures, order statuses and dates in the reply must come from this turn's tool outputs;
    emails and phone numbers must be the customer's own or appear in the outputs (a policy's support contacts);
    the reply must fit the channel. `language` is the one the reply is written in: its prices (`1.299,00 €`),
    dates (`3 de marzo`), stock figures (`quedan 3`) and statuses (`ha sido enviado`) are held to the same standard
    as English ones, and it settles a figure that reads two ways (`1.299` is 1299 in German, 1.299 in English).
    """
    facts = _Grounding.of(tool_outputs, language)
    return [
        *_check_length(reply, channel),
        *_check_prices(reply, facts),
        *_check_skus(reply, facts),
        *_check_references(reply, facts),
        *_check_stock(reply, facts),
        *_check_order_status(reply, facts),
        *_check_dates(reply, facts),
        *_check_contacts(reply, facts, customer_email, customer_phone),
    ]
