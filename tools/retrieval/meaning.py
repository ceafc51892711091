"""Find a tenant's products by meaning when the shopper's words are not the shop's: the cosine between the query's
sentence vector and each product's (`product_vectors`, written by `hub.catalog.vectors`).

A tenant's vectors are held in process as one matrix and rebuilt when its count of vectors or the time the last
was written changes (one indexed aggregate per search). Only products above `SIMILAR_THRESHOLD` are offered, and
they pass the same filters as a search by words; a product with no vector yet is not found this way.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hub.db import models as m
from hub.knowledge import encoder
from hub.tenancy.repository import ProductVectors
from tools.context import ToolContext
from tools.retrieval.cache import TenantCache
from tools.retrieval.products import ProductFilters, passes, search_filters

SIMILAR_THRESHOLD = 0.30
"""The least cosine at which a product counts as a close match.

Chosen on the demo catalog (240 products, vectors of `hub.catalog.vectors.product_text`) with `python -m
bench.product_meaning --calibrate`: the best product for 14 queries the shop has no answer to ("car insurance",
"seguro de coche", "dog food", "engagement ring", "un collar de plata": it sells no jewellery) scored 0.06–0.27, the
highest being a word collision ("collar" is also a shirt's). For 13 queries that ask for what it sells in other
words or languages the best scored 0.18–0.51: "pantalones vaqueros" → a jean 0.51, "a bag to carry my laptop" → a
daypack 0.48, "shoes for running" → a runner 0.42, "chaqueta impermeable" → a rain jacket 0.41, "sac en cuir" → a
leather tote 0.40. 0.30 clears every unrelated query with a margin and keeps 7 of the 13; the vaguer ones ("something
warm for winter" 0.18, "gorro de lana" 0.23, "something to wear at the beach" 0.24) fall below it: offering nothing
beats offering a wrong product."""
SIMILAR_MARGIN = 0.08
"""How far below the best product's cosine a close match may be. A product with little text (a title of two words)
sits at a middling cosine to many queries (0.26–0.33 for a bare "alpha tee"); next to a product that really
matches (0.42) it is left out, while a product's colour variants (within 0.02 of each other on the demo) stay."""
SIMILAR_CANDIDATES = 50
"""Best cosines read from the database for filtering: enough for the filters to leave a few."""
CACHED_TENANTS = 256
"""Tenants whose vector matrix one process keeps."""

_Version = tuple[int, datetime | None]


@dataclass(frozen=True)
class VectorIndex:
    ids: list[uuid.UUID]
    vectors: encoder.Vectors
    """One unit row per id."""


_cache: TenantCache[_Version, VectorIndex] = TenantCache(CACHED_TENANTS)


async def load_vectors(repo: ProductVectors) -> VectorIndex:
    """The tenant's product vectors: from this process's cache while they are unchanged, else read again."""
    version = await repo.version()
    if (cached := _cache.get(repo.tenant_id, version)) is not None:
        return cached
    rows = await repo.all()
    vectors = np.zeros((len(rows), encoder.DIMENSIONS), dtype=np.float32)
    for i, (_, data) in enumerate(rows):
        vectors[i] = encoder.from_bytes(data)
    index = VectorIndex([i for i, _ in rows], vectors)
    _cache.put(repo.tenant_id, version, index)
    return index


async def products_by_meaning(
    ctx: ToolContext, args: ProductFilters, query: str, shown: int, *, exclude: frozenset[uuid.UUID] = frozenset()
) -> list[m.Product]:
    """This tenant's active products closest in meaning to `query` (cosine at least `SIMILAR_THRESHOLD`, and within
    `SIMILAR_MARGIN` of the best) that pass the filters, best first, at most `shown`, leaving out `exclude` (those
    the words already found)."""
    index = await load_vectors(ctx.data.product_vectors)
    if not index.ids or not query.strip():
        return []
    wanted = (await asyncio.to_thread(encoder.encode, [query]))[0]
    cosine = index.vectors @ wanted
    best = np.argsort(-cosine)[:SIMILAR_CANDIDATES]
    floor = max(SIMILAR_THRESHOLD, float(cosine[best[0]]) - SIMILAR_MARGIN)
    scores = {
        index.ids[i]: float(cosine[i]) for i in best.tolist() if cosine[i] >= floor and index.ids[i] not in exclude
    }
    if not scores:
        return []
    rows = await ctx.data.products.list(m.Product.id.in_(list(scores)), *search_filters(args))
    kept = sorted((p for p in rows if passes(p, args)), key=lambda p: (-scores[p.id], p.stock <= 0, p.title))
    return kept[:shown]
