"""Eval reports people read: markdown for the terminal and reviews, HTML with charts for everyone else.

Both show the verdict, each metric against the baseline it was judged by, the scores by language and by
intent, and every case's scores; the HTML page draws the metrics as bars beside the baseline's (inline SVG, no
scripts; the axis is the score in percent), shows each reply whole and wrapped, and links each shopper turn to its
explain view, saved beside the report (`explain/<case>.html` and `.md`) with its message and trace ids, since the
fixture shop the turn ran in does not outlive the run.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.breakdown import PASS_CHECKS, by_intent, by_language
from evals.metrics import LOWER_IS_BETTER
from hub.reporting import CSS, inline_svg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evals.results import RunResult

RATE_METRICS = (
    *PASS_CHECKS,
    "fallback",
    "string_similarity",
    "rouge_l",
    "bleu",
    "context_precision",
    "context_recall",
    "judge_score",
    "judge_grounded",
)
"""Metrics in [0, 1], drawn on one chart; the others (latency, cost) go in the table only."""


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    if name.startswith("latency"):
        return f"{value:.0f} ms"
    if name == "cost_usd":
        return f"${value:.6f}"
    if name == "input_tokens":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _delta(name: str, value: float, base: float | None) -> str:
    if base is None:
        return ""
    diff = value - base
    if abs(diff) < 1e-9:
        return "="
    better = diff < 0 if name in LOWER_IS_BETTER else diff > 0
    return f"{'▲' if better else '▼'} {diff:+.3f}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def language_rows(result: RunResult) -> list[list[str]]:
    """The per-language table's cells: language, cases, pass rate, intent accuracy, language match."""
    return [
        [r.language, str(r.cases), _rate(r.pass_rate), _rate(r.intent_accuracy), _rate(r.language_match)]
        for r in by_language(result.per_case)
    ]


def intent_rows(result: RunResult) -> list[list[str]]:
    """The per-intent table's cells: intent, cases, intent accuracy."""
    return [[r.intent, str(r.cases), _rate(r.intent_accuracy)] for r in by_intent(result.per_case)]


LANGUAGE_HEAD = ["language", "cases", "pass rate", "intent accuracy", "language match"]
INTENT_HEAD = ["intent", "cases", "intent accuracy"]


def _markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def metric_rows(result: RunResult) -> list[tuple[str, float, float | None, str]]:
    base = result.baseline.metrics if result.baseline else {}
    return [(n, v, base.get(n), _delta(n, v, base.get(n))) for n, v in sorted(result.metrics.items())]


def render_markdown(result: RunResult) -> str:
    against = f"{result.baseline.use_case}@{result.baseline.prompt_version}" if result.baseline else "no baseline"
    lines = [
        f"# Eval: {result.label}",
        "",
        f"**{'PASS' if result.passed else 'FAIL'}** against {against}: " + "; ".join(result.verdict),
        "",
        f"{len(result.per_case)} cases, golden set sha256 {result.golden_sha256[:12]}, run {result.id}",
        "",
        "| metric | this run | baseline | change |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {n} | {_fmt(n, v)} | {_fmt(n, b)} | {d} |" for n, v, b, d in metric_rows(result)]
    lines += ["", "## By language", "", *_markdown_table(LANGUAGE_HEAD, language_rows(result))]
    if intents := intent_rows(result):
        lines += ["", "## By intent", "", *_markdown_table(INTENT_HEAD, intents)]
    shown = [n for n in RATE_METRICS if n in result.metrics]
    lines += ["", "## Cases", "", "| case | engine | " + " | ".join(shown) + " | problems | trace |"]
    lines.append("|---|---|" + "---:|" * len(shown) + "---|---|")
    for case in result.per_case:
        cells = " | ".join(_fmt(n, case["scores"].get(n)) for n in shown)
        problems = "; ".join(case["problems"])[:200].replace("|", "/")
        trace = f"[explain]({explain_path(case['id'], 'md')})" if case["id"] in result.traces else "–"
        lines.append(f"| {case['id']} | {case['engine']} | {cells} | {problems} | {trace} |")
    return "\n".join(lines) + "\n"


def explain_path(case_id: str, suffix: str) -> str:
    """The saved explain view of a case's turn, relative to the report (case ids are `[a-z0-9_-]`)."""
    return f"{EXPLAIN_DIR}/{case_id}.{suffix}"


EXPLAIN_DIR = "explain"


def _trace_cell(result: RunResult, case: dict[str, Any]) -> str:
    """The HTML case table's link to the turn's explain view and trace, or a dash for a case with no turn."""
    trace = result.traces.get(case["id"])
    if trace is None:
        return "–"
    href = escape(explain_path(case["id"], "html"))
    return (
        f'<a href="{href}">explain</a><br><small>message <code>{escape(trace.message_id)}</code><br>'
        f"trace <code>{escape(trace.trace_id)}</code></small>"
    )


def _explain_html(result: RunResult, case_id: str, markdown: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(case_id)}: explain</title><style>{CSS}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; }}</style></head><body>
<h1>{escape(case_id)} · {escape(result.label)}</h1>
<p class="period">What the turn did (<code>hub explain</code> of its reply, saved when the run ended: the fixture shop the
turn ran in is thrown away after the run). <a href="../report.html">Back to the report</a></p>
<pre>{escape(markdown)}</pre>
</body></html>
"""


def metrics_chart(result: RunResult) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    names = [n for n in RATE_METRICS if n in result.metrics]
    base = result.baseline.metrics if result.baseline else {}
    fig = Figure(figsize=(9, 0.32 * len(names) + 1.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(names)))
    ax.barh(
        [p + 0.2 for p in positions], [result.metrics[n] for n in names], height=0.4, color="#2f81f7", label="this run"
    )
    if base:
        ax.barh(
            [p - 0.2 for p in positions],
            [base.get(n, 0.0) for n in names],
            height=0.4,
            color="#afb8c1",
            label="baseline",
        )
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel(
        "score, % (mean over the cases that have the expectation; 100% = every case right; fallback: lower is better)"
    )
    ax.set_ylabel("metric")
    ax.set_title(f"{result.label}: scores beside the baseline", loc="left", fontsize=10)
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def _table(head: list[str], rows: list[list[str]], keys: int = 1) -> str:
    th = "".join(
        f'<th class="key">{escape(h)}</th>' if i < keys else f"<th>{escape(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="key">{escape(c)}</td>' if i < keys else f"<td>{escape(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: RunResult) -> str:
    against = f"{result.baseline.use_case}@{result.baseline.prompt_version}" if result.baseline else "no baseline"
    kpis = "".join(
        f'<div class="kpi"><b>{escape(_fmt(n, result.metrics[n]))}</b><span>{escape(n)}</span></div>'
        for n in ("rules_pass", "facts_recall", "routing", "fallback", "latency_p95_ms", "cost_usd", "input_tokens")
        if n in result.metrics
    )
    metrics = _table(
        ["metric", "this run", "baseline", "change"],
        [[n, _fmt(n, v), _fmt(n, b), d] for n, v, b, d in metric_rows(result)],
    )
    languages = _table(LANGUAGE_HEAD, language_rows(result))
    intents = f"<h2>By intent</h2>{_table(INTENT_HEAD, rows)}" if (rows := intent_rows(result)) else ""
    shown = [n for n in RATE_METRICS if n in result.metrics]
    head = "".join(f'<th class="key">{h}</th>' for h in ("case", "engine"))
    head += "".join(f"<th>{escape(n)}</th>" for n in shown) + "<th>answer</th><th>problems</th><th>trace</th>"
    rows = "".join(
        f'<tr><td class="key">{escape(c["id"])}</td><td class="key">{escape(c["engine"])}</td>'
        + "".join(f"<td>{escape(_fmt(n, c['scores'].get(n)))}</td>" for n in shown)
        + f'<td class="text">{escape(c["answer"])}</td><td class="text">{escape("; ".join(c["problems"]))}</td>'
        + f'<td class="text">{_trace_cell(result, c)}</td></tr>'
        for c in result.per_case
    )
    cases = f'<table class="cases"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    verdict = "PASS" if result.passed else "FAIL"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Eval {escape(result.label)}</title><style>{CSS}
.pass {{ color: #1a7f37; }} .fail {{ color: #cf222e; }}
table.cases td.text {{ white-space: pre-wrap; overflow-wrap: anywhere; text-align: left; min-width: 16ch; max-width: 60ch; }}
table.cases td {{ vertical-align: top; }}
</style></head><body>
<h1>Eval: {escape(result.label)}</h1>
<p class="period"><b class="{verdict.lower()}">{verdict}</b> against {escape(against)}: {escape("; ".join(result.verdict))}</p>
<p class="period">{len(result.per_case)} cases · golden set {escape(result.golden_sha256[:12])} · run {escape(str(result.id))}</p>
<div class="kpis">{kpis}</div>
<h2>Scores beside the baseline</h2>
<figure>{inline_svg(lambda: metrics_chart(result), salt="hub-eval-report")}</figure>
<h2>Metrics</h2>{metrics}
<h2>By language</h2>{languages}
{intents}
<h2>Cases</h2>{cases}
<p class="notes">Rates are means over the cases that have the expectation; fallback is the share of cases a configured
model did not answer. String and context metrics are ragas' offline metrics. A case passes when it gets every
check it has an expectation for fully right (schema, rules, facts, forbidden facts, intent, tools, fields, reply
language); language match is the share of cases answered in the language they are written in.</p>
</body></html>
"""


def write_reports(result: RunResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(render_markdown(result), encoding="utf-8")
    (folder / "report.html").write_text(render_html(result), encoding="utf-8")
    if result.traces:
        (folder / EXPLAIN_DIR).mkdir(exist_ok=True)
    for case_id, trace in result.traces.items():
        (folder / explain_path(case_id, "md")).write_text(trace.explain, encoding="utf-8")
        (folder / explain_path(case_id, "html")).write_text(
            _explain_html(result, case_id, trace.explain), encoding="utf-8"
        )
    return folder


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, float | None, float | None, str]]:
    """Metric-by-metric rows for two runs' metrics: name, A, B, change from A to B."""
    names = sorted(set(a) | set(b))
    return [(n, a.get(n), b.get(n), _delta(n, b[n], a.get(n)) if n in b else "") for n in names]
