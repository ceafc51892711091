"""Read one customer's records for the CRM tools: look them up, build their profile, and word them for a model."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import ColumnElement, String, cast, func, select

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.tenancy.config import TenantConfig
from hub.tenancy.repository import LIFETIME_VALUE_EXCLUDES
from hub.text import format_money
from tools.context import ToolContext, ToolError
from tools.deps import check_call

CUSTOMER_REF = "The customer's id from find_customers, or their email address, e.g. `jane.doe@example.com`."
RECENT_ORDERS = 5
PROMPT_ORDERS = 20
PROMPT_MESSAGES = 10
LAPSED_DAYS = 90
"""A repeat customer with no order for this long is lapsed: a win-back candidate."""
CENT = Decimal("0.01")

OPEN_STATUSES = {
    m.OrderStatus.RETURN_REQUESTED: "return requested",
    m.OrderStatus.RETURNED: "returned, refund due",
}
"""Order statuses that leave something open for the shop to do, and how to say so."""
_IN_TRANSIT = frozenset(
    {m.OrderStatus.PAID, m.OrderStatus.PROCESSING, m.OrderStatus.SHIPPED, m.OrderStatus.OUT_FOR_DELIVERY}
)


async def customer_by_ref(ctx: ToolContext, ref: str, *, lock: bool = False) -> m.Customer:
    """Return the customer a tool argument names, by id or email; `lock` to change their notes or tags."""
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


async def shop_of(ctx: ToolContext) -> tuple[str, TenantConfig]:
    """Return the shop's name and configuration."""
    tenant = await ctx.session.get(m.Tenant, ctx.tenant_id)
    if tenant is None:
        raise ToolError(f"Unknown tenant {ctx.tenant_id}")
    return tenant.name, TenantConfig.model_validate(tenant.settings or {})


def today_in(config: TenantConfig) -> date:
    """Return today's date in the shop's time zone."""
    return datetime.now(ZoneInfo(config.timezone)).date()


def tag_contains(tag: str) -> ColumnElement[bool]:
    """True for customers carrying exactly this tag."""
    # Tags are a JSON list of strings: an exact tag appears quoted in the column's text on both backends.
    return func.lower(cast(m.Customer.tags, String)).contains(json.dumps(tag), autoescape=True)


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


def order_brief(o: m.Order) -> OrderBrief:
    """Sum an order up in a few fields, one line per item."""
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
        if o.status in OPEN_STATUSES:
            issues.append(f"order {o.number} {OPEN_STATUSES[o.status]} (since {o.updated_at:%Y-%m-%d})")
        elif o.status in _IN_TRANSIT and o.eta is not None and o.eta < today:
            issues.append(f"order {o.number} is late: expected {o.eta:%Y-%m-%d}, still {o.status}")
    return issues


def notes_of(raw: list[dict[str, Any]] | None) -> list[CustomerNote]:
    """Read a customer's stored notes, leaving out any malformed one."""
    notes = []
    for note in raw or []:
        try:
            notes.append(CustomerNote.model_validate(note))
        except ValidationError:
            continue  # one malformed note from an import must not hide the whole profile
    return notes


async def build_profile(
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
        notes=notes_of(customer.notes),
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
        recent_orders=[order_brief(o) for o in orders[:RECENT_ORDERS]],
    )
    return profile, orders


def orders_phrase(count: int) -> str:
    """Say a number of orders: `1 order`, `3 orders`."""
    return f"{count} order{'s' if count != 1 else ''}"


async def conversation_text(ctx: ToolContext, customer_id: uuid.UUID) -> str:
    """Write the customer's latest messages, oldest first, one per line, for a model to read."""
    conversations = select(m.Conversation.id).where(
        m.Conversation.tenant_id == ctx.tenant_id, m.Conversation.customer_id == customer_id
    )
    messages = await ctx.data.messages.list(
        m.Message.conversation_id.in_(conversations), order_by=[m.Message.created_at.desc()], limit=PROMPT_MESSAGES
    )
    return "\n".join(f"{msg.created_at:%Y-%m-%d %H:%M} {msg.role}: {msg.content[:500]}" for msg in reversed(messages))


def orders_text(orders: list[m.Order], limit: int | None = PROMPT_ORDERS) -> str:
    """Write the first `limit` orders (all when None), one per line, for a model to read."""
    lines = []
    for o in orders[:limit]:
        brief = order_brief(o)
        eta = f", eta {brief.eta}" if brief.eta else ""
        lines.append(
            f"{brief.number} placed {brief.placed_at:%Y-%m-%d}, {brief.status}{eta}, "
            f"{format_money(brief.total, brief.currency, style='grouped')}: {'; '.join(brief.items)}"
        )
    return "\n".join(lines)


async def model_context(
    ctx: ToolContext, ref: str, call: CallContext
) -> tuple[m.Customer, str, date, CustomerProfile, list[m.Order]]:
    """Load what a model-backed CRM tool shows the model about one customer, after checking the call's tenant."""
    check_call(ctx, call)
    customer = await customer_by_ref(ctx, ref)
    shop_name, _ = await shop_of(ctx)
    today = today_in(call.tenant)
    profile, orders = await build_profile(ctx, customer, today=today, currency=call.tenant.currency)
    return customer, shop_name, today, profile, orders
