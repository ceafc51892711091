"""`hub eval run|compare|gate`: run suites with a progress bar, compare runs, and gate prompt versions (the contract
gate on the simulated model in CI, the quality gate on a configured model with a judge)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evals.cases import USE_CASES, golden_hashes, golden_sha256
from evals.gate import (
    Baseline,
    Tolerances,
    due,
    load_quality_baseline,
    predecessor,
    quality_verdict,
    save_quality_baseline,
)
from evals.judged import JUDGED_METRICS, STRUCTURED
from evals.report import INTENT_HEAD, LANGUAGE_HEAD, compare_rows, intent_rows, language_rows
from evals.runner import RunResult, RunSpec, judge, run_suite, store, stored_baseline
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.eval_coverage import EvalCoverage, eval_coverage
from hub.gateway.factory import load_prompts
from hub.settings import Settings
from hub.tenancy import admin
from hub.tenancy.config import TenantConfig
from service.cli.common import fail, load_settings, migrate_database, with_session

eval_app = typer.Typer(no_args_is_help=True, help="Run eval suites, compare runs, gate prompt versions.")
console = Console(stderr=True)


def _use_cases(chosen: list[str] | None) -> list[str]:
    for use_case in chosen or []:
        if use_case not in USE_CASES:
            raise fail(f"unknown use case {use_case!r}; known: {', '.join(USE_CASES)}")
    return list(chosen or USE_CASES)


async def _run(settings: Settings, spec: RunSpec) -> RunResult:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(f"{spec.use_case}", total=None)

        def tick(done: int, total: int, case_id: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{spec.use_case} {case_id}")

        return await run_suite(settings, spec, progress=tick)


async def _baseline(settings: Settings, result: RunResult) -> Baseline | None:
    """Sim runs are judged by the committed baselines; model runs by the predecessor's last passing run."""
    versions = load_prompts(settings).versions(result.spec.use_case)
    if result.mode == "sim":
        return stored_baseline(result.spec.use_case, result.prompt_version, versions)
    if result.mode == "deterministic":
        return None
    before = predecessor(versions, result.prompt_version)
    if before is None:
        return None
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            row = (
                await session.execute(
                    select(m.EvalRun)
                    .where(
                        m.EvalRun.use_case == result.spec.use_case,
                        m.EvalRun.prompt_version == before,
                        m.EvalRun.mode == result.mode,
                        m.EvalRun.model == result.model,
                        m.EvalRun.golden_sha256 == result.golden_sha256,
                    )
                    .order_by(m.EvalRun.finished_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    if row is None:
        return None
    cases = {c["id"]: c["scores"] for c in row.per_case}
    return Baseline(
        row.use_case, row.prompt_version, row.golden_sha256, row.metrics, row.finished_at.isoformat(), cases
    )


def _print(result: RunResult) -> None:
    table = Table(title=result.label, title_justify="left")
    for col in ("metric", "this run", "baseline"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    base = result.baseline.metrics if result.baseline else {}
    for name, value in sorted(result.metrics.items()):
        table.add_row(name, f"{value:.3f}", f"{base[name]:.3f}" if name in base else "–")
    console.print(table)
    for title, head, rows in (
        ("by language", LANGUAGE_HEAD, language_rows(result)),
        ("by intent", INTENT_HEAD, intent_rows(result)),
    ):
        if rows:
            breakdown = Table(title=f"{result.spec.use_case} {title}", title_justify="left")
            for number, col in enumerate(head):
                breakdown.add_column(col, justify="right" if number else "left")
            for row in rows:
                breakdown.add_row(*row)
            console.print(breakdown)
    mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
    console.print(f"{mark} {'; '.join(result.verdict)}")
    if result.report_dir:
        console.print(f"report: {result.report_dir / 'report.html'}")


def _stale_pairs(
    settings: Settings,
    chosen: list[str],
    tenant: m.Tenant | None,
    *,
    prompt_version: str | None,
    model: str | None,
    sim: bool,
) -> list[tuple[str, str | None]]:
    """`--stale`: the use cases (and the version in use) whose prompt × model pair has no current run."""
    if prompt_version or model or sim:
        raise fail("--stale runs the versions and models in use: leave out --prompt-version, --model and --sim")
    if not settings.llm_configured:
        raise fail(
            "--stale evaluates prompts on the model that serves them, and no model is configured: set "
            "HUB_LLM_BASE_URL (or HUB_LLM_API_KEY) and HUB_LLM_MODEL or HUB_LLM_MODELS"
        )
    registry = load_prompts(settings)
    golden = {name: sha for name, sha in golden_hashes().items() if name in chosen}

    async def work(session: AsyncSession) -> list[EvalCoverage]:
        return await eval_coverage(session, settings, registry, golden, tenant.id if tenant else None)

    missing = [pair for pair in with_session(settings, work) if not pair.current]
    for pair in missing:
        console.print(f"stale: {pair.label} (used by {', '.join(pair.used_by)})")
    return list(dict.fromkeys((pair.use_case, pair.prompt_version) for pair in missing))


@eval_app.command("run")
def run(
    use_case: Annotated[list[str] | None, typer.Option("--use-case", "-u", help="Repeatable; default: all.")] = None,
    prompt_version: Annotated[str | None, typer.Option(help="Exact version, drafts included.")] = None,
    model: Annotated[str | None, typer.Option(help="Model to use instead of HUB_LLM_MODEL.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Run with this tenant's pins and AI switches.")] = None,
    sim: Annotated[bool, typer.Option("--sim", help="Answer with the simulated model CI uses.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N cases.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON on stdout.")] = False,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale",
            help="Only the prompt × model pairs in use with no current run on the configured model "
            "(with --tenant: that shop's).",
        ),
    ] = False,
) -> None:
    """Run suites on the demo fixture; no model configured runs the deterministic engine."""
    settings = load_settings()
    migrate_database(settings)
    chosen = _use_cases(use_case)
    if prompt_version and len(chosen) != 1:
        raise fail("--prompt-version needs exactly one --use-case")
    row = with_session(settings, lambda s: admin.resolve_tenant(s, tenant)) if tenant else None
    todo = [(name, prompt_version) for name in chosen]
    if stale:
        todo = _stale_pairs(settings, chosen, row, prompt_version=prompt_version, model=model, sim=sim)
        if not todo:
            console.print("every prompt × model pair in use has a current run: nothing to do")

    async def main() -> list[RunResult]:
        results = []
        for name, version in todo:
            spec = RunSpec(name, prompt_version=version, model=model, tenant=row, sim=sim, limit=limit)
            result = await _run(settings, spec)
            results.append(await store(settings, judge(result, await _baseline(settings, result))))
            _print(results[-1])
        return results

    results = asyncio.run(main())
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": str(r.id),
                        "use_case": r.spec.use_case,
                        "prompt_version": r.prompt_version,
                        "mode": r.mode,
                        "model": r.model,
                        "passed": r.passed,
                        "verdict": r.verdict,
                        "metrics": r.metrics,
                        "report": str(r.report_dir),
                    }
                    for r in results
                ]
            )
        )


@eval_app.command("compare")
def compare(
    a: Annotated[
        str, typer.Argument(help="A run id (or its first characters), or use_case@version for its latest run.")
    ],
    b: Annotated[str, typer.Argument(help="The run to compare with A, same forms.")],
) -> None:
    """Diff two runs metric by metric and case by case."""
    settings = load_settings()

    async def find(session: AsyncSession, ref: str) -> m.EvalRun:
        stmt = select(m.EvalRun).order_by(m.EvalRun.finished_at.desc())
        if "@" in ref:
            name, _, version = ref.partition("@")
            stmt = stmt.where(m.EvalRun.use_case == name, m.EvalRun.prompt_version == version)
        else:
            try:
                stmt = stmt.where(m.EvalRun.id == uuid.UUID(ref))
            except ValueError:
                rows = [r for r in (await session.execute(stmt)).scalars() if str(r.id).startswith(ref)]
                if len(rows) == 1:
                    return rows[0]
                raise admin.TenancyError(f"{len(rows)} runs match {ref!r}; give more of the id") from None
        run_row = (await session.execute(stmt.limit(1))).scalar_one_or_none()
        if run_row is None:
            raise admin.TenancyError(f"no eval run matches {ref!r}")
        return run_row

    async def work(session: AsyncSession) -> tuple[m.EvalRun, m.EvalRun]:
        return await find(session, a), await find(session, b)

    first, second = with_session(settings, work)
    table = Table(
        title=f"{first.use_case}@{first.prompt_version} ({first.mode}) → {second.use_case}@{second.prompt_version} ({second.mode})"
    )
    for col in ("metric", "A", "B", "change"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, va, vb, change in compare_rows(first.metrics, second.metrics):
        table.add_row(name, "–" if va is None else f"{va:.3f}", "–" if vb is None else f"{vb:.3f}", change)
    out = Console()
    out.print(table)
    by_id = {c["id"]: c for c in first.per_case}
    changed = Table(title="cases whose scores changed")
    for col in ("case", "metric", "A", "B"):
        changed.add_column(col)
    for case in second.per_case:
        before = by_id.get(case["id"])
        if before is None:
            continue
        for name, value in case["scores"].items():
            old = before["scores"].get(name)
            if old is not None and abs(old - value) > 1e-9 and not name.startswith(("latency", "cost")):
                changed.add_row(case["id"], name, f"{old:.3f}", f"{value:.3f}")
    out.print(changed)


@eval_app.command("history")
def history(
    use_case: Annotated[str | None, typer.Option("--use-case", "-u")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only runs made with this tenant's settings.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """List past runs, newest first: when, which version, mode and model, key scores, verdict."""
    settings = load_settings()

    async def work(session: AsyncSession) -> list[m.EvalRun]:
        stmt = select(m.EvalRun).order_by(m.EvalRun.finished_at.desc()).limit(limit)
        if use_case:
            stmt = stmt.where(m.EvalRun.use_case == use_case)
        if tenant:
            stmt = stmt.where(m.EvalRun.tenant_id == (await admin.resolve_tenant(session, tenant)).id)
        return list((await session.execute(stmt)).scalars())

    table = Table(title="eval runs")
    for col in ("finished", "run", "prompt", "mode", "model", "rules", "facts", "fallback", "verdict"):
        table.add_column(col)
    for row in with_session(settings, work):
        metrics = row.metrics

        def cell(name: str, metrics: dict[str, float] = metrics) -> str:
            return f"{metrics[name]:.2f}" if name in metrics else "–"

        table.add_row(
            f"{row.finished_at:%Y-%m-%d %H:%M}",
            str(row.id)[:8],
            f"{row.use_case}@{row.prompt_version}",
            row.mode,
            row.model or "–",
            cell("rules_pass"),
            cell("facts_recall"),
            cell("fallback"),
            "PASS" if row.passed else "FAIL",
        )
    Console().print(table)


QUALITY_USE_CASES = tuple(u for u in USE_CASES if u == "customer_reply" or u in STRUCTURED)
"""Use cases with judged metrics: the quality gate's."""


def quality_baselines_dir(settings: Settings) -> Path:
    """Quality baselines belong to a deployment: its model and judge, which CI cannot reproduce."""
    return settings.data_dir / "evals" / "baselines" / "quality"


@eval_app.command("gate")
def gate(
    use_case: Annotated[list[str] | None, typer.Option("--use-case", "-u", help="Repeatable; default: all.")] = None,
    record: Annotated[bool, typer.Option("--record", help="Write baselines for the versions that pass.")] = False,
    quality: Annotated[
        bool,
        typer.Option(
            "--quality", help="The quality gate: the configured model answers, a judge model grades (needs a model)."
        ),
    ] = False,
    prompt_version: Annotated[
        str | None, typer.Option(help="--quality: the version to gate (default: the version in use).")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="--quality: the tenant whose pins are in use; its runs are pin evidence.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N cases (a quick check).")] = None,
) -> None:
    """The contract gate (CI), or with --quality the quality gate.

    Contract gate: runs every prompt version without a baseline on the current golden set, against its
    predecessor, on the simulated model: it checks contracts (schema, rules, facts the sim is primed with), not
    quality. Fails (exit 1) when a version regresses beyond the tolerances in evals/gate.toml; with --record,
    writes the passing versions' baselines to evals/baselines/.

    Quality gate (--quality): runs the version under test with the configured model, grades the answers with a
    judge model through the gateway (feature `evals`), and compares the judged scores with the quality baseline
    of the version in use on that model (evals/gate.toml [quality]); --record writes the passing version's
    quality baseline under <data dir>/evals/baselines/quality/.
    """
    settings = load_settings()
    if quality:
        _quality_gate(settings, use_case, prompt_version, tenant, limit, record=record)
        return
    if prompt_version or tenant:
        raise fail("--prompt-version and --tenant are for the quality gate (--quality)")
    migrate_database(settings)
    registry = load_prompts(settings)
    console.print("contract gate: prompt versions on the simulated model (contracts, not quality)")

    async def main() -> list[RunResult]:
        failed: list[RunResult] = []
        for name in _use_cases(use_case):
            kind = registry.resolve(name, {}).output
            # Versions whose output differs from the default pin's cannot be pinned any more (retired).
            versions = [v for v in registry.versions(name) if registry.get(name, v, allow_drafts=True).output == kind]
            todo = due(name, versions, golden_sha256(name))
            if not todo:
                console.print(f"{name}: every version has a current baseline")
                continue
            live: dict[str, Baseline] = {}
            for version in todo:
                result = await _run(settings, RunSpec(name, prompt_version=version, sim=True, limit=limit))
                result.gate = "contract"
                before = [v for v in versions if v in live or v not in todo]
                prev = predecessor([*before, version], version)
                baseline = live.get(prev) if prev in live else stored_baseline(name, version, versions, own=False)
                await store(settings, judge(result, baseline))
                _print(result)
                if result.passed:
                    live[version] = Baseline.of(name, version, result.golden_sha256, result.metrics, result.per_case)
                    if record and limit is None:
                        console.print(f"recorded {live[version].save()}")
                else:
                    failed.append(result)
        return failed

    failed = asyncio.run(main())
    if failed:
        raise fail("contract gate: regressions: " + ", ".join(r.label for r in failed))
    console.print("contract gate: passed")


def _quality_gate(
    settings: Settings,
    chosen: list[str] | None,
    prompt_version: str | None,
    tenant: str | None,
    limit: int | None,
    *,
    record: bool,
) -> None:
    if not settings.llm_configured:
        raise fail(
            "quality gate: no model is configured; set HUB_LLM_BASE_URL (or HUB_LLM_API_KEY) and HUB_LLM_MODEL "
            "(optionally HUB_EVAL_JUDGE_MODEL): the simulated model has no quality to judge (`hub eval gate` "
            "without --quality is the contract gate)"
        )
    for name in chosen or []:
        if name not in QUALITY_USE_CASES:
            raise fail(f"quality gate: {name!r} has no judged metrics; choose from {', '.join(QUALITY_USE_CASES)}")
    names = list(chosen or QUALITY_USE_CASES)
    if prompt_version and len(names) != 1:
        raise fail("--prompt-version needs exactly one --use-case")
    migrate_database(settings)
    registry = load_prompts(settings)
    row = with_session(settings, lambda s: admin.resolve_tenant(s, tenant)) if tenant else None
    pins = TenantConfig.model_validate(row.settings or {}).prompt_pins if row else {}
    root = quality_baselines_dir(settings)
    tolerances = Tolerances.load(quality=True)
    console.print("quality gate: judged scores on the configured model against the version in use")

    async def main() -> list[RunResult]:
        failed: list[RunResult] = []
        for name in names:
            in_use = registry.resolve(name, pins).version
            spec = RunSpec(name, prompt_version=prompt_version or in_use, tenant=row, limit=limit)
            result = await _run(settings, spec)
            result.gate = "quality"
            model = result.model or "none"
            baseline = load_quality_baseline(root, name, in_use, model)
            if baseline is not None and baseline.golden_sha256 != result.golden_sha256:
                baseline = None  # measured on another golden set
            result.baseline = baseline.over([c["id"] for c in result.per_case]) if baseline else None
            first = baseline is None and record and result.prompt_version == in_use
            result.passed, result.verdict = quality_verdict(result.metrics, result.baseline, tolerances, JUDGED_METRICS)
            if first and JUDGED_METRICS & result.metrics.keys():
                result.passed, result.verdict = True, ["first quality baseline of the version in use"]
            await store(settings, result)
            _print(result)
            if not result.passed:
                failed.append(result)
            elif record:
                kept = Baseline.of(name, result.prompt_version, result.golden_sha256, result.metrics, result.per_case)
                console.print(f"recorded {save_quality_baseline(root, kept, model)}")
        return failed

    failed = asyncio.run(main())
    if failed:
        raise fail("quality gate: rejected: " + ", ".join(r.label for r in failed))
    console.print("quality gate: passed")
