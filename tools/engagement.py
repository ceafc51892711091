"""Answer shoppers from the tenant's own rows: products, stock, orders, policies, recommendations and handoff."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, String, case, cast, func, literal, or_

from hub.db import models as m
from hub.db.models import OrderStatus
from hub.text import order_number_spellings, same_phone
from tools.context import EVERYONE, ToolContext, ToolError
from tools.registry import ToolSpec, tool

LOW_STOCK_THRESHOLD = 5
"""At or below this many units an item counts as low stock."""
SEARCH_PREFILTER_LIMIT = 400
"""Rows one search reads from SQL before ranking in Python; keeps a 10k-product catalog fast."""
RECOMMEND_PREFILTER_LIMIT = 300
POLICY_MIN_SCORE = 1.2
"""BM25 score under which a passage is too weak to quote; calibrated on the demo shop's policies."""
POLICY_PASSAGE_WORDS = 220
"""Paragraphs longer than this are split into overlapping sentence windows..."""
POLICY_WINDOW_WORDS = 150
"""...of about this many words each."""
ORDER_NOT_FOUND = (
    "No order matches that order number together with that email or phone number. "
    "Ask the customer to check both and try again, exactly as they appear in the order confirmation."
)


# --- text matching -----------------------------------------------------------------------------------
# One light English stemmer serves product search and policy retrieval: both sides of every
# comparison go through it, so consistency matters more than linguistic accuracy.

_VOWELS = frozenset("aeiou")
_WORD = re.compile(r"[a-z0-9]+")
_TSHIRT = re.compile(r"\bt[\s-]?shirts?\b")


def _fold(text: str) -> str:
    """Lower-case and strip accents, and spell every T-shirt as a tee."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _TSHIRT.sub(" tee ", ascii_text)


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    """Reduce plurals and -ing/-ed/-ation/-ment forms to a shared stem: `dresses`→`dress`, `shipping`→`ship`."""
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "i"
    elif w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ation", "ment", "ing", "ed"):
        root = w[: -len(suffix)]
        if w.endswith(suffix) and len(root) >= 3 and _VOWELS & set(root):
            w = root
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in _VOWELS | {"s", "l"}:
                w = w[:-1]
            break
    if w.endswith("y") and len(w) > 3 and w[-2] not in _VOWELS:
        w = w[:-1] + "i"
    elif w.endswith("ie"):
        w = w[:-1]
    elif w.endswith("e") and not w.endswith("ee") and len(w) > 3:
        w = w[:-1]
    if len(w) >= 5 and w.endswith("ll"):
        w = w[:-1]
    return w


def _tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(_fold(text)) if len(w) > 1]


@lru_cache(maxsize=20_000)
def _token_set(text: str) -> frozenset[str]:
    """Stems of a product field; cached because the same titles and descriptions come back on every search."""
    return frozenset(_tokens(text))


def _synonym_map(pairs: dict[str, str]) -> dict[str, frozenset[str]]:
    return {_stem(key): frozenset(_tokens(value)) for key, value in pairs.items()}


@dataclass(frozen=True)
class _Term:
    """One word of a query and the stems that count as that word in a product's text."""

    word: str
    alternatives: frozenset[str]

    def matches(self, tokens: frozenset[str]) -> bool:
        return not self.alternatives.isdisjoint(tokens)

    def sql_patterns(self) -> list[str]:
        """LIKE patterns that every product this term matches satisfies (a superset, checked in Python)."""
        patterns: set[str] = set()
        for alt in self.alternatives:
            root = alt[:-1] if alt.endswith("i") and len(alt) >= 4 else alt
            patterns.add(f"%{root}%")
            patterns.update(f"%{surface}%" for surface in _SURFACES.get(alt, ()))
        return sorted(patterns)


_SURFACES: dict[str, tuple[str, ...]] = {"tee": ("t-shirt", "t shirt")}
"""Spellings the SQL prefilter must also accept for a stem that `_fold` rewrites."""

_SEARCH_STOPWORDS = frozenset(
    """a an the and or for with without in on of to at by from me i im you my your our we us it its show find
    looking look want wanted need needs some any do does have has got is are be there please something anything
    item items product products thing things buy get shop like love would could can what which that this these
    those one ones under over below above less more than cheap cheapest affordable size sizes colour colours
    color colors price priced available stock instock""".split()
)

_SEARCH_SYNONYMS = _synonym_map(
    {
        "trainer": "trainer sneaker runner",
        "trainers": "trainer sneaker runner",
        "sneaker": "sneaker trainer runner",
        "shoe": "shoe footwear sneaker boot loafer sandal",
        "pant": "pant trouser",
        "pants": "pant trouser",
        "jumper": "jumper sweater sweatshirt",
        "sweater": "sweater jumper sweatshirt",
        "hat": "hat beanie cap",
        "grey": "grey gray",
        "gray": "grey gray",
        "denim": "denim jean",
        "purse": "purse bag crossbody tote",
    }
)

_COLOUR_SYNONYMS = _synonym_map({"grey": "grey gray", "gray": "grey gray", "beige": "beige oatmeal stone ecru"})


def _search_terms(text: str | None) -> list[_Term]:
    terms: dict[str, _Term] = {}
    for word in _WORD.findall(_fold(text or "")):
        if len(word) < 2 or word.isdigit() or word in _SEARCH_STOPWORDS:
            continue
        stem = _stem(word)
        terms.setdefault(stem, _Term(word, _SEARCH_SYNONYMS.get(stem, frozenset({stem}))))
    return list(terms.values())


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

    @classmethod
    def of(cls, p: m.Product) -> ProductCard:
        attrs = p.attributes or {}
        return cls(
            sku=p.sku,
            title=p.title,
            category=p.category,
            price=p.price,
            currency=p.currency,
            stock=p.stock,
            in_stock=p.stock > 0,
            stock_level=_level(p.stock),
            sizes=[str(s) for s in attrs.get("sizes", [])],
            colours=[str(c) for c in attrs.get("colours", [])],
            image_path=p.image_path,
        )


def _product_tokens(p: m.Product) -> dict[str, frozenset[str]]:
    """Stems of a product by field; `_FIELD_WEIGHTS` says how much a match in each field counts."""
    attrs = p.attributes or {}
    return {
        "title": _token_set(p.title),
        "kind": _token_set(f"{p.category} {str(attrs.get('product_type', '')).replace('_', ' ')}"),
        "colour": _token_set(" ".join(map(str, attrs.get("colours", [])))),
        "detail": _token_set(f"{attrs.get('material', '')} {attrs.get('fit', '')} {' '.join(map(str, p.tags))}"),
        "description": _token_set(p.description),
    }


_FIELD_WEIGHTS = {"title": 3.0, "kind": 2.5, "colour": 2.0, "detail": 1.5, "description": 1.0}


@lru_cache(maxsize=1)
def _haystack() -> ColumnElement[str]:
    """Every searchable column of a product as one lower-cased string, for LIKE prefilters on any backend (built once:
    an expression is immutable, and building it costs more than running the search on a small catalog)."""
    p = m.Product
    text = p.title + " " + p.category + " " + p.description + " " + cast(p.attributes, String) + " "
    return func.lower(text + cast(p.tags, String))


def _any_like(column: ColumnElement[str], patterns: Iterable[str]) -> ColumnElement[bool]:
    return or_(*(column.like(pattern) for pattern in patterns))


async def _find_sku(ctx: ToolContext, sku: str) -> m.Product | None:
    """Return the active product with this SKU, matched exactly or else case-insensitively when that is unambiguous."""
    wanted = sku.strip()
    product = await ctx.data.products.by_sku(wanted)
    if product is None:
        loose = await ctx.data.products.list(func.upper(m.Product.sku) == wanted.upper(), limit=2)
        product = loose[0] if len(loose) == 1 else None
    return product if product is not None and product.active else None


async def _product_by_sku(ctx: ToolContext, sku: str) -> m.Product:
    product = await _find_sku(ctx, sku)
    if product is None:
        raise ToolError(f"Unknown SKU {sku!r}: search the catalog first and use a SKU from a product card")
    return product


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
    """How many products matched (counted among the first SEARCH_PREFILTER_LIMIT candidates)."""
    ignored_words: list[str] = []
    """Query words no product mentions; the search ran without them."""


def _colour_ok(p: m.Product, colour: str) -> bool:
    wanted = [_COLOUR_SYNONYMS.get(t, frozenset({t})) for t in _tokens(colour)]
    names = [_token_set(str(c)) for c in (p.attributes or {}).get("colours", [])] or [_token_set(p.title)]
    return any(all(not alts.isdisjoint(name) for alts in wanted) for name in names)


def _size_ok(p: m.Product, size: str) -> bool:
    wanted = size.strip().upper()
    return any(str(s).strip().upper() == wanted for s in (p.attributes or {}).get("sizes", []))


def _filters(args: SearchProductsInput) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [m.Product.active.is_(True)]
    if args.min_price is not None:
        where.append(m.Product.price >= args.min_price)
    if args.max_price is not None:
        where.append(m.Product.price <= args.max_price)
    if args.in_stock:
        where.append(m.Product.stock > 0)
    if args.category:
        category = func.lower(m.Product.category)
        where += [_any_like(category, term.sql_patterns()) for term in _search_terms(args.category)]
    attributes = func.lower(cast(m.Product.attributes, String))
    if args.colour:
        for token in _tokens(args.colour):
            where.append(
                _any_like(attributes, _Term(token, _COLOUR_SYNONYMS.get(token, frozenset({token}))).sql_patterns())
            )
    if args.size:
        where.append(attributes.contains(f'"{args.size.strip().lower()}"', autoescape=True))
    return where


def _category_ok(p: m.Product, category: str) -> bool:
    if p.category.strip().lower() == category.strip().lower():
        return True
    have = _token_set(p.category)
    return all(term.matches(have) for term in _search_terms(category))


async def _candidates(
    ctx: ToolContext, where: list[ColumnElement[bool]], terms: list[_Term], limit: int = SEARCH_PREFILTER_LIMIT
) -> list[m.Product]:
    """Read a bounded superset of the matches, products whose titles hold the most words first."""
    text_where = [_prefilter(term)[0] for term in terms]
    title_hits = sum((_prefilter(term)[1] for term in terms), start=literal(0))
    return await ctx.data.products.list(
        *where, *text_where, order_by=[title_hits.desc(), m.Product.title, m.Product.sku], limit=limit
    )


@lru_cache(maxsize=4096)
def _prefilter(term: _Term) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """A term's LIKE prefilter over every searchable column, and 1 when its title matches (else 0); built once per
    term, as shoppers ask for the same words again and again."""
    patterns = term.sql_patterns()
    return _any_like(_haystack(), patterns), case((_any_like(func.lower(m.Product.title), patterns), 1), else_=0)


async def _unknown_terms(ctx: ToolContext, terms: list[_Term]) -> list[_Term]:
    """Return the terms that no active product of this tenant matches."""
    unknown = []
    for term in terms:
        rows = await _candidates(ctx, [m.Product.active.is_(True)], [term], limit=50)
        if not any(_score(_product_tokens(p), [term]) for p in rows):
            unknown.append(term)
    return unknown


def _score(fields: dict[str, frozenset[str]], terms: list[_Term]) -> float:
    """Sum each term's best field weight; 0 when any term is missing, so every word must match."""
    total = 0.0
    for term in terms:
        best = max((_FIELD_WEIGHTS[name] for name, tokens in fields.items() if term.matches(tokens)), default=0.0)
        if not best:
            return 0.0
        total += best
    return total


def _rank(rows: list[m.Product], terms: list[_Term], args: SearchProductsInput) -> list[m.Product]:
    scored: list[tuple[float, m.Product]] = []
    for p in rows:
        if args.category and not _category_ok(p, args.category):
            continue
        if args.colour and not _colour_ok(p, args.colour):
            continue
        if args.size and not _size_ok(p, args.size):
            continue
        score = _score(_product_tokens(p), terms) if terms else 1.0
        if score:
            scored.append((score, p))
    scored.sort(key=lambda sp: (-sp[0], sp[1].stock <= 0, sp[1].title, sp[1].sku))
    return [p for _, p in scored]


@tool(audiences=EVERYONE)
async def search_products(ctx: ToolContext, args: SearchProductsInput) -> SearchProductsResult:
    """Search the shop's catalog by the shopper's words and optional filters (category, price range, size, colour, in
    stock). Returns a few product cards with SKU, title, price, stock, sizes and colours. Use it before naming, pricing
    or recommending any product; only mention products it returned."""
    # A one-word query that is a SKU finds that product alone.
    if args.query and len(args.query.split()) == 1 and (exact := await _find_sku(ctx, args.query)):
        hit = _rank([exact], [], args)
        return SearchProductsResult(searched=args, products=[ProductCard.of(p) for p in hit], total=len(hit))
    where = _filters(args)
    terms = _search_terms(args.query)
    ranked = _rank(await _candidates(ctx, where, terms), terms, args)
    ignored: list[str] = []
    if not ranked and len(terms) > 1:
        unknown = await _unknown_terms(ctx, terms)
        if unknown and len(unknown) < len(terms):
            terms = [t for t in terms if t not in unknown]
            ignored = [t.word for t in unknown]
            ranked = _rank(await _candidates(ctx, where, terms), terms, args)
    return SearchProductsResult(
        searched=args,
        products=[ProductCard.of(p) for p in ranked[: args.limit]],
        total=len(ranked),
        ignored_words=ignored,
    )


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


_CARD_ATTRIBUTES = frozenset({"sizes", "colours", "material", "care", "fit"})


@tool(audiences=EVERYONE)
async def get_product(ctx: ToolContext, args: GetProductInput) -> ProductDetail:
    """Get one product's full details by SKU: description, material, care, fit, sizes, colours, price and stock. Use it
    to answer questions about a specific product."""
    p = await _product_by_sku(ctx, args.sku)
    attrs = p.attributes or {}
    return ProductDetail(
        **ProductCard.of(p).model_dump(),
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
    """Units on hand across every size and colour: the catalog does not count stock per variant."""
    can_order: bool
    note: str | None
    """What to tell the shopper about the size or colour asked for, when it is not offered."""


@tool(audiences=EVERYONE)
async def check_stock(ctx: ToolContext, args: CheckStockInput) -> CheckStockResult:
    """Check whether a product is in stock, low or sold out, optionally for a size and colour, with the quantity on
    hand. Use it whenever the shopper asks about availability."""
    p = await _product_by_sku(ctx, args.sku)
    attrs = p.attributes or {}
    problems = []
    if args.size and attrs.get("sizes") and not _size_ok(p, args.size):
        problems.append(f"size {args.size} (sizes: {', '.join(map(str, attrs['sizes']))})")
    if args.colour and attrs.get("colours") and not _colour_ok(p, args.colour):
        problems.append(f"colour {args.colour} (colours: {', '.join(map(str, attrs['colours']))})")
    offered = not problems
    level = _level(p.stock) if offered else StockLevel.OUT
    return CheckStockResult(
        sku=p.sku,
        title=p.title,
        size=args.size,
        colour=args.colour,
        variant_offered=offered,
        level=level,
        quantity=p.stock if offered else 0,
        can_order=level is not StockLevel.OUT,
        note=None if offered else f"{p.title} does not come in " + " or ".join(problems) + ".",
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


def _contact_matches(given: str, customer: m.Customer) -> bool:
    text = given.strip()
    if "@" in text:
        return text.removeprefix("mailto:").strip().lower() == customer.email.strip().lower()
    return customer.phone is not None and same_phone(text, customer.phone)


@tool(audiences=EVERYONE)
async def order_status(ctx: ToolContext, args: OrderStatusInput) -> OrderStatusResult:
    """Look up an order's status, items, carrier, tracking number and estimated delivery. Needs the order number and the
    email or phone number on the order; ask the customer for both first. A not-found answer means the number or the
    contact is wrong: say so without guessing which."""
    spellings = order_number_spellings(args.order_number)
    not_found = OrderStatusResult(found=False, order_number=spellings[0], message=ORDER_NOT_FOUND)
    candidates = {o.number: o for o in await ctx.data.orders.list(m.Order.number.in_(spellings))}
    order = next((candidates[n] for n in spellings if n in candidates), None)
    # Every failure below returns the identical result: the answer never reveals whether the order exists.
    if order is None or (ctx.customer_id is not None and order.customer_id != ctx.customer_id):
        return not_found
    customer = await ctx.data.customers.get(order.customer_id)
    if customer is None or not _contact_matches(args.email_or_phone, customer):
        return not_found
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
    slug: str
    title: str
    topic: str
    text: str
    """The passage exactly as the policy states it: answer from this text only."""
    score: float
    """BM25 relevance; higher is better."""


class PolicyAnswerResult(BaseModel):
    found: bool
    """False when no policy covers the question: do not improvise, offer a human instead."""
    passages: list[PolicyPassage]


_POLICY_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for from with about as into is are was were be been being am do does
    did doing have has had having i me my mine you your yours we us our it its this that these those there here
    what which who whom whose when where why how can could would should will shall may might must please hi hello
    hey thanks thank just also any some get got tell know want need like available""".split()
)

_POLICY_SYNONYMS = _synonym_map(
    {
        "unsubscribe": "stop opt out",
        "subscribe": "opt start subscribe",
        "spam": "stop unsubscribe marketing",
        "refund": "refund money back",
        "money": "refund",
        "cost": "cost fee price charge",
        "price": "price cost fee",
        "fee": "fee cost charge",
        "deliver": "deliver delivery ship",
        "delivery": "delivery ship",
        "ship": "ship delivery",
        "arrive": "arrive delivery",
        "late": "late delay",
        "delay": "delay late",
        "lost": "lost investigation",
        "broken": "broken damaged faulty",
        "damaged": "damaged faulty",
        "wrong": "wrong faulty damaged",
        "human": "human person team",
        "agent": "agent person human team",
        "someone": "person human",
        "person": "person human",
        "call": "call phone",
        "phone": "phone call",
        "receipt": "receipt invoice",
        "invoice": "invoice receipt",
        "size": "size fit",
        "fit": "fit size",
        "exchange": "exchange swap",
        "swap": "swap exchange",
        "login": "sign password account",
        "abroad": "international outside",
        "overseas": "international outside",
        "worldwide": "international outside",
        "international": "international outside",
        "canada": "canada international",
        "uk": "kingdom international",
        "britain": "kingdom international",
        "england": "kingdom international",
        "australia": "australia international",
        "europe": "international outside",
        "france": "international outside",
        "germany": "international outside",
        "ireland": "international outside",
        "mexico": "international outside",
        "japan": "international outside",
        "much": "cost fee price",
        "customs": "customs duties import tax",
        "installment": "instalment klarna",
        "coupon": "coupon discount code",
        "promo": "promo discount code",
    }
)
_SYNONYM_WEIGHT = 0.5
_BM25_K1 = 1.5
_BM25_B = 0.75


@dataclass(frozen=True)
class _Passage:
    doc: m.PolicyDocument
    text: str
    terms: Counter[str]


def _split_passages(body: str) -> list[str]:
    """Split a policy into paragraphs, and long paragraphs into sentence windows overlapping by one sentence."""
    passages: list[str] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", body)):
        if len(paragraph.split()) <= POLICY_PASSAGE_WORDS:
            passages += [paragraph] if paragraph else []
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        start = 0
        while True:
            end, words = start, 0
            while end < len(sentences) and (end == start or words + len(sentences[end].split()) <= POLICY_WINDOW_WORDS):
                words += len(sentences[end].split())
                end += 1
            passages.append(" ".join(sentences[start:end]))
            if end == len(sentences):
                break
            start = max(start + 1, end - 1)
    return passages


def _index(docs: list[m.PolicyDocument]) -> list[_Passage]:
    return [_Passage(doc, text, terms) for doc in docs for text, terms in _doc_passages(doc.title, doc.topic, doc.body)]


@lru_cache(maxsize=1024)
def _doc_passages(title: str, topic: str, body: str) -> tuple[tuple[str, Counter[str]], ...]:
    """A policy's passages with their term counts (the title counted twice), cached by the policy's text: the same
    policies are asked about on every turn, and an edited policy is a new key. The counters are read, never changed."""
    heading = _tokens(title) * 2 + _tokens(topic.replace("_", " "))
    return tuple((text, Counter(heading + _tokens(text))) for text in _split_passages(body))


def _query_weights(question: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    words = [w for w in _WORD.findall(_fold(question)) if w not in _POLICY_STOPWORDS and len(w) > 1]
    for stem in (_stem(w) for w in words):
        weights[stem] = 1.0
    for stem in list(weights):
        for extra in _POLICY_SYNONYMS.get(stem, ()):
            weights.setdefault(extra, _SYNONYM_WEIGHT)
    return weights


def _bm25(passages: list[_Passage], query: dict[str, float]) -> list[float]:
    n = len(passages)
    avg_len = sum(p.terms.total() for p in passages) / n
    df = Counter(term for p in passages for term in set(p.terms) if term in query)
    scores = []
    for p in passages:
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * p.terms.total() / avg_len)
        score = 0.0
        for term, weight in query.items():
            tf = p.terms.get(term, 0)
            if tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += weight * idf * tf * (_BM25_K1 + 1) / (tf + norm)
        scores.append(score)
    return scores


@tool(audiences=EVERYONE)
async def policy_answer(ctx: ToolContext, args: PolicyAnswerInput) -> PolicyAnswerResult:
    """Find the shop's policy passages that answer a question about shipping, delivery, returns, refunds, exchanges,
    cancellations and order changes, payment, account, invoices, newsletters, WhatsApp messages, sizing or contacting a
    person. Answer only from the passages returned; if none are found, offer a handoff instead of guessing."""
    passages = _index(await ctx.data.policies.list(order_by=[m.PolicyDocument.slug]))
    query = _query_weights(args.question)
    if not passages or not query:
        return PolicyAnswerResult(found=False, passages=[])
    ranked = sorted(zip(_bm25(passages, query), passages, strict=True), key=lambda sp: -sp[0])
    best = ranked[0][0]
    if best < POLICY_MIN_SCORE:
        return PolicyAnswerResult(found=False, passages=[])
    chosen: list[PolicyPassage] = []
    for score, p in ranked:
        if len(chosen) == args.max_passages or score < max(POLICY_MIN_SCORE, best * 0.6):
            break
        if any(c.slug == p.doc.slug for c in chosen):
            continue
        chosen.append(
            PolicyPassage(slug=p.doc.slug, title=p.doc.title, topic=p.doc.topic, text=p.text, score=round(score, 3))
        )
    return PolicyAnswerResult(found=True, passages=chosen)


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


SIMILAR_PRICE_BAND = Decimal("0.35")
"""Similar items cost within ±35% of the source product."""

COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "tee": ("trousers", "jacket", "sneaker", "cap"),
    "long_sleeve_tee": ("trousers", "jacket", "boot", "beanie"),
    "tank": ("trousers", "sandal", "bucket_hat", "tote"),
    "hoodie": ("trousers", "sneaker", "beanie", "tee"),
    "sweatshirt": ("trousers", "sneaker", "tee", "cap"),
    "trousers": ("tee", "belt", "sneaker", "hoodie"),
    "dress": ("sandal", "crossbody", "jacket", "tote"),
    "slip_dress": ("sandal", "jacket", "crossbody", "loafer"),
    "jacket": ("hoodie", "tee", "boot", "scarf"),
    "puffer": ("beanie", "scarf", "boot", "hoodie"),
    "coat": ("scarf", "boot", "trousers", "loafer"),
    "sneaker": ("socks", "tee", "trousers", "cap"),
    "boot": ("socks", "trousers", "coat", "belt"),
    "loafer": ("socks", "trousers", "belt", "card_holder"),
    "sandal": ("dress", "tote", "tank", "bucket_hat"),
    "tote": ("card_holder", "scarf", "bucket_hat", "dress"),
    "backpack": ("card_holder", "cap", "sneaker", "hoodie"),
    "crossbody": ("card_holder", "dress", "scarf", "sandal"),
    "duffel": ("card_holder", "socks", "cap", "sneaker"),
    "beanie": ("scarf", "puffer", "coat", "hoodie"),
    "cap": ("tee", "sneaker", "backpack", "sweatshirt"),
    "bucket_hat": ("tee", "tank", "tote", "sandal"),
    "scarf": ("beanie", "coat", "puffer", "jacket"),
    "belt": ("trousers", "boot", "loafer", "card_holder"),
    "socks": ("sneaker", "boot", "loafer"),
    "card_holder": ("belt", "tote", "crossbody", "backpack"),
    "mug": ("candle", "cushion", "throw"),
    "candle": ("mug", "throw", "cushion"),
    "cushion": ("throw", "candle", "mug"),
    "throw": ("cushion", "candle", "mug"),
}
"""Product type → the types that go with it, in order of preference; explainable on purpose."""

CATEGORY_COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "t-shirts": ("Jeans & Trousers", "Jackets & Coats", "Footwear"),
    "hoodies & sweatshirts": ("Jeans & Trousers", "Footwear", "Accessories"),
    "jeans & trousers": ("T-shirts", "Accessories", "Footwear"),
    "dresses": ("Footwear", "Bags", "Jackets & Coats"),
    "jackets & coats": ("Hoodies & Sweatshirts", "Accessories", "Footwear"),
    "footwear": ("Accessories", "Jeans & Trousers", "T-shirts"),
    "bags": ("Accessories", "Dresses", "Footwear"),
    "accessories": ("Jackets & Coats", "Bags", "T-shirts"),
    "home & living": ("Home & Living",),
}
"""Category pairings for products without a product type."""


def _type_label(product_type: str) -> str:
    return product_type.replace("_", " ")


def _type_of(p: m.Product) -> str | None:
    value = (p.attributes or {}).get("product_type")
    return str(value) if value else None


def _interleave(groups: list[list[m.Product]], limit: int) -> list[m.Product]:
    """Take one from each group in turn, so a complementary list mixes a belt, a tee and a sneaker."""
    picked: list[m.Product] = []
    for row in range(max((len(g) for g in groups), default=0)):
        for group in groups:
            if row < len(group) and len(picked) < limit:
                picked.append(group[row])
    return picked


def _popularity(p: m.Product) -> tuple[bool, int, str]:
    return ("bestseller" not in p.tags, -p.stock, p.sku)


async def _similar(ctx: ToolContext, source: m.Product, limit: int) -> list[Recommendation]:
    low, high = source.price * (1 - SIMILAR_PRICE_BAND), source.price * (1 + SIMILAR_PRICE_BAND)
    rows = await ctx.data.products.list(
        m.Product.active.is_(True),
        m.Product.stock > 0,
        m.Product.id != source.id,
        m.Product.category == source.category,
        m.Product.price.between(low, high),
        order_by=[m.Product.sku],
        limit=RECOMMEND_PREFILTER_LIMIT,
    )
    kind = _type_of(source)
    colours = set((source.attributes or {}).get("colours", []))

    def closeness(p: m.Product) -> tuple[bool, bool, Decimal, str]:
        shares_colour = bool(colours & set((p.attributes or {}).get("colours", [])))
        return (_type_of(p) != kind, not shares_colour, abs(p.price - source.price), p.sku)

    result = []
    for p in sorted(rows, key=closeness)[:limit]:
        same = f"the same kind of item ({_type_label(kind)})" if kind and _type_of(p) == kind else source.category
        result.append(Recommendation(product=ProductCard.of(p), reason=f"Also {same}, at a similar price."))
    return result


async def _complementary(ctx: ToolContext, source: m.Product, limit: int) -> list[Recommendation]:
    kind = _type_of(source)
    base = [m.Product.active.is_(True), m.Product.stock > 0, m.Product.id != source.id]
    groups: list[list[m.Product]] = []
    labels: list[str] = []
    if kind and kind in COMPLEMENTS:
        targets = COMPLEMENTS[kind]
        attributes = func.lower(cast(m.Product.attributes, String))
        rows = await ctx.data.products.list(
            *base,
            _any_like(attributes, [f'%"{t}"%' for t in targets]),
            order_by=[m.Product.sku],
            limit=RECOMMEND_PREFILTER_LIMIT,
        )
        for target in targets:
            groups.append(sorted((p for p in rows if _type_of(p) == target), key=_popularity))
            labels.append(f"{_type_label(target).capitalize()} to go with the {source.title}.")
    else:
        targets = CATEGORY_COMPLEMENTS.get(source.category.strip().lower(), ())
        lowered = [t.lower() for t in targets]
        rows = await ctx.data.products.list(
            *base,
            func.lower(m.Product.category).in_(lowered),
            order_by=[m.Product.sku],
            limit=RECOMMEND_PREFILTER_LIMIT,
        )
        for target in targets:
            groups.append(sorted((p for p in rows if p.category.lower() == target.lower()), key=_popularity))
            labels.append(f"From {target}, to go with the {source.title}.")
    reasons = {p.id: label for group, label in zip(groups, labels, strict=True) for p in group}
    return [Recommendation(product=ProductCard.of(p), reason=reasons[p.id]) for p in _interleave(groups, limit)]


@tool(audiences=EVERYONE)
async def recommend_products(ctx: ToolContext, args: RecommendProductsInput) -> RecommendProductsResult:
    """Suggest in-stock products related to a SKU: `similar` alternatives (same kind, close price) or `complementary`
    items that go with it (e.g. jeans → tees, belts, sneakers), each with a reason."""
    source = await _product_by_sku(ctx, args.sku)
    if args.kind is RecommendationKind.SIMILAR:
        recommendations = await _similar(ctx, source, args.limit)
    else:
        recommendations = await _complementary(ctx, source, args.limit)
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
    # Nothing is written here: the conversation graph reads this result and marks the conversation as waiting.
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
