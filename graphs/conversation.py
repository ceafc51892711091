"""The conversation graph: one turn from a message to a validated reply, for shoppers and operators alike.

    start → agent ────────┬─ tool calls ─→ [confirm] → tools ─→ agent (LLM) | compose (deterministic) → end
                          ├─ text ───────→ validate ─┬─ ok ──────────→ end
                          │                          ├─ problems, tries left → agent (re-ask with reasons)
                          │                          └─ still wrong ──→ fallback
                          └─ no model ───→ fallback ─┬─ shopper: the deterministic engine → end
                                                     └─ operator: a command plan → [confirm] → tools → compose

The node that settles the reply (validate, fallback or compose) also finishes the turn (`_answered`): it remembers
the exchange and collects what the surfaces show. The agent node asks the gateway's chat model; when the gateway
says no model may answer (none configured, circuit open, budget spent, AI switched off) it routes to the fallback
node instead of failing. `confirm` pauses the graph with a LangGraph interrupt for every sensitive tool call (calls
with none to decide go straight to `tools`), and `tools` runs only what the operator approved, with the audience
checked again where the tool executes. The graph state is checkpointed per thread (tenant, channel, customer); the
per-turn resources (where steps get a database session, tools bound to this turn's call context, the turn's
deadline) come in as the run's context and are never checkpointed.

No step holds the database while the turn waits on a model: the steps that read or write (routing, tools, the
fallback) each open a short session through `ToolScope` and commit it when they end, and the agent node runs
with none. The agent node also keeps the turn's deadline: a model that hangs or trickles past it is cut off and
the deterministic fallback answers, with `deadline` as the reason in the audit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal, TypedDict, cast

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from agents.commands import OperatorCommands
from agents.engine import DeterministicEngine, Pending, ShopVoice
from agents.entities import Entities
from agents.flows import quick_replies_for
from agents.replies import Replies
from hub.audit.trace import Span, SpanKind, Trace
from hub.gateway.chat_model import GatewayChatModel, ModelUnavailable
from hub.gateway.gateway import reask_text
from hub.gateway.transport import StreamBroken
from hub.languages import DEFAULT_LANGUAGE, Language
from hub.metrics import observe_reply_rejected
from hub.prompting.outputs import Intent
from hub.prompting.registry import Prompt
from tools.context import Audience, ToolError, ToolScope
from tools.order_actions import ORDER_ACTION_TOOLS, OrderActionResult
from tools.registry import ToolSpec, run_tool
from tools.validators import validate_reply

ORDER_ACTIONS = frozenset(spec.name for spec in ORDER_ACTION_TOOLS if spec.result_model is OrderActionResult)

MAX_REASKS = 2
"""Re-asks after a reply fails validation, before the deterministic fallback answers."""
MEMORY_MESSAGES = 40
"""Messages kept in a thread's checkpoint; older ones are dropped as new turns arrive."""
PROMPT_HISTORY_MESSAGES = 12
"""Earlier messages shown to the model: the last six exchanges."""
STEP_LIMIT = 24
"""LangGraph's recursion limit for one turn: about six rounds of tool calls."""
ANSWER_RESERVE_S = 1.0
"""Of a turn's deadline, what is kept back for the deterministic fallback and storing the turn after a model
that did not answer in time."""

Engine = Literal["llm", "deterministic"]


class Decision(BaseModel):
    """An operator's answer to a confirmation request, passed to `Command(resume=...)`."""

    approved: bool
    by: str = Field(default="operator", max_length=254)
    note: str | None = Field(default=None, max_length=500)


class ToolOutcome(BaseModel):
    """One tool call of a turn, as the audit and the reply validator see it."""

    tool: str
    args: dict[str, Any]
    status: Literal["ok", "error", "denied", "rejected"]
    result: dict[str, Any] | None = None
    detail: str | None = None


class TurnMemory(TypedDict, total=False):
    """What a thread carries from one turn to the next: absent until a turn first writes it."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The thread's memory: each turn's message and final reply."""
    pending: dict[str, Any]
    """The deterministic engine's open question (e.g. waiting for an order number), across turns."""


class TurnState(TurnMemory):
    """The full state of a turn: every key below is set by `new_turn`, the input that starts each turn."""

    text: str
    intent: str
    """An `Intent`, held as the member's plain string value (`str(intent)`), as checkpoints store it and read it
    back."""
    work: list[AnyMessage]
    """This turn's exchange with the model: tool calls, tool results, re-asks."""
    calls: list[dict[str, Any]]
    decisions: dict[str, dict[str, Any]]
    tries: int
    problems: list[str]
    abandoned: list[dict[str, Any]]
    """Tool calls the model made before the turn fell back: kept for the audit, not for the reply."""
    engine: Engine
    reply: str
    fallback_reason: str | None
    rungs: list[dict[str, Any]]
    cost: str
    input_tokens: int
    """Prompt tokens this turn sent to models, every attempt included."""
    handoff: str | None
    products: list[dict[str, Any]]
    quick_replies: list[dict[str, Any]]
    """Choices offered with the reply (`agents.replies.QuickReply`): confirm or not, which item, why."""


@dataclass
class TurnDeps:
    """What one turn runs with; built per turn by the runner, passed as the graph's context, never stored."""

    scope: ToolScope
    """Who the tools run for, and the short database session each step opens."""
    tools: dict[str, ToolSpec]
    """Every tool, bound to this turn's call context; `allowed` says which this conversation may use."""
    allowed: frozenset[str]
    prompt: Prompt
    prompt_variables: dict[str, Any]
    voice: ShopVoice
    engine: DeterministicEngine
    commands: OperatorCommands
    model: GatewayChatModel
    """With no model configured it refuses at once (and bills a fallback row), so the fallback node answers."""
    customer_email: str | None = None
    customer_phone: str | None = None
    model_calls: list[GatewayChatModel] = field(default_factory=list)
    trace: Trace | None = None
    """The turn's trace: nodes add tool, validation and fallback spans; the gateway adds its calls."""
    recorded: RecordedTools | None = None
    """Set by a replay: tool calls are answered from the original turn's recorded outputs, never run."""
    deadline_at: float | None = None
    """`time.monotonic()` by which the reply must be ready; None: no turn deadline (the gateway's own applies)."""
    deadline_s: float | None = None
    """The turn's deadline as configured, for the audit's wording."""
    language: Language = DEFAULT_LANGUAGE
    """The language the reply is written in (`hub.languages`)."""
    _rendered: tuple[str, SystemMessage, HumanMessage] | None = field(default=None, init=False, repr=False)
    _reading: asyncio.Future[tuple[Intent, Entities]] | None = field(default=None, init=False, repr=False)

    @property
    def audience(self) -> Audience:
        return self.scope.audience

    @cached_property
    def tool_schemas(self) -> list[dict[str, Any]]:
        """The definitions of the tools this conversation may use, as the model is sent them on every step."""
        return [self.tools[name].schema() for name in sorted(self.allowed)]

    @cached_property
    def model_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.prompt.params.items() if k in ("temperature", "top_p", "max_tokens", "seed")}

    def reading(self, state: TurnState) -> asyncio.Future[tuple[Intent, Entities]]:
        """The deterministic engine's reading of the turn's message (intent, entities), started on first use and
        shared: the agent node reports its intent, the fallback answers from it without reading the message again."""
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read(state["text"], state.get("pending") or {}))
        return self._reading

    async def _read(self, text: str, pending: dict[str, Any]) -> tuple[Intent, Entities]:
        async with self.scope.open(beside=True) as ctx:  # beside the agent step, which releases its own session
            return await self.engine.understand(ctx, text, Pending.model_validate(pending))

    def rendered(self, text: str) -> tuple[SystemMessage, HumanMessage]:
        """The prompt's system and user messages for the turn's `text`, rendered once per turn."""
        if self._rendered is None or self._rendered[0] != text:
            system, user = self.prompt.render({**self.prompt_variables, "message": text})
            self._rendered = (text, SystemMessage(system["content"]), HumanMessage(user["content"]))
        return self._rendered[1], self._rendered[2]

    def model_budget(self) -> float | None:
        """Seconds the next model call may take, keeping `ANSWER_RESERVE_S` for the fallback; None: unlimited."""
        if self.deadline_at is None:
            return None
        return self.deadline_at - ANSWER_RESERVE_S - time.monotonic()


class RecordedTools:
    """A turn's tool outcomes, handed back for a replay: same call first, else the next unused one of that tool."""

    def __init__(self, outcomes: Sequence[ToolOutcome]) -> None:
        self._unused = list(outcomes)

    def outcome(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        key = json.dumps(args, sort_keys=True, default=str)
        same = [o for o in self._unused if o.tool == name and json.dumps(o.args, sort_keys=True, default=str) == key]
        found = same or [o for o in self._unused if o.tool == name]
        if not found:
            detail = f"{name} was not called in the original turn; a replay never runs tools"
            return ToolOutcome(tool=name, args=args, status="error", detail=detail)
        self._unused.remove(found[0])
        return found[0].model_copy(update={"args": args})


@contextmanager
def traced(deps: TurnDeps, name: str, kind: SpanKind, **attributes: Any) -> Iterator[Span | None]:
    """A span in the turn's trace for the block (nothing when the turn is not traced)."""
    if deps.trace is None:
        yield None
        return
    with deps.trace.span(name, kind, **attributes) as span:
        yield span


def _trace_outcome(span: Span | None, outcome: ToolOutcome) -> None:
    if span is not None:
        span.finish(
            "ok" if outcome.status == "ok" else "error",
            status_detail=outcome.detail,
            outcome=outcome.status,
            result=outcome.result,
        )


def _tool_results(state: TurnState) -> list[tuple[str, dict[str, Any]]]:
    """This turn's successful tool calls, as (tool, result)."""
    return [(c["tool"], c["result"]) for c in state.get("calls", []) if c["status"] == "ok" and c.get("result")]


def _content(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else json.dumps(message.content)


# --- nodes ---------------------------------------------------------------------------------------------


def new_turn(text: str, *, messages: list[AnyMessage] | None = None) -> TurnState:
    """The graph input that starts a turn on `text`: the previous turn's scratch state cleared, the intent unknown
    until the agent node (or the fallback) reads the message; `messages` seeds a fresh thread's memory (a replay)."""
    turn: TurnState = {
        "text": text,
        "intent": str(Intent.OUT_OF_SCOPE),
        "work": [],
        "calls": [],
        "decisions": {},
        "tries": 0,
        "problems": [],
        "engine": "llm",
        "reply": "",
        "fallback_reason": None,
        "abandoned": [],
        "rungs": [],
        "cost": "0",
        "input_tokens": 0,
        "handoff": None,
        "products": [],
        "quick_replies": [],
    }
    if messages is not None:
        turn["messages"] = messages
    return turn


async def agent(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Ask the model for the next step: tool calls or the reply; when the gateway refuses, route to the fallback.

    On a shopper's first step the deterministic engine reads the message (the intent the audit reports) while the
    model's answer is awaited, so the turn does not wait for both.
    """
    deps = runtime.context
    reading = deps.reading(state) if deps.audience == Audience.CUSTOMER and not state["work"] else None
    try:
        update = await _ask(state, deps)
    except BaseException:
        if reading is not None:
            reading.cancel()
        raise
    if reading is not None:
        intent, _ = await reading
        update["intent"] = str(intent)
    return update


async def _ask(state: TurnState, deps: TurnDeps) -> dict[str, Any]:
    system, user = deps.rendered(state["text"])
    history = state.get("messages", [])[-PROMPT_HISTORY_MESSAGES:]
    conversation = [system, *history, user, *state["work"]]
    model = deps.model.model_copy()  # one run record per call
    deps.model_calls.append(model)
    budget = deps.model_budget()
    if budget is not None and budget <= 0:
        return {"fallback_reason": f"deadline: no time left of the turn's {deps.deadline_s:g} s for a model call"}
    try:
        async with asyncio.timeout(budget) as limit:
            message = await model.answer(conversation, tools=deps.tool_schemas, **deps.model_params)
    except TimeoutError:
        if not limit.expired():
            raise
        detail = f"deadline: the model did not answer within the turn's {deps.deadline_s:g} s"
        return {"fallback_reason": detail, **_spent(state, model)}
    except ModelUnavailable as exc:
        return {"fallback_reason": f"{exc.reason}: {exc.detail}", **_spent(state, model)}
    except StreamBroken as exc:
        return {"fallback_reason": f"stream_broken: {exc}", **_spent(state, model)}
    return {"work": [*state["work"], message], **_spent(state, model)}


def _spent(state: TurnState, model: GatewayChatModel) -> dict[str, Any]:
    run = model.last_run
    if run is None:
        return {}
    rungs = [{"step": r.step, "model": r.model, "attempt": r.attempt, "detail": r.detail} for r in run.rungs]
    return {
        "rungs": [*state.get("rungs", []), *rungs],
        "cost": str(Decimal(state.get("cost", "0")) + run.cost),
        "input_tokens": state.get("input_tokens", 0) + run.input_tokens,
    }


async def after_agent(
    state: TurnState, runtime: Runtime[TurnDeps]
) -> Literal["fallback", "confirm", "tools", "validate"]:
    if state.get("fallback_reason"):
        return "fallback"
    last = state["work"][-1]
    if not (isinstance(last, AIMessage) and last.tool_calls):
        return "validate"
    return "confirm" if _undecided(runtime.context, state) else "tools"


def _undecided(deps: TurnDeps, state: TurnState) -> list[tuple[ToolCall, ToolSpec]]:
    """The last message's sensitive calls (of tools this conversation may use) that wait for an operator's decision."""
    last = state["work"][-1]
    assert isinstance(last, AIMessage)
    decided = state.get("decisions", {})
    return [
        (call, spec)
        for call in last.tool_calls
        if (spec := deps.tools.get(call["name"])) is not None
        and spec.sensitive
        and call["name"] in deps.allowed
        and call["id"] not in decided
    ]


async def confirm(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Pause for an operator's decision on each sensitive call; this node has no side effects, so resuming is safe."""
    decisions = dict(state.get("decisions", {}))
    for call, spec in _undecided(runtime.context, state):
        answer = interrupt(
            {
                "tool_call_id": call["id"],
                "tool": call["name"],
                "args": call["args"],
                "question": f"{spec.description.split('. ')[0].rstrip('.')}. Run {call['name']} with these arguments?",
            }
        )
        decisions[str(call["id"])] = Decision.model_validate(answer).model_dump()
    return {"decisions": decisions}


async def tools(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Run the last message's tool calls; a denied, rejected or failed call becomes a message the model can act on."""
    deps = runtime.context
    last = state["work"][-1]
    assert isinstance(last, AIMessage)
    calls = list(state.get("calls", []))
    replies: list[ToolMessage] = []
    for call in last.tool_calls:
        with traced(deps, f"tool {call['name']}", "tool", tool=call["name"], args=call["args"]) as span:
            outcome = await _run_call(deps, call["name"], call["args"], state["decisions"].get(str(call["id"])))
            _trace_outcome(span, outcome)
        calls.append(outcome.model_dump(mode="json"))
        body = (
            json.dumps(outcome.result, ensure_ascii=False)
            if outcome.status == "ok"
            else json.dumps({"error": outcome.detail}, ensure_ascii=False)
        )
        replies.append(ToolMessage(content=body, tool_call_id=call["id"], name=call["name"]))
    return {"work": [*state["work"], *replies], "calls": calls}


async def _run_call(deps: TurnDeps, name: str, args: dict[str, Any], decision: dict[str, Any] | None) -> ToolOutcome:
    spec = deps.tools.get(name)
    if spec is None:
        return ToolOutcome(tool=name, args=args, status="denied", detail=f"there is no tool named {name!r}")
    if name not in deps.allowed:
        detail = f"tool {name!r} is not available to {deps.audience} conversations"
        return ToolOutcome(tool=name, args=args, status="denied", detail=detail)
    if spec.sensitive and not (decision and decision["approved"]):
        why = f": {decision['note']}" if decision and decision.get("note") else ""
        by = decision["by"] if decision else "operator"
        return ToolOutcome(tool=name, args=args, status="rejected", detail=f"{by} rejected this action{why}")
    if deps.recorded is not None:
        return deps.recorded.outcome(name, args)
    try:
        async with deps.scope.open() as ctx:
            result = await run_tool(spec, ctx, args)
    except ToolError as exc:
        return ToolOutcome(tool=name, args=args, status="error", detail=str(exc))
    return ToolOutcome(tool=name, args=args, status="ok", result=result.model_dump(mode="json"))


async def after_tools(state: TurnState) -> Literal["agent", "compose"]:
    return "agent" if state.get("engine") == "llm" else "compose"


async def validate(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Check the drafted reply against this turn's tool outputs; re-ask with the reasons, then give up."""
    deps = runtime.context
    draft = _content(state["work"][-1]).strip()
    problems = (
        validate_reply(
            draft,
            tool_outputs=[result for _, result in _tool_results(state)],
            channel=deps.scope.channel,
            customer_email=deps.customer_email,
            customer_phone=deps.customer_phone,
            language=deps.language,
        )
        if draft
        else ["the reply is empty"]
    )
    tries = state.get("tries", 0)
    verdict = "accepted" if not problems else ("re-ask" if tries < MAX_REASKS else "fallback")
    if deps.trace is not None:
        deps.trace.record(
            "validate reply",
            "validate",
            status="ok" if not problems else "error",
            draft=draft,
            problems=problems or None,
            verdict=verdict,
            reask=tries + 1 if verdict == "re-ask" else None,
        )
    if not problems:
        return _answered(state, {"reply": draft, "problems": []}, deps.language)
    run = deps.model_calls[-1].last_run if deps.model_calls else None
    drafted_by = next((r.model for r in reversed(run.rungs) if r.step == "answer" and r.model), None) if run else None
    observe_reply_rejected(feature=deps.model.feature, model=drafted_by or "unknown", gave_up=verdict == "fallback")
    if verdict == "re-ask":
        reask = HumanMessage(reask_text(problems, "Write the reply again, fixing every problem above."))
        return {"work": [*state["work"], reask], "tries": tries + 1, "problems": problems}
    return {"problems": problems, "fallback_reason": f"validation: {'; '.join(problems)}"}


async def after_validate(state: TurnState) -> Literal["__end__", "fallback", "agent"]:
    if state.get("reply"):
        return "__end__"
    return "fallback" if state.get("fallback_reason") else "agent"


async def fallback(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Answer with no model: the engine for shoppers; for operators, a tool plan read from the command."""
    deps = runtime.context
    with traced(deps, "fallback", "fallback", reason=state.get("fallback_reason")) as span:
        update = await _fall_back(state, deps)
        if span is not None:
            planned = update["work"][-1].tool_calls if update.get("work") else []
            span.set(reply=update.get("reply"), planned_tools=[c["name"] for c in planned] or None)
        return _answered(state, update) if update.get("reply") else update


async def _fall_back(state: TurnState, deps: TurnDeps) -> dict[str, Any]:
    fresh = {"engine": "deterministic", "calls": [], "abandoned": state.get("calls", [])}
    if deps.audience == Audience.OPERATOR:
        plan = deps.commands.plan(state["text"])
        if plan.reply is not None:
            return {**fresh, "reply": plan.reply}
        calls = [{"name": c.tool, "args": c.args, "id": f"cmd-{i}"} for i, c in enumerate(plan.calls)]
        return {**fresh, "decisions": {}, "work": [AIMessage("", tool_calls=calls)]}
    understood = await deps.reading(state)
    async with deps.scope.open() as ctx:
        turn = await deps.engine.answer(
            ctx,
            state["text"],
            pending=Pending.model_validate(state.get("pending") or {}),
            voice=deps.voice,
            language=deps.language,
            understood=understood,
        )
    outcomes = [
        ToolOutcome(tool=name, args=args, status="ok", result=out.model_dump(mode="json"))
        for name, args, out in zip(turn.tools, turn.args, turn.outputs, strict=True)
    ]
    for outcome in outcomes:
        if deps.trace is not None:
            span = deps.trace.record(f"tool {outcome.tool}", "tool", tool=outcome.tool, args=outcome.args, engine=True)
            _trace_outcome(span, outcome)
    calls = [outcome.model_dump(mode="json") for outcome in outcomes]
    return {
        **fresh,
        "reply": turn.reply,
        "intent": str(turn.intent),
        "calls": calls,
        "pending": turn.pending.model_dump(mode="json", exclude_none=True),
        "handoff": turn.handoff.reference if turn.handoff else None,
        "products": [p.model_dump(mode="json") for p in turn.products],
        "quick_replies": [q.model_dump(mode="json", exclude_none=True) for q in turn.quick_replies],
    }


async def after_fallback(state: TurnState, runtime: Runtime[TurnDeps]) -> Literal["__end__", "confirm", "tools"]:
    if state.get("reply"):
        return "__end__"
    return "confirm" if _undecided(runtime.context, state) else "tools"


async def compose(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """Write the operator's deterministic reply from the planned tools' outcomes."""
    outcomes = [ToolOutcome.model_validate(c) for c in state.get("calls", [])]
    return _answered(state, {"reply": runtime.context.commands.compose(outcomes)})


def _answered(state: TurnState, update: dict[str, Any], language: Language = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Finish the turn with `update`'s reply: remember the exchange, collect what the surfaces show (product cards,
    handoff, the buttons that answer a model's question about an order action, in `language`). Every node that
    settles a reply returns this, so the turn ends in that step."""
    # a node's update holds TurnState keys only, so the merged state is still a TurnState
    done = cast(TurnState, {**state, **update})
    memory = state.get("messages", [])
    extra = len(memory) + 2 - MEMORY_MESSAGES
    dropped = [RemoveMessage(id=str(m.id)) for m in memory[: max(extra, 0)]]
    finish: dict[str, Any] = {
        "messages": [*dropped, HumanMessage(done["text"]), AIMessage(done["reply"])],
    }
    if done.get("engine") == "llm":
        finish["pending"] = {}
    if not done.get("products"):
        finish["products"] = product_cards(_tool_results(done))
    if not done.get("handoff"):
        handoffs = [result["reference"] for tool, result in _tool_results(done) if tool == "handoff_to_human"]
        finish["handoff"] = handoffs[-1] if handoffs else None
    if not done.get("quick_replies"):
        actions = [result for tool, result in _tool_results(done) if tool in ORDER_ACTIONS]
        if actions:
            last = OrderActionResult.model_validate(actions[-1])
            finish["quick_replies"] = [
                q.model_dump(mode="json", exclude_none=True) for q in quick_replies_for(last, Replies(language))
            ]
    return {**update, **finish}


def product_cards(results: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Product cards from tool results, deduplicated by SKU, in the order the tools returned them."""
    cards: dict[str, dict[str, Any]] = {}
    for tool, result in results:
        if tool == "search_products":
            found = result.get("products", [])
        elif tool == "get_product":
            found = [result]
        elif tool == "recommend_products":
            found = [r["product"] for r in result.get("recommendations", [])]
        else:
            found = []
        for card in found:
            cards.setdefault(card["sku"], card)
    return list(cards.values())


def build_graph(
    checkpointer: BaseCheckpointSaver | None,
) -> CompiledStateGraph[TurnState, TurnDeps, TurnState, TurnState]:
    """Compile the conversation graph once per process; every turn passes its own `TurnDeps` as context."""
    graph = StateGraph(TurnState, context_schema=TurnDeps)
    graph.add_node("agent", agent)
    graph.add_node("confirm", confirm)
    graph.add_node("tools", tools)
    graph.add_node("validate", validate)
    graph.add_node("fallback", fallback)
    graph.add_node("compose", compose)
    graph.add_edge(START, "agent")
    # each router's return type names the nodes it may route to
    graph.add_conditional_edges("agent", after_agent)
    graph.add_edge("confirm", "tools")
    graph.add_conditional_edges("tools", after_tools)
    graph.add_conditional_edges("validate", after_validate)
    graph.add_conditional_edges("fallback", after_fallback)
    graph.add_edge("compose", END)
    return graph.compile(checkpointer=checkpointer)
