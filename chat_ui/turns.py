"""Run one shopper turn: remember the conversation, answer (model or deterministic), store both messages."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import DeterministicEngine, EngineTurn, Pending, ShopVoice
from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.gateway.guards import Refusal
from hub.prompting.outputs import CustomerReply, Intent
from hub.tenancy.config import TenantConfig
from tools.context import Audience, ToolContext
from tools.engagement import PolicyAnswerResult, ProductCard
from tools.validators import validate_reply

HISTORY_TURNS = 6


class TurnResult(BaseModel):
    """What one turn produced; also the body of `POST /v1/chat`."""

    message_id: uuid.UUID
    reply: str
    intent: Intent
    tools: list[str]
    engine: Literal["llm", "deterministic"]
    prompt_version: str | None
    trace_id: str
    products: list[ProductCard]
    """Product cards from this turn's tool results, for the widget to render."""


async def _conversation(session: AsyncSession, tenant_id: uuid.UUID, channel: m.Channel, ref: str) -> m.Conversation:
    found = await session.execute(
        select(m.Conversation).where(
            m.Conversation.tenant_id == tenant_id, m.Conversation.channel == channel, m.Conversation.external_ref == ref
        )
    )
    conversation = found.scalar_one_or_none()
    if conversation is None:
        conversation = m.Conversation(tenant_id=tenant_id, channel=channel, external_ref=ref)
        session.add(conversation)
        await session.flush()
    return conversation


async def _recent(session: AsyncSession, conversation: m.Conversation) -> list[m.Message]:
    rows = await session.execute(
        select(m.Message)
        .where(m.Message.tenant_id == conversation.tenant_id, m.Message.conversation_id == conversation.id)
        .order_by(m.Message.created_at.desc(), m.Message.id)
        .limit(HISTORY_TURNS * 2)
    )
    return list(reversed(rows.scalars().all()))


def _outputs_text(turn: EngineTurn) -> tuple[str, str]:
    """Split this turn's tool outputs into policy passages and other facts, as JSON for the prompt."""
    policies = [o.model_dump(mode="json") for o in turn.outputs if isinstance(o, PolicyAnswerResult)]
    facts = [
        {"tool": name, "result": o.model_dump(mode="json")}
        for name, o in zip(turn.tools, turn.outputs, strict=True)
        if not isinstance(o, PolicyAnswerResult)
    ]
    return (
        json.dumps(policies, ensure_ascii=False) if policies else "",
        json.dumps(facts, ensure_ascii=False) if facts else "",
    )


async def run_turn(
    *,
    session: AsyncSession,
    engine: DeterministicEngine,
    gateway: Gateway,
    tenant: m.Tenant,
    channel: m.Channel,
    external_ref: str,
    text: str,
    request_id: str,
) -> TurnResult:
    """Answer one customer message and store it with the answer; the caller commits."""
    config = TenantConfig.model_validate(tenant.settings)
    conversation = await _conversation(session, tenant.id, channel, external_ref)
    history = await _recent(session, conversation)
    last_bot = next((msg for msg in reversed(history) if msg.role == "assistant"), None)
    pending = Pending.model_validate(last_bot.meta.get("pending", {})) if last_bot else Pending()
    session.add(
        m.Message(
            tenant_id=tenant.id,
            conversation_id=conversation.id,
            role="customer",
            content=text,
            created_at=datetime.now(UTC),
        )
    )
    ctx = ToolContext(session=session, tenant_id=tenant.id, audience=Audience.CUSTOMER, channel=channel)
    voice = ShopVoice(name=tenant.name, tone=config.brand.tone)
    turn = await engine.answer(ctx, text, pending=pending, voice=voice)

    call = CallContext(tenant_id=tenant.id, tenant=config, request_id=request_id)
    policies, facts = _outputs_text(turn)

    def grounded(value: CustomerReply) -> list[str]:
        return validate_reply(value.reply, tool_outputs=turn.outputs, channel=channel)

    def deterministic(_: Refusal) -> CustomerReply:
        return CustomerReply(
            reply=turn.reply,
            intent=turn.intent,
            handoff=turn.handoff is not None,
            handoff_reason=turn.handoff.summary if turn.handoff else None,
        )

    result = await gateway.generate(
        call,
        use_case="customer_reply",
        variables={
            "shop_name": tenant.name,
            "brand_tone": config.brand.tone,
            "voice_examples": config.brand.voice_examples,
            "channel": channel.value,
            "today": datetime.now(UTC).date().isoformat(),
            "policies": policies,
            "tool_results": facts,
            "history": "\n".join(f"{msg.role}: {msg.content}" for msg in history),
            "message": text,
        },
        validators=[grounded],
        fallback=deterministic,
    )
    answer = result.value
    reply = m.Message(
        tenant_id=tenant.id,
        conversation_id=conversation.id,
        role="assistant",
        content=answer.reply,
        created_at=datetime.now(UTC),
        intent=turn.intent,
        engine=result.engine,
        prompt_version=result.prompt_ref,
        trace_id=result.trace_id,
        meta={
            "tools": turn.tools,
            "pending": turn.pending.model_dump(mode="json", exclude_none=True),
            "handoff": turn.handoff.reference if turn.handoff else None,
            "request_id": request_id,
        },
    )
    session.add(reply)
    if turn.handoff is not None:
        conversation.status = m.ConversationStatus.HUMAN
    await session.flush()
    session.add(
        m.AuditEvent(
            tenant_id=tenant.id,
            actor=f"customer:{channel}:{external_ref}",
            action="chat.turn",
            subject=str(reply.id),
            trace_id=result.trace_id,
            data={
                "intent": turn.intent,
                "tools": [
                    {"name": name, "output": output.model_dump(mode="json")}
                    for name, output in zip(turn.tools, turn.outputs, strict=True)
                ],
                "engine": result.engine,
                "prompt": result.prompt_ref,
                "model": result.model,
                "fallback_reason": result.fallback_reason,
                "rungs": [
                    {"step": r.step, "model": r.model, "attempt": r.attempt, "detail": r.detail} for r in result.rungs
                ],
                "cost": str(result.cost),
                "request_id": request_id,
            },
        )
    )
    return TurnResult(
        message_id=reply.id,
        reply=answer.reply,
        intent=turn.intent,
        tools=turn.tools,
        engine=result.engine,
        prompt_version=result.prompt_ref if result.engine == "llm" else None,
        trace_id=result.trace_id,
        products=turn.products,
    )
