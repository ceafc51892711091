"""Read Shopify's product CSV as Shopify exports and imports it: one row per variant, the product's own fields on
its first row, extra rows that only add images, and `Option1 Name=Title / Default Title` for a product without
options. Columns are matched by name (any order, any case); unknown ones are ignored."""

from __future__ import annotations

from hub.catalog import fields
from hub.catalog.fields import FieldError
from hub.catalog.records import ProductRecord, ProductStatus, ReadResult, Rejection, RowRejected, VariantRecord
from hub.catalog.source import Row, read_table

REQUIRED = ("Handle", "Title", "Variant Price")
ALIASES = {
    "url handle": "handle",
    "description": "body (html)",
    "published on online store": "published",
    "sku": "variant sku",
    "price": "variant price",
    "compare-at price": "variant compare at price",
    "inventory quantity": "variant inventory qty",
    "weight value (grams)": "variant grams",
    "product image url": "image src",
    "variant image url": "variant image",
}
"""The column names of Shopify's newer product CSV template, read as the classic export's."""
OPTIONS = (1, 2, 3)
DEFAULT_OPTION = ("title", "default title")
"""Shopify's placeholder option on a product without real options."""


def read(text: str) -> ReadResult:
    table = read_table(text).aliased(ALIASES)
    table.require(REQUIRED, "Shopify product CSV")
    products: dict[str, ProductRecord] = {}
    rejected: list[Rejection] = []
    titled: set[str] = set()
    pending: list[Row] = []
    for row in table.rows:
        handle = row.get("handle")
        if not handle:
            rejected.append(Rejection(row.line, table.column("handle"), "Handle is empty"))
            continue
        if len(handle) > fields.HANDLE_MAX:
            rejected.append(Rejection(row.line, table.column("handle"), f"Handle longer than {fields.HANDLE_MAX}"))
            continue
        product = products.get(handle)
        if product is None:
            product = products[handle] = ProductRecord(handle=handle, line=row.line)
        if row.get("title") and handle not in titled:
            titled.add(handle)
            _product_fields(product, row)
        pending.append(row)
    for row in pending:
        product = products[row.get("handle")]
        if product.handle not in titled:
            continue
        _add_image(product, row)
        if _is_variant_row(row):
            try:
                _add_variant(product, row)
            except RowRejected as exc:
                product.rejected_lines += 1
                rejected.append(Rejection(row.line, table.column(exc.column), exc.reason))
    for handle, product in products.items():
        if handle not in titled:
            rejected.append(Rejection(product.line, table.column("title"), f"no row of product {handle!r} has a Title"))
    return ReadResult(products=[p for h, p in products.items() if h in titled], rejected=rejected)


def _product_fields(product: ProductRecord, row: Row) -> None:
    product.line = min(product.line, row.line)
    product.title = row.get("title")[: fields.TITLE_MAX]
    product.description = fields.html_text(row.get("body (html)"))
    product.vendor = row.get("vendor")
    product.product_type = row.get("type")
    product.category = fields.category(row.get("type"), row.get("product category"))
    product.tags = fields.tags(row.get("tags"))
    product.status = _status(row)
    for n in OPTIONS:
        name = row.get(f"option{n} name")
        if name and (name.casefold(), row.get(f"option{n} value").casefold()) != DEFAULT_OPTION:
            product.option_names.append(name)


def _status(row: Row) -> ProductStatus:
    status = row.get("status").casefold()
    if status in ("draft", "archived"):
        return status
    published = row.get("published")
    if published and not fields.truthy(published):
        return "draft"
    return "active"


def _is_variant_row(row: Row) -> bool:
    return any(row.get(k) for k in ("option1 value", "variant sku", "variant price"))


def _add_image(product: ProductRecord, row: Row) -> None:
    position = None
    try:
        position = fields.whole_number(row.get("image position"))
    except FieldError:
        pass
    product.add_image(row.get("image src"), row.get("image alt text"), position)
    product.add_image(row.get("variant image"))


def _add_variant(product: ProductRecord, row: Row) -> None:
    options: dict[str, str] = {}
    for n, name in enumerate(product.option_names, start=1):
        value = row.get(f"option{n} value")
        if not value:
            raise RowRejected(f"option{n} value", f"no value for option {name!r}")
        options[name] = value
    for other in product.variants:
        if other.options == options:
            raise RowRejected("option1 value", f"same options as the variant on line {other.line}")
    sku = fields.variant_sku(product, row.get("variant sku"), options, "variant sku")
    try:
        amount = fields.price(row.get("variant price"))
    except FieldError as exc:
        raise RowRejected("variant price", str(exc)) from None
    assert amount is not None
    column = "variant compare at price"
    try:
        compare_at = fields.price(row.get(column), required=False)
        column = "variant inventory qty"
        on_hand = fields.stock(row.get(column))
        column = "variant grams"
        weight = fields.grams(row.get(column))
    except FieldError as exc:
        raise RowRejected(column, str(exc)) from None
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
