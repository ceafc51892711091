"""The eval report is for reading: long replies wrap, each turn links to its explain view and trace, and the chart
says what its axis measures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from evals.report import metrics_chart, render_html, render_markdown, write_reports
from evals.results import CaseTrace, RunResult, RunSpec

LONG = "From our Returns and refunds policy: " + "You can return unworn items within 30 days. " * 20


def a_run() -> RunResult:
    now = datetime.now(UTC)
    scores = {"rules_pass": 1.0, "routing": 1.0}
    return RunResult(
        id=uuid.uuid4(),
        spec=RunSpec("customer_reply"),
        mode="deterministic",
        prompt_version="2.2.0",
        model=None,
        metrics={"rules_pass": 1.0, "routing": 1.0},
        per_case=[
            {"id": "reply-030", "engine": "deterministic", "scores": scores, "answer": LONG, "problems": []},
            {"id": "crm-001", "engine": "deterministic", "scores": scores, "answer": "short", "problems": []},
        ],
        golden_sha256="0" * 64,
        started_at=now,
        finished_at=now,
        traces={
            "reply-030": CaseTrace(
                message_id="6f1c0a52-0000-4000-8000-000000000030",
                trace_id="ab12cd34ef56",
                explain="**Why this answer** (message 6f1c0a52-…)\n\n1. **input**: the customer wrote: <return>",
            )
        },
    )


def test_long_replies_are_shown_whole_and_wrap() -> None:
    html = render_html(a_run())
    assert LONG.strip() in html, "the whole stored reply, not its first 120 characters"
    assert "table.cases td.text" in html and "white-space: pre-wrap" in html and "overflow-wrap: anywhere" in html
    assert '<td class="text">' + LONG.strip()[:40] in html


def test_each_turn_links_to_its_explain_view_and_names_its_message_and_trace(tmp_path: Path) -> None:
    result = a_run()
    html = render_html(result)
    assert '<a href="explain/reply-030.html">explain</a>' in html
    assert "6f1c0a52-0000-4000-8000-000000000030" in html and "ab12cd34ef56" in html
    markdown = render_markdown(result)
    assert "[explain](explain/reply-030.md)" in markdown
    assert "| crm-001 | deterministic | 1.000 | 1.000 |  | – |" in markdown, "no turn, no link"
    folder = write_reports(result, tmp_path / "run")
    saved = (folder / "explain" / "reply-030.html").read_text()
    assert "&lt;return&gt;" in saved and 'href="../report.html"' in saved
    assert (folder / "explain" / "reply-030.md").read_text().startswith("**Why this answer**")
    assert not (folder / "explain" / "crm-001.md").exists()


def test_the_chart_axis_says_what_it_measures_and_in_what_unit() -> None:
    [axes] = metrics_chart(a_run()).axes
    assert axes.get_xlabel().startswith("score, %")
    assert "mean over the cases" in axes.get_xlabel() and axes.get_ylabel() == "metric"
    assert axes.get_xlim() == (0.0, 1.0)
    assert [t.get_text() for t in axes.get_xticklabels()][-1].endswith("%")
