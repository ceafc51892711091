"""Build a tenant's model cost report (usage_daily, the ledger for days not rolled up) and render it as table, CSV,
JSON or HTML."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.reporting import CHART_STYLE, CSS, inline_svg
from hub.tenancy.admin import TenancyError
from hub.usage.rollup import aggregate_days

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure
    from numpy.typing import NDArray


CURRENCY = "USD"
"""What the price table bills in."""
LIVE_MARK = "*"
LIVE_NOTE = f"{LIVE_MARK} not rolled up yet: computed live from the ledger."


class Counters(BaseModel):
    """Sums over usage_daily rows.

    `calls` adds up each row's distinct requests, so a request that fell back to another model, or
    that ran across midnight, counts once per row it reached. Percentiles over more than one row are
    the rows' daily percentiles averaged with their attempts as weights: an estimate, since exact
    ones would need the raw ledger.
    """

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    attempts: int = 0
    successes: int = 0
    retries: int = 0
    fallbacks: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    estimated_rows: int = 0
    """Attempts whose token counts were estimated locally rather than reported by the provider."""
    cost: Decimal = Decimal(0)
    latency_p50_ms: int = 0
    latency_p95_ms: int = 0


class UsageRow(Counters):
    """One usage_daily row: one day, feature, provider and model."""

    day: date
    feature: str
    provider: str
    model: str
    live: bool = False
    """Summed from the ledger as the report was made, because the day is not rolled up yet (or is today)."""


class FeatureTotals(Counters):
    feature: str


class ModelTotals(Counters):
    provider: str
    model: str


class DayCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    cost: Decimal = Decimal(0)
    by_feature: dict[str, Decimal] = {}
    """Cost per feature; features unused that day are left out."""
    live: bool = False
    """Not final: today (or later), or a past day with usage that is not rolled up yet, computed from the ledger."""


class UsageReport(BaseModel):
    """One tenant's model usage over the days start..end (UTC), both included."""

    model_config = ConfigDict(frozen=True)

    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    start: date
    end: date
    computed_at: datetime | None
    """When the newest rolled-up row in the report was rolled up; None when no day of it comes from the rollup."""
    totals: Counters
    features: list[FeatureTotals]
    """Most expensive first."""
    models: list[ModelTotals]
    """Most expensive first."""
    days: list[DayCost]
    """Every day of the period, days without usage included."""
    rows: list[UsageRow]
    """The usage_daily rows, and the live ones of days not rolled up, by day, feature, provider and model."""

    @property
    def live_days(self) -> list[date]:
        return [d.day for d in self.days if d.live]


COUNTER_FIELDS = list(Counters.model_fields)
CSV_FIELDS = ["day", "feature", "provider", "model", *COUNTER_FIELDS, "live"]
_SUMMED = [f for f in COUNTER_FIELDS if not f.startswith("latency_")]


def _combine(rows: Iterable[Counters]) -> dict[str, Any]:
    rows = list(rows)
    totals: dict[str, Any] = {f: sum(getattr(r, f) for r in rows) for f in _SUMMED}
    attempts = totals["attempts"]
    for field in ("latency_p50_ms", "latency_p95_ms"):
        weighted = sum(getattr(r, field) * r.attempts for r in rows)
        totals[field] = (weighted + attempts // 2) // attempts if attempts else 0
    return totals


async def build_report(
    session: AsyncSession, tenant_id: uuid.UUID, start: date, end: date, *, today: date | None = None
) -> UsageReport:
    """Report one tenant's usage for the days start..end, both included.

    Past days come from the daily rollup. A day the rollup has not reached (no usage_daily row for any
    tenant: the rollup writes every tenant's rows of a day at once) and today (`today`, default the
    current UTC day), which is never final, are summed from the ledger with the rollup's own
    aggregation and marked live.
    """
    if start > end:
        raise ValueError(f"report start {start} is after its end {end}")
    tenant = await session.get(m.Tenant, tenant_id)
    if tenant is None:
        raise TenancyError(f"unknown tenant {str(tenant_id)!r}")
    today = today or datetime.now(UTC).date()
    period = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    closed_end = min(end, today - timedelta(days=1))
    d = m.UsageDaily
    rolled: set[date] = set()
    records: list[m.UsageDaily] = []
    if start <= closed_end:
        in_closed = (d.day >= start, d.day <= closed_end)
        rolled = set((await session.execute(select(d.day).where(*in_closed).distinct())).scalars())
        stmt = select(d).where(d.tenant_id == tenant_id, *in_closed)
        records = list((await session.execute(stmt)).scalars())
    rows = [
        UsageRow(
            day=r.day,
            feature=r.feature,
            provider=r.provider,
            model=r.model,
            **{f: getattr(r, f) for f in COUNTER_FIELDS},
        )
        for r in records
    ]
    unrolled = [day for day in period if day not in rolled and day <= today]
    live = [
        UsageRow(live=True, **{f: getattr(a, f) for f in ("day", "feature", "provider", "model", *COUNTER_FIELDS)})
        for a in await aggregate_days(session, unrolled, tenant_id=tenant_id)
    ]
    live_days = {r.day for r in live} | {day for day in period if day >= today}
    rows = sorted([*rows, *live], key=lambda r: (r.day, r.feature, r.provider, r.model))

    by_feature: dict[str, list[UsageRow]] = defaultdict(list)
    by_model: dict[tuple[str, str], list[UsageRow]] = defaultdict(list)
    by_day: dict[date, list[UsageRow]] = defaultdict(list)
    for row in rows:
        by_feature[row.feature].append(row)
        by_model[(row.provider, row.model)].append(row)
        by_day[row.day].append(row)

    days: list[DayCost] = []
    for day in period:
        cost_by_feature: dict[str, Decimal] = defaultdict(Decimal)
        for row in by_day.get(day, []):
            cost_by_feature[row.feature] += row.cost
        cost = sum(cost_by_feature.values(), Decimal(0))
        days.append(DayCost(day=day, cost=cost, by_feature=cost_by_feature, live=day in live_days))
    return UsageReport(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        start=start,
        end=end,
        computed_at=max((r.computed_at for r in records), default=None),
        totals=Counters(**_combine(rows)),
        features=sorted(
            (FeatureTotals(feature=f, **_combine(g)) for f, g in by_feature.items()), key=lambda x: (-x.cost, x.feature)
        ),
        models=sorted(
            (ModelTotals(provider=p, model=n, **_combine(g)) for (p, n), g in by_model.items()),
            key=lambda x: (-x.cost, x.provider, x.model),
        ),
        days=days,
        rows=rows,
    )


# Terminal and HTML tables show these counters, in this order.
_SHOWN: list[tuple[str, str]] = [
    ("calls", "Calls"),
    ("attempts", "Attempts"),
    ("successes", "OK"),
    ("retries", "Retries"),
    ("fallbacks", "Fallbacks"),
    ("failures", "Failures"),
    ("input_tokens", "Tokens in"),
    ("output_tokens", "Tokens out"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("cost", "Cost"),
]


def format_cost(cost: Decimal) -> str:
    """Show a cost to 4 decimal places: one model call often costs less than a cent."""
    return f"{cost:,.4f}"


def _cell(field: str, value: int | Decimal) -> str:
    return format_cost(cast(Decimal, value)) if field == "cost" else f"{value:,}"  # the cost counter is a Decimal


def _period(report: UsageReport) -> str:
    days = len(report.days)
    return f"{report.start} to {report.end} (UTC, {days} day{'s' if days != 1 else ''})"


def _notes(report: UsageReport) -> list[str]:
    notes = [
        "Calls are counted per model and day: a request that fell back to another model counts once for each.",
        "p50/p95 over several days or models are attempt-weighted averages of the daily percentiles.",
    ]
    if report.totals.estimated_rows:
        notes.append(f"Token counts of {report.totals.estimated_rows:,} attempts were estimated locally.")
    if report.live_days:
        notes.append(LIVE_NOTE)
    return notes


def day_label(day: DayCost) -> str:
    """The day as the tables show it: marked when its figures are live rather than rolled up."""
    return f"{day.day}{LIVE_MARK}" if day.live else str(day.day)


def render_table(report: UsageReport) -> RenderableType:
    """Lay the report out as rich tables for a terminal; tenant text is never read as markup.

    The tables need about 120 columns; print them on a console at least `Console.measure(...)` wide
    so that no number is cut short.
    """
    heading = Text.assemble(
        ("Model usage: ", "bold"), (report.tenant_name, "bold"), f" ({report.tenant_slug})\n", _period(report)
    )
    if report.computed_at:
        heading.append(f", rolled up {report.computed_at:%Y-%m-%d %H:%M} UTC", style="dim")
    shown = [(f, label) for f, label in _SHOWN if f != "successes"]  # OK = attempts - failures - fallbacks

    def table(title: str, key: str | None, items: list[tuple[str, Counters]]) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
        if key:
            t.add_column(key)
        for _, label in shown:
            t.add_column(label, justify="right")
        for name, counters in items:
            t.add_row(*([Text(name)] if key else []), *(_cell(f, getattr(counters, f)) for f, _ in shown))
        return t

    totals = table("Total", None, [("", report.totals)])
    features = table("By feature", "Feature", [(f.feature, f) for f in report.features])
    models = table("By model", "Model", [(f"{x.provider}/{x.model}", x) for x in report.models])
    daily = Table(title="Cost per day", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    daily.add_column("Day")
    daily.add_column("Cost", justify="right")
    daily.add_column("")
    peak = max((d.cost for d in report.days), default=Decimal(0))
    for day in report.days:
        bar = "█" * round(30 * day.cost / peak) if peak else ""
        daily.add_row(day_label(day), format_cost(day.cost), Text(bar, style="cyan"))
    notes = Text("\n".join(_notes(report)), style="dim")
    return Group(heading, totals, features, models, daily, notes)


def render_csv(report: UsageReport) -> str:
    """Write the report's rows as CSV, one line per day × feature × provider × model; `live` is true or false."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(row.model_dump(mode="json") | {"live": "true" if row.live else "false"})
    return out.getvalue()


def render_json(report: UsageReport) -> str:
    """Serialise the whole report; `UsageReport.model_validate_json` reads it back."""
    return report.model_dump_json(indent=2)


_SALT = "hub-usage-report"


def cost_chart(report: UsageReport) -> Figure:
    """Draw cost per day as bars stacked by feature, on a Figure of its own (no pyplot state).

    Each bar's id is `cost-<feature index>-<day index>`, features in `report.features` order.
    """
    import matplotlib

    with matplotlib.rc_context({**CHART_STYLE, "svg.hashsalt": _SALT}):  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave a PathLike untyped
        return _draw_cost_chart(report)


def _draw_cost_chart(report: UsageReport) -> Figure:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import (
        AutoDateLocator,
        ConciseDateFormatter,
        DateFormatter,
        DayLocator,
        date2num,  # pyright: ignore[reportUnknownVariableType]  # untyped in matplotlib
    )
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)  # this figure alone renders with Agg; the global backend is untouched
    ax = fig.add_subplot()
    x = cast("NDArray[np.float64]", date2num([d.day for d in report.days]))  # days as matplotlib's float dates
    features = [f.feature for f in report.features]
    cmap = cast("ListedColormap", matplotlib.colormaps["tab10" if len(features) <= 10 else "tab20"])  # both are
    palette = cast("Sequence[tuple[float, float, float]]", cmap.colors)  # a ListedColormap's colors: RGB tuples
    bottom = [0.0] * len(x)
    handles: list[BarContainer] = []
    for i, feature in enumerate(features):
        heights = [float(d.by_feature.get(feature, 0)) for d in report.days]
        bars = ax.bar(x, heights, width=0.8, bottom=bottom, color=palette[i % len(palette)], linewidth=0)  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave **kwargs untyped
        for j, rect in enumerate(bars.patches):
            rect.set_gid(f"cost-{i}-{j}")
        handles.append(bars)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]

    if len(x) <= 62:
        # Whole days: left alone, matplotlib would label hours when the period is a day or two.
        ax.xaxis.set_major_locator(DayLocator(interval=-(-len(x) // 12)))
        ax.xaxis.set_major_formatter(DateFormatter("%b %d"))
    else:
        locator = AutoDateLocator(minticks=3, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlim(x[0] - 0.6, x[-1] + 0.6)
    peak = max(bottom, default=0.0)
    if peak > 0:
        ax.set_ylim(0, peak * 1.08)
    else:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "No model cost in this period", transform=ax.transAxes, ha="center", color="0.4")  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave **kwargs untyped
    decimals = 0 if peak >= 100 else 2 if peak >= 0.1 or peak == 0 else 4
    ax.yaxis.set_major_formatter(StrMethodFormatter(f"{{x:,.{decimals}f}}"))
    ax.set_ylabel(f"Cost ({CURRENCY})")  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave **kwargs untyped
    ax.grid(axis="y", color="0.9")  # pyright: ignore[reportUnknownMemberType]  # matplotlib's stubs leave **kwargs untyped
    ax.set_axisbelow(True)
    if handles:
        # Explicit labels: matplotlib would drop a label starting with "_" from an automatic legend.
        legend = fig.legend(handles, features, loc="outside upper center", ncols=min(len(features), 5), frameon=False)  # pyright: ignore[reportArgumentType, reportUnknownMemberType]  # matplotlib's stubs: bars are legend handles too, **kwargs untyped
        for text in legend.get_texts():
            text.set_parse_math(False)  # a "$" in a feature name is text, not mathtext
    return fig


def _chart_svg(report: UsageReport) -> str:
    return inline_svg(lambda: _draw_cost_chart(report), salt=_SALT)


def _html_table(keys: list[str], items: Iterable[tuple[list[str], Counters]]) -> str:
    head = "".join(f'<th class="key">{escape(k)}</th>' for k in keys) + "".join(
        f"<th>{label}</th>" for _, label in _SHOWN
    )
    body: list[str] = []
    for key_cells, counters in items:
        cells = "".join(f'<td class="key">{escape(c)}</td>' for c in key_cells)
        cells += "".join(f"<td>{_cell(f, getattr(counters, f))}</td>" for f, _ in _SHOWN)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: UsageReport) -> str:
    """Render a self-contained HTML page: inline CSS and SVG chart, no scripts, every name escaped."""
    t = report.totals
    kpis = [
        (f"Cost ({CURRENCY})", format_cost(t.cost)),
        ("Calls", f"{t.calls:,}"),
        ("Attempts", f"{t.attempts:,}"),
        ("Retries", f"{t.retries:,}"),
        ("Fallbacks", f"{t.fallbacks:,}"),
        ("Failures", f"{t.failures:,}"),
        ("Latency p50", f"{t.latency_p50_ms:,} ms"),
        ("Latency p95", f"{t.latency_p95_ms:,} ms"),
        ("Tokens in", f"{t.input_tokens:,}"),
        ("Tokens out", f"{t.output_tokens:,}"),
    ]
    computed = f" · rolled up {report.computed_at:%Y-%m-%d %H:%M} UTC" if report.computed_at else ""
    daily_rows = "".join(
        f'<tr><td class="key">{day_label(d)}</td><td>{format_cost(d.cost)}</td></tr>' for d in report.days
    )
    name = escape(report.tenant_name)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Model usage: {name}, {report.start} to {report.end}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Model usage: {name}</h1>
<p class="period">{escape(report.tenant_slug)} · {escape(_period(report))}{computed}</p>
</header>
<section class="kpis">
{"".join(f"<div class=kpi><b>{v}</b><span>{k}</span></div>" for k, v in kpis)}
</section>
<section>
<h2>Cost per day by feature</h2>
<figure>{_chart_svg(report)}</figure>
</section>
<section>
<h2>By feature</h2>
{_html_table(["Feature"], (([f.feature], f) for f in report.features))}
</section>
<section>
<h2>By model</h2>
{_html_table(["Provider", "Model"], (([x.provider, x.model], x) for x in report.models))}
</section>
<section>
<h2>Cost per day</h2>
<details><summary>{len(report.days)} days</summary>
<table><thead><tr><th class="key">Day</th><th>Cost</th></tr></thead><tbody>{daily_rows}</tbody></table>
</details>
</section>
<footer class="notes">{"<br>".join(escape(n) for n in _notes(report))}</footer>
</body>
</html>
"""
