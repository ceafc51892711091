"""Eval metrics on hand-made cases whose scores are known."""

from __future__ import annotations

import pytest

from evals.cases import EvalCase, Expect
from evals.metrics import Outcome, RagasScorer, business_scores, summarise


def case(**expect: object) -> EvalCase:
    return EvalCase(id="c1", input={"message": "x"}, expect=Expect.model_validate(expect))


def test_business_scores_count_facts_forbidden_routing_tools_and_fields() -> None:
    c = case(
        intent="order_status",
        tools=["order_status"],
        must_include=["A-10042", "shipped", "UPS"],
        must_not_include=["jane@example.com"],
        fields={"aspect": "4:5", "count": [2, 3]},
    )
    good = Outcome(
        text="Order A-10042 has SHIPPED.",
        engine="llm",
        fields={"aspect": "4:5", "count": 3},
        intent="order_status",
        tools=["order_status"],
        latency_ms=12.5,
        input_tokens=1234,
    )
    scores = business_scores(c, good, model_configured=True)
    assert scores == {
        "schema_valid": 1.0,
        "rules_pass": 1.0,
        "latency_ms": 12.5,
        "cost_usd": 0.0,
        "input_tokens": 1234.0,
        "fallback": 0.0,
        "facts_recall": pytest.approx(2 / 3),
        "no_forbidden": 1.0,
        "routing": 1.0,
        "tools_match": 1.0,
        "fields_match": 1.0,
    }
    bad = Outcome(
        text="Hi jane@example.com, order A-10042 is lost.",
        engine="deterministic",
        fields={"aspect": "1:1", "count": 3},
        rule_problems=["price $9.99 is not in the tool outputs"],
        intent="complaint",
        tools=[],
    )
    scores = business_scores(c, bad, model_configured=True)
    assert scores["rules_pass"] == 0.0 and scores["fallback"] == 1.0 and scores["no_forbidden"] == 0.0
    assert scores["routing"] == 0.0 and scores["tools_match"] == 0.0 and scores["fields_match"] == 0.5
    assert "fallback" not in business_scores(c, bad, model_configured=False)


def test_a_case_without_an_expectation_gets_no_score_for_it() -> None:
    scores = business_scores(case(), Outcome(text="hello", engine="deterministic"), model_configured=False)
    assert set(scores) == {"schema_valid", "rules_pass", "latency_ms", "cost_usd", "input_tokens"}


async def test_ragas_offline_metrics_score_identical_and_unrelated_answers() -> None:
    scorer = RagasScorer()
    passage = "Refunds reach your card within 5 business days of us receiving the return."
    c = case(reference="Your refund arrives within 5 business days.", reference_contexts=[passage])
    same = await scorer.score(
        c, Outcome(text="Your refund arrives within 5 business days.", engine="llm", contexts=[passage])
    )
    assert (
        same["string_similarity"] == 1.0
        and same["rouge_l"] == pytest.approx(1.0)
        and same["bleu"] == pytest.approx(1.0)
    )
    assert same["context_precision"] == pytest.approx(1.0) and same["context_recall"] == 1.0
    off = await scorer.score(c, Outcome(text="We sell socks.", engine="llm", contexts=["Socks are 100% merino wool."]))
    assert off["string_similarity"] < 0.4 and off["rouge_l"] < 0.2 and off["bleu"] < 0.1
    assert off["context_precision"] == 0.0 and off["context_recall"] == 0.0


def test_summary_means_each_metric_over_the_cases_that_have_it() -> None:
    summary = summarise(
        [{"routing": 1.0, "latency_ms": 10.0}, {"routing": 0.0, "latency_ms": 30.0}, {"latency_ms": 20.0}]
    )
    assert summary == {"routing": 0.5, "latency_ms": 20.0, "latency_p95_ms": 30.0}
