"""Returns, cancellations and address changes: who may ask, what the shop's policy allows, and the operator's call.

A shopper's request goes through three steps, each in the caller's transaction:

1. `propose` writes (or updates) a draft for the order and kind in the shopper's conversation: what would be
   asked, exactly, for the shopper to confirm.
2. `confirm` turns that draft into a request, only from a later turn of the same conversation and only when
   nothing changed since the shopper saw it. The database keeps one open request per order and kind
   (`uq_order_requests_open`), so a repeat confirmation, a double tap or two replicas racing return the request
   already made instead of a second one. The order's status says so (`return_requested`, `cancel_requested`) and
   an event goes to the shop (`return.requested`, …).
3. An operator approves or denies it (`decide`): a cancellation becomes `cancelled`, a new address replaces the
   order's, a denial puts the order's status back, and each decision is an event too. Refunds are never made here:
   the shop's own system does that when it hears `return.approved`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.db.models import OrderStatus, RequestKind, RequestStatus
from hub.shop_events import emit
from hub.tenancy.config import OrderPolicy
from hub.text import order_number_spellings, same_phone

PREFIXES = {RequestKind.RETURN: "RMA", RequestKind.CANCELLATION: "CXL", RequestKind.ADDRESS_CHANGE: "ADR"}
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
"""No 0/O, 1/I/L or U: a reference read out over the phone is not misheard."""
DELIVERED_STATUSES = frozenset({OrderStatus.DELIVERED})
RETURNED_STATUSES = frozenset({OrderStatus.RETURN_REQUESTED, OrderStatus.RETURNED, OrderStatus.REFUNDED})
REQUESTED_EVENTS = {
    RequestKind.RETURN: "return.requested",
    RequestKind.CANCELLATION: "order.cancel_requested",
    RequestKind.ADDRESS_CHANGE: "order.address_change_requested",
}
DECIDED_EVENTS = {
    (RequestKind.RETURN, True): "return.approved",
    (RequestKind.RETURN, False): "return.denied",
    (RequestKind.CANCELLATION, True): "order.cancelled",
    (RequestKind.CANCELLATION, False): "order.cancel_denied",
    (RequestKind.ADDRESS_CHANGE, True): "order.address_changed",
    (RequestKind.ADDRESS_CHANGE, False): "order.address_change_denied",
}


class ReturnReason(StrEnum):
    DOESNT_FIT = "doesnt_fit"
    NOT_AS_DESCRIBED = "not_as_described"
    DAMAGED = "damaged"
    """Arrived damaged or faulty."""
    WRONG_ITEM = "wrong_item"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


class Ineligible(StrEnum):
    """Why an order (or an item) cannot have what was asked."""

    NOT_DELIVERED = "not_delivered"
    """A return before the order arrived: possible once it is delivered."""
    WINDOW_CLOSED = "window_closed"
    FINAL_SALE = "final_sale"
    CONDITION = "condition"
    """Worn, washed or without tags."""
    ALREADY_RETURNED = "already_returned"
    FULFILLED = "fulfilled"
    """A cancellation or address change after the order left (or started to leave) the warehouse."""
    CANCELLED = "cancelled"
    """The order is cancelled (or its cancellation is being processed)."""


class RequestError(ValueError):
    """An operator's decision the request's state does not allow; the message says why (an HTTP 409)."""


class RequestNotFound(LookupError):
    """No such request in this shop (an HTTP 404)."""


def new_reference(kind: RequestKind) -> str:
    return f"{PREFIXES[kind]}-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def contact_matches(given: str, customer: m.Customer) -> bool:
    """Whether `given` is the customer's email (case-insensitive) or phone (any formatting)."""
    text = given.strip()
    if "@" in text:
        return text.removeprefix("mailto:").strip().lower() == customer.email.strip().lower()
    return customer.phone is not None and same_phone(text, customer.phone)


async def verified_order(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    number: str,
    contact: str,
    *,
    customer_id: uuid.UUID | None = None,
) -> tuple[m.Order, m.Customer] | None:
    """The order with this number whose customer has this email or phone; None for every kind of mismatch alike,
    so a caller's answer never tells whether the order exists. `customer_id` (a verified channel identity) must
    own it too."""
    spellings = order_number_spellings(number)
    rows = await session.execute(select(m.Order).where(m.Order.tenant_id == tenant_id, m.Order.number.in_(spellings)))
    found = {o.number: o for o in rows.scalars()}
    order = next((found[n] for n in spellings if n in found), None)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        return None
    customer = await session.get(m.Customer, order.customer_id)
    if customer is None or customer.tenant_id != tenant_id or not contact_matches(contact, customer):
        return None
    return order, customer


# --- eligibility --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemEligibility:
    sku: str
    title: str
    quantity: int
    returnable: bool
    why_not: Ineligible | None = None


@dataclass(frozen=True)
class ReturnEligibility:
    eligible: bool
    """At least one item can be returned now."""
    why_not: Ineligible | None
    """Why nothing can be returned, when nothing can."""
    items: list[ItemEligibility]
    window_ends: date | None
    """The last day a return can be started (from delivery); None before delivery."""


def delivered_on(order: m.Order) -> datetime | None:
    if order.delivered_at is not None:
        return order.delivered_at
    return order.updated_at if order.status in DELIVERED_STATUSES else None


def return_eligibility(
    order: m.Order, products: dict[str, m.Product], policy: OrderPolicy, now: datetime
) -> ReturnEligibility:
    """Which of the order's items can be returned now, under the shop's policy; `products` by SKU (an item whose
    product is gone is judged by the order alone)."""
    tags = {t.casefold() for t in policy.final_sale_tags}
    categories = {c.casefold() for c in policy.final_sale_categories}
    items: list[ItemEligibility] = []
    for item in order.items:
        product = products.get(str(item.get("sku")))
        final = product is not None and (
            any(t.casefold() in tags for t in product.tags or []) or product.category.casefold() in categories
        )
        why = Ineligible.FINAL_SALE if final else None
        items.append(
            ItemEligibility(
                sku=str(item.get("sku")),
                title=str(item.get("title")),
                quantity=int(item.get("quantity", 1)),
                returnable=why is None,
                why_not=why,
            )
        )
    delivered = delivered_on(order)
    window_ends = None if delivered is None else (delivered + timedelta(days=policy.return_window_days)).date()
    status = OrderStatus(order.status)
    why_not: Ineligible | None = None
    if status in RETURNED_STATUSES:
        why_not = Ineligible.ALREADY_RETURNED
    elif status in (OrderStatus.CANCELLED, OrderStatus.CANCEL_REQUESTED):
        why_not = Ineligible.CANCELLED
    elif delivered is None:
        why_not = Ineligible.NOT_DELIVERED
    elif window_ends is not None and now.date() > window_ends:
        why_not = Ineligible.WINDOW_CLOSED
    elif not any(i.returnable for i in items):
        why_not = Ineligible.FINAL_SALE
    return ReturnEligibility(eligible=why_not is None, why_not=why_not, items=items, window_ends=window_ends)


def change_eligibility(order: m.Order, kind: RequestKind, policy: OrderPolicy) -> Ineligible | None:
    """Why the order can no longer be cancelled (or have its address changed), or None when it can."""
    status = OrderStatus(order.status)
    if status in (OrderStatus.CANCELLED, OrderStatus.CANCEL_REQUESTED):
        return Ineligible.CANCELLED
    allowed = policy.cancellable_statuses if kind is RequestKind.CANCELLATION else policy.address_change_statuses
    return None if status in allowed else Ineligible.FULFILLED


async def products_of(session: AsyncSession, tenant_id: uuid.UUID, order: m.Order) -> dict[str, m.Product]:
    """The products (or the products of the variants) the order's items name, by the item's SKU."""
    skus = {str(i.get("sku")) for i in order.items}
    found: dict[str, m.Product] = {}
    rows = await session.execute(select(m.Product).where(m.Product.tenant_id == tenant_id, m.Product.sku.in_(skus)))
    for product in rows.scalars():
        found[product.sku] = product
    missing = skus - found.keys()
    if missing:
        pairs = await session.execute(
            select(m.ProductVariant.sku, m.Product)
            .join(m.Product, m.Product.id == m.ProductVariant.product_id)
            .where(m.ProductVariant.tenant_id == tenant_id, m.ProductVariant.sku.in_(missing))
        )
        for sku, product in pairs.all():
            found[sku] = product
    return found


# --- drafts and confirmations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """What the shopper asks for, exactly as they will confirm it."""

    kind: RequestKind
    items: list[dict[str, Any]]
    reason: str | None = None
    details: str | None = None
    address: dict[str, Any] | None = None

    def same_as(self, row: m.OrderRequest) -> bool:
        return (
            _items_key(self.items) == _items_key(row.items or [])
            and self.reason == row.reason
            and (self.address or None) == (row.address or None)
        )


def _items_key(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((str(i.get("sku")), int(i.get("quantity", 1))) for i in items)


@dataclass(frozen=True)
class Where:
    """The conversation a request is asked in, and the turn asking."""

    channel: str
    conversation_ref: str | None
    turn: str | None
    actor: str


async def open_request(
    session: AsyncSession, tenant_id: uuid.UUID, order: m.Order, kind: RequestKind
) -> m.OrderRequest | None:
    """The request of this kind on the order an operator has still to decide, if any."""
    row = await session.execute(
        select(m.OrderRequest).where(
            m.OrderRequest.tenant_id == tenant_id,
            m.OrderRequest.order_id == order.id,
            m.OrderRequest.kind == kind,
            m.OrderRequest.status == RequestStatus.REQUESTED,
        )
    )
    return row.scalar_one_or_none()


async def _draft(
    session: AsyncSession, tenant_id: uuid.UUID, order: m.Order, kind: RequestKind, where: Where
) -> m.OrderRequest | None:
    row = await session.execute(
        select(m.OrderRequest).where(
            m.OrderRequest.tenant_id == tenant_id,
            m.OrderRequest.order_id == order.id,
            m.OrderRequest.kind == kind,
            m.OrderRequest.status == RequestStatus.DRAFT,
            m.OrderRequest.channel == where.channel,
            m.OrderRequest.conversation_ref == where.conversation_ref,
        )
    )
    return row.scalars().first()


async def propose(
    session: AsyncSession, tenant_id: uuid.UUID, order: m.Order, asked: Asked, where: Where
) -> m.OrderRequest:
    """Write what the shopper is about to confirm as this conversation's draft for the order (replacing an earlier
    draft's content); the caller commits."""
    draft = await _draft(session, tenant_id, order, asked.kind, where)
    if draft is None:
        draft = m.OrderRequest(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            reference=new_reference(asked.kind),
            kind=asked.kind,
            status=RequestStatus.DRAFT,
            order_id=order.id,
            order_number=order.number,
            customer_id=order.customer_id,
            channel=where.channel,
            conversation_ref=where.conversation_ref,
        )
        session.add(draft)
    draft.items = asked.items
    draft.reason = asked.reason
    draft.details = asked.details
    draft.address = asked.address
    draft.proposed_in = where.turn
    draft.updated_at = datetime.now(UTC)
    await session.flush()
    return draft


@dataclass(frozen=True)
class Confirmed:
    request: m.OrderRequest
    created: bool
    """False when an open request already existed (a repeat): nothing new was recorded."""
    event_id: uuid.UUID | None = None


async def confirm(
    session: AsyncSession, tenant_id: uuid.UUID, order: m.Order, asked: Asked, where: Where
) -> Confirmed | None:
    """Record the request the shopper confirmed: the open one if there is one already (a repeat), else this
    conversation's draft when an earlier turn proposed exactly `asked`; None when there is no such draft (propose
    it and ask again). Commits nothing; on a lost race with another confirmation it returns the winner's request."""
    existing = await open_request(session, tenant_id, order, asked.kind)
    if existing is not None:
        return Confirmed(existing, created=False)
    draft = await _draft(session, tenant_id, order, asked.kind, where)
    if draft is None or not asked.same_as(draft) or (where.turn is not None and draft.proposed_in == where.turn):
        return None
    now = datetime.now(UTC)
    # Only a draft still a draft becomes the request: of two confirmations of one draft at once (a double tap), the
    # second updates nothing; of two drafts of one order (two conversations), the open-request index stops the second.
    moved = 0
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(m.OrderRequest)
                .where(m.OrderRequest.id == draft.id, m.OrderRequest.status == RequestStatus.DRAFT)
                .values(
                    status=RequestStatus.REQUESTED, requested_at=now, updated_at=now, previous_status=str(order.status)
                )
                .execution_options(synchronize_session=False)
            )
            moved = cast("CursorResult[Any]", result).rowcount  # a DML statement's result is a CursorResult
    except IntegrityError:
        pass
    if moved != 1:  # another confirmation won the race: theirs is the request
        await session.refresh(order)
        existing = await open_request(session, tenant_id, order, asked.kind)
        return None if existing is None else Confirmed(existing, created=False)
    await session.refresh(draft)
    if asked.kind == RequestKind.RETURN:
        order.status = OrderStatus.RETURN_REQUESTED
    elif asked.kind == RequestKind.CANCELLATION:
        order.status = OrderStatus.CANCEL_REQUESTED
    order.updated_at = now
    event = emit(session, tenant_id, REQUESTED_EVENTS[asked.kind], event_data(draft, order))
    await record(
        session,
        tenant_id=tenant_id,
        actor=where.actor,
        action=f"order_request.{asked.kind}",
        subject=draft.reference,
        data={"order": order.number, "channel": where.channel},
    )
    return Confirmed(draft, created=True, event_id=event.id)


# --- operators ------------------------------------------------------------------------------------------


async def find_request(
    session: AsyncSession, tenant_id: uuid.UUID, key: str, kind: RequestKind | None = None
) -> m.OrderRequest:
    """A confirmed request of this shop by id or reference (`RMA-…`); drafts are the shopper's, not the queue's."""
    text = key.strip()
    try:
        clause = m.OrderRequest.id == uuid.UUID(text)
    except ValueError:
        clause = m.OrderRequest.reference == text.upper()
    query = select(m.OrderRequest).where(
        m.OrderRequest.tenant_id == tenant_id,
        clause,
        m.OrderRequest.status != RequestStatus.DRAFT,
    )
    if kind is not None:
        query = query.where(m.OrderRequest.kind == kind)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        what = "request" if kind is None else str(kind).replace("_", " ")
        raise RequestNotFound(f"no {what} {text!r} in this shop")
    return row


@dataclass(frozen=True)
class Decided:
    request: m.OrderRequest
    order: m.Order
    event_id: uuid.UUID


async def decide(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    *,
    approve: bool,
    by: str,
    note: str | None = None,
    kind: RequestKind | None = None,
) -> Decided:
    """Approve or deny an open request (by id or reference); the order follows and the shop hears of it. Raises
    RequestNotFound, or RequestError when it was decided already. The caller commits."""
    request = await find_request(session, tenant_id, key, kind)
    if request.status != RequestStatus.REQUESTED:
        raise RequestError(f"{request.reference} was already {request.status} by {request.decided_by or 'someone'}")
    order = await session.get(m.Order, request.order_id)
    if order is None:
        raise RequestNotFound(f"the order of {request.reference} is gone")
    now = datetime.now(UTC)
    request.status = RequestStatus.APPROVED if approve else RequestStatus.DENIED
    request.decided_by = by
    request.decided_at = now
    request.note = (note or "").strip()[:500] or None
    request.updated_at = now
    if request.kind == RequestKind.CANCELLATION:
        order.status = OrderStatus.CANCELLED if approve else OrderStatus(request.previous_status or OrderStatus.PAID)
    elif request.kind == RequestKind.RETURN and not approve:
        order.status = OrderStatus(request.previous_status or OrderStatus.DELIVERED)
    elif request.kind == RequestKind.ADDRESS_CHANGE and approve and request.address:
        order.shipping_address = {**(order.shipping_address or {}), **request.address}
    order.updated_at = now
    event = emit(session, tenant_id, DECIDED_EVENTS[(request.kind, approve)], event_data(request, order))
    await record(
        session,
        tenant_id=tenant_id,
        actor=by,
        action=f"order_request.{'approved' if approve else 'denied'}",
        subject=request.reference,
        data={"order": order.number, "kind": str(request.kind), "note": request.note},
    )
    return Decided(request, order, event.id)


async def list_requests(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    kind: RequestKind | None = None,
    status: RequestStatus | None = None,
    order_number: str | None = None,
    limit: int = 100,
) -> list[m.OrderRequest]:
    """Confirmed requests, oldest waiting first for the open queue, newest first otherwise."""
    query = select(m.OrderRequest).where(
        m.OrderRequest.tenant_id == tenant_id,
        m.OrderRequest.status.in_([RequestStatus.REQUESTED, RequestStatus.APPROVED, RequestStatus.DENIED]),
    )
    if kind is not None:
        query = query.where(m.OrderRequest.kind == kind)
    if status is not None:
        query = query.where(m.OrderRequest.status == status)
    if order_number:
        query = query.where(m.OrderRequest.order_number.in_(order_number_spellings(order_number)))
    if status is RequestStatus.REQUESTED:
        query = query.order_by(m.OrderRequest.requested_at.asc())
    else:
        query = query.order_by(m.OrderRequest.requested_at.desc())
    return list((await session.execute(query.limit(limit))).scalars())


def request_view(request: m.OrderRequest) -> dict[str, Any]:
    """A request as the API, the CLI, the console and the shop's events show it."""
    return {
        "id": str(request.id),
        "reference": request.reference,
        "kind": str(request.kind),
        "status": str(request.status),
        "order_number": request.order_number,
        "customer_id": str(request.customer_id),
        "items": request.items or [],
        "reason": request.reason,
        "details": request.details,
        "address": request.address,
        "channel": request.channel,
        "requested_at": request.requested_at.isoformat() if request.requested_at else None,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "note": request.note,
    }


def event_data(request: m.OrderRequest, order: m.Order) -> dict[str, Any]:
    """An event's data: the request, and the order as it stands after the change."""
    return {
        "request": request_view(request),
        "order": {
            "number": order.number,
            "status": str(order.status),
            "total": str(order.total),
            "currency": order.currency,
            "shipping_address": order.shipping_address,
        },
    }
