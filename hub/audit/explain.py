"""Explain an answer after the fact: read its stored trace back as a timeline a person can follow.

"Why did the bot say that?" becomes: prompt customer_reply@2.0.0 (sha …), model X, tool order_status
returned …, the validator rejected a price not in the tool output, re-asked once, fell back, answered.
`hub explain`, the console's `/explain` and `GET /v1/messages/{id}/explain` all render this one model.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m

StepKind = Literal[
    "input", "prompt", "guard", "model", "retry", "rejected", "reask", "tool", "validation", "fallback", "answer"
]
_EVENTS_SHOWN = {"guard", "circuit_open", "next_model", "reask", "switched_off"}
"""Gateway rungs worth their own line; answers, failures and rejections come from the attempt spans."""


class ExplainError(LookupError):
    """The message is unknown here, or nothing was recorded for it."""


class Step(BaseModel):
    at: datetime
    kind: StepKind
    text: str
    data: dict[str, Any] = {}


class Explanation(BaseModel):
    """Why one answer was given, from its trace."""

    message_id: uuid.UUID
    tenant_id: uuid.UUID
    trace_id: str
    conversation_id: uuid.UUID
    channel: str | None
    question: str | None
    reply: str
    engine: str | None
    intent: str | None
    prompt: str | None
    prompt_sha256: str | None
    models: list[str]
    tools: list[str]
    validation: list[str]
    """Every problem a validator found in a draft, in order."""
    reasks: int
    fallback_reason: str | None
    cost: Decimal
    latency_ms: int
    replay_of: str | None = None
    summary: str
    steps: list[Step]

    def markdown(self) -> str:
        """The timeline for the console: a title, the one-line summary, then numbered steps."""
        head = [f"**Why this answer** (message {self.message_id}, trace {self.trace_id})", "", f"_{self.summary}_", ""]
        lines = [f"{i}. **{s.kind}**: {s.text}" for i, s in enumerate(self.steps, 1)]
        return "\n".join(head + lines)

    def render(self) -> str:
        """The timeline as numbered plain-text lines (Markdown-friendly)."""
        head = [
            f"Why message {self.message_id} said what it said (trace {self.trace_id})",
            f"  {self.summary}",
            "",
        ]
        lines = [f"{i:>2}. [{s.kind}] {s.text}" for i, s in enumerate(self.steps, 1)]
        return "\n".join(head + lines)


def short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def explain(session: AsyncSession, message_id: uuid.UUID, *, tenant_id: uuid.UUID | None = None) -> Explanation:
    """Explain one message (a reply, or the customer message that started its turn); `tenant_id` scopes the lookup."""
    message = await session.get(m.Message, message_id)
    if message is None or (tenant_id is not None and message.tenant_id != tenant_id):
        raise ExplainError(f"no message {message_id}" + (" in this shop" if tenant_id else ""))
    if not message.trace_id:
        raise ExplainError(f"message {message_id} has no trace (it was written by a person or before tracing began)")
    spans = await trace_spans(session, message.tenant_id, message.trace_id)
    if not spans:
        raise ExplainError(
            f"no trace is stored for message {message_id}: it was recorded before tracing began or purged by retention"
        )
    return _explain(message, spans)


async def trace_spans(session: AsyncSession, tenant_id: uuid.UUID, trace_id: str) -> list[m.TraceSpan]:
    """One trace's spans, oldest first, never another tenant's."""
    found = await session.execute(
        select(m.TraceSpan)
        .where(m.TraceSpan.tenant_id == tenant_id, m.TraceSpan.trace_id == trace_id)
        .order_by(m.TraceSpan.start_ts, m.TraceSpan.id)
    )
    return list(found.scalars())


def _explain(message: m.Message, spans: list[m.TraceSpan]) -> Explanation:
    root = next((s for s in spans if s.parent_span_id is None), spans[0])
    ra = root.attributes
    steps: list[Step] = []
    who = ra.get("operator") or f"the customer on {ra.get('channel')}"
    if ra.get("input") is not None:
        verb = "decided" if root.name == "chat.resume" else "wrote"
        steps.append(Step(at=root.start_ts, kind="input", text=f"{who} {verb}: {short(ra['input'], 300)}"))
    if ra.get("replay_of"):
        steps.append(
            Step(
                at=root.start_ts,
                kind="input",
                text=f"replay of message {ra['replay_of']} with prompt {ra.get('prompt')}"
                + (f" and model {ra['model']}" if ra.get("model") else ""),
            )
        )
    validation: list[str] = []
    models: list[str] = []
    reasks = 0
    for span in spans:
        a = span.attributes
        if span.kind == "gateway":
            sha = f" (sha256 {a['prompt_sha256'][:12]}…)" if a.get("prompt_sha256") else ""
            text = f"asked the gateway for {a.get('feature')}: prompt {a.get('prompt')}{sha}"
            steps.append(Step(at=span.start_ts, kind="prompt", text=text, data={"prompt": a.get("prompt")}))
            for event in span.events:
                if event["name"] in _EVENTS_SHOWN:
                    steps.append(_rung_step(event))
        elif span.kind == "attempt":
            steps.append(_attempt_step(span))
            if a.get("outcome") == "ok" and a.get("model") not in models:
                models.append(a["model"])
        elif span.kind == "tool":
            steps.append(_tool_step(span))
        elif span.kind == "validate":
            problems: list[str] = a.get("problems") or []
            validation.extend(problems)
            if a.get("verdict") == "accepted":
                steps.append(Step(at=span.start_ts, kind="validation", text="the reply validator accepted the draft"))
            else:
                then = f"re-asked ({a.get('reask')})" if a.get("verdict") == "re-ask" else "gave up on the model"
                text = f"the reply validator rejected the draft: {'; '.join(problems)} → {then}"
                steps.append(Step(at=span.start_ts, kind="validation", text=text, data={"draft": a.get("draft")}))
                reasks += a.get("verdict") == "re-ask"
        elif span.kind == "fallback":
            text = f"fell back to the deterministic engine: {a.get('reason') or 'no model answered'}"
            steps.append(Step(at=span.start_ts, kind="fallback", text=text))
    for span in spans:
        if span.kind == "gateway":
            reasks += sum(1 for e in span.events if e["name"] == "reask")
    latency_ms = round((root.end_ts - root.start_ts).total_seconds() * 1000)
    cost = Decimal(str(ra.get("cost", "0")))
    reply = ra.get("reply", message.content)
    steps.append(
        Step(
            at=root.end_ts,
            kind="answer",
            text=f"answered with engine {ra.get('engine')} in {latency_ms} ms for {cost} USD: {short(reply, 300)}",
        )
    )
    steps.sort(key=lambda s: s.at)
    explanation = Explanation(
        message_id=message.id,
        tenant_id=message.tenant_id,
        trace_id=root.trace_id,
        conversation_id=message.conversation_id,
        channel=ra.get("channel"),
        question=ra.get("input"),
        reply=reply,
        engine=ra.get("engine"),
        intent=ra.get("intent"),
        prompt=ra.get("prompt"),
        prompt_sha256=ra.get("prompt_sha256"),
        models=models,
        tools=[s.attributes.get("tool", s.name) for s in spans if s.kind == "tool"],
        validation=validation,
        reasks=reasks,
        fallback_reason=ra.get("fallback_reason"),
        cost=cost,
        latency_ms=latency_ms,
        replay_of=ra.get("replay_of"),
        summary="",
        steps=steps,
    )
    explanation.summary = _summary(explanation, spans)
    return explanation


def _rung_step(event: dict[str, Any]) -> Step:
    a = event.get("attributes", {})
    model = f" {a['model']}" if a.get("model") else ""
    texts = {
        "guard": f"the gateway refused to call a model: {a.get('detail')}",
        "circuit_open": f"skipped model{model}: its circuit is open",
        "switched_off": f"skipped model{model}: switched off ({a.get('detail')})",
        "next_model": f"gave up on model{model} ({a.get('detail')}), trying the next one",
        "reask": f"re-asked model{model} ({a.get('detail')})",
    }
    kind: StepKind = "reask" if event["name"] == "reask" else "guard"
    return Step(at=datetime.fromisoformat(event["ts"]), kind=kind, text=texts[event["name"]], data=a)


def _attempt_step(span: m.TraceSpan) -> Step:
    a = span.attributes
    took = round((span.end_ts - span.start_ts).total_seconds() * 1000)
    head = f"model {a.get('model')} (attempt {a.get('attempt')}, {took} ms"
    if a.get("input_tokens") is not None:
        head += f", {a.get('input_tokens')}+{a.get('output_tokens')} tokens, {a.get('cost')} USD"
    head += ")"
    if a.get("outcome") in ("retryable_error", "error"):
        return Step(at=span.start_ts, kind="retry", text=f"{head} failed: {a.get('error')}")
    output = a.get("output")
    if isinstance(output, dict):
        reply = cast("dict[str, Any]", output)  # the span stores a model's reply as a JSON object or a string
        calls = [f"{c['name']}({short(c.get('args', {}), 80)})" for c in reply.get("tool_calls", [])]
        said = f"called {', '.join(calls)}" if calls else f"replied: {short(reply.get('content', ''), 200)}"
    else:
        said = f"replied: {short(output or '', 200)}"
    if a.get("outcome") == "invalid_output":
        problems = "; ".join(a.get("validation_errors") or [])
        return Step(at=span.start_ts, kind="rejected", text=f"{head} {said}, rejected: {problems}")
    return Step(at=span.start_ts, kind="model", text=f"{head} {said}")


def _tool_step(span: m.TraceSpan) -> Step:
    a = span.attributes
    by = " (deterministic engine)" if a.get("engine") else ""
    call = f"tool {a.get('tool')}{by} with {short(a.get('args', {}), 100)}"
    if a.get("outcome") == "ok":
        return Step(at=span.start_ts, kind="tool", text=f"{call} returned {short(a.get('result'), 200)}")
    return Step(at=span.start_ts, kind="tool", text=f"{call} → {a.get('outcome')}: {a.get('status_detail')}")


def _summary(e: Explanation, spans: list[m.TraceSpan]) -> str:
    parts: list[str] = []
    if e.prompt:
        parts.append(f"prompt {e.prompt}")
    if e.models:
        parts.append(f"model {', '.join(e.models)}")
    for span in spans:
        if span.kind == "tool":
            a = span.attributes
            outcome = f"returned {short(a.get('result'), 60)}" if a.get("outcome") == "ok" else a.get("outcome")
            parts.append(f"tool {a.get('tool')} {outcome}")
    if e.validation:
        parts.append(f"validator rejected {short('; '.join(dict.fromkeys(e.validation)), 120)}")
    if e.reasks:
        parts.append("re-asked once" if e.reasks == 1 else f"re-asked {e.reasks} times")
    if e.engine == "deterministic" and (e.fallback_reason or any(s.kind == "fallback" for s in spans)):
        parts.append("fell back to the deterministic engine")
    parts.append("answered")
    return ", ".join(parts)
