"""Match a tenant's products to a shopper's words and filters: a SQL prefilter, then field-weighted ranking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from sqlalchemy import ColumnElement, String, case, cast, func, literal, or_

from hub.db import models as m
from tools.context import ToolContext
from tools.retrieval.text import WORD, fold, stem_of, stem_set, stems, synonym_map

SEARCH_PREFILTER_LIMIT = 400
"""Rows one search reads from SQL before ranking in Python; keeps a 10k-product catalog fast."""


class ProductFilters(Protocol):
    """What a search narrows the catalog by besides its words; `SearchProductsInput` carries them."""

    category: str | None
    min_price: Decimal | None
    max_price: Decimal | None
    size: str | None
    colour: str | None
    in_stock: bool


@dataclass(frozen=True)
class Term:
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
"""Spellings the SQL prefilter must also accept for a stem that `fold` rewrites."""

_SEARCH_STOPWORDS = frozenset(
    """a an the and or for with without in on of to at by from me i im you my your our we us it its show find
    looking look want wanted need needs some any do does have has got is are be there please something anything
    item items product products thing things buy get shop like love would could can what which that this these
    those one ones under over below above less more than cheap cheapest affordable size sizes colour colours
    color colors price priced available stock instock""".split()
)

_SEARCH_SYNONYMS = synonym_map(
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

_COLOUR_SYNONYMS = synonym_map({"grey": "grey gray", "gray": "grey gray", "beige": "beige oatmeal stone ecru"})


def search_terms(text: str | None) -> list[Term]:
    """Split a query into terms, one per stem, leaving out stopwords, bare numbers and single letters."""
    terms: dict[str, Term] = {}
    for word in WORD.findall(fold(text or "")):
        if len(word) < 2 or word.isdigit() or word in _SEARCH_STOPWORDS:
            continue
        stem = stem_of(word)
        terms.setdefault(stem, Term(word, _SEARCH_SYNONYMS.get(stem, frozenset({stem}))))
    return list(terms.values())


def _product_tokens(p: m.Product) -> dict[str, frozenset[str]]:
    """Stems of a product by field; `_FIELD_WEIGHTS` says how much a match in each field counts."""
    attrs = p.attributes or {}
    return {
        "title": stem_set(p.title),
        "kind": stem_set(f"{p.category} {str(attrs.get('product_type', '')).replace('_', ' ')}"),
        "colour": stem_set(" ".join(map(str, attrs.get("colours", [])))),
        "detail": stem_set(f"{attrs.get('material', '')} {attrs.get('fit', '')} {' '.join(map(str, p.tags))}"),
        "description": stem_set(p.description),
    }


_FIELD_WEIGHTS = {"title": 3.0, "kind": 2.5, "colour": 2.0, "detail": 1.5, "description": 1.0}


@lru_cache(maxsize=1)
def _haystack() -> ColumnElement[str]:
    """Every searchable column of a product as one lower-cased string, for LIKE prefilters on any backend (built once:
    an expression is immutable, and building it costs more than running the search on a small catalog)."""
    p = m.Product
    text = p.title + " " + p.category + " " + p.description + " " + cast(p.attributes, String) + " "
    return func.lower(text + cast(p.tags, String))


def any_like(column: ColumnElement[str], patterns: Iterable[str]) -> ColumnElement[bool]:
    """True where the column matches any of the LIKE patterns."""
    return or_(*(column.like(pattern) for pattern in patterns))


def _colour_in(name: frozenset[str], colour: str) -> bool:
    wanted = [_COLOUR_SYNONYMS.get(t, frozenset({t})) for t in stems(colour)]
    return all(not alts.isdisjoint(name) for alts in wanted)


def colour_ok(p: m.Product, colour: str) -> bool:
    """Tell whether the product comes in the colour asked for (judged by its title when it lists no colours)."""
    names = [stem_set(str(c)) for c in (p.attributes or {}).get("colours", [])] or [stem_set(p.title)]
    return any(_colour_in(name, colour) for name in names)


def colour_matches(name: str, colour: str) -> bool:
    """Tell whether a colour name the shop uses ("Heather Grey") is the colour asked for ("gray")."""
    return _colour_in(stem_set(name), colour)


def size_ok(p: m.Product, size: str) -> bool:
    """Tell whether the product comes in the size asked for, exactly as the shop labels it."""
    wanted = size.strip().upper()
    return any(str(s).strip().upper() == wanted for s in (p.attributes or {}).get("sizes", []))


def search_filters(args: ProductFilters) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters; category, colour and size admit a superset that `rank_products` narrows."""
    where: list[ColumnElement[bool]] = [m.Product.active.is_(True)]
    if args.min_price is not None:
        where.append(m.Product.price >= args.min_price)
    if args.max_price is not None:
        where.append(m.Product.price <= args.max_price)
    if args.in_stock:
        where.append(m.Product.stock > 0)
    if args.category:
        category = func.lower(m.Product.category)
        where += [any_like(category, term.sql_patterns()) for term in search_terms(args.category)]
    attributes = func.lower(cast(m.Product.attributes, String))
    if args.colour:
        for token in stems(args.colour):
            where.append(
                any_like(attributes, Term(token, _COLOUR_SYNONYMS.get(token, frozenset({token}))).sql_patterns())
            )
    if args.size:
        where.append(attributes.contains(f'"{args.size.strip().lower()}"', autoescape=True))
    return where


def _category_ok(p: m.Product, category: str) -> bool:
    if p.category.strip().lower() == category.strip().lower():
        return True
    have = stem_set(p.category)
    return all(term.matches(have) for term in search_terms(category))


async def candidate_products(
    ctx: ToolContext, where: list[ColumnElement[bool]], terms: list[Term], limit: int = SEARCH_PREFILTER_LIMIT
) -> list[m.Product]:
    """Read a bounded superset of the matches, products whose titles hold the most words first."""
    text_where = [_prefilter(term)[0] for term in terms]
    title_hits = sum((_prefilter(term)[1] for term in terms), start=literal(0))
    return await ctx.data.products.list(
        *where, *text_where, order_by=[title_hits.desc(), m.Product.title, m.Product.sku], limit=limit
    )


@lru_cache(maxsize=4096)
def _prefilter(term: Term) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """A term's LIKE prefilter over every searchable column, and 1 when its title matches (else 0); built once per
    term, as shoppers ask for the same words again and again."""
    patterns = term.sql_patterns()
    return any_like(_haystack(), patterns), case((any_like(func.lower(m.Product.title), patterns), 1), else_=0)


async def unknown_terms(ctx: ToolContext, terms: list[Term]) -> list[Term]:
    """Return the terms that no active product of this tenant matches."""
    unknown = []
    for term in terms:
        rows = await candidate_products(ctx, [m.Product.active.is_(True)], [term], limit=50)
        if not any(_score(_product_tokens(p), [term]) for p in rows):
            unknown.append(term)
    return unknown


def _score(fields: dict[str, frozenset[str]], terms: list[Term]) -> float:
    """Sum each term's best field weight; 0 when any term is missing, so every word must match."""
    total = 0.0
    for term in terms:
        best = max((_FIELD_WEIGHTS[name] for name, tokens in fields.items() if term.matches(tokens)), default=0.0)
        if not best:
            return 0.0
        total += best
    return total


def rank_products(rows: list[m.Product], terms: list[Term], args: ProductFilters) -> list[m.Product]:
    """Keep the rows that pass every filter and match every term: best score first, then in stock, then by title."""
    scored: list[tuple[float, m.Product]] = []
    for p in rows:
        if args.category and not _category_ok(p, args.category):
            continue
        if args.colour and not colour_ok(p, args.colour):
            continue
        if args.size and not size_ok(p, args.size):
            continue
        score = _score(_product_tokens(p), terms) if terms else 1.0
        if score:
            scored.append((score, p))
    scored.sort(key=lambda sp: (-sp[0], sp[1].stock <= 0, sp[1].title, sp[1].sku))
    return [p for _, p in scored]
