"""Brief the operator on one customer, every fact a model states checked against the customer's records."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.prompting.outputs import CrmCustomerSummary, CustomerSegment, NextAction, Sentiment
from hub.tenancy.repository import LIFETIME_VALUE_EXCLUDES
from hub.text import DAY_MONTH, ISO_DATE, MONTH_DAY, MONTH_NUMBERS, MONTH_YEAR, ORDER_NUMBER, PHONE_LIKE, format_money
from tools.context import OPERATOR_ONLY, ToolContext
from tools.crm.next_action import suggest_next_action
from tools.crm.profile import (
    LAPSED_DAYS,
    CustomerProfile,
    CustomerRef,
    conversation_text,
    model_context,
    order_brief,
    orders_phrase,
    orders_text,
)
from tools.crm.quantities import NUM, UNIT_DAYS, read_number
from tools.registry import tool

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

    `orders` are the customer's orders, newest first, as `build_profile` returns them.
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
                f"{p.name}: {orders_phrase(p.order_count)} since {first.placed_at:%Y-%m-%d}, lifetime value {value}.",
                f"Last order {placed}.",
            ]
        facts.append(f"{orders_phrase(p.order_count)}, lifetime value {value}")
        if p.average_order_value is not None and p.average_order_value != p.lifetime_value:
            facts.append(f"Average order value {format_money(p.average_order_value, p.currency, style='grouped')}")
        facts.append(f"Last order {last.number} on {last.placed_at:%Y-%m-%d}: {_status_words(last.status)}")
        if len(orders) > 1:
            facts.append(f"First order {first.number} on {first.placed_at:%Y-%m-%d}")
        if items := order_brief(last).items:
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
_SPAN_OF_TIME = re.compile(rf"\b(?P<n>{NUM})(?:\s+|\s*-\s*)(?P<unit>day|week|month|year)s?\b", re.IGNORECASE)
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
        count, unit = read_number(match["n"].lower()), match["unit"].lower()
        if (count, unit) in _SEGMENT_WINDOWS or (unit == "day" and count in self.figures):
            return True
        length = UNIT_DAYS[unit]
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
    text = "\n".join([_about(profile), orders_text(orders, limit=None), conversations])
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
    customer, shop_name, today, profile, orders = await model_context(ctx, args.customer, call)
    conversations = await conversation_text(ctx, customer.id)
    records = _summary_records(profile, orders, conversations, today)
    result = await gateway.generate(
        call,
        use_case="crm_customer_summary",
        variables={
            "shop_name": shop_name,
            "today": today.isoformat(),
            "currency": profile.currency,
            "customer": _about(profile),
            "orders": orders_text(orders),
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
