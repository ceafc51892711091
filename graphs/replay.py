"""Replay a recorded turn against another prompt version or model, and show what would have changed.

The turn's input, the conversation before it and every tool output come from the stored trace and messages;
tool calls are answered from that recording (`RecordedTools`), so a replay never touches the shop's data or
the outside world, and everything the graph writes is rolled back. Model calls are real: they go through the
gateway, are billed to the shop with `usage.replay_of` set, and the replay keeps its own trace (root span
`chat.replay`) that `hub explain` reads like any other.
"""

from __future__ import annotations

import difflib
import json
import tempfile
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.engine import DeterministicEngine
from graphs.conversation import (
    PROMPT_HISTORY_MESSAGES,
    STEP_LIMIT,
    RecordedTools,
    ToolOutcome,
    TurnState,
    build_graph,
    new_turn,
)
from graphs.turns import PROMPTS, Conversations, Speaker, agent_prompt
from hub.audit.events import record
from hub.audit.explain import ExplainError, trace_spans
from hub.audit.trace import Trace
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.gateway.context import CallContext
from hub.gateway.factory import build_gateway
from hub.redis_conn import EmbeddedRedis, create_redis, running_redis_url
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from tools.context import Audience, shared_session

MAX_RESUMES = 8
"""Confirmations a replayed operator turn may pass through before the replay stops."""


class ReplayError(LookupError):
    """The message cannot be replayed: unknown, not a bot answer, or no trace recorded."""


class Side(BaseModel):
    """One side of the comparison: what the original turn or the replay produced."""

    prompt: str | None
    models: list[str]
    engine: str | None
    reply: str
    tools: list[str]
    """Tool calls as `name(args)`, in order."""
    validation: list[str]
    fallback_reason: str | None


class ReplayResult(BaseModel):
    message_id: uuid.UUID
    trace_id: str
    """The replay's own trace."""
    original: Side
    replay: Side
    reply_diff: str
    """Unified diff of the two replies; empty when they are equal."""
    cost: Decimal
    """What the replay's model calls cost, billed to the shop and marked as a replay."""

    @property
    def changed(self) -> bool:
        return (
            self.original.reply != self.replay.reply
            or self.original.tools != self.replay.tools
            or self.original.validation != self.replay.validation
        )

    def render(self) -> str:
        o, r = self.original, self.replay
        lines = [
            f"Replay of message {self.message_id} (trace {self.trace_id}, cost {self.cost} USD)",
            f"  prompt:     {o.prompt} → {r.prompt}",
            f"  models:     {', '.join(o.models) or '-'} → {', '.join(r.models) or '-'}",
            f"  engine:     {o.engine} → {r.engine}",
            f"  tools:      {', '.join(o.tools) or '-'} → {', '.join(r.tools) or '-'}",
            f"  validation: {'; '.join(o.validation) or 'passed'} → {'; '.join(r.validation) or 'passed'}",
        ]
        if o.fallback_reason or r.fallback_reason:
            lines.append(f"  fallback:   {o.fallback_reason or '-'} → {r.fallback_reason or '-'}")
        lines += ["", "reply:", self.reply_diff or "  (unchanged)"]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Recording:
    message: m.Message
    tenant: m.Tenant
    speaker: Speaker
    text: str
    history: list[AnyMessage]
    original: Side
    outcomes: list[ToolOutcome]


def _call(outcome: ToolOutcome) -> str:
    return f"{outcome.tool}({json.dumps(outcome.args, sort_keys=True, ensure_ascii=False, default=str)})"


async def _recording(session: AsyncSession, message_id: uuid.UUID, tenant_id: uuid.UUID | None) -> _Recording:
    message = await session.get(m.Message, message_id)
    if message is None or (tenant_id is not None and message.tenant_id != tenant_id):
        raise ReplayError(f"no message {message_id}" + (" in this shop" if tenant_id else ""))
    if message.role != "assistant" or not message.trace_id:
        raise ReplayError(f"message {message_id} is not a bot answer with a trace; replay the answer's id")
    spans = await trace_spans(session, message.tenant_id, message.trace_id)
    root = next((s for s in spans if s.parent_span_id is None), None)
    if root is None:
        raise ReplayError(f"no trace is stored for message {message_id} (recorded before tracing, or purged)")
    if root.name != "chat.turn" or root.attributes.get("held_by_human"):
        raise ReplayError(f"message {message_id} did not come from a model turn ({root.name}); nothing to replay")
    a = root.attributes
    tenant = await session.get(m.Tenant, message.tenant_id)
    assert tenant is not None
    audience = Audience(a["audience"])
    operator = customer = None
    if a.get("operator"):
        operator = (
            await session.execute(
                select(m.Operator).where(m.Operator.tenant_id == tenant.id, m.Operator.email == a["operator"])
            )
        ).scalar_one_or_none()
    if a.get("customer_id"):
        customer = await session.get(m.Customer, uuid.UUID(a["customer_id"]))
    speaker = Speaker(
        audience=audience,
        channel=m.Channel(a["channel"]),
        external_ref=a["external_ref"],
        customer_id=customer.id if customer else None,
        customer_email=customer.email if customer else None,
        customer_phone=customer.phone if customer else None,
        operator=operator,
    )
    inbound = await session.get(m.Message, uuid.UUID(a["inbound_message_id"])) if a.get("inbound_message_id") else None
    before = inbound.created_at if inbound is not None else message.created_at
    earlier = (
        await session.execute(
            select(m.Message)
            .where(m.Message.conversation_id == message.conversation_id, m.Message.created_at < before)
            .order_by(m.Message.created_at.desc())
            .limit(PROMPT_HISTORY_MESSAGES)
        )
    ).scalars()
    history: list[AnyMessage] = [
        AIMessage(e.content) if e.role == "assistant" else HumanMessage(e.content) for e in reversed(list(earlier))
    ]
    outcomes = [
        ToolOutcome(
            tool=s.attributes.get("tool", s.name.removeprefix("tool ")),
            args=s.attributes.get("args", {}),
            status=s.attributes.get("outcome", "ok"),
            result=s.attributes.get("result"),
            detail=s.attributes.get("status_detail"),
        )
        for s in spans
        if s.kind == "tool"
    ]
    original = Side(
        prompt=a.get("prompt"),
        models=list(
            dict.fromkeys(
                s.attributes["model"] for s in spans if s.kind == "attempt" and s.attributes.get("outcome") == "ok"
            )
        ),
        engine=a.get("engine"),
        reply=message.content,
        tools=[_call(o) for o in outcomes],
        validation=[p for s in spans if s.kind == "validate" for p in s.attributes.get("problems", [])],
        fallback_reason=a.get("fallback_reason"),
    )
    return _Recording(message, tenant, speaker, a.get("input", ""), history, original, outcomes)


async def replay_message(
    conversations: Conversations,
    sessions: async_sessionmaker[AsyncSession],
    message_id: uuid.UUID,
    *,
    prompt_version: str,
    model: str | None = None,
    tenant_id: uuid.UUID | None = None,
    actor: str = "cli",
) -> ReplayResult:
    """Re-run a recorded turn with `prompt_version` (and `model`), tools answered from the recording."""
    async with sessions() as session:
        try:
            rec = await _recording(session, message_id, tenant_id)
        except ExplainError as exc:
            raise ReplayError(str(exc)) from None
        answer_id, tenant_pk = rec.message.id, rec.tenant.id  # the rollback below expires the rows
        use_case = PROMPTS[rec.speaker.audience]
        agent_prompt(conversations.gateway.prompts, use_case, prompt_version)  # fails before any model call
        trace = Trace(rec.tenant.id)
        root = trace.start(
            "chat.replay",
            "replay",
            replay_of=str(rec.message.id),
            original_trace_id=rec.message.trace_id,
            channel=rec.speaker.channel.value,
            audience=rec.speaker.audience.value,
            input=rec.text,
            model=model,
            actor=actor,
        )
        config = TenantConfig.model_validate(rec.tenant.settings)
        call = CallContext(
            tenant_id=rec.tenant.id,
            tenant=config,
            request_id=f"replay-{uuid.uuid4().hex[:12]}",
            trace_id=trace.trace_id,
            trace=trace,
            replay_of=str(rec.message.id),
        )
        scope = replace(conversations.tool_scope(rec.tenant, rec.speaker), opener=shared_session(session), commit=False)
        deps = conversations.turn_deps(
            scope, rec.tenant, rec.speaker, call, prompt_version=prompt_version, models=[model] if model else None
        )
        deps.recorded = RecordedTools(rec.outcomes)
        root.set(prompt=deps.prompt.ref, prompt_sha256=deps.prompt.sha256)
        graph = build_graph(InMemorySaver())
        run_config: RunnableConfig = {
            "configurable": {"thread_id": f"replay-{uuid.uuid4().hex}"},
            "recursion_limit": STEP_LIMIT,
        }
        rejected = {o.tool for o in rec.outcomes if o.status == "rejected"}
        graph_input: TurnState | Command = new_turn(rec.text, messages=rec.history)
        try:
            with trace.activate(root):
                for _ in range(MAX_RESUMES):
                    await graph.ainvoke(graph_input, run_config, context=deps)
                    snapshot = await graph.aget_state(run_config)
                    if not snapshot.interrupts:
                        break
                    asked = snapshot.interrupts[0].value
                    graph_input = Command(
                        resume={"approved": asked["tool"] not in rejected, "by": "replay", "note": "as in the original"}
                    )
            state = (await graph.aget_state(run_config)).values
        finally:
            await session.rollback()  # nothing the replayed turn did stays, whatever it did
    calls = [ToolOutcome.model_validate(c) for c in state.get("calls", [])]
    replay = Side(
        prompt=deps.prompt.ref,
        models=list(dict.fromkeys(r["model"] for r in state.get("rungs", []) if r["step"] == "answer" and r["model"])),
        engine=state.get("engine"),
        reply=state.get("reply", ""),
        tools=[_call(o) for o in [*(ToolOutcome.model_validate(c) for c in state.get("abandoned", [])), *calls]],
        validation=[p for s in trace.spans if s.kind == "validate" for p in s.attributes.get("problems", [])],
        fallback_reason=state.get("fallback_reason"),
    )
    cost = Decimal(state.get("cost", "0"))
    root.finish(reply=replay.reply, engine=replay.engine, tools=replay.tools, cost=str(cost))
    diff = "\n".join(
        difflib.unified_diff(
            rec.original.reply.splitlines(), replay.reply.splitlines(), "original", "replay", lineterm=""
        )
    )
    result = ReplayResult(
        message_id=answer_id,
        trace_id=trace.trace_id,
        original=rec.original,
        replay=replay,
        reply_diff=diff,
        cost=cost,
    )
    async with sessions() as session:
        await conversations.traces.store(session, trace, redact_pii=config.redact_pii)
        await record(
            session,
            tenant_id=tenant_pk,
            actor=actor,
            action="chat.replayed",
            subject=str(answer_id),
            trace_id=trace.trace_id,
            data={"prompt": replay.prompt, "model": model, "changed": result.changed, "cost": str(cost)},
        )
        await session.commit()
    return result


async def replay_from_cli(
    settings: Settings, message_id: uuid.UUID, *, prompt_version: str, model: str | None, actor: str
) -> ReplayResult:
    """`hub replay`: open the service's database, Redis and gateway for one replay, and close them (usage flushed)."""
    engine = create_engine(settings.resolved_database_url)
    url = running_redis_url(settings.redis_url, settings.data_dir)
    with tempfile.TemporaryDirectory(prefix="hub-replay-") as scratch:
        embedded = None
        if url is None:
            embedded = EmbeddedRedis(Path(scratch))
            url = embedded.start()
        redis = create_redis(url)
        try:
            gateway = build_gateway(settings, session_factory(engine), redis)
            try:
                conversations = Conversations(
                    build_graph(None), gateway, DeterministicEngine(), session_factory(engine)
                )
                return await replay_message(
                    conversations,
                    session_factory(engine),
                    message_id,
                    prompt_version=prompt_version,
                    model=model,
                    actor=actor,
                )
            finally:
                await gateway.aclose()
        finally:
            await redis.aclose()
            await engine.dispose()
            if embedded is not None:
                embedded.stop()
