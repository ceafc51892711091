"""Orders from a Shopify orders export (one row per line item, the order's columns often only on its first row) or
HUB's CSV / JSON Lines of the same shape, upserted by order number. An order's customer is found by email, or
created from the billing name when the shop has none.

Generic columns (keys), any case; `number`, `email`, `sku` or `title`, `quantity`, `unit_price` are required:

    number, email, name (the customer's), status (pending_payment|paid|processing|shipped|delivered|cancelled|
    refunded…), currency, subtotal, shipping, total, placed_at (ISO 8601), carrier, tracking_number,
    address1, address2, city, zip, province, country, sku, title, quantity, unit_price, size, colour
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.catalog import fields
from hub.catalog.fields import FieldError
from hub.catalog.importer import BATCH, Progress, batches
from hub.catalog.records import Rejection, RowRejected, rejections_json
from hub.catalog.source import Row, Table
from hub.db import models as m
from hub.db.models import OrderStatus
from hub.people.common import PeopleFormat, email, read_rows
from hub.people.customers import NAME_MAX, existing_customers

NUMBER_MAX = 32
_V = TypeVar("_V")
_FIELDS = (
    "customer_id",
    "status",
    "items",
    "subtotal",
    "shipping",
    "total",
    "currency",
    "shipping_address",
    "carrier",
    "tracking_number",
    "placed_at",
)
GENERIC = {
    "number": "Name",
    "email": "Email",
    "name": "Billing Name",
    "status": "Status",
    "currency": "Currency",
    "subtotal": "Subtotal",
    "shipping": "Shipping",
    "total": "Total",
    "placed_at": "Created at",
    "carrier": "Tracking Company",
    "tracking_number": "Tracking Number",
    "address1": "Shipping Address1",
    "address2": "Shipping Address2",
    "city": "Shipping City",
    "zip": "Shipping Zip",
    "province": "Shipping Province",
    "country": "Shipping Country",
    "sku": "Lineitem sku",
    "title": "Lineitem name",
    "quantity": "Lineitem quantity",
    "unit_price": "Lineitem price",
    "size": "Lineitem size",
    "colour": "Lineitem colour",
    "color": "Lineitem colour",
}
REQUIRED = ["Name", "Email", "Lineitem quantity", "Lineitem price"]
_ADDRESS = {
    "name": "shipping name",
    "company": "shipping company",
    "address1": "shipping address1",
    "address2": "shipping address2",
    "city": "shipping city",
    "zip": "shipping zip",
    "province": "shipping province",
    "country": "shipping country",
    "phone": "shipping phone",
}
_SIZE = re.compile(r"(?:[2-5]?X{0,3}[SML]|XXS|XS|XL|[2-5]XL|XXL|XXXL|\d{1,3}(?:[.,]5)?|one size|os)", re.IGNORECASE)


@dataclass
class OrderRecord:
    line: int
    number: str
    email: str
    customer_name: str
    customer_phone: str
    values: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])


@dataclass
class OrderSummary:
    orders: int = 0
    line_items: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    customers_created: int = 0
    rejected: list[Rejection] = field(default_factory=list[Rejection])

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "line_items": self.line_items,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "customers_created": self.customers_created,
            "rejected": rejections_json(self.rejected),
        }


_STATUSES = frozenset(s.value for s in OrderStatus)


def status(financial: str, fulfillment: str, cancelled_at: str) -> OrderStatus:
    """The order's one status from Shopify's three: cancelled and refunded first, then how far fulfilment went."""
    fin, ful = financial.strip().casefold(), fulfillment.strip().casefold()
    if cancelled_at.strip() or fin == "voided":
        return OrderStatus.CANCELLED
    if fin == "refunded":
        return OrderStatus.REFUNDED
    if ful in {"fulfilled", "shipped"}:
        return OrderStatus.SHIPPED
    if ful in {"partial", "partially_fulfilled", "in_progress"}:
        return OrderStatus.PROCESSING
    if fin in {"pending", "authorized", "unpaid", "expired"}:
        return OrderStatus.PENDING_PAYMENT
    return OrderStatus.PAID


def placed_at(raw: str) -> datetime:
    """Shopify's `2024-03-05 10:12:01 -0500`, or ISO 8601; a time without zone is UTC."""
    text = raw.strip()
    for pattern in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z"):
        try:
            return datetime.strptime(text, pattern).astimezone(UTC)
        except ValueError:
            pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(f"not a date: {raw!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def item_options(name: str) -> tuple[str, dict[str, str]]:
    """A line item's product title and the size / colour of its Shopify variant suffix: `Tee - M / Navy`."""
    title, sep, suffix = name.rpartition(" - ")
    if not sep:
        return name, {}
    options: dict[str, str] = {}
    for part in (p.strip() for p in suffix.split("/")):
        if _SIZE.fullmatch(part) and "size" not in options:
            options["size"] = part
        elif part and "colour" not in options:
            options["colour"] = part
    return title, options


def read_orders(data: bytes, fmt: PeopleFormat) -> tuple[list[OrderRecord], list[Rejection]]:
    """Parse an orders file; raise CatalogFormatError when it is not `fmt`."""
    table = read_rows(data, fmt, aliases=GENERIC, required=REQUIRED, what="orders")
    orders: dict[str, OrderRecord] = {}
    rejected: list[Rejection] = []
    broken: set[str] = set()
    for row in table.rows:
        number = row.get("name")[:NUMBER_MAX]
        if not number:
            rejected.append(Rejection(row.line, table.column("name"), "order number is empty"))
            continue
        if number in broken:
            continue
        try:
            order = orders.get(number)
            if order is None:
                order = orders[number] = _order(row, number, table)
            order.items.append(_item(row, table))
        except (RowRejected, FieldError) as exc:
            column = exc.column if isinstance(exc, RowRejected) else ""
            rejected.append(Rejection(row.line, column, str(exc)))
            if number not in orders:
                broken.add(number)
    return [o for o in orders.values() if o.items], rejected  # an order whose every line item was rejected


def _cell(row: Row, table: Table, key: str, read: Callable[[str], _V]) -> _V:
    try:
        return read(row.get(key))
    except FieldError as exc:
        raise RowRejected(table.column(key), str(exc)) from None


def _order(row: Row, number: str, table: Table) -> OrderRecord:
    address = email(row.get("email"))
    if not address:
        raise RowRejected(table.column("email"), "email is empty")
    given = row.get("status").strip().casefold()
    if given and given not in _STATUSES:
        raise RowRejected(table.column("status"), f"not an order status: {given!r}")
    values: dict[str, Any] = {
        "status": OrderStatus(given)
        if given
        else status(row.get("financial status"), row.get("fulfillment status"), row.get("cancelled at")),
        "subtotal": _cell(row, table, "subtotal", lambda v: fields.price(v, required=False) or Decimal("0.00")),
        "shipping": _cell(row, table, "shipping", lambda v: fields.price(v, required=False) or Decimal("0.00")),
        "total": _cell(row, table, "total", lambda v: fields.price(v, required=False)),
        "currency": (row.get("currency") or "").upper()[:3] or None,
        "shipping_address": {k: row.get(c) for k, c in _ADDRESS.items() if row.get(c)},
        "carrier": row.get("tracking company")[:64] or None,
        "tracking_number": row.get("tracking number")[:64] or None,
        "placed_at": _cell(row, table, "created at", lambda v: placed_at(v) if v else None),
    }
    name = row.get("billing name") or row.get("shipping name")
    phone = row.get("phone") or row.get("billing phone") or row.get("shipping phone")
    return OrderRecord(row.line, number, address, name[:NAME_MAX], phone, values)


def _item(row: Row, table: Table) -> dict[str, Any]:
    quantity = _cell(row, table, "lineitem quantity", fields.whole_number)
    if quantity is None or quantity <= 0:
        raise RowRejected(table.column("lineitem quantity"), f"not a quantity: {row.get('lineitem quantity')!r}")
    unit_price = _cell(row, table, "lineitem price", fields.price)
    title, options = item_options(row.get("lineitem name"))
    for key in ("size", "colour"):
        if given := row.get(f"lineitem {key}"):
            options[key] = given
    return {
        "sku": row.get("lineitem sku"),
        "title": title or row.get("lineitem sku"),
        "quantity": quantity,
        "unit_price": str(unit_price),
        **options,
    }


async def import_orders(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    records: list[OrderRecord],
    rejected: list[Rejection],
    *,
    currency: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> OrderSummary:
    """Create or update the tenant's orders by number; a customer missing for an order's email is created."""
    summary = OrderSummary(rejected=list(rejected))
    table = m.Order.__table__
    async with sessions() as session:
        customers = {e: c["id"] for e, c in (await existing_customers(session, tenant_id)).items()}
        rows = await session.execute(
            select(table.c.id, table.c.number, *(table.c[f] for f in _FIELDS)).where(table.c.tenant_id == tenant_id)
        )
        stored = {r["number"]: dict(r) for r in rows.mappings()}
    new_customers: list[dict[str, Any]] = []
    writes: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    now = datetime.now(UTC)
    for record in records:
        customer_id = customers.get(record.email)
        if customer_id is None:
            customer_id = customers[record.email] = uuid.uuid4()
            name = record.customer_name or record.email.split("@")[0]
            new_customers.append({"id": customer_id, "tenant_id": tenant_id, "email": record.email, "name": name})
        subtotal = sum((Decimal(i["unit_price"]) * i["quantity"] for i in record.items), Decimal("0.00"))
        values: dict[str, Any] = record.values | {
            "customer_id": customer_id,
            "items": record.items,
            "subtotal": record.values["subtotal"] or subtotal,
            "currency": record.values["currency"] or currency,
            "placed_at": record.values["placed_at"] or now,
        }
        if values["total"] is None:
            values["total"] = values["subtotal"] + values["shipping"]
        summary.orders += 1
        summary.line_items += len(record.items)
        before = stored.get(record.number)
        if before is None:
            summary.created += 1
            writes.append((None, {"id": uuid.uuid4(), "number": record.number, **values}))
        elif record.values["placed_at"] is None:
            values["placed_at"] = before["placed_at"]
        if before is not None:
            if any(not _same(before[f], v) for f, v in values.items()):
                summary.updated += 1
                writes.append((before, values))
            else:
                summary.unchanged += 1
    summary.customers_created = len(new_customers)
    if dry_run:
        return summary
    customer_table = m.Customer.__table__
    # Customers first: an order's customer is in its batch or an earlier one.
    work: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [(None, c) for c in new_customers] + writes
    for done, batch in enumerate(batches(work), start=1):
        async with sessions() as session:
            for before, values in batch:
                if "email" in values:
                    await session.execute(insert(customer_table), [values])
                elif before is None:
                    await session.execute(insert(table), [{"tenant_id": tenant_id, "updated_at": now, **values}])
                else:
                    await session.execute(
                        update(table)
                        .where(and_(table.c.tenant_id == tenant_id, table.c.id == before["id"]))
                        .values(updated_at=now, **values)
                    )
            await session.commit()
        if progress is not None:
            progress(min(done * BATCH, len(work)), len(work))
    return summary


def _same(stored: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and stored is not None:
        return Decimal(stored) == new
    if isinstance(new, datetime) and isinstance(stored, datetime):
        return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == new
    return stored == new
