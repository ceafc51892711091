"""Split a tenant's policies into passages and rank them for a question with BM25."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from hub.db import models as m
from tools.retrieval.text import WORD, fold, stem_of, stems, synonym_map

POLICY_PASSAGE_WORDS = 220
"""Paragraphs longer than this are split into overlapping sentence windows..."""
POLICY_WINDOW_WORDS = 150
"""...of about this many words each."""


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
    """One passage of a policy, with the counts of its stems (and its policy's title and topic)."""

    doc: m.PolicyDocument
    text: str
    terms: Counter[str]


def split_passages(body: str) -> list[str]:
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


def passages_of(docs: list[m.PolicyDocument]) -> list[Passage]:
    """Split every policy into passages, in order."""
    return [Passage(doc, text, terms) for doc in docs for text, terms in _doc_passages(doc.title, doc.topic, doc.body)]


@lru_cache(maxsize=1024)
def _doc_passages(title: str, topic: str, body: str) -> tuple[tuple[str, Counter[str]], ...]:
    """A policy's passages with their term counts (the title counted twice), cached by the policy's text: the same
    policies are asked about on every turn, and an edited policy is a new key. The counters are read, never changed."""
    heading = stems(title) * 2 + stems(topic.replace("_", " "))
    return tuple((text, Counter(heading + stems(text))) for text in split_passages(body))


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
