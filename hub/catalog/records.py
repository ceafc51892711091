"""The normalized shape every catalog reader produces: products, their variants, and the rows it rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal


class CatalogFormat(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    CSV = "csv"
    JSONL = "jsonl"


ProductStatus = Literal["active", "draft", "archived"]


class CatalogFormatError(ValueError):
    """The file is not the named format (a required column is missing, it is not JSON Lines): nothing is imported."""


class RowRejected(Exception):
    """A row that cannot be imported: the column at fault and why; the import reports it with its line and goes on."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


@dataclass(frozen=True)
class Rejection:
    """One row the import skipped, and why: `line` is the file's 1-based physical line (the header is 1)."""

    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class Image:
    src: str
    alt: str
    position: int


@dataclass
class VariantRecord:
    line: int
    sku: str
    options: dict[str, str]
    """Option name → value as the shop names them; empty for a product without options."""
    price: Decimal
    compare_at_price: Decimal | None
    stock: int
    grams: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict[str, Any])
    """What the shop platform knows the variant by (Shopify's variant and inventory item ids)."""


@dataclass
class ProductRecord:
    handle: str
    line: int
    """The line of the product's first row."""
    title: str = ""
    description: str = ""
    category: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list[str])
    status: ProductStatus = "active"
    currency: str | None = None
    """None: the tenant's currency."""
    material: str = ""
    option_names: list[str] = field(default_factory=list[str])
    """The product's options in the shop's order (Size, Color…)."""
    product_options: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    """Options that describe the product without making variants (WooCommerce attributes of a simple product)."""
    variants: list[VariantRecord] = field(default_factory=list[VariantRecord])
    images: list[Image] = field(default_factory=list[Image])
    external: dict[str, str] = field(default_factory=dict[str, str])
    """What the shop platform knows the product by (Shopify's product id), kept in the product's `attributes`."""
    rejected_lines: int = 0
    """How many of its rows were rejected; a product left with no variant is not imported."""

    def add_image(self, src: str, alt: str = "", position: int | None = None) -> None:
        if not src or any(i.src == src for i in self.images):
            return
        self.images.append(Image(src=src, alt=alt, position=position or len(self.images) + 1))


@dataclass
class ReadResult:
    """What a reader made of a file: products in file order, and the rows it rejected."""

    products: list[ProductRecord]
    rejected: list[Rejection]


@dataclass
class ImportSummary:
    """What an import did (or, on a dry run, would do); `as_dict` is the `--json` object and the HTTP body."""

    products: int = 0
    variants: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    rejected: list[Rejection] = field(default_factory=list[Rejection])

    def as_dict(self) -> dict[str, Any]:
        return {
            "products": self.products,
            "variants": self.variants,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "archived": self.archived,
            "rejected": rejections_json(self.rejected),
        }


def rejections_json(rejected: list[Rejection]) -> list[dict[str, Any]]:
    """Rejected rows as every import's summary lists them: in file order."""
    return [r.as_dict() for r in sorted(rejected, key=lambda r: (r.line, r.column))]
