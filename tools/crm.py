"""Operator CRM tools: find, profile and brief on customers, note and tag, segment, suggest next steps, draft follow-ups."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from slugify import slugify
from sqlalchemy import ColumnElement, String, cast, func, or_, select

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.prompting.outputs import (
    CrmCustomerSummary,
    CrmFollowupDraft,
    CustomerSegment,
    FollowupChannel,
    NextAction,
    NextBestAction,
    Priority,
    Sentiment,
)
from hub.tenancy.config import TenantConfig
from hub.tenancy.repository import LIFETIME_VALUE_EXCLUDES, CustomerActivity
from hub.text import (
    AMOUNT_WITH_SYMBOL,
    DAY_MONTH,
    ISO_DATE,
    MONTH_DAY,
    MONTH_NUMBERS,
    MONTH_YEAR,
    ORDER_NUMBER,
    PHONE_LIKE,
    PHONE_ONLY,
    format_money,
)
from tools.context import OPERATOR_ONLY, ToolContext, ToolError
from tools.deps import actor, check_call, operator, record
from tools.registry import ToolSpec, tool

CUSTOMER_REF = "The customer's id from find_customers, or their email address, e.g. `jane.doe@example.com`."
RECENT_ORDERS = 5
PROMPT_ORDERS = 20
PROMPT_MESSAGES = 10
SAMPLE_SIZE = 10
LAPSED_DAYS = 90
"""A repeat customer with no order for this long is lapsed: a win-back candidate."""
CENT = Decimal("0.01")

_OPEN_STATUSES = {
    m.OrderStatus.RETURN_REQUESTED: "return requested",
    m.OrderStatus.RETURNED: "returned, refund due",
}
_IN_TRANSIT = frozenset(
    {m.OrderStatus.PAID, m.OrderStatus.PROCESSING, m.OrderStatus.SHIPPED, m.OrderStatus.OUT_FOR_DELIVERY}
)
_SELLING_ACTIONS = frozenset(
    {
        NextAction.RECOMMEND_PRODUCTS,
        NextAction.OFFER_INCENTIVE,
        NextAction.REQUEST_REVIEW,
        NextAction.WIN_BACK,
        NextAction.NOTIFY_BACK_IN_STOCK,
    }
)
"""Actions that contact a customer to sell: never for one who opted out of every channel."""


# --- shared lookups ---------------------------------------------------------------------------------


async def _customer(ctx: ToolContext, ref: str, *, lock: bool = False) -> m.Customer:
    ref = ref.strip()
    try:
        customer_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        customer_id = None
    if customer_id is not None:
        row = await ctx.data.customers.get(customer_id)
    elif "@" in ref:
        row = await ctx.data.customers.by_email(ref)
    else:
        raise ToolError(
            f"customer {ref!r} is neither a customer id nor an email address; look it up with find_customers"
        )
    if row is None:
        raise ToolError(f"Unknown customer {ref!r}")
    if lock:
        # Notes and tags are JSON lists: lock the row so two operators' edits cannot overwrite each other.
        await ctx.session.refresh(row, with_for_update=True)
    return row


async def _shop(ctx: ToolContext) -> tuple[str, TenantConfig]:
    tenant = await ctx.session.get(m.Tenant, ctx.tenant_id)
    if tenant is None:
        raise ToolError(f"Unknown tenant {ctx.tenant_id}")
    return tenant.name, TenantConfig.model_validate(tenant.settings or {})


def _today(config: TenantConfig) -> date:
    return datetime.now(ZoneInfo(config.timezone)).date()


def _tag_contains(tag: str) -> ColumnElement[bool]:
    # Tags are a JSON list of strings: an exact tag appears quoted in the column's text on both backends.
    return func.lower(cast(m.Customer.tags, String)).contains(json.dumps(tag), autoescape=True)


# --- find_customers ---------------------------------------------------------------------------------


class CustomerCard(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    phone: str | None
    tags: list[str]


class FindCustomersInput(BaseModel):
    query: str = Field(
        min_length=1,
        max_length=200,
        description="Words from the customer's name, email address, phone number or one of their tags, "
        "e.g. `jane gmail`, `+1 555 001 3554` or `vip`. Every word must match.",
    )
    limit: int = Field(default=10, ge=1, le=50, description="How many customers to return, 1 to 50.")


class FindCustomersResult(BaseModel):
    customers: list[CustomerCard]
    total: int
    """How many customers match in all; more than `len(customers)` when the limit cut the list."""


def _matches_word(word: str) -> ColumnElement[bool]:
    w = word.lower()
    conditions = [
        func.lower(m.Customer.name).contains(w, autoescape=True),
        func.lower(m.Customer.email).contains(w, autoescape=True),
        _tag_contains(w),
    ]
    digits = re.sub(r"\D", "", word)
    if len(digits) >= 4:
        conditions.append(m.Customer.phone.contains(digits, autoescape=True))
    return or_(*conditions)


def _card(c: m.Customer) -> CustomerCard:
    return CustomerCard(id=c.id, name=c.name, email=c.email, phone=c.phone, tags=list(c.tags or []))


@tool(audiences=OPERATOR_ONLY)
async def find_customers(ctx: ToolContext, args: FindCustomersInput) -> FindCustomersResult:
    """Find customers by name, email address, phone number or tag. Returns their ids for the other customer tools."""
    query = args.query.strip()
    # A phone number typed with spaces or dashes is one search term, compared on its digits.
    words = [re.sub(r"\D", "", query)] if PHONE_ONLY.fullmatch(query) else query.split()
    where = [_matches_word(w) for w in words if w]
    if not where:
        raise ToolError(f"search {args.query!r} has no name, email, phone number or tag to look for")
    rows = await ctx.data.customers.list(*where, order_by=[m.Customer.name, m.Customer.email], limit=args.limit)
    return FindCustomersResult(customers=[_card(c) for c in rows], total=await ctx.data.customers.count(*where))


# --- customer_profile -------------------------------------------------------------------------------


class CustomerRef(BaseModel):
    customer: str = Field(min_length=1, max_length=254, description=CUSTOMER_REF)


class CustomerNote(BaseModel):
    at: datetime
    author: str = ""
    text: str


class OrderBrief(BaseModel):
    number: str
    placed_at: datetime
    updated_at: datetime
    status: m.OrderStatus
    total: Decimal
    currency: str
    items: list[str]
    """`2 × Slub Cotton Crew Tee (M, Navy)`, one per line."""
    eta: date | None = None


class CustomerProfile(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    phone: str | None
    tags: list[str]
    notes: list[CustomerNote]
    marketing_opt_in: bool
    whatsapp_opt_in: bool
    customer_since: datetime
    order_count: int
    """Every order placed, whatever its status."""
    lifetime_value: Decimal
    """Sum of order totals, leaving out unpaid, cancelled, returned and refunded orders."""
    currency: str
    average_order_value: Decimal | None
    """Lifetime value over the orders it counts; None when none counts."""
    last_order_at: datetime | None
    last_order_number: str | None
    last_order_status: m.OrderStatus | None
    days_since_last_order: int | None
    open_issues: list[str]
    """Orders that need someone now: returns waiting, refunds due, late deliveries."""
    recent_orders: list[OrderBrief]
    """Newest first, at most five."""


def _order_brief(o: m.Order) -> OrderBrief:
    items = []
    for item in o.items or []:
        extras = ", ".join(str(item[k]) for k in ("size", "colour") if item.get(k))
        line = f"{item.get('quantity', 1)} × {item.get('title') or item.get('sku', '?')}"
        items.append(f"{line} ({extras})" if extras else line)
    return OrderBrief(
        number=o.number,
        placed_at=o.placed_at,
        updated_at=o.updated_at,
        status=o.status,
        total=o.total,
        currency=o.currency,
        items=items,
        eta=o.eta,
    )


def _open_issues(orders: list[m.Order], today: date) -> list[str]:
    issues = []
    for o in orders:
        if o.status in _OPEN_STATUSES:
            issues.append(f"order {o.number} {_OPEN_STATUSES[o.status]} (since {o.updated_at:%Y-%m-%d})")
        elif o.status in _IN_TRANSIT and o.eta is not None and o.eta < today:
            issues.append(f"order {o.number} is late: expected {o.eta:%Y-%m-%d}, still {o.status}")
    return issues


def _notes(raw: list[dict[str, Any]] | None) -> list[CustomerNote]:
    notes = []
    for note in raw or []:
        try:
            notes.append(CustomerNote.model_validate(note))
        except ValidationError:
            continue  # one malformed note from an import must not hide the whole profile
    return notes


async def _profile(
    ctx: ToolContext, customer: m.Customer, *, today: date, currency: str
) -> tuple[CustomerProfile, list[m.Order]]:
    """Build the profile and return the customer's orders, newest first, for callers that need more of them."""
    data = ctx.data
    orders = await data.orders.list(
        m.Order.customer_id == customer.id, order_by=[m.Order.placed_at.desc(), m.Order.number.desc()]
    )
    [(_, order_count, lifetime_value, _)] = await data.customer_activity.list(m.Customer.id == customer.id)
    lifetime_value = Decimal(lifetime_value).quantize(CENT)
    counted = sum(1 for o in orders if o.status not in LIFETIME_VALUE_EXCLUDES)
    last = orders[0] if orders else None
    profile = CustomerProfile(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        tags=list(customer.tags or []),
        notes=_notes(customer.notes),
        marketing_opt_in=customer.marketing_opt_in,
        whatsapp_opt_in=customer.whatsapp_opt_in,
        customer_since=customer.created_at,
        order_count=order_count,
        lifetime_value=lifetime_value,
        currency=last.currency if last else currency,
        average_order_value=(lifetime_value / counted).quantize(CENT) if counted else None,
        last_order_at=last.placed_at if last else None,
        last_order_number=last.number if last else None,
        last_order_status=last.status if last else None,
        days_since_last_order=(datetime.now(UTC) - last.placed_at).days if last else None,
        open_issues=_open_issues(orders, today),
        recent_orders=[_order_brief(o) for o in orders[:RECENT_ORDERS]],
    )
    return profile, orders


@tool(audiences=OPERATOR_ONLY)
async def customer_profile(ctx: ToolContext, args: CustomerRef) -> CustomerProfile:
    """One customer's record: contact details, tags, notes, opt-ins, order count, lifetime value, last order, open
    issues and recent orders."""
    customer = await _customer(ctx, args.customer)
    _, config = await _shop(ctx)
    profile, _ = await _profile(ctx, customer, today=_today(config), currency=config.currency)
    return profile


# --- add_note, tag_customer -------------------------------------------------------------------------


class AddNoteInput(CustomerRef):
    text: str = Field(
        min_length=1,
        max_length=1000,
        description="The note, as the operator wants it kept, e.g. `Prefers WhatsApp for order updates.`",
    )


class CustomerNotesResult(BaseModel):
    customer_id: uuid.UUID
    notes: list[CustomerNote]
    """Every note on the customer, oldest first, the new one last."""


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def add_note(ctx: ToolContext, args: AddNoteInput) -> CustomerNotesResult:
    """Add a note to a customer's record, signed by the operator."""
    customer = await _customer(ctx, args.customer, lock=True)
    op = await operator(ctx)
    by = f"operator:{op.email}" if op is not None else "operator"
    author = (op.name or op.email) if op is not None else "Operator"
    note = {"at": datetime.now(UTC).isoformat(), "author": author, "text": args.text.strip()}
    customer.notes = [*(customer.notes or []), note]  # a new list: JSON columns do not track in-place changes
    await record(ctx, "customer.note_added", str(customer.id), {"text": note["text"]}, by=by)
    await ctx.session.flush()
    return CustomerNotesResult(customer_id=customer.id, notes=_notes(customer.notes))


def _normalise_tags(tags: list[str]) -> list[str]:
    out = []
    for tag in tags:
        clean = slugify(tag, max_length=32)
        if not clean:
            raise ValueError(f"tag {tag!r} has no letters or digits")
        if clean not in out:
            out.append(clean)
    return out


class TagCustomerInput(CustomerRef):
    add: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Tags to add, e.g. `vip` or `gift buyer` (stored lowercase with hyphens: `gift-buyer`).",
    )
    remove: list[str] = Field(default_factory=list, max_length=10, description="Tags to remove.")

    @field_validator("add", "remove")
    @classmethod
    def _clean(cls, tags: list[str]) -> list[str]:
        return _normalise_tags(tags)

    @model_validator(mode="after")
    def _something_to_do(self) -> TagCustomerInput:
        if not self.add and not self.remove:
            raise ValueError("give at least one tag to add or remove")
        if overlap := set(self.add) & set(self.remove):
            raise ValueError(f"tags {sorted(overlap)} are both added and removed")
        return self


class CustomerTagsResult(BaseModel):
    customer_id: uuid.UUID
    tags: list[str]
    added: list[str]
    """Tags that were not there before."""
    removed: list[str]
    """Tags that were there and are gone."""


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def tag_customer(ctx: ToolContext, args: TagCustomerInput) -> CustomerTagsResult:
    """Add or remove tags on a customer, e.g. `vip`."""
    customer = await _customer(ctx, args.customer, lock=True)
    before = list(customer.tags or [])
    removed = [t for t in args.remove if t in before]
    added = [t for t in args.add if t not in before]
    customer.tags = [t for t in before if t not in removed] + added
    if added or removed:
        await record(ctx, "customer.tagged", str(customer.id), {"added": added, "removed": removed})
        await ctx.session.flush()
    return CustomerTagsResult(customer_id=customer.id, tags=list(customer.tags), added=added, removed=removed)


# --- segments ---------------------------------------------------------------------------------------


class SegmentRule(BaseModel):
    """Who belongs to a segment; every condition given must hold."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list, description="Customers carrying every one of these tags.")
    min_lifetime_value: Decimal | None = Field(default=None, ge=0, description="Lifetime value at least this.")
    max_lifetime_value: Decimal | None = Field(default=None, ge=0, description="Lifetime value at most this.")
    min_orders: int | None = Field(default=None, ge=0, description="At least this many orders, of any status.")
    max_orders: int | None = Field(default=None, ge=0, description="At most this many orders; 0 means never ordered.")
    ordered_within_days: int | None = Field(default=None, ge=1, description="Placed an order in the last N days.")
    not_ordered_in_days: int | None = Field(
        default=None, ge=1, description="No order in the last N days; customers who never ordered match too."
    )
    marketing_opt_in: bool | None = Field(default=None, description="Opted in to (true) or out of (false) marketing.")
    whatsapp_opt_in: bool | None = Field(default=None, description="Opted in to (true) or out of (false) WhatsApp.")

    @model_validator(mode="after")
    def _satisfiable(self) -> SegmentRule:
        low, high = self.min_lifetime_value, self.max_lifetime_value
        if low is not None and high is not None and low > high:
            raise ValueError(f"a lifetime value of at least {low} and at most {high} matches nobody")
        if self.min_orders is not None and self.max_orders is not None and self.min_orders > self.max_orders:
            raise ValueError(f"at least {self.min_orders} and at most {self.max_orders} orders matches nobody")
        within, not_in = self.ordered_within_days, self.not_ordered_in_days
        if within is not None and not_in is not None and within <= not_in:
            raise ValueError(f"ordering in the last {within} days and not in the last {not_in} matches nobody")
        return self

    def describe(self) -> str:
        """Say the rule in words, for the operator to check the interpretation."""
        parts = []
        if self.tags:
            parts.append("tagged " + " and ".join(self.tags))
        low, high = self.min_lifetime_value, self.max_lifetime_value
        if low is not None and high is not None:
            parts.append(f"lifetime value {low}–{high}")
        elif low is not None:
            parts.append(f"lifetime value at least {low}")
        elif high is not None:
            parts.append(f"lifetime value at most {high}")
        fewest, most = self.min_orders, self.max_orders
        if most == 0:
            parts.append("no orders")
        elif fewest is not None and fewest == most:
            parts.append(f"exactly {fewest} order{'s' if fewest != 1 else ''}")
        else:
            if fewest is not None:
                parts.append(f"at least {fewest} order{'s' if fewest != 1 else ''}")
            if most is not None:
                parts.append(f"at most {most} order{'s' if most != 1 else ''}")
        if self.ordered_within_days is not None:
            parts.append(f"ordered in the last {self.ordered_within_days} days")
        if self.not_ordered_in_days is not None:
            parts.append(f"no order in the last {self.not_ordered_in_days} days")
        for label, value in (("marketing", self.marketing_opt_in), ("WhatsApp", self.whatsapp_opt_in)):
            if value is not None:
                parts.append(f"opted {'in to' if value else 'out of'} {label}")
        return "customers: " + "; ".join(parts) if parts else "all customers"


_NUMBER_WORDS = {
    w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
} | {"a": 1, "an": 1, "once": 1, "twice": 2}
_NUM = r"\d[\d,]*(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_DURATION = re.compile(rf"\b(?P<n>{_NUM}|an?)\s*(?P<unit>day|week|month|year)s?\b")
_CLAUSE_BREAK = re.compile(r"[,;]|\b(?:and|but|who|which|that|with|or)\b")
_ORDERING = re.compile(r"order|bought|buy|purchas|shop|active|lapsed|spen[dt]")
_NEGATION = re.compile(r"\b(?:not|no|never|without|nothing|inactive|lapsed)\b|n't\b")
_MONEY_CONTEXT = re.compile(r"\bspen[dt]|spending|\bltv\b|lifetime value|\bvalue\b|revenue|worth|\$|dollars?|usd")
_COUNT_UNIT = re.compile(r"orders?|purchases?|times")
_GREATER = r"over|more than|above|greater than|exceeding"
_AT_LEAST = r"at least|no less than|minimum of|min\.?"
_LESS = r"under|less than|below|fewer than"
_AT_MOST = r"at most|no more than|up to|maximum of|max\.?"
_AMOUNT = rf"(?P<cur>\$)?\s?(?P<num>{_NUM})(?![\d,.]*\d)(?P<k>k\b)?(?!\s*(?:days?|weeks?|months?|years?)\b)"
_UNIT = r"(?:\s*(?P<unit>orders?|purchases?|times|dollars|usd)\b)?"
_COMPARISONS = (
    re.compile(rf"\b(?P<cmp>{_GREATER}|{_AT_LEAST}|{_LESS}|{_AT_MOST})\s+{_AMOUNT}{_UNIT}"),
    re.compile(rf"{_AMOUNT}\s*(?P<cmp>\+|or more|or over|or less|or fewer){_UNIT}"),
)
_BETWEEN = re.compile(
    rf"\bbetween\s+(?P<cur>\$)?\s?(?P<lo>{_NUM})(?P<klo>k\b)?\s+and\s+\$?\s?(?P<hi>{_NUM})(?P<khi>k\b)?{_UNIT}"
)
_ONE_TIME = re.compile(
    r"\bone[- ]time (?:buyers?|customers?|shoppers?|purchasers?)\b|\bordered (?:only |just )?once\b"
    r"|\b(?:only|just|exactly) (?:one|1|a single) order\b|\bsingle[- ]order customers?\b"
)
_REPEAT = re.compile(
    r"\brepeat (?:buyers?|customers?|shoppers?|purchasers?)\b|\breturning customers?\b"
    r"|\bordered (?:more than once|again|twice or more)\b|\bmultiple orders\b"
)
_NEVER = re.compile(
    r"\bnever (?:ordered|bought|purchased|placed an order)\b|\bno orders?\b|\bwithout (?:any )?orders?\b"
    r"|\b(?:have|has)(?: not|n't) (?:yet )?(?:ordered|bought|purchased)(?: anything)?\b|\bzero orders\b"
)
_LAPSED = re.compile(r"\b(?:lapsed|inactive|churned|win[- ]?back)\b")
_EXPLICIT_TAG = re.compile(
    r"\btagged (?:as |with )?[\"']?(?P<tag>[\w-]+)|\bwith (?:the )?tag [\"']?(?P<tag2>[\w-]+)|#(?P<tag3>[\w-]+)"
)
_KEYWORD_TAGS = ((re.compile(r"\bvips?\b"), "vip"), (re.compile(r"\bwholesale\b|\bb2b\b"), "wholesale"))
_WHATSAPP_OUT = re.compile(r"\b(?:opted[- ]out of|unsubscribed from|not on|no|without) whats ?app\b")
_WHATSAPP_IN = re.compile(r"\bwhats ?app\b")
_MARKETING_OUT = re.compile(
    r"\bopted[- ]out(?: of (?:marketing|emails?|the newsletter|newsletters?))?\b|\bunsubscribed\b"
    r"|\bnot subscribed\b|\bno (?:marketing|newsletter)(?: consent)?\b|\bwithout marketing consent\b"
    r"|\bdo not (?:contact|email)\b|\bnon[- ]subscribers?\b"
)
_MARKETING_IN = re.compile(
    r"\bnewsletters?\b|\bsubscribers?\b|\bsubscribed\b|\bopted[- ]in\b|\bopt[- ]ins?\b"
    r"|\bmarketing (?:consent|emails?|list)\b|\baccepts? marketing\b|\bemail list\b"
)
_EVERYONE = re.compile(r"\b(?:all|every|everyone|everybody)\b")


def _number(text: str, thousands: bool = False) -> Decimal:
    value = Decimal(_NUMBER_WORDS[text]) if text in _NUMBER_WORDS else Decimal(text.replace(",", ""))
    return value * 1000 if thousands else value


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the bounds of the clause around text[start:end], between commas, `and`, `who` and the like."""
    before = [b.end() for b in _CLAUSE_BREAK.finditer(text, 0, start)]
    after = _CLAUSE_BREAK.search(text, end)
    return (before[-1] if before else 0), (after.start() if after else len(text))


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def parse_segment(description: str) -> SegmentRule:
    """Read a segment description into a rule, deterministically; ToolError when no condition is recognised.

    "VIPs who have not ordered in 60 days" → tags=[vip], not_ordered_in_days=60; "customers who spent over
    $500" → min_lifetime_value=500.01 (amounts are whole cents, so "over" is "at least one cent more").
    """
    text = " " + description.lower().replace("’", "'").replace("‘", "'") + " "
    original = text  # matched phrases are blanked out of `text`, keeping positions, so cues are read here
    rule: dict[str, Any] = {"tags": []}

    for match in _EXPLICIT_TAG.finditer(text):
        tag = slugify(match.group("tag") or match.group("tag2") or match.group("tag3"), max_length=32)
        if tag and tag not in rule["tags"]:
            rule["tags"].append(tag)
        text = _blank(text, *match.span())

    def bound(kind: Literal["money", "orders"], side: Literal["min", "max"], value: Decimal, strict: bool) -> None:
        step = CENT if kind == "money" else Decimal(1)
        if strict:
            value = value + step if side == "min" else value - step
        key = f"{side}_lifetime_value" if kind == "money" else f"{side}_orders"
        rule[key] = value.quantize(CENT) if kind == "money" else int(value)

    def kind_of(match: re.Match[str], unit: str | None) -> Literal["money", "orders"] | None:
        if unit and _COUNT_UNIT.fullmatch(unit):
            return "orders"
        if match.group("cur") or unit in ("dollars", "usd"):
            return "money"
        lo, hi = _clause(text, *match.span())
        window = original[lo:hi]
        if _MONEY_CONTEXT.search(window):
            return "money"
        if re.search(r"order|purchase|bought", window):
            return "orders"
        return None

    for match in list(_BETWEEN.finditer(text)):
        kind = kind_of(match, match.group("unit"))
        if kind is None:
            continue
        bound(kind, "min", _number(match.group("lo"), bool(match.group("klo"))), strict=False)
        bound(kind, "max", _number(match.group("hi"), bool(match.group("khi"))), strict=False)
        text = _blank(text, *match.span())
    for match in [found for pattern in _COMPARISONS for found in pattern.finditer(text)]:
        kind = kind_of(match, match.group("unit"))
        if kind is None:
            continue
        value = _number(match.group("num"), bool(match.group("k")))
        comparator = match.group("cmp")
        if re.fullmatch(_GREATER, comparator):
            bound(kind, "min", value, strict=True)
        elif re.fullmatch(_LESS, comparator):
            bound(kind, "max", value, strict=True)
        elif re.fullmatch(_AT_MOST, comparator) or comparator in ("or less", "or fewer"):
            bound(kind, "max", value, strict=False)
        else:
            bound(kind, "min", value, strict=False)
        text = _blank(text, *match.span())

    for match in list(_DURATION.finditer(text)):
        lo, hi = _clause(text, *match.span())
        window = original[lo:hi]
        if not _ORDERING.search(window):
            continue
        days = int(_number(match.group("n"))) * _UNIT_DAYS[match.group("unit")]
        rule["not_ordered_in_days" if _NEGATION.search(window) else "ordered_within_days"] = days
        text = _blank(text, lo, hi)

    for pattern, key, value in ((_ONE_TIME, "exact", 1), (_REPEAT, "min_orders", 2), (_NEVER, "max_orders", 0)):
        if match := pattern.search(text):
            if key == "exact":
                rule["min_orders"] = rule["max_orders"] = value
            else:
                rule[key] = value
            text = _blank(text, *match.span())

    for pattern, tag in _KEYWORD_TAGS:
        if match := pattern.search(text):
            if tag not in rule["tags"]:
                rule["tags"].append(tag)
            text = _blank(text, *match.span())

    for field, out, into in (
        ("whatsapp_opt_in", _WHATSAPP_OUT, _WHATSAPP_IN),
        ("marketing_opt_in", _MARKETING_OUT, _MARKETING_IN),
    ):
        if match := out.search(text):
            rule[field] = False
            text = _blank(text, *match.span())
        elif match := into.search(text):
            rule[field] = True
            text = _blank(text, *match.span())

    if "not_ordered_in_days" not in rule and "ordered_within_days" not in rule and _LAPSED.search(text):
        rule["not_ordered_in_days"] = LAPSED_DAYS
        rule["min_orders"] = max(rule.get("min_orders") or 1, 1)

    understood = any(v not in (None, []) for v in rule.values())
    if not understood and not _EVERYONE.search(text):
        raise ToolError(
            f"could not read a segment from {description!r}; describe it with tags, spend, order counts, "
            "recency or opt-in, e.g. `VIPs who have not ordered in 60 days`, `customers who spent over $500`, "
            "`newsletter subscribers with no order in 90 days`"
        )
    try:
        return SegmentRule.model_validate(rule)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors(include_url=False))
        raise ToolError(f"segment {description!r} cannot match anyone: {problems}") from None


def segment_filters(rule: SegmentRule, activity: CustomerActivity, *, now: datetime) -> list[ColumnElement[bool]]:
    """Turn a rule into SQL conditions over `activity`'s columns."""
    where = [_tag_contains(tag) for tag in rule.tags]
    if rule.min_lifetime_value is not None:
        where.append(activity.lifetime_value >= rule.min_lifetime_value)
    if rule.max_lifetime_value is not None:
        where.append(activity.lifetime_value <= rule.max_lifetime_value)
    if rule.min_orders is not None:
        where.append(activity.order_count >= rule.min_orders)
    if rule.max_orders is not None:
        where.append(activity.order_count <= rule.max_orders)
    if rule.ordered_within_days is not None:
        where.append(activity.last_order_at >= now - timedelta(days=rule.ordered_within_days))
    if rule.not_ordered_in_days is not None:
        cutoff = now - timedelta(days=rule.not_ordered_in_days)
        where.append(or_(activity.last_order_at.is_(None), activity.last_order_at < cutoff))
    if rule.marketing_opt_in is not None:
        where.append(m.Customer.marketing_opt_in.is_(rule.marketing_opt_in))
    if rule.whatsapp_opt_in is not None:
        where.append(m.Customer.whatsapp_opt_in.is_(rule.whatsapp_opt_in))
    return where


class SegmentMember(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    order_count: int
    lifetime_value: Decimal
    last_order_at: datetime | None


class SegmentCustomersInput(BaseModel):
    description: str = Field(
        min_length=3,
        max_length=300,
        description="Who to include, in plain words, e.g. `VIPs who have not ordered in 60 days`, "
        "`customers who spent over $500`, `newsletter subscribers with no order in 90 days`.",
    )


class SegmentResult(BaseModel):
    description: str
    rule: SegmentRule
    interpretation: str
    """The rule in words: check it says what was meant."""
    count: int
    sample: list[SegmentMember]
    """Up to ten members, highest lifetime value first."""


async def _evaluate(ctx: ToolContext, rule: SegmentRule) -> tuple[int, list[SegmentMember]]:
    activity = ctx.data.customer_activity
    where = segment_filters(rule, activity, now=datetime.now(UTC))
    rows = await activity.list(
        *where, order_by=[activity.lifetime_value.desc(), m.Customer.name, m.Customer.email], limit=SAMPLE_SIZE
    )
    sample = [
        SegmentMember(
            id=c.id,
            name=c.name,
            email=c.email,
            order_count=count,
            lifetime_value=Decimal(value).quantize(CENT),
            last_order_at=last,
        )
        for c, count, value, last in rows
    ]
    return await activity.count(*where), sample


@tool(audiences=OPERATOR_ONLY)
async def segment_customers(ctx: ToolContext, args: SegmentCustomersInput) -> SegmentResult:
    """Count and preview the customers matching a plain-words description such as `VIPs who have not ordered in 60
    days`; shows how the description was read."""
    rule = parse_segment(args.description)
    count, sample = await _evaluate(ctx, rule)
    return SegmentResult(
        description=args.description, rule=rule, interpretation=rule.describe(), count=count, sample=sample
    )


class SaveSegmentInput(SegmentCustomersInput):
    name: str = Field(min_length=1, max_length=100, description="A short name for the segment, e.g. `Lapsed VIPs`.")
    replace: bool = Field(
        default=False, description="Overwrite a saved segment with the same name; only when the operator asked to."
    )


class SavedSegment(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    rule: SegmentRule
    interpretation: str
    member_count: int
    replaced: bool


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def save_segment(ctx: ToolContext, args: SaveSegmentInput) -> SavedSegment:
    """Save a segment under a name so it can be reused for campaigns."""
    rule = parse_segment(args.description)
    count, _ = await _evaluate(ctx, rule)
    name = args.name.strip()
    by = await actor(ctx)
    existing = await ctx.data.segments.by_name(name)
    if existing is not None and not args.replace:
        raise ToolError(f"a segment named {existing.name!r} already exists; pick another name or replace it")
    values = {"description": args.description, "rule": rule.model_dump(mode="json"), "member_count": count}
    if existing is not None:
        for key, value in values.items():
            setattr(existing, key, value)
        row = existing
    else:
        row = ctx.data.segments.add(name=name, created_by=by, **values)
    await ctx.session.flush()
    await record(ctx, "segment.saved", name, {"segment_id": str(row.id), **values}, by=by)
    return SavedSegment(
        id=row.id,
        name=row.name,
        description=row.description,
        rule=rule,
        interpretation=rule.describe(),
        member_count=count,
        replaced=existing is not None,
    )


# --- next_best_action -------------------------------------------------------------------------------


class NextBestActionResult(BaseModel):
    customer_id: uuid.UUID
    action: NextAction
    reason: str
    priority: Priority
    engine: Literal["llm", "deterministic"]
    """`deterministic` when the rules below answered instead of a model."""


def _orders(count: int) -> str:
    return f"{count} order{'s' if count != 1 else ''}"


def _facts(p: CustomerProfile) -> str:
    last = f"last order {p.last_order_number} on {p.last_order_at:%Y-%m-%d} ({p.days_since_last_order} days ago)"
    value = format_money(p.lifetime_value, p.currency, style="grouped")
    return f"{_orders(p.order_count)}, {value} lifetime value, {last}"


def suggest_next_action(profile: CustomerProfile, today: date) -> NextBestAction:
    """Choose the next action from the profile alone: the fallback when no model answers."""
    p = profile

    def nba(action: NextAction, reason: str, priority: Priority) -> NextBestAction:
        return NextBestAction(action=action, reason=reason[:400], priority=priority)

    if p.open_issues:
        late = any("late" in issue for issue in p.open_issues)
        return nba(
            NextAction.RESOLVE_OPEN_ISSUE,
            "Open: " + "; ".join(p.open_issues[:3]) + ".",
            Priority.URGENT if late else Priority.HIGH,
        )
    if not p.order_count or p.last_order_at is None:
        return nba(NextAction.NO_ACTION, "No orders yet: too little history to justify contacting them.", Priority.LOW)
    contactable = p.marketing_opt_in or p.whatsapp_opt_in
    vip = "vip" in p.tags
    days = p.days_since_last_order or 0
    if days >= LAPSED_DAYS and p.order_count >= 2:
        if not contactable:
            return nba(
                NextAction.NO_ACTION,
                f"Lapsed but opted out of marketing on every channel, so do not contact: {_facts(p)}.",
                Priority.LOW,
            )
        who = "VIP customer" if vip else "Repeat customer"
        high = vip or p.lifetime_value >= 500
        return nba(
            NextAction.WIN_BACK,
            f"{who} has lapsed: {_facts(p)}.",
            Priority.HIGH if high else Priority.MEDIUM,
        )
    last = p.recent_orders[0]
    if last.status is m.OrderStatus.DELIVERED:
        since_delivery = (today - last.updated_at.date()).days
        if 7 <= since_delivery <= 30 and contactable:
            return nba(
                NextAction.REQUEST_REVIEW,
                f"Order {last.number} was delivered on {last.updated_at:%Y-%m-%d}, {since_delivery} days ago, "
                "with no open issue.",
                Priority.LOW,
            )
        if since_delivery < 7:
            return nba(
                NextAction.SEND_FOLLOWUP,
                f"Order {last.number} was delivered on {last.updated_at:%Y-%m-%d}: check it arrived as hoped.",
                Priority.LOW,
            )
    if p.order_count >= 3 and days < LAPSED_DAYS and contactable:
        return nba(
            NextAction.RECOMMEND_PRODUCTS,
            f"Regular buyer: {_facts(p)}.",
            Priority.MEDIUM,
        )
    return nba(NextAction.NO_ACTION, f"Nothing needs doing now: {_facts(p)}.", Priority.LOW)


def _action_rules(profile: CustomerProfile) -> Callable[[NextBestAction], list[str]]:
    def check(value: NextBestAction) -> list[str]:
        problems = []
        if profile.open_issues and value.action not in (NextAction.RESOLVE_OPEN_ISSUE, NextAction.ESCALATE_TO_HUMAN):
            problems.append(
                f"the customer has an open issue ({profile.open_issues[0]}): choose resolve_open_issue or "
                "escalate_to_human"
            )
        if value.action in _SELLING_ACTIONS and not (profile.marketing_opt_in or profile.whatsapp_opt_in):
            problems.append(f"{value.action} contacts a customer who opted out of marketing on every channel")
        return problems

    return check


async def _conversation_text(ctx: ToolContext, customer_id: uuid.UUID) -> str:
    conversations = select(m.Conversation.id).where(
        m.Conversation.tenant_id == ctx.tenant_id, m.Conversation.customer_id == customer_id
    )
    messages = await ctx.data.messages.list(
        m.Message.conversation_id.in_(conversations), order_by=[m.Message.created_at.desc()], limit=PROMPT_MESSAGES
    )
    return "\n".join(f"{msg.created_at:%Y-%m-%d %H:%M} {msg.role}: {msg.content[:500]}" for msg in reversed(messages))


def _orders_text(orders: list[m.Order], limit: int | None = PROMPT_ORDERS) -> str:
    lines = []
    for o in orders[:limit]:
        brief = _order_brief(o)
        eta = f", eta {brief.eta}" if brief.eta else ""
        lines.append(
            f"{brief.number} placed {brief.placed_at:%Y-%m-%d}, {brief.status}{eta}, "
            f"{format_money(brief.total, brief.currency, style='grouped')}: {'; '.join(brief.items)}"
        )
    return "\n".join(lines)


async def _model_context(
    ctx: ToolContext, ref: str, call: CallContext
) -> tuple[m.Customer, str, date, CustomerProfile, list[m.Order]]:
    """Load what a model-backed CRM tool shows the model about one customer, after checking the call's tenant."""
    check_call(ctx, call)
    customer = await _customer(ctx, ref)
    shop_name, _ = await _shop(ctx)
    today = _today(call.tenant)
    profile, orders = await _profile(ctx, customer, today=today, currency=call.tenant.currency)
    return customer, shop_name, today, profile, orders


@tool(audiences=OPERATOR_ONLY)
async def next_best_action(
    ctx: ToolContext, args: CustomerRef, *, gateway: Gateway, call: CallContext
) -> NextBestActionResult:
    """Suggest the single most useful next step for one customer, with the reason and a priority."""
    customer, shop_name, today, profile, orders = await _model_context(ctx, args.customer, call)
    result = await gateway.generate(
        call,
        use_case="next_best_action",
        variables={
            "shop_name": shop_name,
            "today": today.isoformat(),
            "customer": profile.model_dump_json(exclude={"recent_orders"}, indent=1),
            "orders": _orders_text(orders),
            "conversations": await _conversation_text(ctx, customer.id),
        },
        fallback=lambda _refusal: suggest_next_action(profile, today),
        validators=[_action_rules(profile)],
        output_model=NextBestAction,
    )
    value = result.value
    return NextBestActionResult(
        customer_id=customer.id,
        action=value.action,
        reason=value.reason,
        priority=value.priority,
        engine=result.engine,
    )


# --- draft_followup ---------------------------------------------------------------------------------


class DraftFollowupInput(CustomerRef):
    purpose: str = Field(
        min_length=3,
        max_length=500,
        description="What the message is for, in the operator's words, with any offer's exact terms, e.g. "
        "`thank her for her last order and offer 10% off the next one with code THANKS10`.",
    )
    channel: FollowupChannel = Field(default=FollowupChannel.EMAIL, description="`email` or `whatsapp`.")


class FollowupDraftResult(BaseModel):
    """A draft for the operator to review; nothing is sent."""

    customer_id: uuid.UUID
    channel: FollowupChannel
    subject: str | None
    body: str
    engine: Literal["llm", "deterministic"]
    notes_for_operator: list[str]
    """What to check or add before sending."""


_OFFER = re.compile(
    r"\b(?:discount|voucher|coupon|promo(?:tion)?(?: code)?|gift card|store credit|cashback|refund"
    r"|free (?:shipping|delivery|returns?|gift))\b|\d+(?:\.\d+)?\s?%|\bcode\s+[A-Z0-9]{3,}\b",
    re.IGNORECASE,
)
_PURPOSE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("issue", re.compile(r"\b(?:return|refund|late|delay|problem|issue|complain|sorry|apolog|missing|damaged)")),
    ("review", re.compile(r"\b(?:review|feedback|rating|rate)\b")),
    ("win_back", re.compile(r"\b(?:win[- ]?back|miss(?:ed)?|come back|lapsed|been a while|re-?engage|haven't)")),
    ("thanks", re.compile(r"\b(?:thank|thanks|grateful|appreciat)")),
)


def _draft_rules(
    channel: FollowupChannel, purpose: str, context: str, order_numbers: set[str]
) -> Callable[[CrmFollowupDraft], list[str]]:
    allowed = f"{purpose}\n{context}".lower().replace(" ", "")
    purpose_offers = bool(_OFFER.search(purpose))

    def check(draft: CrmFollowupDraft) -> list[str]:
        problems = []
        if draft.channel != channel:
            problems.append(f"channel must be {channel.value!r}, as requested")
        text = f"{draft.subject or ''}\n{draft.body}"
        for number in sorted(set(ORDER_NUMBER.findall(text)) - order_numbers):
            problems.append(f"order {number} is not one of this customer's orders")
        for match in _OFFER.finditer(text):
            said = match.group(0)
            if said.lower().replace(" ", "") in allowed:
                continue  # stated by the operator, or in the records (e.g. a refund that is due)
            if not purpose_offers:
                problems.append(f"the draft offers {said!r} but the request states no offer: remove it")
            elif re.search(r"\d|code", said, re.IGNORECASE):
                problems.append(f"{said!r} is not in the request: copy the offer's terms exactly")
        for amount in AMOUNT_WITH_SYMBOL.findall(text):
            if amount.replace(" ", "").lower() not in allowed:
                problems.append(f"the amount {amount} is not in the request or the records")
        return list(dict.fromkeys(problems))

    return check


def _purpose_kind(purpose: str) -> str:
    lowered = purpose.lower()
    return next((kind for kind, pattern in _PURPOSE_KINDS if pattern.search(lowered)), "check_in")


def _item_title(order: m.Order | None) -> str | None:
    items = (order.items or []) if order is not None else []
    return str(items[0].get("title")) if items and items[0].get("title") else None


def followup_template(
    *,
    profile: CustomerProfile,
    orders: list[m.Order],
    purpose: str,
    channel: FollowupChannel,
    shop_name: str,
    sender_name: str,
) -> CrmFollowupDraft:
    """Write the follow-up from a template chosen by the purpose's words: the fallback when no model answers."""
    first_name = profile.name.split()[0] if profile.name.strip() else "there"
    last = orders[0] if orders else None
    item = _item_title(last)
    kind = _purpose_kind(purpose)
    closing = "Just reply to this message if there is anything we can help with."
    if kind == "issue":
        issue = next((o for o in orders if o.status in _OPEN_STATUSES), last)
        if issue is None:
            line, subject = "I'm following up on your recent message to us.", "Following up"
        else:
            status_line = {
                m.OrderStatus.RETURN_REQUESTED: "We have your return request and will confirm as soon as it is "
                "processed.",
                m.OrderStatus.RETURNED: "Your return has reached us, and we will confirm as soon as the refund "
                "is issued.",
            }.get(issue.status, "We are looking into it and will keep you posted.")
            line = f"I'm following up on your order {issue.number}. {status_line}"
            subject = f"An update on your order {issue.number}"
    elif kind == "review" and last is not None:
        thing = f"your {item}" if item else f"your order {last.number}"
        line = f"We hope you're enjoying {thing}. If you have a minute, we'd love to hear what you think of it."
        subject = "How are you finding your order?"
    elif kind == "win_back" and last is not None:
        line = (
            f"It's been a while since your last order with us in {last.placed_at:%B %Y}, so we wanted to say "
            "hello. If there's anything you're looking for, we'd be glad to help you find it."
        )
        subject = f"Hello from {shop_name}"
    elif kind == "thanks" and last is not None:
        line = f"Thank you for your order {last.number}." + (f" We hope you love your {item}." if item else "")
        subject = "Thank you for your order"
    elif last is not None:
        line = f"We wanted to check in after your order {last.number}. Is everything as you hoped?"
        subject = f"Checking in from {shop_name}"
    else:
        line, subject = f"We wanted to say hello from {shop_name}.", f"Hello from {shop_name}"
    if channel is FollowupChannel.WHATSAPP:
        signature = sender_name.split()[0] if sender_name.strip() else shop_name
        body = f"Hi {first_name}, {line} {closing}\n{signature}"
        return CrmFollowupDraft(subject=None, body=body[:1000], channel=channel)
    body = f"Hi {first_name},\n\n{line}\n\n{closing}\n\nBest wishes,\n{sender_name}\n{shop_name}"
    return CrmFollowupDraft(subject=subject[:120], body=body[:3000], channel=channel)


def _followup_notes(profile: CustomerProfile, args: DraftFollowupInput, deterministic: bool, why: str) -> list[str]:
    notes = []
    if deterministic:
        notes.append(f"Written from a template because no model answered ({why}); review the wording.")
        if _OFFER.search(args.purpose):
            notes.append(
                "The request mentions an offer; the template leaves it out: add its exact terms before sending."
            )
    if args.channel is FollowupChannel.WHATSAPP:
        if not profile.phone:
            notes.append("There is no phone number on file for WhatsApp.")
        if not profile.whatsapp_opt_in:
            notes.append("The customer has not opted in to WhatsApp messages.")
    elif not profile.marketing_opt_in and _purpose_kind(args.purpose) in ("win_back", "review"):
        notes.append("The customer has not opted in to marketing email; send only if this is a service message.")
    return notes


@tool(audiences=OPERATOR_ONLY)
async def draft_followup(
    ctx: ToolContext, args: DraftFollowupInput, *, gateway: Gateway, call: CallContext
) -> FollowupDraftResult:
    """Draft a follow-up email or WhatsApp message to one customer for the operator to review. Nothing is sent."""
    customer, shop_name, today, profile, orders = await _model_context(ctx, args.customer, call)
    op = await operator(ctx)
    sender_name = op.name if op is not None and op.name else f"The {shop_name} team"
    context = _orders_text(orders)
    if profile.open_issues:
        context += "\nOpen issues: " + "; ".join(profile.open_issues)
    about = {
        "name": profile.name,
        "first_name": profile.name.split()[0] if profile.name.strip() else "",
        "customer_since": f"{profile.customer_since:%Y-%m-%d}",
        "order_count": profile.order_count,
        "last_order": profile.last_order_number,
    }
    result = await gateway.generate(
        call,
        use_case="crm_followup_draft",
        variables={
            "sender_name": sender_name,
            "shop_name": shop_name,
            "brand_tone": call.tenant.brand.tone,
            "channel": args.channel.value,
            "today": today.isoformat(),
            "purpose": args.purpose,
            "customer": json.dumps(about, ensure_ascii=False, indent=1),
            "context": context,
        },
        fallback=lambda _refusal: followup_template(
            profile=profile,
            orders=orders,
            purpose=args.purpose,
            channel=args.channel,
            shop_name=shop_name,
            sender_name=sender_name,
        ),
        validators=[_draft_rules(args.channel, args.purpose, context, {o.number for o in orders})],
        output_model=CrmFollowupDraft,
    )
    draft = result.value
    deterministic = result.engine == "deterministic"
    return FollowupDraftResult(
        customer_id=customer.id,
        channel=draft.channel,
        subject=draft.subject,
        body=draft.body,
        engine=result.engine,
        notes_for_operator=_followup_notes(profile, args, deterministic, str(result.fallback_reason or "")),
    )


# --- summarize_customer -----------------------------------------------------------------------------

NEW_CUSTOMER_DAYS = 60
"""A customer whose only order is at most this old is new."""
ACTIVE_DAYS = 183
"""About six months: ordering within it keeps a customer active (loyal from LOYAL_ORDERS orders on)."""
LOYAL_ORDERS = 4
LOST_DAYS = 365
"""No order for over a year: the summary's `lapsed`. A repeat customer quiet for LAPSED_DAYS is already at risk."""
_SEGMENT_WINDOWS = frozenset({(60, "day"), (3, "month"), (6, "month"), (12, "month")})
"""Spans the prompt's segment definitions use, which a summary may repeat whatever the dates."""


class CustomerSummaryResult(BaseModel):
    """A ten-second briefing on one customer, every fact taken from their records."""

    customer_id: uuid.UUID
    summary: str
    segment: CustomerSegment
    key_facts: list[str]
    open_issues: list[str]
    """Unresolved problems; the profile's open issues, each one, whenever it has some."""
    sentiment: Sentiment
    suggested_next_step: str
    engine: Literal["llm", "deterministic"]
    """`deterministic` when the summary was built from the records without a model."""


def customer_segment(profile: CustomerProfile) -> CustomerSegment:
    """Place a customer in a lifecycle segment from their order history alone.

    No order, or one order at most 60 days old: new. Nothing for over a year: lapsed. An order running late,
    a repeat customer quiet for 90 days or more, or anyone quiet for over six months: at risk. Otherwise a
    `vip` tag makes them vip, four orders or more loyal, and anyone else is active.
    """
    orders, days = profile.order_count, profile.days_since_last_order
    if not orders or days is None:
        return CustomerSegment.NEW
    if days > LOST_DAYS:
        return CustomerSegment.LAPSED
    if orders == 1 and days <= NEW_CUSTOMER_DAYS:
        return CustomerSegment.NEW
    late = any(" is late" in issue for issue in profile.open_issues)
    if late or days > ACTIVE_DAYS or (orders >= 2 and days >= LAPSED_DAYS):
        return CustomerSegment.AT_RISK
    if "vip" in profile.tags:
        return CustomerSegment.VIP
    return CustomerSegment.LOYAL if orders >= LOYAL_ORDERS else CustomerSegment.ACTIVE


def _segment_problems(segment: CustomerSegment, profile: CustomerProfile) -> list[str]:
    """Return why a segment contradicts the order history; segments that take judgement (vip, at_risk) pass."""
    orders, days = profile.order_count, profile.days_since_last_order
    last = f"the last order was {days} days ago" if days is not None else "there are no orders"
    if segment is CustomerSegment.NEW and orders > 1:
        return [f"segment 'new' is for one order or none; the customer has {orders} orders"]
    if segment is CustomerSegment.NEW and days is not None and days > NEW_CUSTOMER_DAYS:
        return [f"segment 'new' needs the first order in the last {NEW_CUSTOMER_DAYS} days; {last}"]
    if segment is CustomerSegment.LOYAL and orders < LOYAL_ORDERS:
        return [f"segment 'loyal' needs {LOYAL_ORDERS} orders or more; the customer has {orders}"]
    if segment in (CustomerSegment.ACTIVE, CustomerSegment.LOYAL) and (days is None or days > ACTIVE_DAYS):
        return [f"segment {segment.value!r} needs an order in the last 6 months; {last}"]
    if segment is CustomerSegment.LAPSED and (days is None or days <= LOST_DAYS):
        return [f"segment 'lapsed' means no order for over 12 months; {last}"]
    return []


def _fit(text: str, limit: int) -> str:
    """Cut text at a word boundary to at most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _status_words(status: m.OrderStatus | str) -> str:
    return str(status).replace("_", " ")


def _next_step(profile: CustomerProfile, today: date) -> str:
    """Say the rules' next action (`suggest_next_action`) as one step an operator can take."""
    p = profile
    suggestion = suggest_next_action(p, today)
    match suggestion.action:
        case NextAction.RESOLVE_OPEN_ISSUE:
            step = f"Resolve the open issue first: {p.open_issues[0]}."
        case NextAction.WIN_BACK if p.last_order_at is not None:
            step = f"Send a win-back message: no order since {p.last_order_at:%Y-%m-%d}."
        case NextAction.REQUEST_REVIEW:
            step = f"Ask for a review of order {p.last_order_number}."
        case NextAction.SEND_FOLLOWUP:
            step = f"Check that order {p.last_order_number} arrived as hoped."
        case NextAction.RECOMMEND_PRODUCTS:
            step = "Recommend products that go with their recent orders."
        case _:
            step = suggestion.reason
    return _fit(step, 200)


def summary_from_profile(profile: CustomerProfile, orders: list[m.Order], today: date) -> CrmCustomerSummary:
    """Brief an operator on one customer from the profile and orders alone: the fallback when no model answers.

    `orders` are the customer's orders, newest first, as `_profile` returns them.
    """
    p = profile
    segment = customer_segment(p)
    facts: list[str] = []
    if p.order_count and p.last_order_at is not None and orders:
        value = format_money(p.lifetime_value, p.currency, style="grouped")
        last, first = orders[0], orders[-1]
        ago = "today" if p.days_since_last_order == 0 else f"{p.days_since_last_order} days ago"
        placed = f"{last.number} on {last.placed_at:%Y-%m-%d} ({_status_words(last.status)}), {ago}"
        if len(orders) == 1:
            sentences = [f"{p.name}: one order so far, {placed}; lifetime value {value}."]
        else:
            sentences = [
                f"{p.name}: {_orders(p.order_count)} since {first.placed_at:%Y-%m-%d}, lifetime value {value}.",
                f"Last order {placed}.",
            ]
        facts.append(f"{_orders(p.order_count)}, lifetime value {value}")
        if p.average_order_value is not None and p.average_order_value != p.lifetime_value:
            facts.append(f"Average order value {format_money(p.average_order_value, p.currency, style='grouped')}")
        facts.append(f"Last order {last.number} on {last.placed_at:%Y-%m-%d}: {_status_words(last.status)}")
        if len(orders) > 1:
            facts.append(f"First order {first.number} on {first.placed_at:%Y-%m-%d}")
        if items := _order_brief(last).items:
            facts.append(_fit("Last bought: " + "; ".join(items[:3]), 160))
    else:
        sentences = [f"{p.name} has not ordered yet; on file since {p.customer_since:%Y-%m-%d}."]
        facts.append("No orders yet")
    if p.open_issues:
        sentences.append("Needs attention: " + "; ".join(p.open_issues[:2]) + ".")
    if p.tags:
        facts.append("Tagged " + ", ".join(p.tags))
    channels = [label for label, on in (("marketing email", p.marketing_opt_in), ("WhatsApp", p.whatsapp_opt_in)) if on]
    facts.append("Opted in to " + " and ".join(channels) if channels else "Opted out of marketing on every channel")
    if p.notes:
        note = p.notes[-1]
        facts.append(_fit(f"Latest note ({note.at:%Y-%m-%d}): {note.text}", 160))
    return CrmCustomerSummary(
        summary=_fit(" ".join(sentences), 600),
        segment=segment,
        key_facts=facts[:8],
        open_issues=[_fit(issue, 200) for issue in p.open_issues[:5]],
        sentiment=Sentiment.UNKNOWN,
        suggested_next_step=_next_step(p, today),
    )


_WRITTEN_DATES = (ISO_DATE, MONTH_DAY, DAY_MONTH, MONTH_YEAR)
"""How a summary writes a date: `2026-11-03`, `Nov 3, 2026`, `3 November`, `November 2026`."""
_SPAN_OF_TIME = re.compile(rf"\b(?P<n>{_NUM})(?:\s+|\s*-\s*)(?P<unit>day|week|month|year)s?\b", re.IGNORECASE)
_FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NOT_FIGURES = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # ids
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"  # dates and timestamps
    r"|\b\d{1,2}:\d{2}\b"  # clock times
    rf"|{ORDER_NUMBER.pattern}",  # order numbers, checked on their own
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Records:
    """What a customer's records state, indexed to check a model's summary against them."""

    figures: frozenset[Decimal]
    dates: frozenset[date]
    gaps: frozenset[int]
    """Days between consecutive orders, on average, and from the first order to the last."""
    order_numbers: frozenset[str]
    today: date

    @classmethod
    def of(cls, text: str, orders: list[m.Order], counts: list[int], today: date) -> _Records:
        """Index `text` (what the model was shown, plus every order) and `counts` that follow from it."""
        dates = set()
        for match in _WRITTEN_DATES[0].finditer(text):
            try:
                dates.add(date(int(match["year"]), int(match["mnum"]), int(match["day"])))
            except ValueError:
                continue
        figures = {Decimal(f.replace(",", "")) for f in _FIGURE.findall(_NOT_FIGURES.sub(" ", text))}
        placed = sorted(o.placed_at.date() for o in orders)
        gaps = {(later - earlier).days for earlier, later in pairwise(placed)}
        if len(placed) > 1:
            span = (placed[-1] - placed[0]).days
            gaps |= {span, round(span / (len(placed) - 1))}
        return cls(
            figures=frozenset(figures | {Decimal(c) for c in counts}),
            dates=frozenset(dates),
            gaps=frozenset(gaps),
            order_numbers=frozenset(o.number for o in orders),
            today=today,
        )

    def has_date(self, match: re.Match[str]) -> bool:
        year = int(match["year"]) if match["year"] else None
        month = int(match["mnum"]) if "mnum" in match.re.groupindex else MONTH_NUMBERS[match["month"][:3].lower()]
        day = int(match["day"]) if "day" in match.re.groupindex else None
        return any(
            d.month == month and (year is None or d.year == year) and (day is None or d.day == day) for d in self.dates
        )

    def has_span(self, match: re.Match[str]) -> bool:
        """Whether `3 weeks` and the like is, to within a unit, the time from a record's date to today or between orders."""
        count, unit = _number(match["n"].lower()), match["unit"].lower()
        if (count, unit) in _SEGMENT_WINDOWS or (unit == "day" and count in self.figures):
            return True
        length = _UNIT_DAYS[unit]
        spans = {(self.today - d).days for d in self.dates} | self.gaps
        return any(abs(days - count * length) <= length for days in spans)

    def ungrounded(self, field: str, text: str) -> list[str]:
        """Return a problem for every order number, date, span of time or figure in `text` the records lack."""
        problems: list[str] = []
        taken: list[tuple[int, int]] = []

        def fresh(match: re.Match[str]) -> bool:
            start, end = match.span()
            if any(s <= start and end <= e for s, e in taken):
                return False
            taken.append((start, end))
            return True

        for match in ORDER_NUMBER.finditer(text):
            if fresh(match) and not match[0].startswith("SKU-") and match[0] not in self.order_numbers:
                problems.append(f"{field}: order {match[0]} is not one of this customer's orders")
        for match in PHONE_LIKE.finditer(text):
            if Decimal(re.sub(r"\D", "", match[0])) in self.figures:
                fresh(match)  # a phone number on record, however it is spaced
        for pattern in _WRITTEN_DATES:
            for match in pattern.finditer(text):
                if fresh(match) and not self.has_date(match):
                    problems.append(f"{field}: the date {match[0]!r} is not in the customer's records")
        for match in _SPAN_OF_TIME.finditer(text):
            if fresh(match) and not self.has_span(match):
                problems.append(
                    f"{field}: {match[0]!r} does not follow from any date in the records (today is {self.today}); "
                    "count from a date the records give, or leave it out"
                )
        for match in _FIGURE.finditer(text):
            if fresh(match) and Decimal(match[0].replace(",", "")) not in self.figures:
                problems.append(
                    f"{field}: {match[0]!r} is not in the customer's records; state only numbers and amounts "
                    "the records give"
                )
        return problems


def _summary_rules(
    profile: CustomerProfile, records: _Records, *, has_conversations: bool
) -> Callable[[CrmCustomerSummary], list[str]]:
    expected = {number: issue for issue in profile.open_issues for number in ORDER_NUMBER.findall(issue)}

    def check(value: CrmCustomerSummary) -> list[str]:
        problems = _segment_problems(value.segment, profile)
        fields = {
            "summary": value.summary,
            "key_facts": "\n".join(value.key_facts),
            "open_issues": "\n".join(value.open_issues),
            "suggested_next_step": value.suggested_next_step,
        }
        for field, text in fields.items():
            problems += records.ungrounded(field, text)
        if expected:
            listed = {number for issue in value.open_issues for number in ORDER_NUMBER.findall(issue)}
            problems += [f"open_issues must include {issue!r}" for n, issue in expected.items() if n not in listed]
            problems += [
                f"open_issues names order {n}, but the records show no open issue for it"
                for n in sorted(listed - expected.keys())
            ]
        if profile.email and profile.email.lower() in value.summary.lower():
            problems.append("the summary must not repeat the customer's email address")
        phone = re.sub(r"\D", "", profile.phone or "")
        if len(phone) >= 7 and any(
            re.sub(r"\D", "", found).endswith(phone[-7:]) for found in PHONE_LIKE.findall(value.summary)
        ):
            problems.append("the summary must not repeat the customer's phone number")
        if not has_conversations and value.sentiment is not Sentiment.UNKNOWN:
            problems.append("there are no conversations to judge the customer's mood from: sentiment must be 'unknown'")
        return list(dict.fromkeys(problems))

    return check


def _about(profile: CustomerProfile) -> str:
    return profile.model_dump_json(exclude={"id", "recent_orders"}, indent=1)


def _summary_records(profile: CustomerProfile, orders: list[m.Order], conversations: str, today: date) -> _Records:
    statuses = Counter(str(o.status) for o in orders)
    counts = [
        len(orders),
        len(profile.open_issues),
        len(profile.notes),
        len(profile.tags),
        *statuses.values(),
        sum(n for status, n in statuses.items() if status not in LIFETIME_VALUE_EXCLUDES),
    ]
    text = "\n".join([_about(profile), _orders_text(orders, limit=None), conversations])
    return _Records.of(text, orders, counts, today)


def check_customer_summary(
    value: CrmCustomerSummary, profile: CustomerProfile, orders: list[m.Order], *, conversations: str, today: date
) -> list[str]:
    """Return what the customer's records do not support in a summary, as sentences for a re-ask."""
    records = _summary_records(profile, orders, conversations, today)
    return _summary_rules(profile, records, has_conversations=bool(conversations))(value)


@tool(audiences=OPERATOR_ONLY)
async def summarize_customer(
    ctx: ToolContext, args: CustomerRef, *, gateway: Gateway, call: CallContext
) -> CustomerSummaryResult:
    """Brief the operator on one customer in a few lines, from their records: a summary, their segment, key facts, open
    issues, mood and one suggested next step."""
    customer, shop_name, today, profile, orders = await _model_context(ctx, args.customer, call)
    conversations = await _conversation_text(ctx, customer.id)
    records = _summary_records(profile, orders, conversations, today)
    result = await gateway.generate(
        call,
        use_case="crm_customer_summary",
        variables={
            "shop_name": shop_name,
            "today": today.isoformat(),
            "currency": profile.currency,
            "customer": _about(profile),
            "orders": _orders_text(orders),
            "conversations": conversations,
        },
        fallback=lambda _refusal: summary_from_profile(profile, orders, today),
        validators=[_summary_rules(profile, records, has_conversations=bool(conversations))],
        output_model=CrmCustomerSummary,
    )
    value = result.value
    return CustomerSummaryResult(
        customer_id=customer.id,
        summary=value.summary,
        segment=value.segment,
        key_facts=value.key_facts,
        open_issues=value.open_issues,
        sentiment=value.sentiment,
        suggested_next_step=value.suggested_next_step,
        engine=result.engine,
    )


CRM_TOOLS: list[ToolSpec] = [
    find_customers,
    customer_profile,
    add_note,
    tag_customer,
    segment_customers,
    save_segment,
    summarize_customer,
    next_best_action,
    draft_followup,
]
