"""Read WooCommerce's product CSV export: simple products, and variable products whose variations follow as rows
of type `variation` naming their parent (`id:123` or the parent's SKU). A sale price is the price, and the regular
price becomes the compare-at price."""

from __future__ import annotations

import re
from decimal import Decimal

from hub.catalog import fields
from hub.catalog.fields import FieldError
from hub.catalog.records import ProductRecord, ProductStatus, ReadResult, Rejection, RowRejected, VariantRecord
from hub.catalog.source import Row, read_table

REQUIRED = ("Type", "SKU", "Name", "Regular price")
_ATTRIBUTE = re.compile(r"^attribute (\d+) name$")
IN_STOCK_UNCOUNTED = 1
"""Stock of an item marked in stock whose quantity the shop does not track: available, count unknown."""


def read(text: str) -> ReadResult:
    table = read_table(text)
    table.require(REQUIRED, "WooCommerce product CSV")
    attribute_numbers = sorted(int(m.group(1)) for k in table.headers if (m := _ATTRIBUTE.match(k)))
    products: list[ProductRecord] = []
    parents: dict[str, ProductRecord] = {}
    rejected: list[Rejection] = []
    variations: list[Row] = []
    for row in table.rows:
        kinds = {k.strip() for k in row.get("type").casefold().split(",")}
        try:
            if "variation" in kinds:
                variations.append(row)
                continue
            if "grouped" in kinds:
                raise RowRejected("type", "grouped products are not imported (their children are)")
            product = _product(row, attribute_numbers)
            if "variable" in kinds:
                for key in (row.get("id") and f"id:{row.get('id')}", row.get("sku")):
                    if key:
                        parents[key.casefold()] = product
            else:
                product.variants.append(_variant(row, product, {}))
            products.append(product)
        except RowRejected as exc:
            rejected.append(Rejection(row.line, table.column(exc.column), exc.reason))
    for row in variations:
        parent = parents.get(row.get("parent").casefold()) if row.get("parent") else None
        try:
            if parent is None:
                raise RowRejected("parent", f"no variable product {row.get('parent')!r} in the file")
            options = _variation_options(row, parent, attribute_numbers)
            if any(v.options == options for v in parent.variants):
                raise RowRejected("parent", "same attribute values as another variation")
            parent.variants.append(_variant(row, parent, options))
        except RowRejected as exc:
            if parent is not None:
                parent.rejected_lines += 1
            rejected.append(Rejection(row.line, table.column(exc.column), exc.reason))
    return ReadResult(products=products, rejected=rejected)


def _product(row: Row, attribute_numbers: list[int]) -> ProductRecord:
    handle = row.get("sku") or (f"woo-{row.get('id')}" if row.get("id") else "")
    if not handle:
        raise RowRejected("sku", "neither SKU nor ID: the product cannot be matched on a re-import")
    if not row.get("name"):
        raise RowRejected("name", "Name is empty")
    categories = [c.strip() for c in row.get("categories").split(",") if c.strip()]
    product = ProductRecord(
        handle=handle[: fields.HANDLE_MAX],
        line=row.line,
        title=row.get("name")[: fields.TITLE_MAX],
        description=fields.html_text(row.get("description") or row.get("short description")),
        category=fields.category(*categories),
        tags=fields.tags(row.get("tags")),
        status=_status(row),
    )
    for n in attribute_numbers:
        name = row.get(f"attribute {n} name")
        values = [v.strip() for v in row.get(f"attribute {n} value(s)").split(",") if v.strip()]
        if not name or not values:
            continue
        if fields.option_kind(name) == "material" and len(values) == 1:
            product.material = values[0]
        product.product_options[name] = values
    for position, src in enumerate((s.strip() for s in row.get("images").split(",") if s.strip()), start=1):
        product.add_image(src, "", position)
    return product


def _status(row: Row) -> ProductStatus:
    published = row.get("published").strip()
    return "draft" if published in ("0", "-1") or (published and not fields.truthy(published)) else "active"


def _variation_options(row: Row, parent: ProductRecord, attribute_numbers: list[int]) -> dict[str, str]:
    options: dict[str, str] = {}
    for n in attribute_numbers:
        name, value = row.get(f"attribute {n} name"), row.get(f"attribute {n} value(s)")
        if name and value:
            options[name] = value
            if name not in parent.option_names:
                parent.option_names.append(name)
            parent.product_options.pop(name, None)  # the variations say which values exist
    return options


def _variant(row: Row, product: ProductRecord, options: dict[str, str]) -> VariantRecord:
    sku = fields.variant_sku(product, row.get("sku"), options, "sku")
    column = "regular price"
    try:
        regular = fields.price(row.get(column))
        column = "sale price"
        sale = fields.price(row.get(column), required=False)
        column = "stock"
        count = fields.whole_number(row.get(column))
        column = "weight (kg)"
        weight = fields.grams(row.get(column), per_unit=Decimal(1000))
    except FieldError as exc:
        raise RowRejected(column, str(exc)) from None
    assert regular is not None
    in_stock = row.get("in stock?")
    if count is None:
        count = IN_STOCK_UNCOUNTED if in_stock and fields.truthy(in_stock) else 0
    on_sale = sale is not None and sale < regular
    return VariantRecord(
        line=row.line,
        sku=sku,
        options=options,
        price=sale if on_sale and sale is not None else regular,
        compare_at_price=regular if on_sale else None,
        stock=max(0, count),
        grams=weight,
    )
