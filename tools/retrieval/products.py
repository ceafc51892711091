"""Match a tenant's products to a shopper's words and filters on the database's full-text index (FTS5 on SQLite, a
weighted tsvector on Postgres), ranked there by field, then narrowed in Python where a filter must be exact."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import ColumnElement, String, and_, cast, func, literal_column, select

from hub.db import models as m
from hub.db.search import (
    FTS_WEIGHTS,
    SEARCH_CONFIG,
    TS_RANK_WEIGHTS,
    product_rowid,
    products_fts,
    search_vector,
)
from hub.tenancy.repository import JoinOn
from tools.context import ToolContext
from tools.retrieval.text import WORD, fold, stem_of, stem_set, stems, synonym_map

SEARCH_PREFILTER_LIMIT = 400
"""Rows one search reads from SQL, best ranked first, before the exact filters narrow them in Python."""

Backend = Literal["sqlite", "postgresql"]


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
    """One word of a query and the spellings that count as that word; the index stems both sides and matches a
    spelling as a prefix, so "dresses" finds "dress" and "hood" finds "hoodie"."""

    word: str
    alternatives: tuple[str, ...]

    def matches(self, tokens: frozenset[str]) -> bool:
        """Tell whether a product field, reduced to its stems, holds this word."""
        return any(stem_of(a) in tokens for a in self.alternatives)


_SEARCH_STOPWORDS = frozenset(
    """a an the and or for with without in on of to at by from me i im you my your our we us it its show find
    looking look want wanted need needs some any do does have has got is are be there please something anything
    item items product products thing things buy get shop like love would could can what which that this these
    those one ones under over below above less more than cheap cheapest affordable size sizes colour colours
    color colors price priced available stock instock""".split()
)

# What stemming cannot know: words a shop and a shopper spell differently. Keyed by the light stemmer's stem so
# "trainers" and "trainer" share an entry. `fold` spells a shopper's T-shirt "tee"; the index keeps the shop's
# "T-shirt" as the phrase "t shirt", so a tee asks for both.
_SEARCH_SYNONYMS: dict[str, tuple[str, ...]] = {
    stem_of(word): tuple(spellings.split())
    for word, spellings in {
        "tee": "tee t-shirt",
        "trainer": "trainer sneaker runner",
        "sneaker": "sneaker trainer runner",
        "shoe": "shoe footwear sneaker boot loafer sandal",
        "pant": "pant trouser",
        "jumper": "jumper sweater sweatshirt",
        "sweater": "sweater jumper sweatshirt",
        "hat": "hat beanie cap",
        "grey": "grey gray",
        "gray": "grey gray",
        "denim": "denim jean",
        "purse": "purse bag crossbody tote",
    }.items()
}

_COLOUR_SYNONYMS = synonym_map({"grey": "grey gray", "gray": "grey gray", "beige": "beige oatmeal stone ecru"})


def search_terms(text: str | None, *, size: str | None = None) -> list[Term]:
    """Split a query into terms, one per stem, leaving out stopwords, bare numbers, single letters and the words of
    the `size` it is filtered by: "Crew Tee in XL" asks for a tee that comes in XL, and the index holds "XL" only
    where a description happens to spell it."""
    size_stems = {stem_of(word) for word in WORD.findall(fold(size or ""))}
    terms: dict[str, Term] = {}
    for word in WORD.findall(fold(text or "")):
        if len(word) < 2 or word.isdigit() or word in _SEARCH_STOPWORDS:
            continue
        stem = stem_of(word)
        if stem in size_stems:
            continue
        terms.setdefault(stem, Term(word, _SEARCH_SYNONYMS.get(stem, (word,))))
    return list(terms.values())


def _colour_terms(colour: str) -> list[Term]:
    return [Term(word, tuple(sorted(_COLOUR_SYNONYMS.get(word, {word})))) for word in stems(colour)]


@dataclass(frozen=True)
class Match:
    """The words a search asks the index for: every term anywhere, the category's in the category or type, the
    colour's in the colours or the title."""

    terms: list[Term]
    category: list[Term]
    colour: list[Term]

    @classmethod
    def of(cls, terms: list[Term], args: ProductFilters) -> Match:
        return cls(terms, search_terms(args.category), _colour_terms(args.colour) if args.colour else [])

    def __bool__(self) -> bool:
        return bool(self.terms or self.category or self.colour)

    def fts5(self) -> str:
        """The FTS5 `MATCH` expression. Every spelling is a quoted string, so a shopper's quotes, `*`, `-`,
        parentheses and words like NEAR, AND, OR or NOT are text to find, never query syntax."""

        def any_of(term: Term) -> str:
            return "(" + " OR ".join('"' + a.replace('"', '""') + '"*' for a in term.alternatives) + ")"

        parts = [any_of(t) for t in self.terms]
        parts += [f"kind : {any_of(t)}" for t in self.category]
        parts += [f"{{colour title}} : {any_of(t)}" for t in self.colour]
        return " AND ".join(parts)

    def tsquery(self) -> str:
        """The `to_tsquery` text: weight B holds the category, type and colours, A the title."""

        def any_of(term: Term, labels: str = "") -> str:
            quoted = ("'" + a.replace("\\", "\\\\").replace("'", "''") + "':*" + labels for a in term.alternatives)
            return "(" + " | ".join(quoted) + ")"

        parts = [any_of(t) for t in self.terms]
        parts += [any_of(t, "B") for t in self.category]
        parts += [any_of(t, "AB") for t in self.colour]
        return " & ".join(parts)


def _backend(ctx: ToolContext) -> Backend:
    return "postgresql" if ctx.session.get_bind().dialect.name == "postgresql" else "sqlite"


def _matching(backend: Backend, match: Match) -> ColumnElement[bool]:
    """A condition that holds for the products the index matches."""
    if backend == "postgresql":
        return search_vector.bool_op("@@")(_tsquery(match))
    fts = products_fts.c
    return product_rowid.in_(select(fts.rowid).where(fts.products_fts.match(match.fts5())))


def holding_words(ctx: ToolContext, text: str) -> ColumnElement[bool]:
    """A condition for the products whose indexed text holds every word of `text` (or a synonym of it)."""
    return _matching(_backend(ctx), Match(search_terms(text), [], []))


def _tsquery(match: Match) -> ColumnElement[Any]:
    return func.to_tsquery(literal_column(f"'{SEARCH_CONFIG}'::regconfig"), match.tsquery())


def _ranked(backend: Backend, match: Match) -> tuple[list[ColumnElement[bool]], ColumnElement[float], JoinOn | None]:
    """Conditions for the products the index matches, their rank (lower first) and the table to join for it."""
    if backend == "postgresql":
        rank = func.ts_rank_cd(literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), search_vector, _tsquery(match))
        return [_matching(backend, match)], -rank, None
    # Materialized, the matches are found once, then their products by rowid. Joined to the index directly, the
    # planner may walk the tenant's products instead and run the MATCH once per product: 250 ms for a word that
    # matches nothing in a 10,000-product catalog.
    fts = products_fts.c
    score = func.bm25(fts.products_fts, *FTS_WEIGHTS.values()).label("score")
    hits = select(fts.rowid, score).where(fts.products_fts.match(match.fts5())).cte("hits").prefix_with("MATERIALIZED")
    return [], hits.c.score, (hits, hits.c.rowid == product_rowid)


class Candidate(NamedTuple):
    """What the exact filters read of a product, selected without the rest of its row: its attributes only when a
    size or colour filter needs them (parsing them costs more than the query)."""

    key: uuid.UUID | int
    """The row's key in the index: its rowid on SQLite, its id on Postgres."""
    title: str
    category: str
    attributes: dict[str, Any] | None = None


@dataclass(frozen=True)
class Found:
    products: list[m.Product]
    """The best matches, best first."""
    total: int
    """How many candidates passed every filter (of the first `SEARCH_PREFILTER_LIMIT`)."""


async def find_products(ctx: ToolContext, args: ProductFilters, terms: list[Term], shown: int) -> Found:
    """Rank this tenant's matches in the database, best first, then in stock, then by title; keep those that pass
    the exact filters, and read whole rows only for the `shown` best."""
    backend, p = _backend(ctx), m.Product
    match = Match.of(terms, args)
    order_by: list[Any] = [m.Product.stock <= 0, m.Product.title, m.Product.sku]
    where, join = search_filters(args), None
    if match:
        conditions, rank, join = _ranked(backend, match)
        where += conditions
        order_by.insert(0, rank)
    # SQLite finds a tenant's rows by rowid through the tenant index; by id, without statistics, it walks them all.
    key = product_rowid if backend == "sqlite" else p.id
    columns: list[Any] = [key]
    if narrow := bool(args.category or args.colour or args.size):
        columns += [p.title, p.category] + ([p.attributes] if args.colour or args.size else [])
    rows = await ctx.data.products.rows(columns, *where, order_by=order_by, limit=SEARCH_PREFILTER_LIMIT, join=join)
    matched = [row[0] for row in rows if not narrow or passes(Candidate(*row), args)]
    best = matched[:shown]
    loaded = {k: product for k, product in await ctx.data.products.rows([key, p], key.in_(best))} if best else {}
    return Found([loaded[k] for k in best], len(matched))


async def unknown_terms(ctx: ToolContext, terms: list[Term]) -> list[Term]:
    """Return the terms that no active product of this tenant matches."""
    backend = _backend(ctx)
    conditions = [and_(m.Product.active.is_(True), _matching(backend, Match([t], [], []))) for t in terms]
    return [t for t, known in zip(terms, await ctx.data.products.exist_each(conditions), strict=True) if not known]


def _colour_in(name: frozenset[str], colour: str) -> bool:
    wanted = [_COLOUR_SYNONYMS.get(t, frozenset({t})) for t in stems(colour)]
    return all(not alts.isdisjoint(name) for alts in wanted)


def colour_ok(p: m.Product | Candidate, colour: str) -> bool:
    """Tell whether the product comes in the colour asked for (judged by its title when it lists no colours)."""
    names = [stem_set(str(c)) for c in (p.attributes or {}).get("colours", [])] or [stem_set(p.title)]
    return any(_colour_in(name, colour) for name in names)


def colour_matches(name: str, colour: str) -> bool:
    """Tell whether a colour name the shop uses ("Heather Grey") is the colour asked for ("gray")."""
    return _colour_in(stem_set(name), colour)


def size_ok(p: m.Product | Candidate, size: str) -> bool:
    """Tell whether the product comes in the size asked for, exactly as the shop labels it."""
    wanted = size.strip().upper()
    return any(str(s).strip().upper() == wanted for s in (p.attributes or {}).get("sizes", []))


def search_filters(args: ProductFilters) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters the index does not hold; `Match` takes category and colour, and the size
    condition admits a superset that `narrow_products` makes exact."""
    where: list[ColumnElement[bool]] = [m.Product.active.is_(True)]
    if args.min_price is not None:
        where.append(m.Product.price >= args.min_price)
    if args.max_price is not None:
        where.append(m.Product.price <= args.max_price)
    if args.in_stock:
        where.append(m.Product.stock > 0)
    if args.size:
        attributes = func.lower(cast(m.Product.attributes, String))
        where.append(attributes.contains(f'"{args.size.strip().lower()}"', autoescape=True))
    return where


def _category_ok(p: m.Product | Candidate, category: str) -> bool:
    if p.category.strip().lower() == category.strip().lower():
        return True
    have = stem_set(p.category)
    return all(term.matches(have) for term in search_terms(category))


def passes(p: m.Product | Candidate, args: ProductFilters) -> bool:
    """Tell whether a product passes the filters the index only approximates: its category is the one asked for
    (not just its type), it comes in the colour, and in the size exactly as the shop labels it."""
    return not (
        (args.category and not _category_ok(p, args.category))
        or (args.colour and not colour_ok(p, args.colour))
        or (args.size and not size_ok(p, args.size))
    )
