"""Chainlit callbacks for the operator console (loaded by `chainlit.utils.mount_chainlit`, not imported).

Operators sign in with their HUB email and password and see only their tenant. Every message is one turn of
the conversation graph as that operator (thread = console conversation); tool calls show as steps, and each
reply says which engine and prompt answered and what the turn cost. Sensitive actions arrive as Confirm /
Reject buttons bound to the graph's interrupt. `/cost`, `/prompts`, `/handoffs`, `/takeover`, `/release` and
`/explain` answer from the database with or without a model.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import chainlit as cl
from sqlalchemy import select

from chat_ui import console_commands as commands
from chat_ui.console import state
from graphs.conversation import Decision
from graphs.turns import Speaker, TurnResult
from hub.db import models as m
from hub.tenancy import admin
from tools.context import Audience

HELP = (
    "Ask in plain words, or use a command: `/summary email`, `/seo SKU`, `/photos SKU white background`, "
    "`/cost [day|week|month]`, `/prompts`, `/handoffs`, `/takeover ID`, `/release ID`, `/explain MESSAGE_ID`."
)


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User | None:
    async with state().sessions() as session:
        operator = await admin.authenticate_operator(session, username, password)
    if operator is None:
        return None
    return cl.User(
        identifier=operator.email,
        display_name=operator.name,
        metadata={"tenant_id": str(operator.tenant_id), "operator_id": str(operator.id)},
    )


def _who() -> tuple[uuid.UUID, uuid.UUID, str]:
    user = cl.user_session.get("user")
    assert user is not None  # login is required
    return uuid.UUID(user.metadata["tenant_id"]), uuid.UUID(user.metadata["operator_id"]), user.identifier


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content=f"Hello! {HELP}").send()


async def _speaker(session: Any, operator_id: uuid.UUID) -> Speaker:
    operator = await session.get(m.Operator, operator_id)
    thread = cl.context.session.thread_id
    return Speaker(
        audience=Audience.OPERATOR, channel=m.Channel.CONSOLE, external_ref=f"console:{thread}", operator=operator
    )


async def _show(out: TurnResult, session: Any, tenant_id: uuid.UUID) -> None:
    event = (
        await session.execute(
            select(m.AuditEvent.data).where(
                m.AuditEvent.tenant_id == tenant_id, m.AuditEvent.subject == str(out.message_id)
            )
        )
    ).scalar_one_or_none() or {}
    for call in event.get("tools", []):
        async with cl.Step(name=call["tool"], type="tool") as step:
            step.input = call.get("args", {})
            step.output = call.get("result") if call["status"] == "ok" else f"{call['status']}: {call.get('detail')}"
    cost = Decimal(event.get("cost", "0"))
    footer = f"\n\n_{out.engine} · {out.prompt_version or 'no model'} · ${cost:.6f} · message {out.message_id}_"
    actions = [
        action
        for pending in out.awaiting
        for action in (
            cl.Action(name="approve", payload={"tool": pending.tool}, label=f"Confirm {pending.tool}"),
            cl.Action(name="reject", payload={"tool": pending.tool}, label="Reject"),
        )
    ]
    await cl.Message(content=out.reply + footer, actions=actions).send()
    cl.user_session.set("pending_actions", actions)


async def _command(text: str, tenant_id: uuid.UUID, actor: str) -> bool:
    word, _, rest = text.partition(" ")
    async with state().sessions() as session:
        if word == "/cost":
            answer = await commands.cost(session, tenant_id, rest or "week")
        elif word == "/prompts":
            answer = await commands.prompts(session, tenant_id, state().prompts)
        elif word == "/handoffs":
            answer = await commands.handoffs(session, tenant_id)
        elif word == "/explain":
            answer = await commands.explain(session, tenant_id, rest)
        elif word in ("/takeover", "/release"):
            try:
                conversation = await commands.set_handler(
                    session, tenant_id, uuid.UUID(rest.strip()), human=word == "/takeover", operator=f"operator:{actor}"
                )
            except (ValueError, LookupError) as exc:
                answer = commands.Answer(f"Cannot do that: {exc}")
            else:
                await session.commit()
                who = "you now" if word == "/takeover" else "the bot again"
                answer = commands.Answer(f"Conversation {conversation.id} is handled by {who}.")
        elif word == "/help":
            answer = commands.Answer(HELP)
        else:
            return False
    elements = [cl.Pyplot(name="chart", figure=answer.figure, display="inline")] if answer.figure is not None else []
    await cl.Message(content=answer.markdown, elements=elements).send()
    return True


@cl.on_message
async def on_message(message: cl.Message) -> None:
    tenant_id, operator_id, actor = _who()
    text = message.content.strip()
    if text.startswith("/") and await _command(text, tenant_id, actor):
        return
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        out = await state().conversations.turn(
            session=session,
            tenant=tenant,
            speaker=await _speaker(session, operator_id),
            text=text,
            request_id=uuid.uuid4().hex,
        )
        await session.commit()
        await _show(out, session, tenant_id)


async def _decide(action: cl.Action, approved: bool) -> None:
    tenant_id, operator_id, actor = _who()
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        try:
            out = await state().conversations.resume(
                session=session,
                tenant=tenant,
                speaker=await _speaker(session, operator_id),
                decision=Decision(approved=approved, by=actor),
                request_id=uuid.uuid4().hex,
            )
        except LookupError:
            await cl.Message(content="That action was already decided.").send()
            return
        await session.commit()
        for shown in cl.user_session.get("pending_actions") or [action]:
            await shown.remove()
        await _show(out, session, tenant_id)


@cl.action_callback("approve")
async def approve(action: cl.Action) -> None:
    await _decide(action, approved=True)


@cl.action_callback("reject")
async def reject(action: cl.Action) -> None:
    await _decide(action, approved=False)
