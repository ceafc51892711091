"""Draft a follow-up message to one customer for the operator to review: by a model, or from a template."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.prompting.outputs import CrmFollowupDraft, FollowupChannel
from hub.text import AMOUNT_WITH_SYMBOL, ORDER_NUMBER
from tools.context import OPERATOR_ONLY, ToolContext
from tools.crm.profile import OPEN_STATUSES, CustomerProfile, CustomerRef, model_context, orders_text
from tools.deps import operator
from tools.registry import tool


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
        issue = next((o for o in orders if o.status in OPEN_STATUSES), last)
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
    customer, shop_name, today, profile, orders = await model_context(ctx, args.customer, call)
    op = await operator(ctx)
    sender_name = op.name if op is not None and op.name else f"The {shop_name} team"
    context = orders_text(orders)
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
