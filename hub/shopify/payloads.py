"""Read Shopify's Admin REST webhook bodies into the importers' records: a product with its `variants[]` and
`options[]`, an order with its `line_items[]` and `fulfillments[]`, an inventory level. The same rules as the CSV
reader (`hub.catalog.shopify`) apply: `Title / Default Title` is no option, a variant without SKU gets one made from
the handle and its options, an unpublished product is a draft."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from hub.catalog import fields
from hub.catalog.fields import FieldError
from hub.catalog.records import ProductRecord, ProductStatus, RowRejected, VariantRecord
from hub.catalog.shopify import DEFAULT_OPTION
from hub.people.common import email as normal_email
from hub.people.customers import NAME_MAX
from hub.people.orders import NUMBER_MAX, OrderRecord, item_options, placed_at, status
from hub.shopify.constants import INVENTORY_ITEM_ID, PRODUCT_ID, VARIANT_ID

_ADDRESS = ("name", "company", "address1", "address2", "city", "zip", "province", "country", "phone")


class PayloadError(ValueError):
    """A body that cannot be applied (no handle, no email on an order); the message says what is missing."""


@dataclass(frozen=True)
class InventoryLevel:
    inventory_item_id: str
    location_id: str
    available: int


def _dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [cast(dict[str, Any], v) for v in cast(list[object], value) if isinstance(v, dict)]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _money(value: object) -> Decimal | None:
    return fields.price(_text(value), required=False)


def product_record(body: dict[str, Any]) -> tuple[ProductRecord, list[str]]:
    """The product a `products/create|update` body describes, and why any of its variants was left out."""
    handle = _text(body.get("handle"))
    if not handle:
        raise PayloadError("the product has no handle")
    tags = body.get("tags")
    record = ProductRecord(
        handle=handle[: fields.HANDLE_MAX],
        line=1,
        title=_text(body.get("title"))[: fields.TITLE_MAX],
        description=fields.html_text(_text(body.get("body_html"))),
        vendor=_text(body.get("vendor")),
        product_type=_text(body.get("product_type")),
        category=fields.category(_text(body.get("product_type"))),
        tags=fields.tags(", ".join(map(str, cast(list[object], tags))) if isinstance(tags, list) else _text(tags)),
        status=_status(body),
    )
    if body.get("id") is not None:
        record.external[PRODUCT_ID] = _text(body.get("id"))
    options = sorted(_dicts(body.get("options")), key=lambda o: int(o.get("position") or 0))
    names = [_text(o.get("name")) for o in options]
    for option, name in zip(options, names, strict=True):
        values = [_text(v).casefold() for v in cast(list[object], option.get("values") or [])]
        if name and (name.casefold(), values[0] if len(values) == 1 else "") != DEFAULT_OPTION:
            record.option_names.append(name)
    skipped: list[str] = []
    for variant in sorted(_dicts(body.get("variants")), key=lambda v: int(v.get("position") or 0)):
        try:
            record.variants.append(_variant(record, variant, names))
        except (RowRejected, FieldError) as exc:
            skipped.append(f"variant {_text(variant.get('id')) or '?'}: {exc}")
    for image in sorted(_dicts(body.get("images")), key=lambda i: int(i.get("position") or 0)):
        record.add_image(_text(image.get("src")), _text(image.get("alt")), int(image.get("position") or 0) or None)
    return record, skipped


def _status(body: dict[str, Any]) -> ProductStatus:
    given = _text(body.get("status")).casefold()
    if given in ("draft", "archived"):
        return given
    if "published_at" in body and body.get("published_at") is None:
        return "draft"
    return "active"


def _variant(record: ProductRecord, variant: dict[str, Any], names: list[str]) -> VariantRecord:
    options: dict[str, str] = {}
    for n, name in enumerate(names, start=1):
        value = _text(variant.get(f"option{n}"))
        if name in record.option_names and value:
            options[name] = value
    sku = fields.variant_sku(record, _text(variant.get("sku")), options, "sku")
    price = fields.price(_text(variant.get("price")))
    assert price is not None
    grams = variant.get("grams")
    attributes = {
        key: _text(variant.get(source))
        for key, source in ((VARIANT_ID, "id"), (INVENTORY_ITEM_ID, "inventory_item_id"))
        if variant.get(source) is not None
    }
    return VariantRecord(
        line=record.line,
        sku=sku,
        options=options,
        price=price,
        compare_at_price=fields.compare_at(price, _money(variant.get("compare_at_price"))),
        stock=max(0, int(variant.get("inventory_quantity") or 0)),
        grams=int(grams) if isinstance(grams, int | float) and grams > 0 else None,
        attributes=attributes,
    )


def order_record(body: dict[str, Any]) -> OrderRecord:
    """The order an `orders/*` body describes, numbered as Shopify names it (`#1001`), as the CSV import does."""
    number = _text(body.get("name")) or (f"#{body['order_number']}" if body.get("order_number") else "")
    if not number:
        raise PayloadError("the order has no name or order_number")
    customer = _dict(body.get("customer"))
    address = normal_email(_text(body.get("email") or body.get("contact_email") or customer.get("email")))
    if not address:
        raise PayloadError(f"order {number} has no email: HUB knows customers by email")
    shipping_address = _dict(body.get("shipping_address"))
    billing = _dict(body.get("billing_address"))
    name = " ".join(p for p in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if p)
    name = name or _text(billing.get("name")) or _text(shipping_address.get("name"))
    fulfillments = _dicts(body.get("fulfillments"))
    none: dict[str, Any] = {}
    tracked = next((f for f in reversed(fulfillments) if f.get("tracking_number") or f.get("tracking_numbers")), none)
    numbers = cast(list[object], tracked.get("tracking_numbers") or [])
    tracking = _text(tracked.get("tracking_number")) or (_text(numbers[0]) if numbers else "")
    try:
        values: dict[str, Any] = {
            "status": status(
                _text(body.get("financial_status")),
                _text(body.get("fulfillment_status")),
                _text(body.get("cancelled_at")),
            ),
            "subtotal": _money(body.get("subtotal_price")) or Decimal("0.00"),
            "shipping": _shipping(body),
            "total": _money(body.get("total_price")),
            "currency": _text(body.get("currency")).upper()[:3] or None,
            "shipping_address": {k: _text(shipping_address.get(k)) for k in _ADDRESS if shipping_address.get(k)},
            "carrier": _text(tracked.get("tracking_company"))[:64] or None,
            "tracking_number": tracking[:64] or None,
            "placed_at": placed_at(_text(body.get("created_at"))) if body.get("created_at") else None,
        }
        items = [_item(line) for line in _dicts(body.get("line_items"))]
    except FieldError as exc:
        raise PayloadError(f"order {number}: {exc}") from None
    if not items:
        raise PayloadError(f"order {number} has no line items")
    phone = _text(body.get("phone") or customer.get("phone") or shipping_address.get("phone"))
    return OrderRecord(1, number[:NUMBER_MAX], address, name[:NAME_MAX], phone, values, items)


def _shipping(body: dict[str, Any]) -> Decimal:
    amount = _dict(_dict(body.get("total_shipping_price_set")).get("shop_money")).get("amount")
    if amount is not None:
        return _money(amount) or Decimal("0.00")
    lines = [_money(line.get("price")) or Decimal("0.00") for line in _dicts(body.get("shipping_lines"))]
    return sum(lines, Decimal("0.00"))


def _item(line: dict[str, Any]) -> dict[str, Any]:
    title = _text(line.get("title")) or _text(line.get("name"))
    variant_title = _text(line.get("variant_title"))
    _, options = item_options(f"{title} - {variant_title}") if variant_title else (title, {})
    quantity = int(line.get("quantity") or 0)
    if quantity <= 0:
        raise FieldError(f"not a quantity: {line.get('quantity')!r}")
    price = fields.price(_text(line.get("price")))
    return {
        "sku": _text(line.get("sku")),
        "title": title or _text(line.get("sku")),
        "quantity": quantity,
        "unit_price": str(price),
        **options,
    }


def inventory_level(body: dict[str, Any]) -> InventoryLevel:
    """The level an `inventory_levels/update` body reports: units available of one inventory item at one location."""
    item, available = body.get("inventory_item_id"), body.get("available")
    if item is None:
        raise PayloadError("the inventory level has no inventory_item_id")
    if not isinstance(available, int):
        raise PayloadError(f"available is not a count: {available!r}")
    return InventoryLevel(_text(item), _text(body.get("location_id")), available)
