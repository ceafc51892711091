"""Which prompt × model pairs in use have a current eval run on the model that serves them.

A use case's eval is current only for the pair it ran on: the prompt version in use (the default pin, or a shop's
own pin) and the model in use (the first of its chain: the feature's `HUB_LLM_MODELS` entry, else the prompt's
`model` hint, else `HUB_LLM_MODEL`; shops pin prompt versions but cannot choose models). A current run is an
`eval_runs` row of the configured model (`mode` llm) for that use case, version and model, over the whole of the
use case's current golden set (same sha256; a `--limit` run is partial and proves nothing). A new snapshot name in
`HUB_LLM_MODELS`, a new pin or a changed golden set leaves the pair without one until `hub eval run --stale` runs it.

`hub status`, the console's `/status` and `hub eval run --stale` all read this one function. The golden sets live
in `evals/`; callers pass their hashes (`evals.cases.golden_hashes()`), so this module needs nothing from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.gateway.config import GatewayConfig
from hub.prompting.registry import PromptError, PromptRegistry
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.tenancy.pins import serving_model

DEFAULTS = "default pins"
"""`used_by` entry for the default pins (prompts/pins.toml), beside shop slugs."""


class EvalCoverage(BaseModel):
    """One prompt × model pair in use, and the run that evaluated it there (if any)."""

    use_case: str
    prompt_version: str
    model: str
    used_by: list[str]
    """`default pins` and/or the slugs of shops whose own pins select this version."""
    run_id: uuid.UUID | None = None
    """The latest complete llm run of this pair on the current golden set; None: the pair is stale."""
    run_at: datetime | None = None
    passed: bool | None = None

    @property
    def current(self) -> bool:
        return self.run_id is not None

    @property
    def label(self) -> str:
        return f"{self.use_case}@{self.prompt_version} × {self.model}"


async def eval_coverage(
    session: AsyncSession,
    settings: Settings,
    prompts: PromptRegistry,
    golden: Mapping[str, str],
    tenant_id: uuid.UUID | None = None,
) -> list[EvalCoverage]:
    """Every prompt × model pair served for the use cases in `golden` (use case → golden set sha256), with its
    current run or none; `tenant_id` narrows it to the pairs that shop is served by. Empty when no model is
    configured: the deterministic engine answers, and there is no model to evaluate on."""
    config = GatewayConfig.from_settings(settings)
    if not config.configured:
        return []
    stmt = select(m.Tenant).order_by(m.Tenant.slug)
    if tenant_id is not None:
        stmt = stmt.where(m.Tenant.id == tenant_id)
    else:
        stmt = stmt.where(m.Tenant.active.is_(True))
    servings: list[tuple[str, dict[str, str]]] = [] if tenant_id is not None else [(DEFAULTS, {})]
    for shop in (await session.execute(stmt)).scalars():
        pins = TenantConfig.model_validate(shop.settings or {}).prompt_pins
        if pins or tenant_id is not None:
            servings.append((shop.slug, pins))
    pairs: dict[tuple[str, str, str], list[str]] = {}
    for who, pins in servings:
        for use_case in sorted(golden):
            try:
                prompt = prompts.resolve(use_case, pins)
            except PromptError:  # a pin that selects nothing serves nothing; `hub prompts` reports it
                continue
            model = serving_model(config, prompt)
            if model is not None:
                pairs.setdefault((use_case, prompt.version, model), []).append(who)
    if not pairs:
        return []
    rows = await session.execute(
        select(m.EvalRun)
        .where(
            m.EvalRun.mode == "llm",
            m.EvalRun.use_case.in_(sorted(golden)),
            m.EvalRun.golden_cases.is_not(None),
            m.EvalRun.cases >= m.EvalRun.golden_cases,
        )
        .order_by(m.EvalRun.finished_at.desc())
    )
    latest: dict[tuple[str, str, str], m.EvalRun] = {}
    for run in rows.scalars():
        if run.model is not None and run.golden_sha256 == golden.get(run.use_case):
            latest.setdefault((run.use_case, run.prompt_version, run.model), run)
    coverage: list[EvalCoverage] = []
    for (use_case, version, model), used_by in sorted(pairs.items()):
        run = latest.get((use_case, version, model))
        coverage.append(
            EvalCoverage(
                use_case=use_case,
                prompt_version=version,
                model=model,
                used_by=used_by,
                run_id=run.id if run else None,
                run_at=run.finished_at if run else None,
                passed=run.passed if run else None,
            )
        )
    return coverage


def stale(coverage: list[EvalCoverage]) -> list[EvalCoverage]:
    """The pairs with no current run."""
    return [c for c in coverage if not c.current]
