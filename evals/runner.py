"""Run eval suites on a fresh copy of the fixture shop, score them, judge them against baselines, keep them.

Each run builds the demo shop in a throwaway SQLite database (no photos), a gateway with the prompt version
under test pinned, and the conversation graph; then runs every case of the use case's golden set, with a
progress bar, scores it (business metrics, ragas' offline metrics and, with a
configured model, judged metrics through the gateway: see evals/judged.py), compares the suite's scores with the
predecessor version's baseline, stores the run in the service database (`eval_runs`) and writes a markdown and
an HTML report under `<data dir>/evals/<run id>/`.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.engine import DeterministicEngine
from evals.cases import golden_sha256, load_cases
from evals.gate import Baseline, Tolerances, predecessor, verdict
from evals.judged import JUDGE_FEATURE, Judge
from evals.llm_server import ScriptedLLMServer
from evals.metrics import RagasScorer, business_scores, summarise
from evals.report import write_reports
from evals.results import RunResult, RunSpec
from evals.sim_model import SimModel
from evals.suites import SUITES, Env, RecordingGateway
from graphs.checkpoint import open_checkpointer
from graphs.conversation import build_graph
from graphs.turns import Conversations
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.gateway.config import GatewayConfig
from hub.gateway.context import CallContext
from hub.gateway.factory import load_prompts
from hub.gateway.gateway import Gateway
from hub.gateway.ledger import UsageLedger
from hub.redis_conn import EmbeddedRedis, create_redis
from hub.seed.demo import seed_demo
from hub.settings import Settings
from hub.tenancy.config import ModelPrice, TenantConfig

SIM_MODEL = "hub-sim"
SIM_PRICE = ModelPrice(input=Decimal("0.15"), output=Decimal("0.60"))


Progress = Callable[[int, int, str], None]


@asynccontextmanager
async def _fixture(
    settings: Settings, workdir: Path
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], uuid.UUID]]:
    engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'fixture.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        creds = await seed_demo(session, Settings(data_dir=workdir, secret_key=settings.secret_key), images=False)
        await session.commit()
    try:
        yield sessions, uuid.UUID(creds.tenant_id)
    finally:
        await engine.dispose()


async def run_suite(settings: Settings, spec: RunSpec, *, progress: Progress | None = None) -> RunResult:
    """Run one use case's suite and return its scores and verdict (not yet stored; see `store`)."""
    golden = load_cases(spec.use_case)
    cases = golden[: spec.limit]
    registry = load_prompts(settings).for_evals()
    started = datetime.now(UTC)
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-eval-")))
        llm = settings
        if spec.sim:
            sim = SimModel()
            server = stack.enter_context(ScriptedLLMServer(default=sim.step()))
            llm = settings.model_copy(
                update={
                    "llm_base_url": server.base_url,
                    "llm_api_key": SecretStr("sim"),
                    "llm_model": SIM_MODEL,
                    "llm_models": {},
                }
            )
        else:
            sim = None
        if spec.model:
            llm = llm.model_copy(update={"llm_model": spec.model, "llm_models": {}})
        if settings.eval_judge_model and not spec.sim:
            llm = llm.model_copy(update={"llm_models": {**llm.llm_models, JUDGE_FEATURE: [settings.eval_judge_model]}})
        redis_url = settings.redis_url or stack.enter_context(EmbeddedRedis(workdir / "data")).url
        redis = create_redis(redis_url)
        stack.push_async_callback(redis.aclose)
        sessions, tenant_id = await stack.enter_async_context(_fixture(settings, workdir))
        ledger = UsageLedger(sessions, redis, flush_interval_s=0.5, spill_dir=workdir / "spill")
        ledger.start()
        config = GatewayConfig.from_settings(llm)
        gateway = RecordingGateway(config, redis=redis, ledger=ledger, prompts=registry)
        reference = Gateway(GatewayConfig(), redis=redis, ledger=ledger, prompts=registry)
        stack.push_async_callback(reference.aclose)
        stack.push_async_callback(gateway.aclose)
        tenant_config = TenantConfig.model_validate(spec.tenant.settings if spec.tenant else {})
        async with sessions() as session:
            fixture_tenant = await session.get(m.Tenant, tenant_id)
            assert fixture_tenant is not None
            fixture_config = TenantConfig.model_validate(fixture_tenant.settings)
        pins = dict(tenant_config.prompt_pins)
        if spec.prompt_version:
            pins[spec.use_case] = spec.prompt_version
        prices = dict(tenant_config.price_overrides)
        if spec.sim:  # priced like a small hosted model, so re-asks and retries show up as cost
            prices[SIM_MODEL] = SIM_PRICE
        config_under_test = fixture_config.model_copy(
            update={"prompt_pins": pins, "ai_enabled": tenant_config.ai_enabled, "price_overrides": prices}
        )
        prompt = registry.resolve(spec.use_case, pins)
        version = prompt.version
        saver = await stack.enter_async_context(
            open_checkpointer(f"sqlite+aiosqlite:///{workdir / 'fixture.db'}", workdir)
        )
        engine = DeterministicEngine()
        env = Env(
            sessions=sessions,
            tenant_id=tenant_id,
            config=config_under_test,
            gateway=gateway,
            reference=reference,
            conversations=Conversations(build_graph(saver), gateway, engine, sessions),
            engine=engine,
            sim=sim,
            judge=Judge(gateway, CallContext(tenant_id=tenant_id, tenant=config_under_test))
            if config.configured and not spec.sim
            else None,
        )
        suite = SUITES[spec.use_case]
        scorer = RagasScorer()
        per_case: list[dict[str, Any]] = []
        for done, case in enumerate(cases, 1):
            outcome = await suite(env, case)
            scores = business_scores(case, outcome, model_configured=config.configured)
            scores |= await scorer.score(case, outcome)
            per_case.append(
                {
                    "id": case.id,
                    "language": case.expect.language,
                    "intent": case.expect.intent,
                    "engine": outcome.engine,
                    "scores": scores,
                    "answer": outcome.text[:1000],
                    "problems": outcome.rule_problems,
                }
            )
            if trace := env.traces.get(case.id):
                per_case[-1] |= {"message_id": trace.message_id, "trace_id": trace.trace_id}
            if progress:
                progress(done, len(cases), case.id)
        await ledger.flush()
        async with sessions() as session:  # the run's usage ledger, per feature: the answers' and the judge's
            rows = await session.execute(
                select(m.UsageRecord.feature, func.count(), func.sum(m.UsageRecord.cost)).group_by(
                    m.UsageRecord.feature
                )
            )
            usage = {feature: {"calls": float(calls), "cost_usd": float(cost or 0)} for feature, calls, cost in rows}
    metrics = summarise(c["scores"] for c in per_case)
    mode = "sim" if spec.sim else "llm" if config.configured else "deterministic"
    return RunResult(
        id=uuid.uuid4(),
        spec=spec,
        mode=mode,
        prompt_version=version,
        model=(config.chain(spec.use_case, prompt.model) or [None])[0],  # first in the chain, as the gateway asks
        metrics=metrics,
        per_case=per_case,
        golden_sha256=golden_sha256(spec.use_case),
        started_at=started,
        finished_at=datetime.now(UTC),
        cases=cases,
        golden_cases=len(golden),
        usage=usage,
        traces=dict(env.traces),
    )


def judge(result: RunResult, baseline: Baseline | None) -> RunResult:
    """Pass or fail the run against a baseline (the predecessor's), with reasons."""
    result.baseline = baseline.over([c["id"] for c in result.per_case]) if baseline else None
    result.passed, result.verdict = verdict(
        result.metrics, result.baseline, Tolerances.load(), model_path=result.mode != "deterministic"
    )
    return result


def stored_baseline(use_case: str, version: str, versions: list[str], *, own: bool = True) -> Baseline | None:
    """The nearest lower version's committed baseline on the current golden set; else (with `own`) the
    version's own, so re-running a released version shows whether code or data changes moved its scores."""
    current = golden_sha256(use_case)
    remaining = [v for v in versions if v != version]
    while (before := predecessor(remaining, version)) is not None:
        baseline = Baseline.load(use_case, before)
        if baseline is not None and baseline.golden_sha256 == current:
            return baseline
        remaining.remove(before)
    baseline = Baseline.load(use_case, version) if own else None
    return baseline if baseline is not None and baseline.golden_sha256 == current else None


async def store(settings: Settings, result: RunResult) -> RunResult:
    """Write the reports and keep the run in the service database's history."""
    result.report_dir = write_reports(result, settings.data_dir / "evals" / str(result.id))
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            session.add(
                m.EvalRun(
                    id=result.id,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                    use_case=result.spec.use_case,
                    prompt_version=result.prompt_version,
                    mode=result.mode,
                    model=result.model,
                    tenant_id=result.spec.tenant.id if result.spec.tenant else None,
                    golden_sha256=result.golden_sha256,
                    cases=len(result.per_case),
                    golden_cases=result.golden_cases,
                    metrics=result.metrics,
                    per_case=result.per_case,
                    passed=result.passed,
                    verdict=result.verdict,
                    report_dir=str(result.report_dir),
                )
            )
            await session.commit()
    finally:
        await engine.dispose()
    return result
