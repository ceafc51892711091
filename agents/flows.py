"""Walk a shopper through a return, a cancellation or an address change without a model: one question per turn.

Each flow fills its slots across turns (which order and whose, which items, why, the items' condition, the new
address), asks the tool to check and propose the change, shows the shopper exactly what will be asked with Yes and
No buttons, and records it only when the next message says yes (the tool checks that too). What the flow has
gathered rides in the conversation's `Pending` state; a message that is plainly about something else ends it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.actions import Action, items_in, reason_in, reference_in
from agents.replies import N_, QuickReply, Replies
from agents.state import EngineTurn, Pending
from hub.addresses import Address, read_address
from hub.db.models import RequestKind, RequestStatus
from hub.languages import affirmation
from hub.order_requests import Ineligible, ReturnReason
from hub.prompting.outputs import Intent
from tools import order_actions as oa

if TYPE_CHECKING:
    from agents.entities import Entities

INTENTS = {
    Action.RETURN: Intent.RETURNS_REFUNDS,
    Action.STATUS: Intent.RETURNS_REFUNDS,
    Action.CANCEL: Intent.ORDER_CHANGE,
    Action.ADDRESS: Intent.ORDER_CHANGE,
}
TOOLS = {
    Action.RETURN: "start_return",
    Action.CANCEL: "cancel_order",
    Action.ADDRESS: "change_shipping_address",
    Action.STATUS: "return_status",
}
REASON_LABELS: dict[ReturnReason, str] = {
    ReturnReason.DOESNT_FIT: N_("Doesn't fit"),
    ReturnReason.NOT_AS_DESCRIBED: N_("Not as described"),
    ReturnReason.DAMAGED: N_("Damaged or faulty"),
    ReturnReason.WRONG_ITEM: N_("Wrong item sent"),
    ReturnReason.CHANGED_MIND: N_("Changed my mind"),
    ReturnReason.OTHER: N_("Another reason"),
}
YES, NO, ALL_ITEMS = N_("Yes, go ahead"), N_("No"), N_("All items")
ADDRESS_FIELDS = {
    "street_address": N_("street and house number"),
    "city": N_("city"),
    "postal_code": N_("postal code"),
    "country_area": N_("state or region"),
    "country_code": N_("country"),
}
LEADS = {
    Action.RETURN: N_("I can start a return for you."),
    Action.CANCEL: N_("I can ask the shop to cancel your order."),
    Action.ADDRESS: N_("I can change the delivery address of your order."),
    Action.STATUS: N_("I can check on your request."),
}
OFFERS = {
    Action.RETURN: N_(
        "If you'd like to start a return, tell me your order number and the email or phone on the order."
    ),
    Action.CANCEL: N_(
        "If you'd like me to ask the shop to cancel an order, tell me its number and the email or phone on it."
    ),
    Action.ADDRESS: N_(
        "If you'd like me to change an order's delivery address, tell me its number and the email or phone on it."
    ),
}
_QUESTION_MARK = re.compile(r"\?\s*$")


def _reason_labels(r: Replies) -> dict[ReturnReason, str]:
    return {reason: r._(label) for reason, label in REASON_LABELS.items()}


def continues(text: str, pending: Pending, entities: Entities) -> bool:
    """Whether a message answers the flow's open question (rather than starting something else)."""
    if pending.action is None:
        return False
    if pending.step == "done":  # a second tap on "Yes" (the same words again) gets the request already made
        return pending.confirmed_with is not None and _same(text, pending.confirmed_with)
    if entities.order_numbers or entities.emails or entities.phones or reference_in(text):
        return True
    r = Replies()
    match pending.step:
        case "confirm" | "condition":
            return affirmation(text) is not None
        case "items":
            return items_in(text, [(c[0], c[1]) for c in pending.choices or []], all_label=r._(ALL_ITEMS)) is not None
        case "reason":  # a reason in words or a button's short title, or any short answer that is not a question
            return reason_in(text) is not None or (len(text.split()) <= 12 and not _QUESTION_MARK.search(text))
        case "address":
            return any(ch.isdigit() for ch in text) and len(text.strip()) >= 8
        case _:
            return False


def _same(text: str, other: str) -> bool:
    return " ".join(text.casefold().split()) == " ".join(other.casefold().split())


def _quick(id_: str, title: str, description: str | None = None) -> QuickReply:
    return QuickReply(id=id_, title=title[:24] if len(title) <= 24 else title[:23] + "…", description=description)


def quick_replies_for(result: oa.OrderActionResult, r: Replies) -> list[QuickReply]:
    """The buttons that answer what a tool result asks the shopper: yes or no, which item, why."""
    if result.outcome is oa.ActionOutcome.NEEDS_CONFIRMATION:
        return [_quick("yes", r._(YES)), _quick("no", r._(NO))]
    if result.outcome is not oa.ActionOutcome.NEEDS_DETAILS or not result.missing:
        return []
    first = result.missing[0]
    if first == "items":
        lines = [line for line in result.lines if line.returnable is not False]
        choices = [
            _quick(f"item:{line.sku}", line.title, " · ".join(v for v in (line.size, line.colour, line.sku) if v)[:72])
            for line in lines[:9]
        ]
        return [*choices, _quick("item:all", r._(ALL_ITEMS))] if len(lines) > 1 else choices
    if first == "reason":
        return [_quick(f"reason:{reason}", label) for reason, label in _reason_labels(r).items()]
    if first == "condition":
        return [_quick("yes", r._("Yes")), _quick("no", r._(NO))]
    return []


def _absorb(text: str, entities: Entities, state: Pending, r: Replies) -> Pending:
    """What this message adds to the flow: the order and contact, a reference, items, a reason, yes or no, an
    address."""
    update: dict[str, Any] = {}
    if entities.order_numbers:
        update["order_number"] = entities.order_numbers[0]
    elif state.action is Action.STATUS and (ref := reference_in(text)):
        update["order_number"] = ref
    contacts = [*entities.emails, *entities.phones]
    if contacts:
        update["contact"] = contacts[0]
    if state.action is Action.RETURN:
        if state.choices:
            picked = items_in(text, [(c[0], c[1]) for c in state.choices], all_label=r._(ALL_ITEMS))
            if picked:
                update["items"] = picked
        reason = reason_in(text, _reason_labels(r), answering=state.step == "reason")
        if reason is not None:
            update["reason"] = reason
            update["details"] = text.strip()[:500]
        elif state.step == "reason":
            update["reason"] = ReturnReason.OTHER
            update["details"] = text.strip()[:500]
        if state.step == "condition" and (said := affirmation(text)) is not None:
            update["condition_ok"] = said
    if state.action is Action.ADDRESS and state.step == "address":
        update["address"] = read_address(text, state.country or "US").model_dump(exclude_defaults=True)
    return state.model_copy(update=update)


ToolCall = Callable[..., Awaitable[BaseModel]]
"""Runs one tool by name with keyword arguments and records it in the turn (the engine's, bound to the turn)."""


async def run(call: ToolCall, turn: EngineTurn, text: str, entities: Entities, state: Pending) -> None:
    """Take the flow in `state` one step on with this message; sets the turn's reply, pending state and buttons."""
    r = Replies(turn.language)
    assert state.action is not None
    action = state.action
    turn.intent = INTENTS[action]
    if state.step == "confirm" and affirmation(text) is False:
        turn.reply = r._("All right, I haven't changed anything. Is there anything else I can help with?")
        return
    state = _absorb(text, entities, state, r)
    if not state.order_number or not state.contact:
        turn.pending = state.model_copy(update={"step": "identify"})
        if not state.order_number and not state.contact:
            ask = r._("What's your order number and the email or phone on the order?")
        elif not state.order_number:
            ask = r._("What's your order number?")
        else:
            ask = r._("What's the email or phone on the order?")
        turn.reply = f"{r._(LEADS[action])} {ask}"
        return
    identity = {"order_number": state.order_number, "email_or_phone": state.contact}
    if action is Action.STATUS:
        status = await call("return_status", order_number_or_reference=state.order_number, email_or_phone=state.contact)
        assert isinstance(status, oa.ReturnStatusResult)
        turn.reply = _status_reply(r, status)
        return
    confirm = state.step in ("confirm", "done") and affirmation(text) is True
    args: dict[str, Any] = {**identity, "confirm": confirm}
    if action is Action.RETURN:
        args |= {
            "items": [{"sku": sku} for sku in state.items or []],
            "reason": state.reason,
            "details": state.details,
            "condition_ok": state.condition_ok,
        }
    elif action is Action.ADDRESS and state.address:
        args["address"] = state.address
    result = await call(TOOLS[action], **args)
    assert isinstance(result, oa.OrderActionResult)
    turn.quick_replies = quick_replies_for(result, r)
    turn.reply = _result_reply(r, result, action)
    step = _next_step(result)
    if step == "done":
        turn.pending = state.model_copy(update={"step": step, "choices": None, "confirmed_with": text})
    elif step is not None:
        choices = [[line.sku, line.title] for line in result.lines if line.returnable is not False]
        country = (result.address.country_code if result.address else None) or result.ship_to_country
        turn.pending = state.model_copy(update={"step": step, "choices": choices or None, "country": country})


def _next_step(result: oa.OrderActionResult) -> str | None:
    if result.outcome is oa.ActionOutcome.NEEDS_CONFIRMATION:
        return "confirm"
    if result.outcome in (oa.ActionOutcome.REQUESTED, oa.ActionOutcome.ALREADY_REQUESTED):
        return "done"
    if result.outcome is oa.ActionOutcome.NEEDS_DETAILS and result.missing:
        first = result.missing[0]
        return first if first in ("items", "reason", "condition") else "address"
    if result.outcome is oa.ActionOutcome.NOT_FOUND:
        return "identify"
    return None


def _lines(r: Replies, lines: list[oa.OrderLine]) -> str:
    return ", ".join(f"{line.quantity} × {line.title}" + (f" ({line.size})" if line.size else "") for line in lines)


def _address(address: Address | None) -> str:
    if address is None:
        return ""
    parts = [
        address.street_address,
        " ".join(p for p in (address.postal_code, address.city) if p),
        address.country_area,
        address.country_code,
    ]
    return ", ".join(p for p in parts if p)


def _result_reply(r: Replies, result: oa.OrderActionResult, action: Action) -> str:
    number = result.order_number
    match result.outcome:
        case oa.ActionOutcome.NOT_FOUND:
            return r._(
                "I couldn't find an order with those details. Please check the order number and the email or phone "
                "you used when ordering."
            )
        case oa.ActionOutcome.ALREADY_REQUESTED:
            return r._(
                "You've already asked for this on order %(number)s: your reference is %(reference)s, and the shop "
                "is reviewing it. You'll hear back here.",
                number=number,
                reference=result.reference,
            )
        case oa.ActionOutcome.NOT_ELIGIBLE:
            return _not_eligible(r, result, action)
        case oa.ActionOutcome.NEEDS_DETAILS:
            return _ask(r, result)
        case oa.ActionOutcome.NEEDS_CONFIRMATION:
            go_ahead = r._("Shall I go ahead?")
            return f"{_summary(r, result, action)} {go_ahead}"
        case oa.ActionOutcome.REQUESTED:
            return _done(r, result, action)


def _summary(r: Replies, result: oa.OrderActionResult, action: Action) -> str:
    number = result.order_number
    if action is Action.RETURN:
        reason = r._(REASON_LABELS[result.reason or ReturnReason.OTHER])
        return r._(
            "I'll ask the shop to accept a return of %(items)s from order %(number)s (reason: %(reason)s).",
            items=_lines(r, result.chosen),
            number=number,
            reason=reason,
        )
    if action is Action.CANCEL:
        return r._(
            "I'll ask the shop to cancel order %(number)s (%(items)s).", number=number, items=_lines(r, result.lines)
        )
    return r._(
        "I'll ask the shop to deliver order %(number)s to: %(address)s.",
        number=number,
        address=_address(result.address),
    )


def _done(r: Replies, result: oa.OrderActionResult, action: Action) -> str:
    values = {"number": result.order_number, "reference": result.reference}
    if action is Action.RETURN:
        return r._(
            "Done: your return request for order %(number)s is in, reference %(reference)s. The shop reviews it and "
            "you'll hear back here with the return instructions. Refunds are made once the return is approved and "
            "received.",
            **values,
        )
    if action is Action.CANCEL:
        return r._(
            "Done: I've asked the shop to cancel order %(number)s, reference %(reference)s. Its status is now "
            "cancel requested; you'll hear back here once the shop confirms.",
            **values,
        )
    return r._(
        "Done: I've asked the shop to change the delivery address of order %(number)s, reference %(reference)s. "
        "You'll hear back here once it's confirmed.",
        **values,
    )


def _ask(r: Replies, result: oa.OrderActionResult) -> str:
    first = result.missing[0]
    if first == "items":
        lines = "\n".join(
            f"{i}. {line.quantity} × {line.title}" + (f" ({line.size})" if line.size else "")
            for i, line in enumerate((x for x in result.lines if x.returnable is not False), start=1)
        )
        return (
            r._("Which items would you like to return from order %(number)s?", number=result.order_number)
            + "\n"
            + lines
        )
    if first == "reason":
        return r._("What's the reason for the return?")
    if first == "condition":
        return r._("Are the items unworn and unwashed, with their tags still attached?")
    if first == "address":
        return r._(
            "What's the new delivery address? Please write it in one message: street and number, postal code, city "
            "(and state, where there is one)."
        )
    missing = ", ".join(r._(ADDRESS_FIELDS[f]) if f in ADDRESS_FIELDS else f for f in result.missing)
    return r._(
        "That address seems incomplete or wrong (%(fields)s). Could you write the full address again?", fields=missing
    )


def _not_eligible(r: Replies, result: oa.OrderActionResult, action: Action) -> str:
    number = result.order_number
    match result.why_not:
        case Ineligible.NOT_DELIVERED:
            return r._(
                "Order %(number)s hasn't been delivered yet, so it can't be returned yet: you can start a return as "
                "soon as it arrives.",
                number=number,
            )
        case Ineligible.WINDOW_CLOSED:
            return r._(
                "The return window for order %(number)s closed on %(date)s, so I can't start a return. If you think "
                "that's wrong, I can pass you to a colleague.",
                number=number,
                date=r.date(result.window_ends) if result.window_ends else "",
            )
        case Ineligible.FINAL_SALE:
            return r._("Those items are final sale and can't be returned.")
        case Ineligible.CONDITION:
            return r._(
                "I'm sorry: only unworn, unwashed items with their tags attached can be returned. If something is "
                "wrong with the item, I can pass you to a colleague."
            )
        case Ineligible.ALREADY_RETURNED:
            return r._("A return for order %(number)s has already been started or completed.", number=number)
        case Ineligible.CANCELLED:
            return r._("Order %(number)s is cancelled, or its cancellation is already being processed.", number=number)
        case Ineligible.FULFILLED if action is Action.CANCEL:
            return r._(
                "Order %(number)s is already being packed or on its way, so it can't be cancelled any more. Once it "
                "arrives, you can return it: just ask me.",
                number=number,
            )
        case Ineligible.FULFILLED:
            return r._(
                "Order %(number)s is already being packed or on its way, so its address can't be changed any more.",
                number=number,
            )
        case None:
            return ""


_STATUS_LINES = {
    (RequestKind.RETURN, RequestStatus.REQUESTED): N_(
        "Return %(reference)s (%(items)s): waiting for the shop's review."
    ),
    (RequestKind.RETURN, RequestStatus.APPROVED): N_("Return %(reference)s (%(items)s): approved."),
    (RequestKind.RETURN, RequestStatus.DENIED): N_("Return %(reference)s (%(items)s): not accepted."),
    (RequestKind.CANCELLATION, RequestStatus.REQUESTED): N_(
        "Cancellation %(reference)s: waiting for the shop's review."
    ),
    (RequestKind.CANCELLATION, RequestStatus.APPROVED): N_("Cancellation %(reference)s: approved."),
    (RequestKind.CANCELLATION, RequestStatus.DENIED): N_("Cancellation %(reference)s: not accepted."),
    (RequestKind.ADDRESS_CHANGE, RequestStatus.REQUESTED): N_(
        "Address change %(reference)s: waiting for the shop's review."
    ),
    (RequestKind.ADDRESS_CHANGE, RequestStatus.APPROVED): N_("Address change %(reference)s: approved."),
    (RequestKind.ADDRESS_CHANGE, RequestStatus.DENIED): N_("Address change %(reference)s: not accepted."),
}


def _status_reply(r: Replies, status: oa.ReturnStatusResult) -> str:
    if not status.found:
        return r._(
            "I couldn't find an order with those details. Please check the order number and the email or phone "
            "you used when ordering."
        )
    if not status.requests:
        return r._("There's no return, cancellation or address change on order %(number)s.", number=status.order_number)
    lines = [
        r._(_STATUS_LINES[(req.kind, req.status)], reference=req.reference, items=_lines(r, req.items))
        for req in status.requests
        if (req.kind, req.status) in _STATUS_LINES
    ]
    return r._("Order %(number)s:", number=status.order_number) + " " + " ".join(lines)
