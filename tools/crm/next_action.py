"""Suggest the single most useful next step for one customer: by a model, checked by rules, or by the rules alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Literal

from pydantic import BaseModel

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.prompting.outputs import NextAction, NextBestAction, Priority
from hub.text import format_money
from tools.context import OPERATOR_ONLY, ToolContext
from tools.crm.profile import (
    LAPSED_DAYS,
    CustomerProfile,
    CustomerRef,
    conversation_text,
    model_context,
    orders_phrase,
    orders_text,
)
from tools.registry import tool

SELLING_ACTIONS = frozenset(
    {
        NextAction.RECOMMEND_PRODUCTS,
        NextAction.OFFER_INCENTIVE,
        NextAction.REQUEST_REVIEW,
        NextAction.WIN_BACK,
        NextAction.NOTIFY_BACK_IN_STOCK,
    }
)
"""Actions that contact a customer to sell: never for one who opted out of every channel."""


class NextBestActionResult(BaseModel):
    customer_id: uuid.UUID
    action: NextAction
    reason: str
    priority: Priority
    engine: Literal["llm", "deterministic"]
    """`deterministic` when the rules below answered instead of a model."""


def _facts(p: CustomerProfile) -> str:
    last = f"last order {p.last_order_number} on {p.last_order_at:%Y-%m-%d} ({p.days_since_last_order} days ago)"
    value = format_money(p.lifetime_value, p.currency, style="grouped")
    return f"{orders_phrase(p.order_count)}, {value} lifetime value, {last}"


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
        if value.action in SELLING_ACTIONS and not (profile.marketing_opt_in or profile.whatsapp_opt_in):
            problems.append(f"{value.action} contacts a customer who opted out of marketing on every channel")
        return problems

    return check


@tool(audiences=OPERATOR_ONLY)
async def next_best_action(
    ctx: ToolContext, args: CustomerRef, *, gateway: Gateway, call: CallContext
) -> NextBestActionResult:
    """Suggest the single most useful next step for one customer, with the reason and a priority."""
    customer, shop_name, today, profile, orders = await model_context(ctx, args.customer, call)
    result = await gateway.generate(
        call,
        use_case="next_best_action",
        variables={
            "shop_name": shop_name,
            "today": today.isoformat(),
            "customer": profile.model_dump_json(exclude={"recent_orders"}, indent=1),
            "orders": orders_text(orders),
            "conversations": await conversation_text(ctx, customer.id),
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
