"""The eval report splits a run by the language a case is written in and by the intent it expects."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evals.breakdown import IntentRow, LanguageRow, by_intent, by_language
from evals.cases import CaseFileError, EvalCase, Expect, load_cases
from evals.metrics import Outcome, business_scores
from evals.report import render_html, render_markdown
from evals.results import RunResult, RunSpec


def scored(case_id: str, language: str | None, intent: str | None, **scores: float) -> dict[str, Any]:
    row: dict[str, Any] = {"id": case_id, "engine": "deterministic", "scores": scores, "answer": "", "problems": []}
    if language is not None:
        row["language"] = language
    row["intent"] = intent
    return row


def run_of(per_case: list[dict[str, Any]]) -> RunResult:
    now = datetime.now(UTC)
    return RunResult(
        id=uuid.uuid4(),
        spec=RunSpec("customer_reply"),
        mode="deterministic",
        prompt_version="2.1.0",
        model=None,
        metrics={"rules_pass": 0.75, "routing": 0.6, "language_match": 0.75},
        per_case=per_case,
        golden_sha256="0" * 64,
        started_at=now,
        finished_at=now,
    )


PER_CASE = [
    scored("reply-001", "en", "greeting", rules_pass=1.0, routing=1.0, language_match=1.0),
    scored("reply-002", None, "order_status", rules_pass=1.0, routing=1.0, facts_recall=1.0, language_match=1.0),
    scored("reply-003", "es", "greeting", rules_pass=1.0, routing=1.0, language_match=0.0),
    scored("reply-004", "es", "order_status", rules_pass=0.0, routing=0.0, facts_recall=0.5, language_match=1.0),
    scored("reply-005", "de", "order_status", rules_pass=1.0, routing=1.0, string_similarity=0.2, language_match=1.0),
]


def test_per_language_table_counts_cases_passes_routing_and_reply_language() -> None:
    assert by_language(PER_CASE) == [
        LanguageRow(language="en", cases=2, pass_rate=1.0, intent_accuracy=1.0, language_match=1.0),
        LanguageRow(language="es", cases=2, pass_rate=0.0, intent_accuracy=0.5, language_match=0.5),
        LanguageRow(language="de", cases=1, pass_rate=1.0, intent_accuracy=1.0, language_match=1.0),
    ]


def test_per_intent_table_counts_cases_and_routing_accuracy() -> None:
    assert by_intent(PER_CASE) == [
        IntentRow(intent="greeting", cases=2, intent_accuracy=1.0),
        IntentRow(intent="order_status", cases=3, intent_accuracy=pytest.approx(2 / 3)),
    ]


def test_a_use_case_without_intents_or_reply_language_gets_one_row_and_no_intent_table() -> None:
    summaries = [
        scored("summary-001", None, None, fields_match=1.0),
        scored("summary-002", None, None, fields_match=0.5),
    ]
    assert by_language(summaries) == [
        LanguageRow(language="en", cases=2, pass_rate=0.5, intent_accuracy=None, language_match=None)
    ]
    assert by_intent(summaries) == []


def test_reports_show_the_language_and_intent_tables() -> None:
    result = run_of(PER_CASE)
    markdown = render_markdown(result)
    assert "## By language" in markdown and "## By intent" in markdown
    assert "| es | 2 | 0.0% | 50.0% | 50.0% |" in markdown
    assert "| order_status | 3 | 66.7% |" in markdown
    assert "| reply-004 |" in markdown, "the per-case table stays"
    html = render_html(result)
    assert "<h2>By language</h2>" in html and "<h2>By intent</h2>" in html and "<svg" in html
    assert "<td>66.7%</td>" in html


def test_a_golden_line_without_a_language_loads_as_english(tmp_path: Path) -> None:
    old = {"id": "reply-001", "fixture": "demo", "input": {"message": "hiya"}, "expect": {"intent": "greeting"}}
    new = {**old, "id": "reply-002", "expect": {"intent": "greeting", "language": "pt"}}
    path = tmp_path / "customer_reply.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in (old, new)) + "\n", encoding="utf-8")
    assert [c.expect.language for c in load_cases("customer_reply", path)] == ["en", "pt"]


def test_a_golden_line_with_a_language_hub_does_not_speak_is_refused(tmp_path: Path) -> None:
    line = {"id": "reply-001", "input": {"message": "hallo"}, "expect": {"language": "nl"}}
    path = tmp_path / "customer_reply.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"customer_reply\.jsonl:1"):
        load_cases("customer_reply", path)


def test_language_match_scores_the_reply_language_against_the_expected_one() -> None:
    spanish = EvalCase(id="c1", input={"message": "hola"}, expect=Expect(language="es"))
    english = EvalCase(id="c2", input={"message": "hi"}, expect=Expect())

    def language_match(case: EvalCase, language: str | None) -> float | None:
        out = Outcome(text="Hola", engine="deterministic", language=language)
        return business_scores(case, out, model_configured=False).get("language_match")

    assert language_match(spanish, "es") == 1.0
    assert language_match(spanish, "en") == 0.0
    assert language_match(english, "en") == 1.0
    assert language_match(english, None) is None, "a use case with no reply language is not scored on it"
