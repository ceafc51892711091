"""Cost reports read back exactly, render safely, and come out of `hub usage report` as an operator runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import matplotlib
import pytest
from rich.console import Console
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.tenancy import admin
from hub.usage.report import (
    CSV_FIELDS,
    Counters,
    DayCost,
    FeatureTotals,
    UsageReport,
    UsageRow,
    build_report,
    render_csv,
    render_html,
    render_json,
    render_table,
)
from hub.usage.rollup import nearest_rank

START = date(2025, 3, 10)
END = date(2025, 3, 13)
HOSTILE_NAME = "<script>alert('pwned')</script> & [bold]Sons[/bold]"


def daily(tenant_id: uuid.UUID, day: date, feature: str, model: str, **values: int | str) -> dict:
    row: dict = dict.fromkeys(
        ["calls", "attempts", "successes", "retries", "fallbacks", "failures", "input_tokens", "output_tokens"], 0
    )
    row |= {"estimated_rows": 0, "latency_p50_ms": 0, "latency_p95_ms": 0, "cost": "0"} | values
    row["cost"] = Decimal(row["cost"])
    return {
        "day": day,
        "tenant_id": tenant_id,
        "feature": feature,
        "provider": "openai",
        "model": model,
        "computed_at": datetime(2025, 3, 14, 0, 10, tzinfo=UTC),
        **row,
    }


@pytest.fixture
async def sqlite_session(sqlite_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    async with session_factory(engine)() as s:
        yield s
    await engine.dispose()


@pytest.fixture
async def report(sqlite_session: AsyncSession) -> UsageReport:
    """Three features over four days, one of them without usage, for a tenant with a hostile name."""
    session = sqlite_session
    tenant = await admin.create_tenant(session, name=HOSTILE_NAME, slug="hostile")
    other = await admin.create_tenant(session, name="Other", slug="other")
    t = tenant.id
    rows = [
        daily(t, START, "chat", "gpt-4o-mini", calls=10, attempts=12, successes=10, retries=2, failures=2,
              input_tokens=1000, output_tokens=200, latency_p50_ms=300, latency_p95_ms=900, cost="0.01200000"),
        daily(t, START, "chat", "gpt-4o", calls=2, attempts=2, successes=2, retries=2,
              input_tokens=300, output_tokens=80, latency_p50_ms=800, latency_p95_ms=1200, cost="0.00650000"),
        daily(t, START, "seo_copy", "gpt-4o", calls=3, attempts=4, successes=3, retries=1, failures=1,
              estimated_rows=1, input_tokens=2000, output_tokens=900, latency_p50_ms=2000, latency_p95_ms=4000,
              cost="0.04250000"),
        daily(t, START + timedelta(days=2), "chat", "gpt-4o-mini", calls=4, attempts=4, successes=4,
              input_tokens=400, output_tokens=90, latency_p50_ms=200, latency_p95_ms=500, cost="0.00412345"),
        daily(t, START + timedelta(days=3), "order_change", "gpt-4o-mini", calls=1, attempts=2, successes=0,
              retries=1, fallbacks=1, failures=1, latency_p50_ms=40, latency_p95_ms=60, cost="0.00000001"),
        daily(other.id, START, "chat", "gpt-4o-mini", calls=99, attempts=99, cost="9.99"),
    ]  # fmt: skip
    await session.execute(insert(m.UsageDaily), rows)
    await session.commit()
    return await build_report(session, t, START, END)


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 100)) == (50, 95, 100)
    assert nearest_rank([7], 50) == nearest_rank([7], 95) == 7
    assert (nearest_rank([10, 20, 30], 50), nearest_rank([10, 20, 30], 95)) == (20, 30)
    with pytest.raises(ValueError, match="at least one value"):
        nearest_rank([], 50)


def test_report_totals_days_and_weighted_latencies(report: UsageReport) -> None:
    assert report.tenant_name == HOSTILE_NAME
    assert [(d.day, d.cost) for d in report.days] == [
        (START, Decimal("0.06100000")),
        (START + timedelta(days=1), Decimal(0)),
        (START + timedelta(days=2), Decimal("0.00412345")),
        (START + timedelta(days=3), Decimal("0.00000001")),
    ]
    assert report.days[0].by_feature == {"chat": Decimal("0.0185"), "seo_copy": Decimal("0.0425")}
    assert [f.feature for f in report.features] == ["seo_copy", "chat", "order_change"]
    chat = report.features[1]
    assert (chat.calls, chat.attempts, chat.retries, chat.cost) == (16, 18, 4, Decimal("0.02262345"))
    # attempt-weighted: (300 * 12 + 800 * 2 + 200 * 4) / 18
    assert chat.latency_p50_ms == 333
    assert [(x.model, x.attempts) for x in report.models] == [("gpt-4o", 6), ("gpt-4o-mini", 18)]
    assert report.totals.cost == Decimal("0.06512346") and report.totals.fallbacks == 1
    assert report.computed_at == datetime(2025, 3, 14, 0, 10, tzinfo=UTC)


async def test_a_period_without_usage_reports_zero_days(report: UsageReport, sqlite_session: AsyncSession) -> None:
    empty = await build_report(sqlite_session, report.tenant_id, date(2024, 1, 1), date(2024, 1, 3))

    assert [d.cost for d in empty.days] == [0, 0, 0] and empty.features == [] and empty.computed_at is None
    assert "No model cost in this period" in render_html(empty)
    assert render_csv(empty) == ",".join(CSV_FIELDS) + "\n"


async def test_report_refuses_an_inverted_period(report: UsageReport, sqlite_session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="after its end"):
        await build_report(sqlite_session, report.tenant_id, END, START)


def test_csv_parses_back_to_the_daily_rows(report: UsageReport) -> None:
    parsed = list(csv.DictReader(io.StringIO(render_csv(report))))

    assert [UsageRow.model_validate(row) for row in parsed] == report.rows
    assert parsed[0]["cost"] == "0.00650000"


def test_json_round_trips(report: UsageReport) -> None:
    text = render_json(report)

    assert UsageReport.model_validate_json(text) == report
    assert json.loads(text)["totals"]["cost"] == "0.06512346"


def test_html_is_self_contained_with_one_bar_series_per_feature(report: UsageReport) -> None:
    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)

    page = render_html(report)

    assert page.count("<svg") == 1
    bars = re.findall(r'id="cost-(\d+)-(\d+)"', page)
    series = {int(s) for s, _ in bars}
    assert series == set(range(len(report.features))) == {0, 1, 2}
    assert len(bars) == len(report.features) * len(report.days)
    for feature in report.features:
        assert f"<!-- {feature.feature} -->" in page  # the legend entry
    assert not re.search(r"<script|<link|<img|@import|url\((?!#)|src=", page, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert (matplotlib.get_backend(), dict(matplotlib.rcParams)) == (backend, rc)


def test_html_escapes_tenant_text(report: UsageReport) -> None:
    page = render_html(report)

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; [bold]Sons[/bold]" in page


def test_html_escapes_feature_names_in_the_chart_and_tables() -> None:
    feature = "--><script>alert(1)</script><!--"
    day = DayCost(day=START, cost=Decimal(1), by_feature={feature: Decimal(1)})
    report = UsageReport(
        tenant_id=uuid.uuid4(),
        tenant_slug="t",
        tenant_name="T",
        start=START,
        end=START,
        computed_at=None,
        totals=Counters(cost=Decimal(1)),
        features=[FeatureTotals(feature=feature, cost=Decimal(1))],
        models=[],
        days=[day],
        rows=[],
    )

    page = render_html(report)

    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the legend's SVG comment and the table


def test_terminal_table_shows_tenant_text_literally(report: UsageReport) -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)

    console.print(render_table(report))

    text = console.file.getvalue()
    assert HOSTILE_NAME in text
    assert "seo_copy" in text and "0.0651" in text


async def test_today_shows_up_live_in_every_format_before_any_rollup(
    report: UsageReport, sqlite_session: AsyncSession
) -> None:
    today = END + timedelta(days=1)
    ledger = [
        {"ts": datetime(today.year, today.month, today.day, h, tzinfo=UTC), "tenant_id": report.tenant_id,
         "feature": "chat", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5,
         "latency_ms": 100 * h, "cost": Decimal("0.001"), "request_id": f"today-{h}", "attempt": 1,
         "outcome": m.UsageOutcome.OK}
        for h in (8, 9)
    ]  # fmt: skip
    await sqlite_session.execute(insert(m.UsageRecord), ledger)
    await sqlite_session.commit()

    live = await build_report(sqlite_session, report.tenant_id, START, today, today=today)

    assert [(d.day, d.live) for d in live.days][-2:] == [(END, False), (today, True)]
    assert live.days[-1].cost == Decimal("0.002") and live.totals.cost == report.totals.cost + Decimal("0.002")
    assert [(r.day, r.calls, r.latency_p95_ms, r.live) for r in live.rows if r.day == today] == [(today, 2, 900, True)]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render_table(live))
    table = console.file.getvalue()
    assert f"{today}*" in table and f"{END}*" not in table
    assert "* not rolled up yet: computed live from the ledger" in table
    days = json.loads(render_json(live))["days"]
    assert [(d["day"], d["live"]) for d in days][-2:] == [(str(END), False), (str(today), True)]
    rows = list(csv.DictReader(io.StringIO(render_csv(live))))
    assert {(r["day"], r["live"]) for r in rows} == {(str(START), "false"), (str(START + timedelta(days=2)), "false"),
                                                     (str(END), "false"), (str(today), "true")}  # fmt: skip
    page = render_html(live)
    assert f"{today}*</td>" in page and "not rolled up yet: computed live from the ledger" in page
    assert "not rolled up yet" not in render_html(report)


def hub(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The operator's environment: a data dir of its own, this checkout on the path, run from tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    root = Path(__file__).resolve().parents[2]
    return clean | {"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json", "PYTHONPATH": str(root)}


async def test_cli_rolls_up_the_ledger_and_writes_an_html_report(tmp_path: Path, env: dict[str, str]) -> None:
    created = hub("tenants", "create", "--name", "<b>Acme</b> & Co", "--slug", "acme", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}")
    async with session_factory(engine)() as s:
        tenant = await admin.resolve_tenant(s, "acme")
        ledger = [
            {"ts": datetime(2025, 3, d, h, tzinfo=UTC), "tenant_id": tenant.id, "feature": f, "provider": "openai",
             "model": "gpt-4o-mini", "input_tokens": 100, "output_tokens": 20, "latency_ms": 100 * h,
             "cost": Decimal("0.00012345"), "request_id": f"{d}-{h}-{f}", "attempt": 1, "outcome": m.UsageOutcome.OK}
            for d in (10, 12) for h in (9, 13, 17) for f in ("chat", "seo_copy")
        ]  # fmt: skip
        await s.execute(insert(m.UsageRecord), ledger)
        await s.commit()
    await engine.dispose()

    rolled = hub("usage", "rollup", "--from", "2025-03-10", "--to", "2025-03-12", env=env, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert (
        rolled.stdout.splitlines()[0] == "2025-03-10: 2 rows for 1 tenant from 6 attempts, cost 0.00074070 (replaced 0)"
    )
    assert rolled.stdout.splitlines()[-1].startswith(
        "rolled up 3 days, 2025-03-10 to 2025-03-12: 4 rows from 12 attempts"
    )

    period = ["--tenant", "acme", "--from", "2025-03-10", "--to", "2025-03-12"]
    made = hub("usage", "report", *period, "--format", "html", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    page_path = tmp_path / made.stdout.strip()
    assert page_path.name == "usage-acme-2025-03-10-2025-03-12.html"
    page = page_path.read_text()
    assert "<svg" in page and "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in page and "<b>Acme" not in page
    assert len(set(re.findall(r'id="cost-(\d+)-\d+"', page))) == 2

    as_csv = hub("usage", "report", *period, "--format", "csv", env=env, cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["day"], r["feature"], r["attempts"], r["cost"]) for r in rows] == [
        ("2025-03-10", "chat", "3", "0.00037035"),
        ("2025-03-10", "seo_copy", "3", "0.00037035"),
        ("2025-03-12", "chat", "3", "0.00037035"),
        ("2025-03-12", "seo_copy", "3", "0.00037035"),
    ]


async def test_cli_report_without_tenant_reports_the_only_tenant_up_to_today(
    tmp_path: Path, env: dict[str, str]
) -> None:
    created = hub("tenants", "create", "--name", "Solo", "--slug", "solo", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}")
    async with session_factory(engine)() as s:
        tenant = await admin.resolve_tenant(s, "solo")
        row = {"ts": datetime.now(UTC), "tenant_id": tenant.id, "feature": "chat", "provider": "openai",
               "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5, "latency_ms": 120,
               "cost": Decimal("0.00042"), "request_id": "now-1", "attempt": 1, "outcome": m.UsageOutcome.OK}  # fmt: skip
        await s.execute(insert(m.UsageRecord), [row])
        await s.commit()
    await engine.dispose()
    before = datetime.now(UTC).date()

    made = hub("usage", "report", "--format", "json", env=env, cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    report = UsageReport.model_validate_json(made.stdout)
    assert report.tenant_slug == "solo" and report.end in {before, datetime.now(UTC).date()}
    assert report.start == report.end - timedelta(days=29) and report.days[-1].live
    assert report.totals.cost == Decimal("0.00042") and [r.live for r in report.rows] == [True]
    table = hub("usage", "report", env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert f"{report.end}*" in table.stdout and "not rolled up yet: computed live from the ledger" in table.stdout


def test_cli_report_without_tenant_names_the_tenants_when_there_are_several(
    tmp_path: Path, env: dict[str, str]
) -> None:
    for slug in ("bravo", "alpha"):
        created = hub("tenants", "create", "--name", slug.title(), "--slug", slug, env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr

    result = hub("usage", "report", env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: 2 tenants, say which with --tenant: alpha, bravo"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollup", "--day", "2025-02-30"], "error: --day '2025-02-30' is not a date: use YYYY-MM-DD"),
        (["rollup", "--from", "2025-03-12", "--to", "2025-03-10"], "error: --from 2025-03-12 is after --to 2025-03-10"),
        (["report", "--tenant", "acme", "--to", "yesterday"], "error: --to 'yesterday' is not a date: use YYYY-MM-DD"),
        (["report", "--tenant", "nobody", "--format", "json"], "error: unknown tenant 'nobody'"),
        (["report"], "error: no tenant yet: create one with `hub tenants create` or `hub seed demo`"),
    ],
)
def test_cli_refuses_bad_periods_with_one_line(
    tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    result = hub("usage", *args, env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == message
