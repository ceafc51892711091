"""Run one golden case of a use case through the real product path and describe what came out.

`customer_reply` runs a shopper turn through the conversation graph; the structured use cases run the tool
that owns the prompt (summary, follow-up, next best action, SEO copy, photo brief) with its validators and
fallback. Each case
runs twice when a simulated model answers: first with no model, which gives the reference the sim is primed
with, then through the model.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.engine import DeterministicEngine, Pending, ShopVoice
from evals.cases import EvalCase
from evals.judged import STRUCTURED, Judge
from evals.metrics import Outcome
from evals.online import grade_reply
from evals.results import CaseTrace
from evals.sim_model import Primed, SimModel
from graphs.turns import Conversations, Speaker
from hub.audit.explain import ExplainError, explain
from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway, Validator
from hub.gateway.run import GenerationResult
from hub.prompting.outputs import (
    CrmCustomerSummary,
    CrmFollowupDraft,
    NextBestAction,
    PhotoBrief,
    ReplyJudge,
)
from hub.tenancy.config import TenantConfig
from tools import crm, photography, seo
from tools.context import Audience, ToolContext
from tools.validators import validate_reply


class RecordingGateway(Gateway):
    """The real gateway, keeping each call's result and how many model answers parsed against the schema."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self) -> None:
        """Forget earlier calls: the next case's outcome counts only its own."""
        self.results: list[GenerationResult[Any]] = []
        self.schema_ok = 0

    async def generate(self, ctx: CallContext, *, validators: Sequence[Validator[Any]] = (), **kwargs: Any) -> Any:
        def parsed(_: Any) -> list[str]:
            self.schema_ok += 1  # validators only run on an answer that parsed against the schema
            return []

        result = await super().generate(ctx, validators=[parsed, *validators], **kwargs)
        self.results.append(result)
        return result


@dataclass
class Env:
    """Everything a suite needs, on the fixture shop."""

    sessions: async_sessionmaker[AsyncSession]
    tenant_id: uuid.UUID
    config: TenantConfig
    """The fixture tenant's settings with the pins (and tenant models) under evaluation."""
    gateway: RecordingGateway
    """The gateway under evaluation: a configured model, the sim, or none."""
    reference: Gateway
    """A gateway with no model: the deterministic answer."""
    conversations: Conversations
    engine: DeterministicEngine
    sim: SimModel | None = None
    judge: Judge | None = None
    """Grade answers with a model through the gateway (a configured model only, never the sim)."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    traces: dict[str, CaseTrace] = field(default_factory=dict)
    """Case id → the turn's message, trace and explain view, for the report's links."""

    @property
    def model_configured(self) -> bool:
        return self.gateway.config.configured


Suite = Callable[[Env, EvalCase], Awaitable[Outcome]]


def _text(value: BaseModel, *names: str) -> str:
    data = value.model_dump(mode="json")
    parts = []
    for name in names:
        item = data.get(name)
        parts.extend(item if isinstance(item, list) else [item] if item else [])
    return "\n".join(map(str, parts))


def _model_outcome(env: Env, started: float, value: BaseModel, text: str, checks: list[str]) -> Outcome:
    results = env.gateway.results
    answers = sum(1 for r in results for rung in r.rungs if rung.step in ("answer", "invalid_output"))
    invalid = sum(1 for r in results for rung in r.rungs if rung.step == "invalid_output")
    engine = "llm" if results and all(r.engine == "llm" for r in results) else "deterministic"
    return Outcome(
        text=text,
        engine=engine,
        fields=value.model_dump(mode="json"),
        schema_valid=env.gateway.schema_ok >= answers,
        rule_problems=checks + ([f"{invalid} model answer(s) failed validation"] if invalid else []),
        latency_ms=(time.perf_counter() - started) * 1000,
        cost=sum((r.cost for r in results), Decimal(0)),
        input_tokens=sum(r.input_tokens for r in results),
    )


R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


async def _tool_case(
    env: Env,
    case: EvalCase,
    use_case: str,
    run: Callable[[ToolContext, Gateway, CallContext], Awaitable[R]],
    output: Callable[[R], BaseModel],
    text: Callable[[R], str],
    checks: Callable[[ToolContext, R], Awaitable[list[str]]] | None = None,
) -> Outcome:
    """Run a model-backed tool on one case; `checks` re-applies its business rules to the final answer."""
    call = CallContext(tenant_id=env.tenant_id, tenant=env.config)
    async with env.sessions() as session:
        ctx = ToolContext(
            session=session, tenant_id=env.tenant_id, audience=Audience.OPERATOR, channel=m.Channel.CONSOLE
        )
        reference: dict[str, Any] | None = None
        if (
            env.sim is not None or env.judge is not None
        ):  # the deterministic answer: the sim's script, the judge's facts
            reference = output(await run(ctx, env.reference, call)).model_dump(mode="json")
        if env.sim is not None:
            env.sim.prime(use_case, Primed(value=reference))
        env.gateway.reset()
        started = time.perf_counter()
        result = await run(ctx, env.gateway, replace(call, request_id=uuid.uuid4().hex))
        problems = await checks(ctx, result) if checks else []
        outcome = _model_outcome(env, started, output(result), text(result), problems)
        await session.rollback()  # drafts and the like are not kept between cases
    if env.judge is not None and use_case in STRUCTURED:
        outcome.judged = await env.judge.rubric(use_case, case.input, outcome.text, reference)
    return outcome


async def customer_reply(env: Env, case: EvalCase) -> Outcome:
    message = str(case.input["message"])
    async with env.sessions() as session:
        shop = await session.get(m.Tenant, env.tenant_id)
        assert shop is not None
        under_test = env.config.model_dump(mode="json", include={"prompt_pins", "price_overrides", "ai_enabled"})
        # the turn reads the version under test from a copy: the shop's row stays as it is
        tenant = m.Tenant(
            id=shop.id, slug=shop.slug, name=shop.name, active=shop.active, settings={**shop.settings, **under_test}
        )
        if env.sim is not None:
            ctx = ToolContext(session=session, tenant_id=tenant.id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
            turn = await env.engine.answer(ctx, message, pending=Pending(), voice=ShopVoice(name=tenant.name))
            calls = [(name, to_jsonable_python(args)) for name, args in zip(turn.tools, turn.args, strict=True)]
            env.sim.prime("customer_reply", Primed(calls=calls, text=turn.reply))
        speaker = Speaker(
            audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=f"eval-{env.run_id}-{case.id}"
        )
        await session.commit()  # end the reads: the turn writes through sessions of its own, then into this one
        started = time.perf_counter()
        out = await env.conversations.turn(
            session=session, tenant=tenant, speaker=speaker, text=message, request_id=uuid.uuid4().hex
        )
        latency = (time.perf_counter() - started) * 1000
        data = (
            await session.execute(select(m.AuditEvent.data).where(m.AuditEvent.subject == str(out.message_id)))
        ).scalar_one()
        try:
            explained = (await explain(session, out.message_id, tenant_id=env.tenant_id)).markdown()
        except ExplainError as exc:
            explained = f"No explanation: {exc}."
        env.traces[case.id] = CaseTrace(message_id=str(out.message_id), trace_id=out.trace_id, explain=explained)
        await session.rollback()
    calls = data["tools"]
    outputs = [c["result"] for c in calls if c["status"] == "ok" and c.get("result")]
    contexts = [
        p["text"] for c in calls if c["tool"] == "policy_answer" and c.get("result") for p in c["result"]["passages"]
    ]
    steps = [r["step"] for r in data["rungs"]]
    problems = validate_reply(out.reply, tool_outputs=outputs, channel=m.Channel.WEB, language=out.language)
    if data.get("validation"):
        problems.append(f"the model's draft failed validation: {'; '.join(data['validation'])}")
    outcome = Outcome(
        text=out.reply,
        engine=out.engine,
        schema_valid="invalid_output" not in steps,
        rule_problems=problems,
        intent=out.intent.value,
        tools=out.tools,
        contexts=contexts,
        latency_ms=latency,
        cost=Decimal(data["cost"]),
        input_tokens=data.get("input_tokens", 0),
        language=out.language,
    )
    if env.judge is not None:
        verdict = await judge_reply(env, message, out.reply, calls, problems)
        outcome.judged = {"judge_score": verdict.score, "judge_grounded": float(verdict.grounded)}
        evidence = [json.dumps(o, ensure_ascii=False, default=str) for o in outputs if o.get("passages") is None]
        outcome.judged |= await env.judge.reply(message, out.reply, evidence + contexts)
    return outcome


async def judge_reply(
    env: Env, message: str, reply: str, calls: list[dict[str, Any]], problems: list[str]
) -> ReplyJudge:
    """Have the configured model grade the reply against the turn's evidence (the grader production sampling uses)."""
    call = CallContext(tenant_id=env.tenant_id, tenant=env.config)
    verdict, _ = await grade_reply(env.gateway, call, message, reply, calls, problems)
    return verdict


async def crm_customer_summary(env: Env, case: EvalCase) -> Outcome:
    args = crm.CustomerRef(customer=str(case.input["customer"]))

    async def run(ctx: ToolContext, gateway: Gateway, call: CallContext) -> BaseModel:
        return await crm.summarize_customer(ctx, args, gateway=gateway, call=call)

    return await _tool_case(
        env,
        case,
        "crm_customer_summary",
        run,
        lambda r: _as(r, CrmCustomerSummary),
        lambda r: _text(r, "summary", "key_facts", "open_issues", "suggested_next_step"),
    )


async def crm_followup_draft(env: Env, case: EvalCase) -> Outcome:
    args = crm.DraftFollowupInput.model_validate(case.input)

    async def run(ctx: ToolContext, gateway: Gateway, call: CallContext) -> BaseModel:
        return await crm.draft_followup(ctx, args, gateway=gateway, call=call)

    return await _tool_case(
        env, case, "crm_followup_draft", run, lambda r: _as(r, CrmFollowupDraft), lambda r: _text(r, "subject", "body")
    )


async def next_best_action(env: Env, case: EvalCase) -> Outcome:
    args = crm.CustomerRef(customer=str(case.input["customer"]))

    async def run(ctx: ToolContext, gateway: Gateway, call: CallContext) -> BaseModel:
        return await crm.next_best_action(ctx, args, gateway=gateway, call=call)

    return await _tool_case(
        env, case, "next_best_action", run, lambda r: _as(r, NextBestAction), lambda r: _text(r, "action", "reason")
    )


async def seo_product_copy(env: Env, case: EvalCase) -> Outcome:
    args = seo.SeoCopyInput.model_validate(case.input)

    async def run(ctx: ToolContext, gateway: Gateway, call: CallContext) -> seo.ContentDraftResult:
        return await seo.seo_copy(ctx, args, gateway=gateway, call=call)

    async def checks(ctx: ToolContext, result: BaseModel) -> list[str]:
        assert isinstance(result, seo.ContentDraftResult)
        product = await ctx.data.products.by_sku(args.sku)
        return seo.check_seo_copy(result.content, product) if product is not None else []

    return await _tool_case(
        env,
        case,
        "seo_product_copy",
        run,
        lambda r: r.content,
        lambda r: _text(r.content, "title", "meta_description", "description", "keywords", "image_alt_text"),
        checks,
    )


async def photo_brief(env: Env, case: EvalCase) -> Outcome:
    args = photography.PhotoBriefInput.model_validate(case.input)

    async def run(ctx: ToolContext, gateway: Gateway, call: CallContext) -> BaseModel:
        return await photography.draft_photo_brief(ctx, args, gateway=gateway, call=call)

    async def checks(ctx: ToolContext, result: BaseModel) -> list[str]:
        return photography.check_photo_brief(_as(result, PhotoBrief), args.request)

    return await _tool_case(
        env,
        case,
        "photo_brief",
        run,
        lambda r: _as(r, PhotoBrief),
        lambda r: _text(r, "scene", "background", "style_notes"),
        checks,
    )


def _as(value: BaseModel, model: type[M]) -> M:
    """The prompt's output object inside a tool result (the result carries it plus ids and engine)."""
    return model.model_validate(value.model_dump(include=set(model.model_fields)))


SUITES: dict[str, Suite] = {
    "customer_reply": customer_reply,
    "crm_customer_summary": crm_customer_summary,
    "crm_followup_draft": crm_followup_draft,
    "next_best_action": next_best_action,
    "seo_product_copy": seo_product_copy,
    "photo_brief": photo_brief,
}
