"""Find products related to one product: similar alternatives, and complements that go with it.

Complements come from three sources, in this order, interleaved so a list mixes kinds of items:
- a general vocabulary of what goes with what (a tee with trousers, a jacket, sneakers), matched by the words of a
  product's type, category and title, so an imported shop's "T-Shirt" type is a tee as much as the demo's;
- the shop's own orders: products bought in the same order as this one at least `BOUGHT_TOGETHER_MIN` times;
- the shop's other categories, their best-stocked items first, for what neither of the above knows.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import ColumnElement, String, cast, func, or_

from hub.db import models as m
from tools.context import ToolContext
from tools.retrieval.products import holding_words
from tools.retrieval.text import stem_set, stems

RELATED_PREFILTER_LIMIT = 300
"""Rows one recommendation reads from SQL per source of complements."""
SIMILAR_PRICE_BAND = Decimal("0.35")
"""Similar items cost within ±35% of the source product."""
BOUGHT_TOGETHER_ORDERS = 500
"""The most recent orders holding a product that are read for what was bought with it."""
BOUGHT_TOGETHER_MIN = 2
"""Orders two products must share before one is offered with the other."""

COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "tee": ("trousers", "jacket", "sneaker", "cap"),
    "long sleeve tee": ("trousers", "jacket", "boot", "beanie"),
    "shirt": ("trousers", "jacket", "loafer", "belt"),
    "tank": ("trousers", "sandal", "bucket hat", "tote"),
    "hoodie": ("trousers", "sneaker", "beanie", "tee"),
    "sweatshirt": ("trousers", "sneaker", "tee", "cap"),
    "sweater": ("trousers", "coat", "boot", "scarf"),
    "trousers": ("tee", "belt", "sneaker", "hoodie"),
    "jeans": ("tee", "belt", "sneaker", "hoodie"),
    "shorts": ("tee", "sandal", "cap", "tank"),
    "skirt": ("tee", "sandal", "crossbody", "jacket"),
    "dress": ("sandal", "crossbody", "jacket", "tote"),
    "slip dress": ("sandal", "jacket", "crossbody", "loafer"),
    "jacket": ("hoodie", "tee", "boot", "scarf"),
    "puffer": ("beanie", "scarf", "boot", "hoodie"),
    "coat": ("scarf", "boot", "trousers", "loafer"),
    "sneaker": ("socks", "tee", "trousers", "cap"),
    "boot": ("socks", "trousers", "coat", "belt"),
    "loafer": ("socks", "trousers", "belt", "card holder"),
    "sandal": ("dress", "tote", "tank", "bucket hat"),
    "tote": ("card holder", "scarf", "bucket hat", "dress"),
    "backpack": ("card holder", "cap", "sneaker", "hoodie"),
    "crossbody": ("card holder", "dress", "scarf", "sandal"),
    "duffel": ("card holder", "socks", "cap", "sneaker"),
    "beanie": ("scarf", "puffer", "coat", "hoodie"),
    "cap": ("tee", "sneaker", "backpack", "sweatshirt"),
    "bucket hat": ("tee", "tank", "tote", "sandal"),
    "scarf": ("beanie", "coat", "puffer", "jacket"),
    "belt": ("trousers", "boot", "loafer", "card holder"),
    "socks": ("sneaker", "boot", "loafer"),
    "card holder": ("belt", "tote", "crossbody", "backpack"),
    "necklace": ("earrings", "bracelet", "ring"),
    "earrings": ("necklace", "bracelet", "ring"),
    "bracelet": ("ring", "necklace", "earrings"),
    "ring": ("bracelet", "earrings", "necklace"),
    "mug": ("candle", "cushion", "throw"),
    "candle": ("mug", "throw", "cushion"),
    "cushion": ("throw", "candle", "mug"),
    "throw": ("cushion", "candle", "mug"),
    "sofa": ("cushion", "throw", "rug", "lamp"),
    "table": ("chair", "lamp", "rug"),
    "chair": ("table", "cushion", "rug"),
    "lamp": ("table", "rug", "candle"),
    "rug": ("sofa", "table", "lamp"),
}
"""General vocabulary: a kind of item → the kinds that go with it, in order of preference; explainable on purpose.
A kind is one or more words; a product is of a kind when its type, category or title holds all of them."""

_KIND_STEMS: dict[str, frozenset[str]] = {kind: frozenset(stems(kind)) for kind in COMPLEMENTS}
_BY_SPECIFICITY = sorted(COMPLEMENTS, key=lambda kind: -len(_KIND_STEMS[kind]))
"""Kinds with more words first: a "long sleeve tee" is not just a "tee"."""


def kind_of(p: m.Product) -> str | None:
    """The vocabulary's kind of this product, judged by its type, then its category, then its title."""
    attrs = p.attributes or {}
    for text in (str(attrs.get("product_type") or "").replace("_", " "), p.category, p.title):
        words = stem_set(text)
        for kind in _BY_SPECIFICITY:
            if _KIND_STEMS[kind] <= words:
                return kind
    return None


def _popularity(p: m.Product) -> tuple[bool, int, str]:
    return ("bestseller" not in p.tags, -p.stock, p.sku)


def _interleave(groups: list[list[m.Product]], limit: int) -> list[m.Product]:
    """Take one from each group in turn, so a complementary list mixes a belt, a tee and a sneaker."""
    picked: list[m.Product] = []
    seen: set[str] = set()
    for row in range(max((len(g) for g in groups), default=0)):
        for group in groups:
            if row < len(group) and len(picked) < limit and group[row].sku not in seen:
                picked.append(group[row])
                seen.add(group[row].sku)
    return picked


async def similar_products(ctx: ToolContext, source: m.Product, limit: int) -> list[tuple[m.Product, str]]:
    """In-stock products of the same category at a close price, the same kind and a shared colour first."""
    low, high = source.price * (1 - SIMILAR_PRICE_BAND), source.price * (1 + SIMILAR_PRICE_BAND)
    rows = await ctx.data.products.list(
        m.Product.active.is_(True),
        m.Product.stock > 0,
        m.Product.id != source.id,
        m.Product.category == source.category,
        m.Product.price.between(low, high),
        order_by=[m.Product.sku],
        limit=RELATED_PREFILTER_LIMIT,
    )
    kind = kind_of(source)
    colours = set((source.attributes or {}).get("colours", []))

    def closeness(p: m.Product) -> tuple[bool, bool, Decimal, str]:
        shares_colour = bool(colours & set((p.attributes or {}).get("colours", [])))
        return (kind_of(p) != kind, not shares_colour, abs(p.price - source.price), p.sku)

    result = []
    for p in sorted(rows, key=closeness)[:limit]:
        same = f"the same kind of item ({kind})" if kind and kind_of(p) == kind else source.category
        result.append((p, f"Also {same}, at a similar price."))
    return result


def _available(source: m.Product) -> list[ColumnElement[bool]]:
    return [m.Product.active.is_(True), m.Product.stock > 0, m.Product.id != source.id]


async def _by_vocabulary(ctx: ToolContext, source: m.Product) -> list[tuple[list[m.Product], str]]:
    kind = kind_of(source)
    if kind is None:
        return []
    targets = COMPLEMENTS[kind]
    rows = await ctx.data.products.list(
        *_available(source),
        or_(*(holding_words(ctx, target) for target in targets)),
        order_by=[m.Product.sku],
        limit=RELATED_PREFILTER_LIMIT,
    )
    kinds = {p.id: kind_of(p) for p in rows}
    return [
        (
            sorted((p for p in rows if kinds[p.id] == target), key=_popularity),
            f"{target.capitalize()} to go with the {source.title}.",
        )
        for target in targets
    ]


async def _bought_together(ctx: ToolContext, source: m.Product) -> list[tuple[list[m.Product], str]]:
    """Products this shop's customers bought in the same order as `source`, most often first."""
    variants = await ctx.data.variants.list(m.ProductVariant.product_id == source.id)
    own = {source.sku, *(v.sku for v in variants)}
    items = cast(m.Order.items, String)
    orders = await ctx.data.orders.list(
        or_(*(items.contains(f'"{sku}"', autoescape=True) for sku in own)),
        order_by=[m.Order.placed_at.desc()],
        limit=BOUGHT_TOGETHER_ORDERS,
    )
    baskets = [{str(item.get("sku")) for item in order.items if item.get("sku")} - own for order in orders]
    skus = set().union(*baskets) if baskets else set()
    if not skus:
        return []
    product_of = {v.sku: v.product_id for v in await ctx.data.variants.list(m.ProductVariant.sku.in_(sorted(skus)))}
    by_sku = {p.sku: p for p in await ctx.data.products.list(m.Product.sku.in_(sorted(skus)))}
    product_of.update({sku: p.id for sku, p in by_sku.items()})
    counts = Counter(pid for basket in baskets for pid in {product_of[s] for s in basket if s in product_of})
    wanted = [pid for pid, n in counts.most_common() if n >= BOUGHT_TOGETHER_MIN]
    if not wanted:
        return []
    rows = {p.id: p for p in await ctx.data.products.list(*_available(source), m.Product.id.in_(wanted))}
    picked = [rows[pid] for pid in wanted if pid in rows]
    return [(picked, f"Often bought with the {source.title}.")] if picked else []


async def _other_categories(ctx: ToolContext, source: m.Product) -> list[tuple[list[m.Product], str]]:
    rows = await ctx.data.products.list(
        *_available(source),
        func.lower(m.Product.category) != source.category.strip().lower(),
        order_by=[m.Product.sku],
        limit=RELATED_PREFILTER_LIMIT,
    )
    by_category: dict[str, list[m.Product]] = {}
    for p in rows:
        by_category.setdefault(p.category, []).append(p)
    ranked = sorted(by_category.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        (sorted(group, key=_popularity), f"From {category}, to go with the {source.title}.")
        for category, group in ranked
    ]


async def complementary_products(ctx: ToolContext, source: m.Product, limit: int) -> list[tuple[m.Product, str]]:
    """In-stock products that go with `source`, each with the reason it was picked."""
    groups: list[tuple[list[m.Product], str]] = []
    for find in (_by_vocabulary, _bought_together, _other_categories):
        groups += [(products, reason) for products, reason in await find(ctx, source) if products]
        if sum(len(products) for products, _ in groups) >= limit:
            break
    reasons: dict[str, str] = {}
    for products, reason in groups:
        for p in products:
            reasons.setdefault(p.sku, reason)
    return [(p, reasons[p.sku]) for p in _interleave([products for products, _ in groups], limit)]
