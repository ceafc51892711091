"""Act on a shopper's order: start a return, cancel, change the delivery address, follow up on a request.

Each action checks who is asking exactly as `order_status` does (the order number together with the order's email
or phone; a wrong pair changes nothing and reveals nothing), checks the shop's order policy, and then works in two
calls: the first (`confirm: false`) proposes the exact change and returns it for the shopper to confirm; only a
call in a later message that says yes (`confirm: true`) records it. A model that skips the question, or confirms on
a "no", records nothing: the tool itself reads the shopper's message. Recording is idempotent: a repeat returns the
request already made. Nothing here refunds or cancels; an operator decides, and the shop's own system acts on the
event it receives.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from hub import order_requests as req
from hub.addresses import Address, check_address
from hub.db import models as m
from hub.db.models import OrderStatus, RequestKind, RequestStatus
from hub.languages import affirmation
from hub.order_requests import Ineligible, ReturnReason
from hub.tenancy.config import OrderPolicy, TenantConfig
from tools.context import EVERYONE, Audience, ToolContext
from tools.engagement import ORDER_NOT_FOUND
from tools.registry import ToolSpec, tool

REFERENCE = re.compile(r"^(?:RMA|CXL|ADR)-[0-9A-Z]{8}$", re.IGNORECASE)


def _absent(value: object) -> bool:
    return value is None or value == [] or value == {}


class ActionOutcome(StrEnum):
    NOT_FOUND = "not_found"
    """The order number and the email or phone do not match an order: say so, without guessing which is wrong."""
    NOT_ELIGIBLE = "not_eligible"
    """The shop's policy does not allow it now: `why_not` says why."""
    NEEDS_DETAILS = "needs_details"
    """Ask the shopper for what `missing` lists, then call again with it."""
    NEEDS_CONFIRMATION = "needs_confirmation"
    """Nothing is recorded yet: tell the shopper exactly what will be asked and ask them to confirm."""
    REQUESTED = "requested"
    """Recorded: give the shopper the `reference`; an operator decides next."""
    ALREADY_REQUESTED = "already_requested"
    """A request like it exists already (`reference`): nothing new was recorded."""


class OrderIdentity(BaseModel):
    order_number: str = Field(min_length=1, max_length=40, description="e.g. `A-10423`")
    email_or_phone: str = Field(min_length=3, max_length=254, description="on the order, as the customer gave it")


_CONFIRM = Field(default=False, description="true only if the customer's latest message said yes to this change")


class ReturnLine(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int | None = Field(default=None, ge=1, le=999, description="default: all")


class StartReturnInput(OrderIdentity):
    items: list[ReturnLine] = Field(default_factory=list, max_length=50, description="once the customer chose")
    reason: ReturnReason | None = None
    details: str | None = Field(default=None, max_length=500, description="the customer's words")
    condition_ok: bool | None = Field(default=None, description="unworn, unwashed, tags on? (once asked)")
    confirm: bool = _CONFIRM


class CancelOrderInput(OrderIdentity):
    details: str | None = Field(default=None, max_length=500, description="the customer's words")
    confirm: bool = _CONFIRM


class ChangeAddressInput(OrderIdentity):
    address: Address | None = None
    confirm: bool = _CONFIRM


class OrderLine(BaseModel):
    sku: str
    title: str
    quantity: int
    size: str | None = Field(default=None, exclude_if=_absent)
    colour: str | None = Field(default=None, exclude_if=_absent)
    returnable: bool | None = Field(default=None, exclude_if=_absent)
    why_not: Ineligible | None = Field(default=None, exclude_if=_absent)


class OrderActionResult(BaseModel):
    action: RequestKind
    outcome: ActionOutcome
    order_number: str
    order_status: OrderStatus | None = Field(default=None, exclude_if=_absent)
    """The order's status after this call."""
    reference: str | None = Field(default=None, exclude_if=_absent)
    """The request's reference (`RMA-…`, `CXL-…`, `ADR-…`), once it is recorded: quote it exactly."""
    request_status: RequestStatus | None = Field(default=None, exclude_if=_absent)
    why_not: Ineligible | None = Field(default=None, exclude_if=_absent)
    missing: list[str] = Field(default_factory=list, exclude_if=_absent)
    """What to ask the customer for: `items`, `reason`, `condition`, `address`, or an address field."""
    lines: list[OrderLine] = Field(default_factory=list, exclude_if=_absent)
    """The order's items (for a return: which can go back)."""
    chosen: list[OrderLine] = Field(default_factory=list, exclude_if=_absent)
    """The items this return sends back."""
    reason: ReturnReason | None = Field(default=None, exclude_if=_absent)
    address: Address | None = Field(default=None, exclude_if=_absent)
    address_problems: dict[str, str] = Field(default_factory=dict, exclude_if=_absent)
    """Address field → `required` or `invalid`."""
    window_ends: date | None = Field(default=None, exclude_if=_absent)
    """The last day a return can be started."""
    ship_to_country: str | None = Field(default=None, exclude_if=_absent)
    """The country the order is delivered to now (an address change's default country)."""
    message: str
    """What to do next, for the assistant."""


def _where(ctx: ToolContext) -> req.Where:
    actor = (
        f"operator:{ctx.operator_id}"
        if ctx.audience is Audience.OPERATOR
        else f"customer:{ctx.channel}:{ctx.conversation_ref or '?'}"
    )
    return req.Where(channel=str(ctx.channel), conversation_ref=ctx.conversation_ref, turn=ctx.turn_id, actor=actor)


async def _policy(ctx: ToolContext) -> OrderPolicy:
    tenant = await ctx.session.get(m.Tenant, ctx.tenant_id)
    return TenantConfig.model_validate(tenant.settings if tenant else {}).orders


async def _order(ctx: ToolContext, args: OrderIdentity) -> m.Order | None:
    found = await req.verified_order(
        ctx.session, ctx.tenant_id, args.order_number, args.email_or_phone, customer_id=ctx.customer_id
    )
    return found[0] if found else None


def _line(item: dict[str, Any], quantity: int | None = None, **extra: Any) -> OrderLine:
    return OrderLine(
        sku=str(item.get("sku")),
        title=str(item.get("title")),
        quantity=quantity or int(item.get("quantity", 1)),
        size=item.get("size"),
        colour=item.get("colour"),
        **extra,
    )


def _said_yes(ctx: ToolContext) -> bool:
    """Whether this turn's message confirms: a shopper's must say yes (the tool reads it, not the model)."""
    return ctx.said is not None and affirmation(ctx.said) is True


async def _record(
    ctx: ToolContext, order: m.Order, asked: req.Asked, confirm: bool, result: OrderActionResult
) -> OrderActionResult:
    """Confirm `asked` when the shopper said yes to it in an earlier turn's proposal, else propose it."""
    where = _where(ctx)
    if confirm and _said_yes(ctx):
        done = await req.confirm(ctx.session, ctx.tenant_id, order, asked, where)
        if done is not None:
            kind = str(asked.kind).replace("_", " ")
            message = (
                f"The {kind} is recorded as {done.request.reference}; an operator reviews it next and the customer "
                "hears back here. Do not promise a refund or a result."
                if done.created
                else f"This {kind} was already requested as {done.request.reference} ({done.request.status})."
            )
            return result.model_copy(
                update={
                    "outcome": ActionOutcome.REQUESTED if done.created else ActionOutcome.ALREADY_REQUESTED,
                    "reference": done.request.reference,
                    "request_status": RequestStatus(done.request.status),
                    "order_status": OrderStatus(order.status),
                    "message": message,
                }
            )
    await req.propose(ctx.session, ctx.tenant_id, order, asked, where)
    return result.model_copy(
        update={
            "outcome": ActionOutcome.NEEDS_CONFIRMATION,
            "message": (
                "Nothing is recorded yet. Tell the customer exactly what will be requested and ask them to confirm; "
                "call again with confirm=true after they say yes."
            ),
        }
    )


async def _already(
    ctx: ToolContext, order: m.Order, kind: RequestKind, result: OrderActionResult
) -> OrderActionResult | None:
    existing = await req.open_request(ctx.session, ctx.tenant_id, order, kind)
    if existing is None:
        return None
    return result.model_copy(
        update={
            "outcome": ActionOutcome.ALREADY_REQUESTED,
            "reference": existing.reference,
            "request_status": RequestStatus(existing.status),
            "message": f"A request was already made as {existing.reference}; it waits for the shop's decision.",
        }
    )


@tool(audiences=EVERYONE)
async def start_return(ctx: ToolContext, args: StartReturnInput) -> OrderActionResult:
    """Start a return on a delivered order, under the shop's return policy. Ask for what `missing` lists."""
    result = OrderActionResult(
        action=RequestKind.RETURN,
        outcome=ActionOutcome.NOT_FOUND,
        order_number=args.order_number,
        message=ORDER_NOT_FOUND,
    )
    order = await _order(ctx, args)
    if order is None:
        return result
    policy = await _policy(ctx)
    eligibility = req.return_eligibility(
        order, await req.products_of(ctx.session, ctx.tenant_id, order), policy, datetime.now(UTC)
    )
    by_sku = {str(i.get("sku")): i for i in order.items}
    verdicts = {e.sku: e for e in eligibility.items}
    lines = [
        _line(i, returnable=verdicts[str(i.get("sku"))].returnable, why_not=verdicts[str(i.get("sku"))].why_not)
        for i in order.items
    ]
    result = result.model_copy(
        update={
            "order_number": order.number,
            "order_status": OrderStatus(order.status),
            "lines": lines,
            "window_ends": eligibility.window_ends,
            "reason": args.reason,
        }
    )
    if (already := await _already(ctx, order, RequestKind.RETURN, result)) is not None:
        return already
    if not eligibility.eligible:
        return result.model_copy(
            update={
                "outcome": ActionOutcome.NOT_ELIGIBLE,
                "why_not": eligibility.why_not,
                "message": _why(eligibility.why_not, eligibility.window_ends),
            }
        )
    returnable = [line for line in lines if line.returnable]
    chosen: list[OrderLine] = []
    for wanted in args.items:
        item = by_sku.get(wanted.sku) or next(
            (i for s, i in by_sku.items() if s.casefold() == wanted.sku.casefold()), None
        )
        if item is None:
            return result.model_copy(
                update={
                    "outcome": ActionOutcome.NEEDS_DETAILS,
                    "missing": ["items"],
                    "message": f"{wanted.sku} is not on order {order.number}: choose from its lines.",
                }
            )
        verdict = verdicts[str(item.get("sku"))]
        if not verdict.returnable:
            return result.model_copy(
                update={
                    "outcome": ActionOutcome.NOT_ELIGIBLE,
                    "why_not": verdict.why_not,
                    "message": f"{verdict.title} is final sale and cannot be returned.",
                }
            )
        quantity = min(wanted.quantity or verdict.quantity, verdict.quantity)
        chosen.append(_line(item, quantity))
    if not chosen and len(returnable) == 1:
        chosen = [returnable[0].model_copy(update={"returnable": None, "why_not": None})]
    missing = []
    if not chosen:
        missing.append("items")
    if args.reason is None:
        missing.append("reason")
    faulty = args.reason in (ReturnReason.DAMAGED, ReturnReason.WRONG_ITEM)
    if policy.ask_condition and not faulty:
        if args.condition_ok is False:
            return result.model_copy(
                update={
                    "outcome": ActionOutcome.NOT_ELIGIBLE,
                    "why_not": Ineligible.CONDITION,
                    "chosen": chosen,
                    "message": _why(Ineligible.CONDITION, None),
                }
            )
        if args.condition_ok is None:
            missing.append("condition")
    result = result.model_copy(update={"chosen": chosen})
    if missing:
        return result.model_copy(
            update={
                "outcome": ActionOutcome.NEEDS_DETAILS,
                "missing": missing,
                "message": "Ask the customer for: " + ", ".join(missing) + ".",
            }
        )
    asked = req.Asked(
        kind=RequestKind.RETURN,
        items=[{"sku": c.sku, "title": c.title, "quantity": c.quantity} for c in chosen],
        reason=str(args.reason),
        details=(args.details or "").strip() or None,
    )
    return await _record(ctx, order, asked, args.confirm, result)


def _why(why: Ineligible | None, window_ends: date | None) -> str:
    match why:
        case Ineligible.NOT_DELIVERED:
            return "The order has not been delivered yet: a return can be started once it arrives."
        case Ineligible.WINDOW_CLOSED:
            return f"The return window closed on {window_ends}: this order can no longer be returned."
        case Ineligible.FINAL_SALE:
            return "Every item on this order is final sale and cannot be returned."
        case Ineligible.CONDITION:
            return "Only unworn, unwashed items with their tags can be returned; offer a person if they want to ask."
        case Ineligible.ALREADY_RETURNED:
            return "A return for this order has already been started or completed."
        case Ineligible.FULFILLED:
            return "The order has left (or is being packed at) the warehouse: it can no longer be changed, but it can be returned once it arrives."
        case Ineligible.CANCELLED:
            return "The order is cancelled, or its cancellation is being processed."
        case None:
            return ""


async def _change(ctx: ToolContext, args: OrderIdentity, kind: RequestKind) -> tuple[m.Order | None, OrderActionResult]:
    """The order and the result so far for a cancellation or an address change: not found, already requested, not
    eligible, or None-outcome-yet (NEEDS_DETAILS placeholder the caller completes)."""
    result = OrderActionResult(
        action=kind, outcome=ActionOutcome.NOT_FOUND, order_number=args.order_number, message=ORDER_NOT_FOUND
    )
    order = await _order(ctx, args)
    if order is None:
        return None, result
    result = result.model_copy(
        update={
            "order_number": order.number,
            "order_status": OrderStatus(order.status),
            "lines": [_line(i) for i in order.items],
        }
    )
    if (already := await _already(ctx, order, kind, result)) is not None:
        return None, already
    why = req.change_eligibility(order, kind, await _policy(ctx))
    if why is not None:
        return None, result.model_copy(
            update={"outcome": ActionOutcome.NOT_ELIGIBLE, "why_not": why, "message": _why(why, None)}
        )
    return order, result


@tool(audiences=EVERYONE)
async def cancel_order(ctx: ToolContext, args: CancelOrderInput) -> OrderActionResult:
    """Ask the shop to cancel an order not fulfilled yet (after that: a return once it arrives)."""
    order, result = await _change(ctx, args, RequestKind.CANCELLATION)
    if order is None:
        return result
    asked = req.Asked(kind=RequestKind.CANCELLATION, items=[], details=(args.details or "").strip() or None)
    return await _record(ctx, order, asked, args.confirm, result)


@tool(audiences=EVERYONE)
async def change_shipping_address(ctx: ToolContext, args: ChangeAddressInput) -> OrderActionResult:
    """Ask the shop to deliver an order not fulfilled yet to a new address, checked for its country."""
    order, result = await _change(ctx, args, RequestKind.ADDRESS_CHANGE)
    if order is None:
        return result
    if args.address is None:
        return result.model_copy(
            update={
                "outcome": ActionOutcome.NEEDS_DETAILS,
                "missing": ["address"],
                "message": "Ask the customer for the full new address.",
            }
        )
    given = args.address
    if not given.country_code:
        given = given.model_copy(update={"country_code": str((order.shipping_address or {}).get("country") or "")})
    normal, problems = check_address(given)
    if normal is None:
        return result.model_copy(
            update={
                "outcome": ActionOutcome.NEEDS_DETAILS,
                "missing": list(problems),
                "address": given,
                "address_problems": problems,
                "message": "The address is incomplete or wrong: "
                + ", ".join(f"{k} {v}" for k, v in problems.items())
                + ". Ask the customer for it.",
            }
        )
    result = result.model_copy(update={"address": normal})
    asked = req.Asked(kind=RequestKind.ADDRESS_CHANGE, items=[], address=normal.model_dump(exclude_defaults=True))
    return await _record(ctx, order, asked, args.confirm, result)


class ReturnStatusInput(BaseModel):
    order_number_or_reference: str = Field(min_length=1, max_length=40, description="`A-10423` or `RMA-…`")
    email_or_phone: str = Field(min_length=3, max_length=254, description="on the order")


class RequestInfo(BaseModel):
    reference: str
    kind: RequestKind
    status: RequestStatus
    """`requested` (waiting for the shop), `approved` or `denied`."""
    items: list[OrderLine] = Field(default_factory=list, exclude_if=_absent)
    requested_on: date | None = None
    decided_on: date | None = Field(default=None, exclude_if=_absent)


class ReturnStatusResult(BaseModel):
    found: bool
    order_number: str
    order_status: OrderStatus | None = Field(default=None, exclude_if=_absent)
    requests: list[RequestInfo] = Field(default_factory=list)
    """Newest first; empty when nothing was requested on the order."""
    message: str | None = Field(default=None, exclude_if=_absent)


@tool(audiences=EVERYONE)
async def return_status(ctx: ToolContext, args: ReturnStatusInput) -> ReturnStatusResult:
    """Where a customer's return, cancellation or address change stands."""
    key = args.order_number_or_reference.strip()
    not_found = ReturnStatusResult(found=False, order_number=key, message=ORDER_NOT_FOUND)
    number = key
    if REFERENCE.match(key):
        try:
            request = await req.find_request(ctx.session, ctx.tenant_id, key)
        except req.RequestNotFound:
            return not_found
        number = request.order_number
    found = await req.verified_order(
        ctx.session, ctx.tenant_id, number, args.email_or_phone, customer_id=ctx.customer_id
    )
    if found is None:
        return not_found
    order = found[0]
    rows = await req.list_requests(ctx.session, ctx.tenant_id, order_number=order.number)
    requests = [
        RequestInfo(
            reference=r.reference,
            kind=RequestKind(r.kind),
            status=RequestStatus(r.status),
            items=[_line(i) for i in r.items or []],
            requested_on=r.requested_at.date() if r.requested_at else None,
            decided_on=r.decided_at.date() if r.decided_at else None,
        )
        for r in rows
    ]
    return ReturnStatusResult(
        found=True, order_number=order.number, order_status=OrderStatus(order.status), requests=requests
    )


ORDER_ACTION_TOOLS: list[ToolSpec] = [start_return, cancel_order, change_shipping_address, return_status]
"""Tools that change a shopper's order (after their confirmation), and the one that follows up on them."""
