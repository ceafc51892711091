"""Pin a tenant to exact prompt versions: the one eval-gate rule `hub prompts pin` and `PATCH /v1/tenant` apply.

A tenant may move a use case to another released version only with evidence that the version works for it: a
passing eval run for that tenant and version, over the whole golden set (a `--limit` run is partial), under the
model the tenant is served by when one is configured, and then a quality run (a judge model graded its answers:
`hub eval gate --quality` or `hub eval run` with a model), else under the simulated model CI uses. Without evidence the
pin is refused unless the caller forces it with a reason, which the audit trail keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.gateway.config import GatewayConfig
from hub.prompting.registry import Prompt, PromptRegistry

JUDGED_METRICS = frozenset(
    {"judge_score", "judge_grounded", "faithfulness", "answer_relevancy", "rubric_score", "rubric_grounded"}
)
"""Metrics a judge model gives (evals/judged.py): a run that has any of them is a quality run."""


class PinRefused(Exception):
    """A pin without evidence and without a forced reason; the message says which run would do (the caller adds
    how to force it, in its own terms)."""


@dataclass(frozen=True, slots=True)
class PinChange:
    use_case: str
    version: str
    previous: str | None
    """The tenant's pin before, or None for the default pin."""
    eval_run: uuid.UUID | None
    """The evidence; None when the pin was forced."""


def serving_model(models: GatewayConfig, prompt: Prompt) -> str | None:
    """The model a tenant's calls for this prompt go to first, or None when no model is configured."""
    chain = models.chain(prompt.use_case, prompt.model)
    return chain[0] if chain else None


async def eval_evidence(
    session: AsyncSession, prompt: Prompt, tenant_id: uuid.UUID, *, model: str | None
) -> m.EvalRun | None:
    """The latest passing eval run of `prompt` for this tenant over its whole golden set: against `model` when the
    tenant is served by one, else under any model (the simulated one included), never the deterministic engine."""
    stmt = select(m.EvalRun).where(
        m.EvalRun.use_case == prompt.use_case,
        m.EvalRun.prompt_version == prompt.version,
        m.EvalRun.tenant_id == tenant_id,
        m.EvalRun.passed.is_(True),
        m.EvalRun.golden_cases.is_not(None),
        m.EvalRun.cases >= m.EvalRun.golden_cases,
    )
    if model is None:
        stmt = stmt.where(m.EvalRun.mode != "deterministic")
        found = await session.execute(stmt.order_by(m.EvalRun.finished_at.desc()).limit(1))
        return found.scalar_one_or_none()
    # Served by a model: only a quality run counts, one whose answers a judge model graded.
    stmt = stmt.where(m.EvalRun.mode == "llm", m.EvalRun.model == model)
    for run in (await session.execute(stmt.order_by(m.EvalRun.finished_at.desc()).limit(50))).scalars():
        if JUDGED_METRICS & run.metrics.keys():
            return run
    return None


async def _why_not(session: AsyncSession, prompt: Prompt, tenant: m.Tenant, *, model: str | None) -> str:
    """Say what is missing, naming the run that would do (and what is wrong with the nearest one there is)."""
    command = f"`hub eval run --use-case {prompt.use_case} --prompt-version {prompt.version} --tenant {tenant.slug}"
    command += f" --model {model}`" if model else " --sim`"
    latest = (
        await session.execute(
            select(m.EvalRun)
            .where(
                m.EvalRun.use_case == prompt.use_case,
                m.EvalRun.prompt_version == prompt.version,
                m.EvalRun.tenant_id == tenant.id,
                m.EvalRun.passed.is_(True),
            )
            .order_by(m.EvalRun.finished_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    nearest = ""
    if latest is not None:
        if latest.golden_cases is None:
            nearest = f" (its latest passing run, {latest.id}, does not record whether it ran the whole set)"
        elif latest.cases < latest.golden_cases:
            nearest = f" (its latest passing run, {latest.id}, ran {latest.cases} of {latest.golden_cases} cases)"
        elif model is not None and (latest.mode != "llm" or latest.model != model):
            ran = "the simulated model" if latest.mode == "sim" else latest.model or latest.mode
            nearest = f" (its latest passing run, {latest.id}, ran under {ran}, not {model})"
        elif latest.mode == "deterministic":
            nearest = f" (its latest passing run, {latest.id}, ran without a model)"
        elif model is not None and not JUDGED_METRICS & latest.metrics.keys():
            nearest = f" (its latest passing run, {latest.id}, has no judged scores: no judge model graded it)"
    against = f" against {model}" if model else ""
    kind = "quality run (judged by a model)" if model else "eval run"
    if model:
        command += (
            f" or `hub eval gate --quality --use-case {prompt.use_case} --prompt-version {prompt.version}"
            f" --tenant {tenant.slug}`"
        )
    return (
        f"{prompt.ref} has no passing {kind} for tenant {tenant.slug} over its whole golden set{against}{nearest}: "
        f"run {command} first"
    )


async def approve_pins(
    session: AsyncSession,
    tenant: m.Tenant,
    pins: Mapping[str, str],
    *,
    current: Mapping[str, str],
    prompts: PromptRegistry,
    models: GatewayConfig,
    actor: str,
    force: str | None = None,
) -> list[PinChange]:
    """Approve the tenant's new `pins` (use case → exact version) against its `current` ones, and audit each change.

    A pin that changes needs eval evidence, or `force` (a reason). Raises `PromptError` for a version that is not
    released and `PinRefused` for one without evidence, before anything is audited; otherwise each change is
    audited (`prompt.pinned`, or `prompt.pinned_without_eval` with the reason) and the caller stores the pins and
    commits. Dropping a pin (back to the default, which passed the CI gate) needs nothing.
    """
    prompts.check_pins(pins)
    approved: list[tuple[Prompt, PinChange, str | None]] = []
    for use_case, version in sorted(pins.items()):
        previous = current.get(use_case)
        if previous == version:
            continue
        prompt = prompts.get(use_case, version)
        model = serving_model(models, prompt)
        evidence = await eval_evidence(session, prompt, tenant.id, model=model)
        if evidence is None and force is None:
            raise PinRefused(await _why_not(session, prompt, tenant, model=model))
        approved.append((prompt, PinChange(use_case, version, previous, evidence.id if evidence else None), model))
    for prompt, change, model in approved:
        await record(
            session,
            actor=actor,
            action="prompt.pinned" if change.eval_run is not None else "prompt.pinned_without_eval",
            tenant_id=tenant.id,
            subject=prompt.ref,
            data={
                "use_case": change.use_case,
                "version": change.version,
                "previous": change.previous,
                "sha256": prompt.sha256,
                "eval_run": str(change.eval_run) if change.eval_run is not None else None,
                "model": model,
                "forced": force,
            },
        )
    return [change for _, change, _ in approved]
