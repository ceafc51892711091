"""Answer shoppers from the tenant's own rows: products, stock, orders, policies, recommendations and handoff."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, literal

from hub.db import models as m
from hub.db.models import OrderStatus
from hub.order_requests import verified_order
from hub.product_options import OptionKind, option_kind, option_named
from hub.text import order_number_spellings
from tools.context import EVERYONE, ToolContext, ToolError
from tools.registry import ToolSpec, tool
from tools.retrieval.meaning import products_by_meaning
from tools.retrieval.policies import Hit, encode_question, load_index, query_weights, question_language
from tools.retrieval.products import (
    colour_matches,
    colour_ok,
    find_products,
    passes,
    search_terms,
    size_ok,
    unknown_terms,
)
from tools.retrieval.related import complementary_products, similar_products

LOW_STOCK_THRESHOLD = 5
"""At or below this many units an item counts as low stock."""
POLICY_MIN_SCORE = 1.2
"""BM25 score under which keywords alone are too weak to quote a passage; calibrated on the demo shop's policies."""
POLICY_MIN_COSINE = 0.25
"""Sentence-vector cosine under which meaning alone is too weak to quote a passage."""
POLICY_COSINE_MARGIN = 0.08
"""A passage quoted on meaning alone is at most this far below the closest one."""
POLICY_MIN_HEADING_COSINE = 0.22
POLICY_HEADING_LEAD = 0.05
"""A passage found by its title and heading alone needs this cosine with the question, and this lead over every other
document's: "quiero devolver unas zapatillas" → "Returns and refunds" 0.26 (next 0.15); unrelated questions stay
under 0.13."""
ORDER_NOT_FOUND = (
    "No order matches that order number together with that email or phone number. "
    "Ask the customer to check both and try again, exactly as they appear in the order confirmation."
)


# --- shared models ------------------------------------------------------------------------------------


class StockLevel(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    """1 to LOW_STOCK_THRESHOLD units left."""
    OUT = "out_of_stock"


def _level(stock: int) -> StockLevel:
    if stock <= 0:
        return StockLevel.OUT
    return StockLevel.LOW if stock <= LOW_STOCK_THRESHOLD else StockLevel.IN_STOCK


def _absent(value: object) -> bool:
    """Leave a field out of a tool output when it says nothing: a product without variants reads as it always did."""
    return value is None or value == []


class VariantInfo(BaseModel):
    """One size or colour of a product, as a shopper buys it: its own SKU, price and stock."""

    sku: str
    options: dict[str, str]
    """Option name → value as the shop names them, e.g. {"Size": "M", "Color": "Navy"}."""
    price: Decimal
    compare_at_price: Decimal | None = Field(default=None, exclude_if=_absent)
    """The price before a sale, when the shop shows one."""
    stock: int
    stock_level: StockLevel
    in_stock: bool

    @classmethod
    def of(cls, v: m.ProductVariant) -> VariantInfo:
        return cls(
            sku=v.sku,
            options={str(k): str(value) for k, value in (v.options or {}).items()},
            price=v.price,
            compare_at_price=v.compare_at_price,
            stock=v.stock,
            stock_level=_level(v.stock),
            in_stock=v.stock > 0,
        )

    def label(self) -> str:
        """The variant as a shopper names it: its option values, `M / Navy`."""
        return " / ".join(self.options.values()) or self.sku


def _values(variant: VariantInfo, kind: OptionKind) -> list[str]:
    """The variant's size (colour) value; all its option values when none of its option names says size (colour)."""
    name = option_named(variant.options, kind)
    return [variant.options[name]] if name is not None else list(variant.options.values())


def matching_variants(
    variants: Sequence[VariantInfo], *, size: str | None = None, colour: str | None = None
) -> list[VariantInfo]:
    """Return the variants in this size and colour, comparing values case-insensitively with the option that is the
    size (colour) one in whatever language the shop names it; a colour no value spells matches by its words ("grey":
    Heather Grey)."""
    chosen = list(variants)
    for wanted, kind in ((size, OptionKind.SIZE), (colour, OptionKind.COLOUR)):
        if not wanted:
            continue
        key = wanted.strip().casefold()
        exact = [v for v in chosen if any(value.strip().casefold() == key for value in _values(v, kind))]
        if not exact and kind is OptionKind.COLOUR:
            exact = [v for v in chosen if any(colour_matches(value, wanted) for value in _values(v, kind))]
        chosen = exact
    return chosen


def _values_of(variants: Sequence[VariantInfo], kind: OptionKind) -> list[str]:
    """The size (colour) values the variants come in, in the shop's order."""
    return list(
        dict.fromkeys(value for v in variants for name, value in v.options.items() if option_kind(name) is kind)
    )


class ProductCard(BaseModel):
    """What a shopper sees of a product in a list: safe to show and to link, nothing internal."""

    sku: str
    title: str
    category: str
    price: Decimal
    currency: str
    stock: int
    """Units on hand across every size and colour."""
    in_stock: bool
    stock_level: StockLevel
    sizes: list[str]
    colours: list[str]
    image_path: str | None
    """Reference photo, relative to the media directory."""
    price_to: Decimal | None = Field(default=None, exclude_if=_absent)
    """The dearest variant's price, when variants differ in price: `price` is then a "from" price."""
    compare_at_price: Decimal | None = Field(default=None, exclude_if=_absent)
    """The price before a sale, when the shop shows one."""
    match: Literal["similar"] | None = Field(default=None, exclude_if=_absent)
    """`similar` when a search found the product by meaning, not by the shopper's words: offer it as a close match
    ("nothing called that, but this is close"), never as what they asked for."""

    @classmethod
    def of(cls, p: m.Product, price_range: tuple[Decimal, Decimal] | None = None) -> ProductCard:
        """Describe a product; `price_range` is its variants' lowest and highest price, when it has variants."""
        attrs = p.attributes or {}
        low, high = price_range or (p.price, p.price)
        return cls(
            sku=p.sku,
            title=p.title,
            category=p.category,
            currency=p.currency,
            stock=p.stock,
            in_stock=p.stock > 0,
            stock_level=_level(p.stock),
            sizes=[str(s) for s in attrs.get("sizes", [])],
            colours=[str(c) for c in attrs.get("colours", [])],
            image_path=p.image_path,
            price=min(p.price, low),
            price_to=high if high > min(p.price, low) else None,
            compare_at_price=p.compare_at_price,
        )


async def _cards(ctx: ToolContext, products: Sequence[m.Product]) -> list[ProductCard]:
    """Cards for products, with each one's price range read from its variants in one query."""
    ranges = await ctx.data.variants.price_ranges([p.id for p in products])
    return [ProductCard.of(p, ranges.get(p.id)) for p in products]


async def _find_sku(ctx: ToolContext, sku: str) -> tuple[m.Product, m.ProductVariant | None] | None:
    """Return the active product with this SKU, or with a variant of this SKU (and that variant), matched exactly or
    else case-insensitively when that is unambiguous. A NUL, which no SKU holds and Postgres refuses, is dropped."""
    wanted = sku.replace("\x00", "").strip()
    # One indexed read per table finds the exact SKU (ordered first) and any that differ from it only in case, as
    # the database folds case (SQLite only ASCII), so both sides fold alike.
    folded = func.upper(literal(wanted))
    products = await ctx.data.products.list(
        func.upper(m.Product.sku) == folded, order_by=[m.Product.sku != wanted], limit=2
    )
    product = products[0] if products and products[0].sku == wanted else None
    variant = None
    if product is None:
        variants = await ctx.data.variants.list(
            func.upper(m.ProductVariant.sku) == folded, order_by=[m.ProductVariant.sku != wanted], limit=2
        )
        if variants and variants[0].sku == wanted:
            variant = variants[0]
        elif len(products) == 1:
            product = products[0]
        elif not products and len(variants) == 1:
            variant = variants[0]
    if product is None and variant is not None:
        product = await ctx.data.products.get(variant.product_id)
    return (product, variant) if product is not None and product.active else None


async def _product_and_variant(ctx: ToolContext, sku: str) -> tuple[m.Product, m.ProductVariant | None]:
    found = await _find_sku(ctx, sku)
    if found is None:
        raise ToolError(f"Unknown SKU {sku!r}: search the catalog first and use a SKU from a product card")
    return found


async def _product_by_sku(ctx: ToolContext, sku: str) -> m.Product:
    return (await _product_and_variant(ctx, sku))[0]


# --- search_products ----------------------------------------------------------------------------------


class SearchProductsInput(BaseModel):
    query: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "What the shopper is looking for, in their own words, e.g. `linen dress` or `black chelsea boots`. "
            "Word order and plurals do not matter. Leave empty to browse with filters only. Put prices, sizes and "
            "colours in their own filters, not here."
        ),
    )
    category: str | None = Field(
        default=None,
        max_length=100,
        description="Catalog category, e.g. `Dresses`, `Footwear` or `Jeans & Trousers`; case-insensitive.",
    )
    min_price: Decimal | None = Field(default=None, ge=0, description="Lowest price, in the shop's currency.")
    max_price: Decimal | None = Field(default=None, ge=0, description="Highest price, in the shop's currency.")
    size: str | None = Field(
        default=None,
        max_length=20,
        description="A size the item must come in, exactly as the shop labels it: `M`, `XL`, waist `32`, EU shoe `42`.",
    )
    colour: str | None = Field(
        default=None, max_length=40, description="A colour the item must come in, e.g. `black`, `navy`, `grey`."
    )
    in_stock: bool = Field(default=False, description="True to list only items that can ship now.")
    limit: int = Field(default=5, ge=1, le=10, description="How many products to return; keep it small for chat.")


class SearchProductsResult(BaseModel):
    searched: SearchProductsInput
    """The search as run: lets a reply restate the shopper's own budget or size ("under $40") as grounded."""
    products: list[ProductCard]
    """Best matches first."""
    total: int
    """How many products matched (counted among the first SEARCH_PREFILTER_LIMIT candidates), close matches by
    meaning included."""
    ignored_words: list[str] = []
    """Query words no product mentions; the search ran without them."""


@tool(audiences=EVERYONE)
async def search_products(ctx: ToolContext, args: SearchProductsInput) -> SearchProductsResult:
    """Search the shop's catalog by the shopper's words and optional filters (category, price range, size, colour, in
    stock). Returns a few product cards with SKU, title, price, stock, sizes and colours. Use it before naming, pricing
    or recommending any product; only mention products it returned. A card with `"match": "similar"` was found by
    meaning, not by the shopper's words: offer it as a close match."""
    # A one-word query that is a SKU finds that product alone.
    if args.query and len(args.query.split()) == 1 and (exact := await _find_sku(ctx, args.query)):
        hit = [exact[0]] if passes(exact[0], args) else []
        return SearchProductsResult(searched=args, products=await _cards(ctx, hit), total=len(hit))
    terms = search_terms(args.query, size=args.size)
    found = await find_products(ctx, args, terms, args.limit)
    ignored: list[str] = []
    if not found.total and len(terms) > 1:
        unknown = await unknown_terms(ctx, terms)
        if unknown and len(unknown) < len(terms):
            terms = [t for t in terms if t not in unknown]
            ignored = [t.word for t in unknown]
            found = await find_products(ctx, args, terms, args.limit)
    cards, total = await _cards(ctx, found.products), found.total
    # Too few by the words: offer products close in meaning ("something warm for winter", "un collar de plata"),
    # marked so the reply calls them close matches.
    if len(cards) < args.limit and terms and args.query:
        exact = frozenset(p.id for p in found.products)
        close = await products_by_meaning(ctx, args, args.query, args.limit - len(cards), exclude=exact)
        cards += [card.model_copy(update={"match": "similar"}) for card in await _cards(ctx, close)]
        total += len(close)
    return SearchProductsResult(searched=args, products=cards, total=total, ignored_words=ignored)


# --- get_product / check_stock ------------------------------------------------------------------------


class GetProductInput(BaseModel):
    sku: str = Field(
        min_length=1, max_length=64, description="SKU exactly as shown on a product card, e.g. `SKU-1042`."
    )


class ProductDetail(ProductCard):
    description: str
    material: str | None
    care: str | None
    """Washing and care instructions."""
    fit: str | None
    tags: list[str]
    details: dict[str, Any]
    """Other catalog attributes, e.g. inseam or US shoe-size equivalents."""
    variants: list[VariantInfo] = Field(default_factory=list, exclude_if=_absent)
    """Each size or colour with its own SKU, price and stock, in the shop's order; empty when the catalog does not
    keep variants."""


_CARD_ATTRIBUTES = frozenset({"sizes", "colours", "material", "care", "fit"})


@tool(audiences=EVERYONE)
async def get_product(ctx: ToolContext, args: GetProductInput) -> ProductDetail:
    """Get one product's full details by SKU: description, material, care, fit, sizes, colours, price and stock, and
    each variant (size, colour) with its own SKU, price and stock. Use it to answer questions about a specific
    product."""
    p = await _product_by_sku(ctx, args.sku)
    attrs = p.attributes or {}
    variants = [VariantInfo.of(v) for v in await ctx.data.variants.of_product(p.id)]
    prices = [v.price for v in variants]
    card = ProductCard.of(p, (min(prices), max(prices)) if prices else None)
    return ProductDetail(
        **dict(card),
        variants=variants,
        description=p.description,
        material=attrs.get("material"),
        care=attrs.get("care"),
        fit=attrs.get("fit"),
        tags=list(p.tags),
        details={k: v for k, v in attrs.items() if k not in _CARD_ATTRIBUTES},
    )


class CheckStockInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description="SKU from a product card, e.g. `SKU-1042`.")
    size: str | None = Field(default=None, max_length=20, description="The size the shopper wants, if they said.")
    colour: str | None = Field(default=None, max_length=40, description="The colour the shopper wants, if they said.")


class CheckStockResult(BaseModel):
    sku: str
    title: str
    size: str | None
    colour: str | None
    variant_offered: bool
    """False when the product does not come in the size or colour asked for."""
    level: StockLevel
    quantity: int
    """Units on hand: of the variants asked for when the catalog keeps variants, else across every size and colour."""
    can_order: bool
    note: str | None
    """What to tell the shopper about the size or colour asked for, when it is not offered."""
    variant_sku: str | None = Field(default=None, exclude_if=_absent)
    """The SKU of the one variant asked for (by size, colour or its own SKU)."""
    variants: list[VariantInfo] = Field(default_factory=list, exclude_if=_absent)
    """The variants asked for, each with its own SKU, price and stock."""
    currency: str | None = Field(default=None, exclude_if=_absent)
    """The currency of the variants' prices."""


def _not_offered(title: str, variants: Sequence[VariantInfo], size: str | None, colour: str | None) -> str:
    """Say which size or colour the product lacks, and what it comes in instead."""
    problems = []
    for wanted, kind, word in ((size, OptionKind.SIZE, "size"), (colour, OptionKind.COLOUR, "colour")):
        alone = matching_variants(
            variants,
            size=wanted if kind is OptionKind.SIZE else None,
            colour=wanted if kind is OptionKind.COLOUR else None,
        )
        if wanted and not alone:
            known = _values_of(variants, kind)
            problems.append(f"{word} {wanted}" + (f" ({word}s: {', '.join(known)})" if known else ""))
    if problems:
        return f"{title} does not come in " + " or ".join(problems) + "."
    combos = ", ".join(v.label() for v in variants)
    return f"{title} does not come in size {size} in {colour} (it comes in: {combos})."


@tool(audiences=EVERYONE)
async def check_stock(ctx: ToolContext, args: CheckStockInput) -> CheckStockResult:
    """Check whether a product is in stock, low or sold out, optionally for a size and colour, with the quantity on
    hand; where the shop keeps variants, for that size or colour's own SKU and stock. Use it whenever the shopper asks
    about availability."""
    p, asked = await _product_and_variant(ctx, args.sku)
    variants = [VariantInfo.of(v) for v in await ctx.data.variants.of_product(p.id)]
    if variants and (args.size or args.colour or asked is not None):
        return _variant_stock(p, variants, asked, args)
    attrs = p.attributes or {}
    problems = []
    if args.size and attrs.get("sizes") and not size_ok(p, args.size):
        problems.append(f"size {args.size} (sizes: {', '.join(map(str, attrs['sizes']))})")
    if args.colour and attrs.get("colours") and not colour_ok(p, args.colour):
        problems.append(f"colour {args.colour} (colours: {', '.join(map(str, attrs['colours']))})")
    if problems:
        return _stock_answer(p, args, None, note=f"{p.title} does not come in " + " or ".join(problems) + ".")
    return _stock_answer(p, args, p.stock)


def _stock_answer(
    p: m.Product, args: CheckStockInput, quantity: int | None, *, note: str | None = None, **variant: Any
) -> CheckStockResult:
    """The answer for the size and colour asked: `quantity` on hand, or None when that size or colour is not offered
    (`note` says why); `variant` adds the variant fields (`variant_sku`, `variants`, `currency`)."""
    level = StockLevel.OUT if quantity is None else _level(quantity)
    return CheckStockResult(
        sku=p.sku,
        title=p.title,
        size=args.size,
        colour=args.colour,
        variant_offered=quantity is not None,
        level=level,
        quantity=quantity or 0,
        can_order=level is not StockLevel.OUT,
        note=note,
        **variant,
    )


def _variant_stock(
    p: m.Product, variants: list[VariantInfo], asked: m.ProductVariant | None, args: CheckStockInput
) -> CheckStockResult:
    """Answer from the stock of the variants asked for: by SKU, narrowed by the size and colour when given."""
    pool = [v for v in variants if asked is None or v.sku == asked.sku]
    chosen = matching_variants(pool, size=args.size, colour=args.colour)
    if not chosen:
        return _stock_answer(p, args, None, note=_not_offered(p.title, variants, args.size, args.colour))
    return _stock_answer(
        p,
        args,
        sum(max(v.stock, 0) for v in chosen),
        variant_sku=chosen[0].sku if len(chosen) == 1 else None,
        variants=chosen,
        currency=p.currency,
    )


# --- order_status -------------------------------------------------------------------------------------


class OrderStatusInput(BaseModel):
    order_number: str = Field(
        min_length=1, max_length=40, description="Order number as the customer wrote it, e.g. `A-10423`."
    )
    email_or_phone: str = Field(
        min_length=3,
        max_length=254,
        description=(
            "The email address or phone number on the order, as the customer gave it, to verify they own it. "
            "Never guess or reuse one from another order."
        ),
    )


class OrderItem(BaseModel):
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    size: str | None = None
    colour: str | None = None


class OrderDetails(BaseModel):
    order_number: str
    status: OrderStatus
    items: list[OrderItem]
    total: Decimal
    currency: str
    carrier: str | None
    tracking_number: str | None
    eta: date | None
    """Estimated delivery date; None before dispatch is planned and once delivered or cancelled."""
    placed_on: date


class OrderStatusResult(BaseModel):
    found: bool
    """False both when the order does not exist and when the contact details do not match it."""
    order_number: str
    """The order number that was looked up, normalised."""
    order: OrderDetails | None = None
    message: str | None = None
    """What to tell the customer when nothing was found."""


@tool(audiences=EVERYONE)
async def order_status(ctx: ToolContext, args: OrderStatusInput) -> OrderStatusResult:
    """Look up an order's status, items, carrier, tracking number and estimated delivery. Needs the order number and the
    email or phone number on the order; ask the customer for both first. A not-found answer means the number or the
    contact is wrong: say so without guessing which."""
    spellings = order_number_spellings(args.order_number)
    found = await verified_order(
        ctx.session, ctx.tenant_id, args.order_number, args.email_or_phone, customer_id=ctx.customer_id
    )
    # Every failure returns the identical result: the answer never reveals whether the order exists.
    if found is None:
        return OrderStatusResult(found=False, order_number=spellings[0], message=ORDER_NOT_FOUND)
    order = found[0]
    return OrderStatusResult(
        found=True,
        order_number=order.number,
        order=OrderDetails(
            order_number=order.number,
            status=OrderStatus(order.status),
            items=[OrderItem.model_validate(item) for item in order.items],
            total=order.total,
            currency=order.currency,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            eta=order.eta,
            placed_on=order.placed_at.date(),
        ),
    )


# --- policy_answer ------------------------------------------------------------------------------------


class PolicyAnswerInput(BaseModel):
    question: str = Field(
        min_length=2,
        max_length=500,
        description=(
            "The customer's question about the shop's policies (shipping, returns, refunds, payment, "
            "order changes, account, invoices, newsletters, WhatsApp, sizing), in their own words."
        ),
    )
    max_passages: int = Field(default=2, ge=1, le=5, description="How many passages to return at most.")


class PolicyPassage(BaseModel):
    passage_id: str
    """The stored passage quoted: `hub explain` and the trace name it, so a wrong answer can be traced to its source."""
    slug: str
    """The document it comes from, named after the file that was added."""
    title: str
    heading: str
    """The heading the passage sits under within its document (the title when it has none)."""
    topic: str
    kind: str
    """`policy` or `help`."""
    text: str
    """The passage exactly as the document states it: answer from this text only."""
    score: float
    """Fused keyword and meaning relevance; higher is better."""

    @property
    def citation(self) -> str:
        """How a reply names its source: the document, and the heading when the document has several."""
        return self.title if self.heading in ("", self.title) else f"{self.title} › {self.heading}"


class PolicyAnswerResult(BaseModel):
    found: bool
    """False when no policy covers the question: do not improvise, offer a human instead."""
    passages: list[PolicyPassage]


def _by_heading(hits: list[Hit]) -> list[Hit]:
    """For a question in another language than the pages (`hits` are the pages in other languages), when neither
    the words nor the passages' meaning is sure: the passage whose title and heading are closest to the question, if
    they clearly are: above a floor, and ahead of every other document's by a margin."""
    if not hits:
        return []
    best = max(hits, key=lambda h: h.heading_cosine)
    others = [h.heading_cosine for h in hits if h.passage.slug != best.passage.slug]
    runner_up = max(others, default=0.0)
    if best.heading_cosine >= POLICY_MIN_HEADING_COSINE and best.heading_cosine - runner_up >= POLICY_HEADING_LEAD:
        return [best]
    return []


@tool(audiences=EVERYONE)
async def policy_answer(ctx: ToolContext, args: PolicyAnswerInput) -> PolicyAnswerResult:
    """Find the shop's policy and help passages that answer a question about shipping, delivery, returns, refunds,
    exchanges, cancellations and order changes, payment, account, invoices, newsletters, WhatsApp messages, sizing or
    contacting a person, in any language. Answer only from the passages returned and name the one you used; if none
    are found, offer a handoff instead of guessing."""
    index = await load_index(ctx.data.policies)
    if not index.passages:
        return PolicyAnswerResult(found=False, passages=[])
    hits = index.rank(query_weights(args.question), await encode_question(args.question))
    best_keyword = max(h.keyword for h in hits)
    best_cosine = max(h.cosine for h in hits)
    keyword_bar = max(POLICY_MIN_SCORE, best_keyword * 0.6)
    cosine_bar = max(POLICY_MIN_COSINE, best_cosine - POLICY_COSINE_MARGIN)
    confident = [h for h in hits if h.keyword >= keyword_bar or h.cosine >= cosine_bar]
    if not confident and (asked := question_language(args.question)) is not None:
        confident = _by_heading([h for h in hits if h.language != asked])
    chosen: list[PolicyPassage] = []
    for hit in confident:
        if len(chosen) == args.max_passages:
            break
        p = hit.passage
        if any(c.slug == p.slug for c in chosen):
            continue
        chosen.append(
            PolicyPassage(
                passage_id=str(p.id),
                slug=p.slug,
                title=p.title,
                heading=p.heading,
                topic=p.topic,
                kind=p.kind,
                text=p.text,
                score=round(hit.score, 4),
            )
        )
    return PolicyAnswerResult(found=bool(chosen), passages=chosen)


# --- recommend_products -------------------------------------------------------------------------------


class RecommendationKind(StrEnum):
    SIMILAR = "similar"
    """Alternatives: the same kind of item at a close price."""
    COMPLEMENTARY = "complementary"
    """Things that go with it: jeans → tees, belts, sneakers."""


class RecommendProductsInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description="SKU of the product to recommend from.")
    kind: RecommendationKind = Field(
        default=RecommendationKind.SIMILAR,
        description="`similar` for alternatives to it, `complementary` for items that go with it.",
    )
    limit: int = Field(default=4, ge=1, le=8, description="How many products to suggest.")


class Recommendation(BaseModel):
    product: ProductCard
    reason: str
    """Why it was suggested, in words the shopper can be told."""


class RecommendProductsResult(BaseModel):
    source_sku: str
    kind: RecommendationKind
    recommendations: list[Recommendation]
    """In-stock products only, never the source product."""


@tool(audiences=EVERYONE)
async def recommend_products(ctx: ToolContext, args: RecommendProductsInput) -> RecommendProductsResult:
    """Suggest in-stock products related to a SKU: `similar` alternatives (same kind, close price) or `complementary`
    items that go with it (e.g. jeans → tees, belts, sneakers), each with a reason."""
    source = await _product_by_sku(ctx, args.sku)
    if args.kind is RecommendationKind.SIMILAR:
        picked = await similar_products(ctx, source, args.limit)
    else:
        picked = await complementary_products(ctx, source, args.limit)
    cards = await _cards(ctx, [p for p, _ in picked])
    recommendations = [
        Recommendation(product=card, reason=reason) for card, (_, reason) in zip(cards, picked, strict=True)
    ]
    return RecommendProductsResult(source_sku=source.sku, kind=args.kind, recommendations=recommendations)


# --- handoff_to_human ---------------------------------------------------------------------------------


class HandoffReason(StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    """The customer asked for a person."""
    COMPLAINT = "complaint"
    MISSING_KNOWLEDGE = "missing_knowledge"
    """No tool or policy answers the question."""
    POLICY_RESTRICTION = "policy_restriction"
    """The answer needs an exception or an action only staff may take."""
    TOOL_FAILURE = "tool_failure"


class HandoffInput(BaseModel):
    reason: HandoffReason = Field(
        description=(
            "Why a person should take over: `customer_request` when they asked for one, `complaint`, "
            "`missing_knowledge` when no tool or policy answers, `policy_restriction` when it needs an exception "
            "or a staff-only action, `tool_failure` when a tool kept failing."
        )
    )
    summary: str = Field(
        min_length=5,
        max_length=1000,
        description=(
            "One to three sentences for the human agent: what the customer wants, order numbers or SKUs involved, "
            "and what has been tried, so the customer does not have to repeat themselves. No card details."
        ),
    )


class HandoffResult(BaseModel):
    reference: str
    """Quote this to the customer."""
    reason: HandoffReason
    summary: str
    requested_at: datetime


@tool(audiences=EVERYONE)
async def handoff_to_human(ctx: ToolContext, args: HandoffInput) -> HandoffResult:
    """Hand the conversation to the shop's customer care team when the customer asks for a person, complains, or when no
    tool or policy can answer. Returns a reference to give the customer."""
    # Nothing is written here: the conversation graph reads this result and hands the conversation to a person.
    return HandoffResult(
        reference=f"HO-{uuid.uuid4().hex[:8].upper()}",
        reason=args.reason,
        summary=args.summary.strip(),
        requested_at=datetime.now(UTC),
    )


# --- registry -----------------------------------------------------------------------------------------

ENGAGEMENT_TOOLS: list[ToolSpec] = [
    search_products,
    get_product,
    check_stock,
    order_status,
    policy_answer,
    recommend_products,
    handoff_to_human,
]
"""Customer-facing tools: read-only, offered to customers and operators alike."""
