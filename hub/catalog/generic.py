"""Read HUB's own catalog shape, as CSV or JSON Lines: one row (object) per variant, grouped by `handle`.

Columns (keys), any case; only `price` and one of `handle`/`sku` are required, and `title` on a product's first row:

    handle            the product's key for re-imports (default: the row's sku)
    sku               the variant's SKU (default: made from handle and option values)
    title, description (text or HTML), category, vendor, product_type, material, status (active|draft|archived)
    price, compare_at_price, stock, grams, currency (ISO 4217, default: the tenant's)
    tags              comma-separated (JSONL: a list or a string)
    size, colour (or color)          the variant's size and colour
    option:<Name>     any other option, e.g. `option:Fit`; JSONL may also give "options": {"Fit": "Slim"}
    image             an image URL (JSONL: "images": [URL, ...] too)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from hub.catalog import fields
from hub.catalog.fields import FieldError
from hub.catalog.records import (
    CatalogFormatError,
    ProductRecord,
    ProductStatus,
    ReadResult,
    Rejection,
    RowRejected,
    VariantRecord,
)
from hub.catalog.source import Row, read_jsonl_rows, read_table

_NAMED_OPTIONS = {"size": "Size", "colour": "Colour", "color": "Colour"}
_STATUSES: dict[str, ProductStatus] = {"active": "active", "draft": "draft", "archived": "archived"}


def read_csv(text: str) -> ReadResult:
    table = read_table(text)
    if "price" not in table.headers or not ({"handle", "sku"} & set(table.headers)):
        missing = [c for c in ("price",) if c not in table.headers] + (
            [] if {"handle", "sku"} & set(table.headers) else ["handle or sku"]
        )
        raise CatalogFormatError(f"not a HUB catalog CSV: missing column(s) {', '.join(missing)}")
    return _build(table.rows, table.headers)


def read_jsonl(text: str) -> ReadResult:
    rows, extras, rejected = read_jsonl_rows(text)
    result = _build(rows, {}, extras)
    result.rejected += rejected
    return result


def _build(
    rows: list[Row], headers: Mapping[str, str], extras: Mapping[int, dict[str, Any]] | None = None
) -> ReadResult:
    products: dict[str, ProductRecord] = {}
    rejected: list[Rejection] = []
    for row in rows:
        extra = (extras or {}).get(row.line, {})
        handle = row.get("handle") or row.get("sku")
        product = products.get(handle)
        try:
            if not handle:
                raise RowRejected("handle", "neither handle nor sku")
            if len(handle) > fields.HANDLE_MAX:
                raise RowRejected("handle", f"handle longer than {fields.HANDLE_MAX}")
            if product is None:
                if not row.get("title"):
                    raise RowRejected("title", f"the first row of {handle!r} has no title")
                product = products[handle] = _product(handle, row, extra)
            _add_variant(product, row, extra)
        except RowRejected as exc:
            if product is not None:
                product.rejected_lines += 1
            rejected.append(Rejection(row.line, headers.get(exc.column, exc.column), exc.reason))
    return ReadResult(products=list(products.values()), rejected=rejected)


def _product(handle: str, row: Row, extra: dict[str, Any]) -> ProductRecord:
    status = _STATUSES.get(row.get("status").casefold() or "active")
    if status is None:
        raise RowRejected("status", f"status must be active, draft or archived, not {row.get('status')!r}")
    currency = row.get("currency").upper() or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise RowRejected("currency", f"not an ISO 4217 currency code: {row.get('currency')!r}")
    raw_tags = extra.get("tags")
    product = ProductRecord(
        handle=handle,
        line=row.line,
        title=row.get("title")[: fields.TITLE_MAX],
        description=fields.html_text(row.get("description")),
        category=fields.category(row.get("category"), row.get("product_type")),
        vendor=row.get("vendor"),
        product_type=row.get("product_type"),
        material=row.get("material"),
        tags=[str(t) for t in cast(list[Any], raw_tags)]
        if isinstance(raw_tags, list)
        else fields.tags(row.get("tags")),
        status=status,
        currency=currency,
    )
    images = extra.get("images")
    for src in cast(list[Any], images) if isinstance(images, list) else []:
        product.add_image(str(src))
    return product


def _options(row: Row, extra: dict[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, name in _NAMED_OPTIONS.items():
        if value := row.get(key):
            options[name] = value
    for key, value in row.cells.items():
        if key.startswith("option:") and value:
            options[key.removeprefix("option:").strip().title()] = value
    given = extra.get("options")
    if isinstance(given, dict):
        for name, value in cast(dict[Any, Any], given).items():
            if value is not None and str(value).strip():
                options[str(name)] = str(value).strip()
    return options


def _add_variant(product: ProductRecord, row: Row, extra: dict[str, Any]) -> None:
    product.add_image(row.get("image"))
    options = _options(row, extra)
    for name in options:
        if name not in product.option_names:
            product.option_names.append(name)
    if any(v.options == options for v in product.variants):
        raise RowRejected("sku", f"same options as another variant of {product.handle!r}")
    sku = fields.variant_sku(product, row.get("sku"), options, "sku")
    column = "price"
    try:
        amount = fields.price(row.get(column))
        column = "compare_at_price"
        compare_at = fields.price(row.get(column), required=False)
        column = "stock"
        on_hand = fields.stock(row.get(column))
        column = "grams"
        weight = fields.grams(row.get(column))
    except FieldError as exc:
        raise RowRejected(column, str(exc)) from None
    assert amount is not None
    product.variants.append(
        VariantRecord(
            line=row.line,
            sku=sku,
            options=options,
            price=amount,
            compare_at_price=fields.compare_at(amount, compare_at),
            stock=on_hand,
            grams=weight,
        )
    )
