"""Read the values a catalog row holds: prices, stock, weights, HTML bodies, tags, option names, and the SKU a
variant gets when the shop left it empty."""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

from slugify import slugify

from hub.catalog.records import ProductRecord, RowRejected
from hub.product_options import OptionKind, option_kind

SKU_MAX = 64
HANDLE_MAX = 255
TITLE_MAX = 200
CATEGORY_MAX = 100
UNCATEGORIZED = "uncategorized"


class FieldError(ValueError):
    """A cell that cannot be read; the message is the rejection's reason."""


def price(raw: str, *, required: bool = True) -> Decimal | None:
    """A non-negative amount with at most cents; `1,299.00` and `12,50` (decimal comma) read as people mean them."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        if required:
            raise FieldError("price is empty")
        return None
    if "," in text and "." in text:
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".") if len(text.rsplit(",", 1)[1]) != 3 else text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(f"not a price: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise FieldError(f"not a price: {raw!r}")
    if value >= Decimal("1e10"):
        raise FieldError(f"price too large: {raw!r}")
    return value.quantize(Decimal("0.01"))


def whole_number(raw: str) -> int | None:
    """An integer cell (`3`, `3.0`); empty is None."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(f"not a number: {raw!r}") from None
    if not value.is_finite() or abs(value) >= 2**31:
        raise FieldError(f"not a number: {raw!r}")
    return int(value)


def stock(raw: str) -> int:
    """Inventory on hand: empty is 0, and so is a negative count (oversold)."""
    return max(0, whole_number(raw) or 0)


def grams(raw: str, *, per_unit: Decimal = Decimal(1)) -> int | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", ".")) * per_unit
    except InvalidOperation:
        raise FieldError(f"not a weight: {raw!r}") from None
    if not value.is_finite() or value < 0 or value >= 2**31:
        raise FieldError(f"not a weight: {raw!r}")
    return round(value)


def truthy(raw: str) -> bool:
    return raw.strip().casefold() in {"true", "1", "yes", "y", "t", "published", "visible"}


def tags(raw: str) -> list[str]:
    seen: dict[str, None] = {}
    for tag in raw.split(","):
        if tag := tag.strip():
            seen.setdefault(tag, None)
    return list(seen)


def category(*candidates: str) -> str:
    """The first non-empty candidate; of a taxonomy path (`Apparel > Clothing > Shirts`), its last segment."""
    for candidate in candidates:
        if last := candidate.split(">")[-1].strip():
            return last[:CATEGORY_MAX]
    return UNCATEGORIZED


class _Text(HTMLParser):
    """Collect the text of an HTML fragment, breaking lines where blocks end."""

    BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
    SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The readable text of a product body: tags dropped, entities decoded, one blank line between blocks at most."""
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line and line != "-")
    return text.replace("\n- ", "\n- ").strip()


def make_sku(handle: str, values: list[str]) -> str:
    """A stable SKU for a variant the shop left without one: handle and option values, uppercased, ≤ 64 characters
    (a longer one keeps a hash of the whole, so two long names cannot meet)."""
    slug = slugify(" ".join([handle, *values]), separator="-").upper() or "ITEM"
    if len(slug) <= SKU_MAX:
        return slug
    digest = hashlib.sha1(slug.encode()).hexdigest()[:8].upper()
    return f"{slug[: SKU_MAX - 9].rstrip('-')}-{digest}"


def variant_sku(product: ProductRecord, given: str, options: dict[str, str], column: str) -> str:
    """A new variant's SKU: the file's, or one made from the handle and option values (`make_sku`); a SKU too long
    or repeating another variant of the product rejects the row."""
    sku = given or make_sku(product.handle, list(options.values()))
    if len(sku) > SKU_MAX:
        raise RowRejected(column, f"SKU longer than {SKU_MAX} characters")
    if any(v.sku == sku for v in product.variants):
        raise RowRejected(column, f"SKU {sku!r} repeats another variant of {product.handle!r}")
    return sku


def compare_at(price: Decimal, before: Decimal | None) -> Decimal | None:
    """The compare-at price worth showing: only one above the price is a sale."""
    return before if before is not None and before > price else None


_ATTRIBUTE: dict[OptionKind, str] = {OptionKind.SIZE: "sizes", OptionKind.COLOUR: "colours"}
"""The `attributes` list the tools and the engine read for a size or colour option."""


def attributes(product: ProductRecord) -> dict[str, Any]:
    """The `attributes` column the tools and the engine read: sizes, colours, material, product_type, options
    ({name: [values]}), images and vendor, and the platform's ids of the product; empty ones are left out."""
    options: dict[str, list[str]] = {name: list(values) for name, values in product.product_options.items()}
    for name in product.option_names:
        values = options.setdefault(name, [])
        for variant in product.variants:
            value = variant.options.get(name)
            if value and value not in values:
                values.append(value)
    options = {name: values for name, values in options.items() if values}
    result: dict[str, Any] = {}
    material = product.material
    for name, values in options.items():
        kind = option_kind(name)
        if kind is OptionKind.MATERIAL:
            material = material or ", ".join(values)
        elif kind is not None:
            listed: list[str] = result.setdefault(_ATTRIBUTE[kind], [])
            listed += [v for v in values if v not in listed]
    if material:
        result["material"] = material
    if product.product_type:
        result["product_type"] = product.product_type
    if options:
        result["options"] = options
    if product.images:
        result["images"] = [
            {"src": i.src, "alt": i.alt, "position": i.position}
            for i in sorted(product.images, key=lambda i: i.position)
        ]
    if product.vendor:
        result["vendor"] = product.vendor
    result.update(product.external)
    return result
