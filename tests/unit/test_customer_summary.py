"""The customer briefing's rules without a database: segments from order history, and what a summary may claim."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.commands import OperatorCommands
from graphs.conversation import ToolOutcome
from hub.db import models as m
from hub.prompting.outputs import CrmCustomerSummary, CustomerSegment, Sentiment
from hub.tenancy.repository import LIFETIME_VALUE_EXCLUDES
from tools.crm import CustomerProfile, OrderBrief, check_customer_summary, customer_segment, summary_from_profile

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def order(number: str, days_ago: int, status: m.OrderStatus = m.OrderStatus.DELIVERED, total: str = "80.00") -> m.Order:
    at = NOW - timedelta(days=days_ago)
    return m.Order(
        number=number,
        placed_at=at,
        updated_at=at,
        status=status,
        total=Decimal(total),
        currency="USD",
        items=[{"title": "Linen Shirt", "quantity": 1, "size": "M"}],
        eta=None,
    )


def profile(orders: list[m.Order], *, tags: tuple[str, ...] = (), open_issues: tuple[str, ...] = ()) -> CustomerProfile:
    """A profile as `customer_profile` builds it, for `orders` given newest first."""
    kept = [o.total for o in orders if o.status not in LIFETIME_VALUE_EXCLUDES]
    value = sum(kept, Decimal("0.00"))
    last = orders[0] if orders else None
    return CustomerProfile(
        id=uuid.uuid4(),
        name="Ada Lovelace",
        email="ada@example.com",
        phone="+15550001234",
        tags=list(tags),
        notes=[],
        marketing_opt_in=True,
        whatsapp_opt_in=False,
        customer_since=NOW - timedelta(days=900),
        order_count=len(orders),
        lifetime_value=value,
        currency="USD",
        average_order_value=(value / len(kept)).quantize(Decimal("0.01")) if kept else None,
        last_order_at=last.placed_at if last else None,
        last_order_number=last.number if last else None,
        last_order_status=last.status if last else None,
        days_since_last_order=(NOW - last.placed_at).days if last else None,
        open_issues=list(open_issues),
        recent_orders=[
            OrderBrief(
                number=o.number,
                placed_at=o.placed_at,
                updated_at=o.updated_at,
                status=o.status,
                total=o.total,
                currency=o.currency,
                items=["1 × Linen Shirt (M)"],
            )
            for o in orders[:5]
        ],
    )


def history(*days_ago: int) -> list[m.Order]:
    return [order(f"A-{10100 + i}", days) for i, days in enumerate(days_ago)]


@pytest.mark.parametrize(
    ("orders", "tags", "issues", "segment"),
    [
        ([], (), (), CustomerSegment.NEW),
        (history(10), (), (), CustomerSegment.NEW),
        (history(100), (), (), CustomerSegment.ACTIVE),
        (history(20, 50), (), (), CustomerSegment.ACTIVE),
        (history(20, 50, 90, 130), (), (), CustomerSegment.LOYAL),
        (history(20, 50), ("vip",), (), CustomerSegment.VIP),
        (history(120, 150, 200), (), (), CustomerSegment.AT_RISK),
        (history(200), (), (), CustomerSegment.AT_RISK),
        (history(5, 30), ("vip",), ("order A-10100 is late: expected 2026-01-01, still shipped",), "at_risk"),
        (history(400, 500, 600, 700), ("vip",), (), CustomerSegment.LAPSED),
    ],
    ids=[
        "no orders",
        "first order",
        "one order 100 days ago",
        "repeat",
        "four recent orders",
        "vip",
        "repeat gone quiet",
        "one order 200 days ago",
        "late order",
        "over a year",
    ],
)
def test_segment_follows_the_order_history(
    orders: list[m.Order], tags: tuple[str, ...], issues: tuple[str, ...], segment: CustomerSegment
) -> None:
    assert customer_segment(profile(orders, tags=tags, open_issues=issues)) == segment


def test_the_fallback_summary_passes_the_rules_a_model_must_pass() -> None:
    returned = [order("A-10300", 25, m.OrderStatus.RETURNED, "120.50"), *history(60, 95, 300)]
    issue = f"order A-10300 returned, refund due (since {returned[0].updated_at:%Y-%m-%d})"
    for orders, issues in (([], ()), (history(10), ()), (history(400, 500), ()), (returned, (issue,))):
        p = profile(orders, open_issues=issues)
        summary = summary_from_profile(p, orders, TODAY)
        assert check_customer_summary(summary, p, orders, conversations="", today=TODAY) == [], summary
        assert p.email not in summary.summary and summary.sentiment == Sentiment.UNKNOWN
        assert summary.open_issues == list(issues)


def test_a_summary_is_held_to_the_records() -> None:
    orders = history(21, 50, 90, 130)
    p = profile(orders)
    last = orders[0].placed_at
    honest = CrmCustomerSummary(
        summary=f"Ada has 4 orders worth $320.00; the last, A-10100, was 3 weeks ago on {last:%B} {last.day}.",
        segment=CustomerSegment.LOYAL,
        key_facts=["Orders about every 5 weeks", "Average order $80.00"],
        open_issues=[],
        sentiment=Sentiment.UNKNOWN,
        suggested_next_step="Recommend a linen shirt in another size.",
    )
    assert check_customer_summary(honest, p, orders, conversations="", today=TODAY) == []

    wrong = honest.model_copy(
        update={
            "summary": "Ada (ada@example.com, +1 555 000 1234) has 9 orders worth $320.00.",
            "segment": CustomerSegment.LAPSED,
            "sentiment": Sentiment.NEGATIVE,
        }
    )
    assert check_customer_summary(wrong, p, orders, conversations="", today=TODAY) == [
        "segment 'lapsed' means no order for over 12 months; the last order was 21 days ago",
        "summary: '9' is not in the customer's records; state only numbers and amounts the records give",
        "the summary must not repeat the customer's email address",
        "the summary must not repeat the customer's phone number",
        "there are no conversations to judge the customer's mood from: sentiment must be 'unknown'",
    ]
    chat = f"{NOW:%Y-%m-%d %H:%M} customer: The shirt is lovely, thanks!"
    happy = wrong.model_copy(update={"segment": CustomerSegment.LOYAL, "summary": "Ada, a regular."})
    assert check_customer_summary(happy, p, orders, conversations=chat, today=TODAY) == []


def test_open_issues_must_carry_each_one_the_records_show() -> None:
    orders = [order("A-10300", 10, m.OrderStatus.RETURN_REQUESTED), *history(40)]
    issue = f"order A-10300 return requested (since {orders[0].updated_at:%Y-%m-%d})"
    p = profile(orders, open_issues=(issue,))
    summary = summary_from_profile(p, orders, TODAY)
    dropped = summary.model_copy(update={"open_issues": ["Order A-10100 arrived damaged"]})
    assert check_customer_summary(dropped, p, orders, conversations="", today=TODAY) == [
        f"open_issues must include {issue!r}",
        "open_issues names order A-10100, but the records show no open issue for it",
    ]


def test_summary_command_reply_has_the_briefing_in_order() -> None:
    orders = [order("A-10300", 25, m.OrderStatus.RETURNED, "120.50"), *history(60)]
    issue = f"order A-10300 returned, refund due (since {orders[0].updated_at:%Y-%m-%d})"
    p = profile(orders, open_issues=(issue,))
    result = {**summary_from_profile(p, orders, TODAY).model_dump(mode="json"), "engine": "deterministic"}
    reply = OperatorCommands().compose([ToolOutcome(tool="summarize_customer", args={}, status="ok", result=result)])
    lines = [line for line in reply.splitlines() if line]
    assert lines[0].startswith("Ada Lovelace: 2 orders since ") and "lifetime value $80.00" in lines[0]
    assert lines[1] == "Segment: active"
    assert lines[2] == "Key facts:" and lines[3] == "- 2 orders, lifetime value $80.00"
    assert f"- {issue}" in lines and lines[-2].startswith("Next step: Resolve the open issue first: order A-10300")
    assert lines[-1] == "(Built from the records alone: no model answered.)"
