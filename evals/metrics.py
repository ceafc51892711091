"""Score eval outcomes: deterministic business metrics plus ragas' offline metrics, per case and per suite.

Every metric is in [0, 1] with 1 best, except `latency_ms`, `cost_usd` and `input_tokens` (lower is better) and `fallback`
(the share of cases a configured model did not answer; lower is better). A metric a case has no expectation
for is left out of that case, not counted as a pass.
"""

from __future__ import annotations

import gc
import os
import statistics
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# ragas phones home with usage analytics unless told not to; HUB never sends eval data anywhere.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

from ragas._analytics import get_userid
from ragas.dataset_schema import SingleTurnSample
from ragas.metrics.collections import BleuScore, NonLLMStringSimilarity, RougeScore

from evals.cases import EvalCase

with warnings.catch_warnings():
    # ragas 0.4.3 has no non-LLM context metrics in `ragas.metrics.collections` yet; the old path warns.
    warnings.simplefilter("ignore", DeprecationWarning)
    from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall
with warnings.catch_warnings():
    # ragas' log formatter reads an install id with `json.load(open(...))` and never closes the file; read
    # it (once: it is cached) here and collect the handle, rather than at some later log line.
    warnings.simplefilter("ignore", ResourceWarning)
    get_userid()
    gc.collect()

LOWER_IS_BETTER = frozenset({"latency_ms", "latency_p95_ms", "cost_usd", "input_tokens", "fallback"})


@dataclass
class Outcome:
    """What a suite produced for one case."""

    text: str
    """The answer as people read it: the reply, the summary, the copy, the brief."""
    engine: str
    """`llm` or `deterministic`."""
    fields: dict[str, Any] = field(default_factory=dict)
    schema_valid: bool = True
    rule_problems: list[str] = field(default_factory=list)
    intent: str | None = None
    tools: list[str] | None = None
    contexts: list[str] = field(default_factory=list)
    """What the answer was based on (policy passages, tool results), for context precision and recall."""
    latency_ms: float = 0.0
    cost: Decimal = Decimal(0)
    input_tokens: int = 0
    """Prompt tokens the case sent to models (every attempt): what the tenant pays to send, per turn."""
    error: str | None = None
    judged: dict[str, float] = field(default_factory=dict)
    """LLM-judged scores (judge_score, judge_grounded) when a judge model graded the answer."""
    language: str | None = None
    """The reply's language as the turn reports it; None where the use case has no reply to a shopper."""


def _present(needle: str, haystack: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _field_ok(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return any(_field_ok(option, actual) for option in expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.casefold() == actual.casefold()
    return expected == actual


def business_scores(case: EvalCase, out: Outcome, *, model_configured: bool) -> dict[str, float]:
    """The metrics that need no model and no ragas: validity, rules, facts, routing, tools, language, fields, cost."""
    expect = case.expect
    scores: dict[str, float] = {
        "schema_valid": float(out.schema_valid and out.error is None),
        "rules_pass": float(not out.rule_problems and out.error is None),
        "latency_ms": out.latency_ms,
        "cost_usd": float(out.cost),
        "input_tokens": float(out.input_tokens),
    }
    if model_configured:
        scores["fallback"] = float(out.engine != "llm")
    if expect.must_include:
        scores["facts_recall"] = sum(_present(f, out.text) for f in expect.must_include) / len(expect.must_include)
    if expect.must_not_include:
        scores["no_forbidden"] = float(not any(_present(f, out.text) for f in expect.must_not_include))
    if expect.intent is not None:
        scores["routing"] = float(out.intent == expect.intent)
    if expect.tools is not None:
        scores["tools_match"] = float(out.tools == expect.tools)
    if out.language is not None:
        scores["language_match"] = float(out.language == expect.language)
    if expect.fields:
        hits = [_field_ok(value, out.fields.get(name)) for name, value in expect.fields.items()]
        scores["fields_match"] = sum(hits) / len(hits)
    return scores | out.judged


class RagasScorer:
    """ragas' offline metrics; construct once per run (the metric objects are reusable)."""

    def __init__(self) -> None:
        self._similarity = NonLLMStringSimilarity()
        self._rouge = RougeScore(rouge_type="rougeL")
        self._bleu = BleuScore()
        self._precision = NonLLMContextPrecisionWithReference()
        self._recall = NonLLMContextRecall()

    async def score(self, case: EvalCase, out: Outcome) -> dict[str, float]:
        scores: dict[str, float] = {}
        reference = case.expect.reference
        if reference and out.text:
            scores["string_similarity"] = float(
                (await self._similarity.ascore(reference=reference, response=out.text)).value
            )
            scores["rouge_l"] = float((await self._rouge.ascore(reference=reference, response=out.text)).value)
            scores["bleu"] = float((await self._bleu.ascore(reference=reference, response=out.text)).value)
        if case.expect.reference_contexts:
            sample = SingleTurnSample(
                retrieved_contexts=out.contexts or [""], reference_contexts=case.expect.reference_contexts
            )
            scores["context_precision"] = float(await self._precision.single_turn_ascore(sample))
            scores["context_recall"] = float(await self._recall.single_turn_ascore(sample))
        return scores


def summarise(per_case: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over the cases that have it; latency also gets its p95."""
    columns: dict[str, list[float]] = {}
    for scores in per_case:
        for name, value in scores.items():
            columns.setdefault(name, []).append(value)
    summary = {name: statistics.fmean(values) for name, values in columns.items()}
    if latencies := sorted(columns.get("latency_ms", [])):
        summary["latency_p95_ms"] = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return summary
