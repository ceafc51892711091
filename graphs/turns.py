"""Run conversation turns through the graph: build the turn's resources, store both messages, audit the turn.

Every surface (storefront API, WhatsApp worker, operator console) answers through `Conversations.turn`, and
the console resumes a paused turn with `Conversations.resume`.

A turn waits on models, so it never holds the database meanwhile: it reads the conversation in a short session of
its own, its graph steps read and write through short sessions (`ToolScope`), and only when the reply is ready does
it write its rows (the conversation on a customer's first message, both messages, the audit event, the trace) in
the caller's `session`, in one batch, for the caller to commit, together with whatever else the caller stores with
the turn. So the caller must hand over a session that holds no transaction (commit or close what it read first),
and commit after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel
from sqlalchemy import insert, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.commands import OperatorCommands
from agents.engine import DeterministicEngine, ShopVoice
from agents.replies import N_, QuickReply, Replies
from graphs.checkpoint import thread_id
from graphs.conversation import STEP_LIMIT, Decision, Engine, TurnDeps, TurnState, new_turn
from hub.audit.events import event_row
from hub.audit.redact import redact
from hub.audit.store import TraceStore
from hub.audit.trace import Span, SpanKind, Trace
from hub.db import models as m
from hub.gateway.chat_model import GatewayChatModel
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.jobs import JobQueue
from hub.languages import (
    NAMES,
    Language,
    detect_language,
    detector_loaded,
    load_detector,
    reply_language,
    spoken,
)
from hub.metrics import observe_turn
from hub.prompting.outputs import Intent
from hub.prompting.registry import Prompt, PromptError, PromptRegistry
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.tenancy.repository import TenantData
from tools.context import Audience, ToolScope
from tools.crm import CRM_TOOLS
from tools.deps import bind_model
from tools.engagement import ENGAGEMENT_TOOLS, ProductCard
from tools.order_actions import ORDER_ACTION_TOOLS
from tools.photography import PHOTO_TOOLS
from tools.registry import tools_for
from tools.seo import SEO_TOOLS

ALL_TOOLS = [*ENGAGEMENT_TOOLS, *ORDER_ACTION_TOOLS, *CRM_TOOLS, *SEO_TOOLS, *PHOTO_TOOLS]
PROMPTS = {Audience.CUSTOMER: "customer_reply", Audience.OPERATOR: "operator_agent"}
INTERRUPTS = "__interrupt__"
"""Where `ainvoke`'s output holds the interrupts a paused run waits on (LangGraph keeps the constant private)."""
MODEL_ATTEMPTS = frozenset({"attempt_failed", "invalid_output", "answer"})
"""Gateway rungs of an attempt a model was sent: refusals, skipped models and fallbacks sent it nothing."""
HUMAN_ROLE = "human"
"""`messages.role` of a reply a person wrote from the console."""
HUMAN_HOLD_REPLY = N_("Thanks, a member of our team has this conversation and will answer you here shortly.")
"""What a shopper hears while an operator handles the conversation: the bot stays out of it."""
LOOP_REPLY = N_(
    "Sorry, I went round in circles on that one and stopped. Could you ask it in a different way, "
    "or ask for a colleague?"
)


class PendingAction(BaseModel):
    """A sensitive tool call waiting for the operator: the console shows it with confirm and reject buttons."""

    tool_call_id: str
    tool: str
    args: dict[str, Any]
    question: str


class TurnResult(BaseModel):
    """What one turn produced; also the body of `POST /v1/chat`."""

    message_id: uuid.UUID
    reply: str
    intent: Intent
    tools: list[str]
    engine: Engine
    prompt_version: str | None
    """The prompt (`use_case@version`) this turn sent to a model, even if its answer then fell back; None when
    no model was called (none configured, the gateway refused). `hub explain` names the same one."""
    trace_id: str
    products: list[ProductCard]
    """Product cards from this turn's tool results, for the widget to render."""
    awaiting: list[PendingAction] = []
    """Sensitive actions paused for confirmation; resume the turn with a `Decision` for each, in order."""
    handled_by: Literal["bot", "human"] = "bot"
    """`human` while an operator has taken the conversation over: the bot did not answer, a person will."""
    language: Language = "en"
    """The reply's language (BCP-47): the shopper's when the shop answers in it, else the shop's default."""
    quick_replies: list[QuickReply] = []
    """Choices to offer as buttons with the reply (confirm or not, which item, why): tapping one sends its title."""


@dataclass(frozen=True)
class Speaker:
    """Who wrote the message, as the tools and the audit need it."""

    audience: Audience
    channel: m.Channel
    external_ref: str
    """The conversation's key on its channel: widget session id, WhatsApp number, console thread."""
    customer_id: uuid.UUID | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    operator: m.Operator | None = None

    @property
    def actor(self) -> str:
        if self.operator is not None:
            return f"operator:{self.operator.email}"
        return f"customer:{self.channel}:{self.external_ref}"


@dataclass(frozen=True)
class TurnDeadlines:
    """How long a turn may take, by audience, before the deterministic engine answers instead of the model."""

    customer_s: float = 8.0
    """A shopper waits on a chat widget or WhatsApp: `HUB_CHAT_TURN_DEADLINE_S`."""
    operator_s: float = 120.0
    """An operator's request may run long tools (copy for a whole category): `HUB_OPERATOR_TURN_DEADLINE_S`."""

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnDeadlines:
        return cls(customer_s=settings.chat_turn_deadline_s, operator_s=settings.operator_turn_deadline_s)

    def of(self, audience: Audience) -> float:
        return self.customer_s if audience is Audience.CUSTOMER else self.operator_s


@dataclass
class Conversations:
    """One per process: the compiled graph plus the engine and gateway every turn shares."""

    graph: CompiledStateGraph[TurnState, TurnDeps, TurnState, TurnState]
    gateway: Gateway
    engine: DeterministicEngine
    sessions: async_sessionmaker[AsyncSession]
    """Where the turn's own short transactions come from (the conversation, each graph step)."""
    jobs: JobQueue | None = None
    """Where tools start background work; the app passes its open queue."""
    commands: OperatorCommands = field(default_factory=OperatorCommands)
    traces: TraceStore = field(default_factory=TraceStore)
    """Where each turn's trace goes: the turn's transaction, and OTLP when configured."""
    deadlines: TurnDeadlines = field(default_factory=TurnDeadlines)

    async def turn(
        self,
        *,
        session: AsyncSession,
        tenant: m.Tenant,
        speaker: Speaker,
        text: str,
        request_id: str,
        inbound_meta: dict[str, Any] | None = None,
        inbound_external_id: str | None = None,
        conversation: m.Conversation | None = None,
        conversation_update: Mapping[str, Any] | None = None,
    ) -> TurnResult:
        """Answer one message; write it and the answer in `session` (which must hold no transaction); the caller commits.

        `inbound_meta` and `inbound_external_id` are stored on the shopper's message (e.g. the channel's id for it).
        A caller that already read the speaker's `conversation` passes it (it is not looked up again), and
        `conversation_update` (column values) is written in the same statement as the turn's own change to it.
        """
        if conversation is None:
            conversation = await self.conversation(tenant.id, speaker)
        extra = dict(conversation_update or {})
        config = TenantConfig.model_validate(tenant.settings)
        language, told = await self._language(tenant, config, speaker, conversation, text)
        if told is not None and told != conversation.language:
            extra["language"] = told
        trace = Trace(tenant.id)
        meta = {**(inbound_meta or {}), "request_id": request_id}
        inbound = _message(
            tenant.id,
            conversation.id,
            speaker.audience.value,
            text,
            meta,
            trace_id=trace.trace_id,
            external_id=inbound_external_id,
        )
        root = _root_span(trace, "chat.turn", "turn", tenant, speaker, conversation, request_id, text, inbound)
        root.set(language=language, message_language=told)
        if speaker.audience is Audience.CUSTOMER and conversation.status == m.ConversationStatus.HUMAN:
            reply = _message(
                tenant.id,
                conversation.id,
                "assistant",
                Replies(language)._(HUMAN_HOLD_REPLY),
                {"request_id": request_id, "reason": "held_by_human"},
                engine="deterministic",
                trace_id=trace.trace_id,
            )
            root.finish(reply=reply["content"], engine="none", held_by_human=True, message_id=str(reply["id"]))
            # the handoff queue lists the longest-waiting first
            changes = {**extra, "updated_at": datetime.now(UTC)}
            await self._write(
                session, trace, conversation, [inbound, reply], changes, None, redact_pii=config.redact_pii
            )
            return _held_by_human(reply, language)
        return await self._run(
            new_turn(text), session, tenant, speaker, conversation, request_id, trace, inbound, extra, language
        )

    async def _language(
        self, tenant: m.Tenant, config: TenantConfig, speaker: Speaker, conversation: m.Conversation, text: str
    ) -> tuple[Language, Language | None]:
        """The language to reply in, and the message's own when it told one (a shopper's; operators are answered in
        the shop's default). A message that does not tell keeps the conversation's language."""
        if speaker.audience is not Audience.CUSTOMER or len(config.languages) == 1:  # nothing to choose between
            return config.default_language, None
        previous = spoken(conversation.language)
        async with self.tool_scope(tenant, speaker).open(beside=True) as ctx:
            words = await self.engine.catalog_words(ctx)
        if not detector_loaded():  # the process's first shopper message: load the models off the event loop
            await asyncio.to_thread(load_detector)
        detection = detect_language(text, fallback=previous or config.default_language, ignore=words)
        told = detection.language if detection.confident else None
        return reply_language(detection.language, languages=config.languages, default=config.default_language), told

    async def conversation(self, tenant_id: uuid.UUID, speaker: Speaker) -> m.Conversation:
        """The speaker's conversation, read in a short session of its own (detached from it); on their first message
        a new one that is not stored yet: the turn's write creates it, with the turn's messages."""
        async with self.sessions() as session:
            conversation = await TenantData(session, tenant_id).conversations.by_key(
                speaker.channel, speaker.external_ref
            )
            await session.commit()  # end the read: nothing stays open while the turn runs
        if conversation is not None:
            return conversation
        return m.Conversation(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            channel=speaker.channel,
            external_ref=speaker.external_ref,
            customer_id=speaker.customer_id,
            status=m.ConversationStatus.BOT,
        )

    async def awaiting(self, tenant: m.Tenant, speaker: Speaker) -> list[PendingAction]:
        """The sensitive actions this conversation's paused turn still waits on (none when it is not paused)."""
        snapshot = await self.graph.aget_state(self._config(tenant, speaker))
        return [PendingAction.model_validate(i.value) for i in snapshot.interrupts]

    async def resume(
        self, *, session: AsyncSession, tenant: m.Tenant, speaker: Speaker, decision: Decision, request_id: str
    ) -> TurnResult:
        """Continue a turn paused on a sensitive tool with the operator's decision; the caller commits."""
        conversation = await self.conversation(tenant.id, speaker)
        state = await self.graph.aget_state(self._config(tenant, speaker))
        if not state.interrupts:
            raise LookupError("this conversation has no action waiting for a decision")
        trace = Trace(tenant.id)
        text = f"{'approved' if decision.approved else 'rejected'} by {decision.by}" + (
            f": {decision.note}" if decision.note else ""
        )
        root = _root_span(trace, "chat.resume", "turn", tenant, speaker, conversation, request_id, text, None)
        root.set(decision=decision.model_dump())
        config = TenantConfig.model_validate(tenant.settings)
        language = reply_language(
            spoken(conversation.language) or config.default_language,
            languages=config.languages,
            default=config.default_language,
        )
        return await self._run(
            Command(resume=decision.model_dump()),
            session,
            tenant,
            speaker,
            conversation,
            request_id,
            trace,
            None,
            language=language,
        )

    def _config(self, tenant: m.Tenant, speaker: Speaker) -> RunnableConfig:
        return {
            "configurable": {"thread_id": thread_id(tenant.id, speaker.channel, speaker.external_ref)},
            "recursion_limit": STEP_LIMIT,
        }

    def tool_scope(
        self, tenant: m.Tenant, speaker: Speaker, *, turn_id: str | None = None, said: str | None = None
    ) -> ToolScope:
        """Who this turn's tools run for (and, for a turn, its id and the message it answers); each graph step opens
        its own short session from `sessions`."""
        return ToolScope(
            opener=self.sessions,
            tenant_id=tenant.id,
            audience=speaker.audience,
            channel=speaker.channel,
            customer_id=speaker.customer_id,
            operator_id=speaker.operator.id if speaker.operator else None,
            jobs=self.jobs,
            conversation_ref=speaker.external_ref,
            turn_id=turn_id,
            said=said,
        )

    def turn_deps(
        self,
        scope: ToolScope,
        tenant: m.Tenant,
        speaker: Speaker,
        call: CallContext,
        *,
        prompt_version: str | None = None,
        models: list[str] | None = None,
        deadline_s: float | None = None,
        language: Language | None = None,
    ) -> TurnDeps:
        """The turn's resources; a replay passes the prompt version and models it tries instead of the pinned ones."""
        config = call.tenant
        language = language or config.default_language
        use_case = PROMPTS[speaker.audience]
        prompt = (
            agent_prompt(self.gateway.prompts, use_case, prompt_version)
            if prompt_version
            else self.gateway.prompts.resolve(use_case, config.prompt_pins)
        )
        variables: dict[str, Any] = {
            "shop_name": tenant.name,
            "brand_tone": config.brand.tone,
            "voice_examples": config.brand.voice_examples,
            "channel": speaker.channel.value,
            "today": datetime.now(UTC).date().isoformat(),
            "operator": speaker.operator.name if speaker.operator else "an operator",
            "reply_language": NAMES[language],
        }
        model = GatewayChatModel(
            gateway=self.gateway,
            ctx=call,
            feature=use_case,
            prompt_id=prompt.use_case,
            prompt_version=prompt.version,
            prompt_sha256=prompt.sha256,
            model_hint=prompt.model,
            models=models,
        )
        return TurnDeps(
            scope=scope,
            tools={s.name: s for s in bind_model(ALL_TOOLS, gateway=self.gateway, call=call)},
            allowed=frozenset(s.name for s in tools_for(ALL_TOOLS, speaker.audience)),
            prompt=prompt,
            prompt_variables=variables,
            voice=ShopVoice(name=tenant.name, tone=config.brand.tone),
            engine=self.engine,
            commands=self.commands,
            model=model,
            customer_email=speaker.customer_email,
            customer_phone=speaker.customer_phone,
            trace=call.trace,
            deadline_at=None if deadline_s is None else time.monotonic() + deadline_s,
            deadline_s=deadline_s,
            language=language,
        )

    async def _run(
        self,
        graph_input: TurnState | Command,
        session: AsyncSession,
        tenant: m.Tenant,
        speaker: Speaker,
        conversation: m.Conversation,
        request_id: str,
        trace: Trace,
        inbound: dict[str, Any] | None,
        conversation_update: dict[str, Any] | None = None,
        language: Language | None = None,
    ) -> TurnResult:
        started = time.monotonic()
        config_ = TenantConfig.model_validate(tenant.settings)
        said = graph_input.get("text") if isinstance(graph_input, dict) else None
        scope = self.tool_scope(tenant, speaker, turn_id=trace.trace_id, said=said)
        call = CallContext(
            tenant_id=tenant.id,
            tenant=config_,
            request_id=request_id,
            trace_id=trace.trace_id,
            trace=trace,
            release=scope.release,
        )
        deps = self.turn_deps(
            scope, tenant, speaker, call, deadline_s=self.deadlines.of(speaker.audience), language=language
        )
        root = trace.root
        assert root is not None
        config = self._config(tenant, speaker)
        stopped = False
        output: dict[str, Any] | None = None
        try:
            with trace.activate(root):
                output = await self.graph.ainvoke(graph_input, config, context=deps, durability="exit")
        except GraphRecursionError:
            stopped = True
            text = (await self.graph.aget_state(config)).values.get("text", "")
            await self.graph.aupdate_state(
                config,
                {
                    "messages": [HumanMessage(text), AIMessage(Replies(deps.language)._(LOOP_REPLY))],
                    "reply": Replies(deps.language)._(LOOP_REPLY),
                    "engine": "deterministic",
                },
                as_node="compose",  # a node whose one edge ends the run
            )
        if output is None:  # the loop was stopped: read what the state holds now
            snapshot = await self.graph.aget_state(config)
            output = {**snapshot.values, INTERRUPTS: snapshot.interrupts}
        # the run's output is the final state plus the interrupts it paused on: no second checkpoint read; without
        # the interrupts it is the graph's output schema, TurnState
        state = cast(TurnState, {k: v for k, v in output.items() if k != INTERRUPTS})
        awaiting = [PendingAction.model_validate(i.value) for i in output.get(INTERRUPTS, ())]
        engine = "deterministic" if stopped else state.get("engine", "llm")
        reply = "Please confirm:\n" + "\n".join(_describe(a) for a in awaiting) if awaiting else state["reply"]
        calls = state.get("calls", [])
        tool_names = [c["tool"] for c in calls if c["status"] == "ok"]
        sent = any(r["step"] in MODEL_ATTEMPTS for r in state.get("rungs", []))
        prompt_ref = deps.prompt.ref if sent else None
        quick_replies = [QuickReply.model_validate(q) for q in output.get("quick_replies") or []]
        message = _message(
            tenant.id,
            conversation.id,
            "assistant",
            reply,
            {
                "tools": tool_names,
                "handoff": state.get("handoff"),
                "awaiting": [a.model_dump() for a in awaiting],
                "request_id": request_id,
                "quick_replies": [q.model_dump(exclude_none=True) for q in quick_replies],
            },
            intent=state.get("intent"),
            engine=engine,
            prompt_version=prompt_ref,
            trace_id=call.trace_id,
        )
        handed_over = bool(state.get("handoff")) and not awaiting
        rungs = state.get("rungs", [])
        data = {
            "intent": state.get("intent"),
            "audience": speaker.audience.value,
            "tools": calls,
            "abandoned_tools": state.get("abandoned", []),
            "decisions": state.get("decisions", {}),
            "engine": engine,
            "prompt": prompt_ref,
            "models": sorted({r["model"] for r in rungs if r["step"] == "answer" and r["model"]}),
            "fallback_reason": state.get("fallback_reason"),
            "validation": state.get("problems", []),
            "rungs": rungs,
            "cost": str(Decimal(state.get("cost", "0"))),
            "input_tokens": state.get("input_tokens", 0),
            "awaiting": [a.model_dump() for a in awaiting],
            "request_id": request_id,
            "language": deps.language,
        }
        root.finish(
            "error" if stopped else "ok",
            message_id=str(message["id"]),
            reply=reply,
            intent=state.get("intent"),
            engine=engine,
            prompt=prompt_ref,
            prompt_sha256=deps.prompt.sha256 if sent else None,
            tools=tool_names,
            decisions=state.get("decisions") or None,
            fallback_reason=state.get("fallback_reason"),
            loop_stopped=stopped or None,
            awaiting=[a.model_dump() for a in awaiting] or None,
            cost=data["cost"],
            language=deps.language,
        )
        audit = event_row(
            tenant_id=tenant.id,
            actor=speaker.actor,
            action="chat.loop_stopped" if stopped else ("chat.awaiting" if awaiting else "chat.turn"),
            subject=str(message["id"]),
            trace_id=call.trace_id,
            data=redact(data) if config_.redact_pii else data,
        )
        changes = {**(conversation_update or {}), **({"status": m.ConversationStatus.HUMAN} if handed_over else {})}
        if inbound is not None:  # what the shopper's message was read as: the console lists feedback by it
            inbound["intent"] = state.get("intent")
        stored = [inbound, message] if inbound is not None else [message]
        await self._write(session, trace, conversation, stored, changes, audit, redact_pii=config_.redact_pii)
        observe_turn(
            channel=speaker.channel.value,
            audience=speaker.audience.value,
            engine=engine,
            seconds=time.monotonic() - started,
        )
        return TurnResult(
            message_id=message["id"],
            reply=reply,
            intent=Intent(state.get("intent") or Intent.OUT_OF_SCOPE),
            tools=tool_names,
            engine=engine,
            prompt_version=prompt_ref,
            trace_id=call.trace_id,
            products=[ProductCard.model_validate(p) for p in state.get("products", [])],
            awaiting=awaiting,
            handled_by="human" if handed_over or conversation.status == m.ConversationStatus.HUMAN else "bot",
            language=deps.language,
            quick_replies=quick_replies,
        )

    async def _write(
        self,
        session: AsyncSession,
        trace: Trace,
        conversation: m.Conversation,
        messages: list[dict[str, Any]],
        conversation_changes: dict[str, Any],
        audit: dict[str, Any] | None,
        *,
        redact_pii: bool,
    ) -> None:
        """Write the turn's rows in the caller's transaction, one statement per table (Core inserts: the rows are
        plain values, no unit of work to flush); a new conversation is created first."""
        if not inspect(conversation).has_identity:  # the customer's first message: store the conversation now
            stored = await TenantData(session, conversation.tenant_id).conversations.open(
                conversation.channel,
                conversation.external_ref,
                customer_id=conversation.customer_id,
                conversation_id=conversation.id,
            )
            if stored.id != conversation.id:  # a concurrent first message created it: join that one
                for row in messages:
                    row["conversation_id"] = stored.id
                if trace.root is not None:
                    trace.root.set(conversation_id=str(stored.id))
                conversation = stored
        if conversation_changes:
            await session.execute(
                update(m.Conversation).where(m.Conversation.id == conversation.id).values(**conversation_changes)
            )
        await session.execute(insert(m.Message.__table__), messages)
        if audit is not None:
            await session.execute(insert(m.AuditEvent.__table__), [audit])
        await self.traces.store(session, trace, redact_pii=redact_pii)


def agent_prompt(prompts: PromptRegistry, use_case: str, version: str) -> Prompt:
    """A version to try (a replay): drafts allowed, so a change can be tried on real turns before release."""
    prompt = prompts.get(use_case, version, allow_drafts=True)
    if prompt.kind != "agent":
        raise PromptError(
            f"prompt {prompt.ref} is a structured prompt (output: {prompt.output}); the conversation graph runs "
            "agent prompts only (output: null)"
        )
    return prompt


def _root_span(
    trace: Trace,
    name: str,
    kind: SpanKind,
    tenant: m.Tenant,
    speaker: Speaker,
    conversation: m.Conversation,
    request_id: str,
    text: str,
    inbound: dict[str, Any] | None,
) -> Span:
    """Open a turn's root span with who wrote what, where."""
    return trace.start(
        name,
        kind,
        tenant_id=str(tenant.id),
        tenant=tenant.slug,
        channel=speaker.channel.value,
        audience=speaker.audience.value,
        external_ref=speaker.external_ref,
        conversation_id=str(conversation.id),
        customer_id=str(speaker.customer_id) if speaker.customer_id else None,
        operator=speaker.operator.email if speaker.operator else None,
        inbound_message_id=str(inbound["id"]) if inbound is not None else None,
        input=text,
        request_id=request_id,
    )


def _held_by_human(reply: dict[str, Any], language: Language) -> TurnResult:
    """The answer for the team while a person handles the conversation; no model, no tools, no graph state."""
    return TurnResult(
        message_id=reply["id"],
        reply=reply["content"],
        intent=Intent.HUMAN_HANDOFF,
        tools=[],
        engine="deterministic",
        prompt_version=None,
        trace_id=reply["trace_id"] or "",
        products=[],
        handled_by="human",
        language=language,
    )


def _describe(action: PendingAction) -> str:
    args = "; ".join(f"{key}: {value}" for key, value in action.args.items())
    return f"- {action.question}\n  ({args})"


def _message(
    tenant_id: uuid.UUID, conversation_id: uuid.UUID, role: str, content: str, meta: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A `messages` row with every column set, so a turn's two messages go to the database in one INSERT."""
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "conversation_id": conversation_id,
        "role": role,
        "content": content,
        "created_at": datetime.now(UTC),
        "meta": meta,
        "external_id": None,
        "intent": None,
        "engine": None,
        "prompt_version": None,
        "trace_id": None,
        **extra,
    }
