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
from hub.text import (
    DAY_MONTH,
    EMAIL,
    ISO_DATE,
    MONTH_DAY,
    MONTH_NUMBERS,
    ORDER_REFERENCE,
    PHONE,
    SKU_LIKE,
    SKU_PREFIX,
    SLASHED_DATE,
    WORD_SKU_PREFIX,
    prices_in,
    same_phone,
    sku_with_prefix,
    word_sku_with_prefix,
)

CHANNEL_LIMITS: dict[Channel, int] = {Channel.WHATSAPP: 4096, Channel.WEB: 4000, Channel.CONSOLE: 16000}
"""The longest reply each channel accepts, in characters."""

_MONEY_KEYS = ("price", "total", "amount", "cost", "fee", "shipping", "refund", "charge", "balance", "credit")
_STOCK_KEYS = ("stock", "quantity")


# --- what the tool outputs say ------------------------------------------------------------------------

_DATES = (ISO_DATE, MONTH_DAY, DAY_MONTH, SLASHED_DATE)
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


def _dates_in(text: str) -> Iterator[tuple[re.Match[str], _Date]]:
    for pattern in _DATES:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            year = int(groups["year"]) if groups.get("year") else None
            if groups.get("month"):
                found = [(MONTH_NUMBERS[groups["month"][:3].lower()], int(groups["day"]))]
            elif groups.get("mnum"):
                found = [(int(groups["mnum"]), int(groups["day"]))]
            else:
                a, b = int(groups["a"]), int(groups["b"])
                found = [(a, b), (b, a)]  # 11/28/2026 or 28/11/2026: either reading may be the grounded one
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

    @classmethod
    def of(cls, outputs: Iterable[BaseModel | Mapping[str, Any] | Any]) -> _Grounding:
        facts = cls()
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
        status = mapping.get("status")
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
        for _, amount, currencies in prices_in(text):
            self.money.add(amount)
            self.currencies.update(c for c in currencies if len(currencies) == 1)
        for _, when in _dates_in(text):
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
    for text, amount, currencies in prices_in(reply):
        if amount not in facts.money:
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


_NOT_TIME = r"(?!(?:days?|weeks?|hours?|minutes?|months?|years?|business|working)\b)"
_STOCK_CLAIMS = (
    re.compile(
        rf"\b(?:only|just)\s+(\d+)\s+(?:{_NOT_TIME}[A-Za-z/-]+\s+){{0,2}}?(?:left|remaining|in stock|available)\b", re.I
    ),
    re.compile(r"\b(\d+)\s+(?:(?:units?|pieces?|pairs?|items?)\s+)?(?:left|remaining|in stock)\b", re.I),
    re.compile(r"\b(\d+)\s+(?:units?|pieces?|pairs?)\s+available\b", re.I),
    re.compile(r"\b(?:stock|quantity|inventory)(?:\s+level)?\s*(?:of|is|:|=)\s*(\d+)\b", re.I),
    re.compile(r"\bin stock\s*[:(]\s*(\d+)", re.I),
)


def _check_stock(reply: str, facts: _Grounding) -> list[str]:
    problems = []
    seen: set[tuple[int, int]] = set()
    for pattern in _STOCK_CLAIMS:
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
    for match, when in _dates_in(reply):
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


def _claims(sentence: str) -> Iterator[tuple[frozenset[OrderStatus], str]]:
    for pattern, statuses, label in _STATUS_CLAIMS:
        for match in pattern.finditer(sentence):
            clause = re.split(r"[,;:]", sentence[: match.start()])[-1]
            before = sentence[: match.start()]
            if _CONDITIONAL.search(clause) or _NEGATED.search(before) or _HEDGED.search(before):
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
    for sentence in (m.group(0).strip() for m in _SENTENCE.finditer(reply)):
        claims = list(_claims(sentence))
        if not claims or facts.quotes(sentence):
            continue
        tokens = {_alnum(t) for t in _TOKEN.findall(sentence)}
        refs = {n: facts.orders[n][0] for n in facts.orders if n in tokens}
        refs.update({_alnum(r): r for r in ORDER_REFERENCE.findall(sentence) if _alnum(r) not in refs})
        for statuses, label in claims:
            for key, number in sorted(refs.items()):
                if key not in facts.orders:
                    problems.append(f"the reply says order {number} is {label}, but no tool output this turn covers it")
                elif (status := facts.orders[key][1]) not in statuses:
                    problems.append(f"the reply says order {number} is {label}, but its status is {status}")
            if refs or not _DEFINITE.search(sentence):
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
) -> list[str]:
    """Return what is wrong with a drafted reply, as sentences to show the model and the audit; empty means send it.

    Prices, SKUs, stock figures, order statuses and dates in the reply must come from this turn's tool outputs;
    emails and phone numbers must be the customer's own or appear in the outputs (a policy's support contacts);
    the reply must fit the channel.
    """
    facts = _Grounding.of(tool_outputs)
    return [
        *_check_length(reply, channel),
        *_check_prices(reply, facts),
        *_check_skus(reply, facts),
        *_check_stock(reply, facts),
        *_check_order_status(reply, facts),
        *_check_dates(reply, facts),
        *_check_contacts(reply, facts, customer_email, customer_phone),
    ]
