"""Read a plain-words audience into a segment rule, count and sample who matches, and save it by name."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from slugify import slugify
from sqlalchemy import ColumnElement, or_

from hub.db import models as m
from hub.tenancy.repository import CustomerActivity
from tools.context import OPERATOR_ONLY, ToolContext, ToolError
from tools.crm.profile import CENT, LAPSED_DAYS, tag_contains
from tools.crm.quantities import NUM, UNIT_DAYS, read_number
from tools.deps import actor, record
from tools.registry import tool

SAMPLE_SIZE = 10


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


_DURATION = re.compile(rf"\b(?P<n>{NUM}|an?)\s*(?P<unit>day|week|month|year)s?\b")
_CLAUSE_BREAK = re.compile(r"[,;]|\b(?:and|but|who|which|that|with|or)\b")
_ORDERING = re.compile(r"order|bought|buy|purchas|shop|active|lapsed|spen[dt]")
_NEGATION = re.compile(r"\b(?:not|no|never|without|nothing|inactive|lapsed)\b|n't\b")
_MONEY_CONTEXT = re.compile(r"\bspen[dt]|spending|\bltv\b|lifetime value|\bvalue\b|revenue|worth|\$|dollars?|usd")
_COUNT_UNIT = re.compile(r"orders?|purchases?|times")
_GREATER = r"over|more than|above|greater than|exceeding"
_AT_LEAST = r"at least|no less than|minimum of|min\.?"
_LESS = r"under|less than|below|fewer than"
_AT_MOST = r"at most|no more than|up to|maximum of|max\.?"
_AMOUNT = rf"(?P<cur>\$)?\s?(?P<num>{NUM})(?![\d,.]*\d)(?P<k>k\b)?(?!\s*(?:days?|weeks?|months?|years?)\b)"
_UNIT = r"(?:\s*(?P<unit>orders?|purchases?|times|dollars|usd)\b)?"
_COMPARISONS = (
    re.compile(rf"\b(?P<cmp>{_GREATER}|{_AT_LEAST}|{_LESS}|{_AT_MOST})\s+{_AMOUNT}{_UNIT}"),
    re.compile(rf"{_AMOUNT}\s*(?P<cmp>\+|or more|or over|or less|or fewer){_UNIT}"),
)
_BETWEEN = re.compile(
    rf"\bbetween\s+(?P<cur>\$)?\s?(?P<lo>{NUM})(?P<klo>k\b)?\s+and\s+\$?\s?(?P<hi>{NUM})(?P<khi>k\b)?{_UNIT}"
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
        bound(kind, "min", read_number(match.group("lo"), bool(match.group("klo"))), strict=False)
        bound(kind, "max", read_number(match.group("hi"), bool(match.group("khi"))), strict=False)
        text = _blank(text, *match.span())
    for match in [found for pattern in _COMPARISONS for found in pattern.finditer(text)]:
        kind = kind_of(match, match.group("unit"))
        if kind is None:
            continue
        value = read_number(match.group("num"), bool(match.group("k")))
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
        days = int(read_number(match.group("n"))) * UNIT_DAYS[match.group("unit")]
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
    where = [tag_contains(tag) for tag in rule.tags]
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
