"""Rank a tenant's policy and help passages for a question: BM25 on stems fused with sentence-vector cosine.

Keywords catch the shop's own words (Klarna, PO box, Final Sale); the multilingual sentence encoder catches a
question asked in other words or another language. Each ranking is turned into reciprocal ranks and summed (RRF),
and a passage is only quoted when one of the two is confident on its own. A tenant's passages and their vectors are
held in process and rebuilt when its documents change (their ids, hashes and update times, read every question).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hub.knowledge import encoder
from hub.knowledge.passages import encoder_input
from hub.languages import Language, detect_language
from hub.tenancy.repository import Policies
from tools.retrieval.cache import TenantCache
from tools.retrieval.text import WORD, fold, stem_of, stems, synonym_map

RRF_K = 10
"""Reciprocal-rank constant: small, so a clear first place in either ranking counts."""
BM25_WEIGHT = 1.0
COSINE_WEIGHT = 0.9
"""Weights of the two rankings: on a tie of places, the shop's own words win."""
BM25_CONFIDENT = 4.0
"""A best BM25 score from which keywords count in full; below it, in proportion."""
CACHED_TENANTS = 256
"""Tenants whose passage index one process keeps."""

_POLICY_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for from with about as into is are was were be been being am do does
    did doing have has had having i me my mine you your yours we us our it its this that these those there here
    what which who whom whose when where why how can could would should will shall may might must please hi hello
    hey thanks thank just also any some get got tell know want need like available""".split()
)

_POLICY_SYNONYMS = synonym_map(
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
class Passage:
    """One passage of a policy or help page, with the counts of its stems (its title, heading and topic too)."""

    id: uuid.UUID
    slug: str
    title: str
    heading: str
    topic: str
    kind: str
    text: str
    terms: Counter[str]


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    """The fused reciprocal-rank score; higher is better."""
    keyword: float
    """BM25."""
    cosine: float
    heading_cosine: float
    """The question's cosine with the passage's document title and heading alone: short against short, which holds
    up across languages where a long English passage against a short Spanish question scores low."""
    language: Language | None
    """The passage's language, None where its text does not tell."""


def passage_terms(title: str, heading: str, topic: str, text: str) -> Counter[str]:
    """A passage's stems: its document's title counted twice, its heading (when it is not the title), its topic."""
    where = stems(title) * 2 + (stems(heading) if heading not in ("", title) else [])
    return Counter(where + stems(topic.replace("_", " ")) + stems(text))


@dataclass(frozen=True)
class PolicyIndex:
    passages: list[Passage]
    vectors: encoder.Vectors
    """One unit row per passage."""
    headings: encoder.Vectors
    """One unit row per passage: its document's title and its heading."""
    languages: list[Language | None]
    """Each passage's language, None where its text does not tell."""

    def rank(self, query: dict[str, float], vector: encoder.Vectors) -> list[Hit]:
        """Every passage, best first, by the weighted reciprocal ranks of its BM25 score and its cosine."""
        if not self.passages:
            return []
        keyword = bm25(self.passages, query) if query else [0.0] * len(self.passages)
        cosine = (self.vectors @ vector.reshape(-1)).tolist()
        heading_cosine = (self.headings @ vector.reshape(-1)).tolist()
        fused = [0.0] * len(self.passages)
        by_keyword = sorted((i for i, s in enumerate(keyword) if s > 0), key=lambda i: -keyword[i])
        # Keywords count in proportion to how well the best passage matched them: a question in another language
        # or in other words matches only a stray name or two, and the encoder knows better.
        keyword_weight = BM25_WEIGHT * min(1.0, max(keyword) / BM25_CONFIDENT)
        for rank, i in enumerate(by_keyword, start=1):
            fused[i] += keyword_weight / (RRF_K + rank)
        for rank, i in enumerate(sorted(range(len(cosine)), key=lambda i: -cosine[i]), start=1):
            fused[i] += COSINE_WEIGHT / (RRF_K + rank)
        hits = [
            Hit(p, fused[i], keyword[i], cosine[i], heading_cosine[i], self.languages[i])
            for i, p in enumerate(self.passages)
        ]
        return sorted(hits, key=lambda h: (-h.score, -h.keyword))


_Fingerprint = list[tuple[uuid.UUID, str, datetime]]
_cache: TenantCache[_Fingerprint, PolicyIndex] = TenantCache(CACHED_TENANTS)


async def load_index(policies: Policies) -> PolicyIndex:
    """The tenant's passage index: from this process's cache while its documents are unchanged, else rebuilt."""
    fingerprint = await policies.fingerprint()
    if (cached := _cache.get(policies.tenant_id, fingerprint)) is not None:
        return cached
    rows = await policies.passages()
    passages = [
        Passage(
            p.id,
            d.slug,
            d.title,
            p.heading,
            d.topic,
            str(d.kind),
            p.text,
            passage_terms(d.title, p.heading, d.topic, p.text),
        )
        for p, d in rows
    ]
    missing = [i for i, (p, _) in enumerate(rows) if p.embedding is None]
    fresh = (
        await asyncio.to_thread(
            encoder.encode, [encoder_input(rows[i][1].title, rows[i][0].heading, rows[i][0].text) for i in missing]
        )
        if missing
        else None
    )
    vectors = np.zeros((len(rows), encoder.DIMENSIONS), dtype=np.float32)
    for i, (p, _) in enumerate(rows):
        if p.embedding is not None:
            vectors[i] = encoder.from_bytes(p.embedding)
    if fresh is not None:
        vectors[missing] = fresh
    names = [_heading_text(p) for p in passages]
    distinct = sorted(set(names))
    encoded = dict(zip(distinct, await asyncio.to_thread(encoder.encode, distinct), strict=True)) if distinct else {}
    headings = np.array([encoded[n] for n in names], dtype=np.float32).reshape(len(names), encoder.DIMENSIONS)
    languages = await asyncio.to_thread(_languages_of, [p.text for p in passages])
    index = PolicyIndex(passages, vectors, headings, languages)
    _cache.put(policies.tenant_id, fingerprint, index)
    return index


def _languages_of(texts: list[str]) -> list[Language | None]:
    return [_language_of(text) for text in texts]


def _language_of(text: str) -> Language | None:
    detection = detect_language(text)
    return detection.language if detection.confident else None


def question_language(question: str) -> Language | None:
    """The language a question is written in, None where it does not tell."""
    return _language_of(question)


def _heading_text(passage: Passage) -> str:
    return passage.title if passage.heading in ("", passage.title) else f"{passage.title}: {passage.heading}"


async def encode_question(question: str) -> encoder.Vectors:
    """The question's unit vector, encoded off the event loop."""
    return (await asyncio.to_thread(encoder.encode, [question]))[0]


def query_weights(question: str) -> dict[str, float]:
    """Weigh a question's stems at 1 and their synonyms at `_SYNONYM_WEIGHT`, leaving out stopwords."""
    weights: dict[str, float] = {}
    words = [w for w in WORD.findall(fold(question)) if w not in _POLICY_STOPWORDS and len(w) > 1]
    for stem in (stem_of(w) for w in words):
        weights[stem] = 1.0
    for stem in list(weights):
        for extra in _POLICY_SYNONYMS.get(stem, ()):
            weights.setdefault(extra, _SYNONYM_WEIGHT)
    return weights


def bm25(passages: list[Passage], query: dict[str, float]) -> list[float]:
    """Score each passage against the weighted query with Okapi BM25; higher is more relevant."""
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
