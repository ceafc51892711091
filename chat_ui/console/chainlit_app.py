"""Chainlit callbacks for the operator console (loaded by `chainlit.utils.mount_chainlit`, not imported).

Operators sign in with their HUB email and password and see only their tenant. Every message is one turn of
the conversation graph as that operator (thread = console conversation); tool calls show as steps, and each
reply says which engine and prompt answered and what the turn cost. Sensitive actions arrive as Confirm /
Reject buttons bound to the graph's interrupt. `/cost`, `/prompts`, `/handoffs`, `/feedback`, `/takeover`, `/reply`,
`/release`, `/explain`, `/rate`, `/status`, `/switch` (the shop's kill switches), `/requests`, `/approve` and `/deny` (returns,
cancellations, address changes) answer with or without a model.
Threads are kept in the app's database and can be reopened after a restart; background jobs (bulk SEO, photo
shoots) report into every open console of their shop as they progress and finish, and a shopper handed to a person
is announced there, without the operator asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from decimal import Decimal
from typing import Any

import chainlit as cl
from chainlit.types import ThreadDict
from sqlalchemy import select

from chat_ui import console_commands as commands
from chat_ui import handoff
from chat_ui.console import state
from chat_ui.console.data_layer import ConsoleDataLayer
from graphs.conversation import Decision
from graphs.turns import PendingAction, Speaker, TurnResult
from hub.db import models as m
from hub.jobs import events_channel
from hub.tenancy import admin
from tools.context import Audience

HELP = (
    "Ask in plain words, or use a command: `/summary email`, `/seo SKU`, `/photos SKU white background`, "
    "`/cost [day|week|month]`, `/prompts`, `/handoffs`, `/feedback`, `/quality`, `/takeover ID`, `/reply ID text`, `/release ID`, "
    "`/explain MESSAGE_ID`, `/rate MESSAGE_ID up|down [correction]`, `/status`, `/switch off FEATURE reason`, `/switch on FEATURE`, "
    "`/requests [returns|cancellations|addresses] [requested|approved|denied]`, `/approve REF [note]`, "
    "`/deny REF [note]`."
)


@cl.data_layer
def data_layer() -> ConsoleDataLayer:
    return ConsoleDataLayer()


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User | None:
    async with state().sessions() as session:
        operator = await admin.authenticate_operator(session, username, password)
    if operator is None:
        return None
    # The identifier keys the operator's stored threads: the id, because an email is unique only per shop.
    return cl.User(
        identifier=str(operator.id),
        display_name=operator.name,
        metadata={"tenant_id": str(operator.tenant_id), "operator_id": str(operator.id), "email": operator.email},
    )


def _who() -> tuple[uuid.UUID, uuid.UUID, str]:
    user = cl.user_session.get("user")
    assert user is not None  # login is required
    return uuid.UUID(user.metadata["tenant_id"]), uuid.UUID(user.metadata["operator_id"]), user.metadata["email"]


@cl.on_chat_start
async def start() -> None:
    tenant_id, _, _ = _who()
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        assert tenant is not None  # the signed-in operator's shop
    # The page cannot know the shop before sign-in; the first message says whose console this is.
    await cl.Message(content=f"**{tenant.name}** · HUB console\n\nHello! {HELP}").send()
    _follow_jobs()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    """Reopen a stored thread: the graph's memory of it is keyed by the thread, so the conversation goes on."""
    tenant_id, operator_id, _ = _who()
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        assert tenant is not None  # the signed-in operator's shop
        awaiting = await state().conversations.awaiting(tenant, await _speaker(session, operator_id))
    if awaiting:
        actions = _actions(awaiting)
        await cl.Message(content="Still waiting for your decision:", actions=actions).send()
        cl.user_session.set("pending_actions", actions)
    _follow_jobs()


@cl.on_chat_end
async def end() -> None:
    follower = cl.user_session.get("job_follower")
    if follower is not None:
        follower.cancel()


def _follow_jobs() -> None:
    """Push the shop's job progress and handed-over conversations into this console as they happen (Redis pub/sub,
    no polling)."""
    tenant_id, _, _ = _who()
    cl.user_session.set("job_follower", asyncio.create_task(_relay_job_events(tenant_id)))


async def _relay_job_events(tenant_id: uuid.UUID) -> None:
    pubsub = state().redis.pubsub()
    await pubsub.subscribe(events_channel(tenant_id))
    try:
        async for raw in pubsub.listen():
            if raw.get("type") != "message":
                continue
            with contextlib.suppress(ValueError, TypeError):
                note = commands.job_event(json.loads(raw["data"]))
                if note is not None:
                    await cl.Message(content=note.markdown, elements=_images(note.images), author="jobs").send()
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()


def _images(paths: list[str]) -> list[cl.Image]:
    media = state().settings.media_dir
    return [cl.Image(name=f"image {n}", path=str(media / p), display="inline") for n, p in enumerate(paths, 1)]


def _actions(awaiting: list[PendingAction]) -> list[cl.Action]:
    return [
        action
        for pending in awaiting
        for action in (
            cl.Action(name="approve", payload={"tool": pending.tool}, label=f"Confirm {pending.tool}"),
            cl.Action(name="reject", payload={"tool": pending.tool}, label="Reject"),
        )
    ]


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
    actions = _actions(out.awaiting)
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
        elif word == "/feedback":
            answer = await commands.feedback(session, tenant_id)
        elif word == "/quality":
            answer = await commands.quality(session, tenant_id)
        elif word == "/explain":
            answer = await commands.explain(session, tenant_id, rest)
        elif word == "/rate":
            answer = await commands.rate_reply(session, tenant_id, rest, by=f"operator:{actor}")
        elif word in ("/takeover", "/release", "/reply"):
            answer = await _handle(session, word, rest, tenant_id, f"operator:{actor}")
        elif word == "/status":
            s = state()
            answer = await commands.status(
                session,
                tenant_id,
                redis=s.redis,
                settings=s.settings,
                prompts=s.prompts,
                jobs=s.jobs,
                golden=s.golden(),
            )
        elif word == "/switch":
            answer = await commands.switch(
                session, tenant_id, rest, redis=state().redis, prompts=state().prompts, by=f"operator:{actor}"
            )
        elif word == "/requests":
            answer = await commands.requests(session, tenant_id, rest)
        elif word in ("/approve", "/deny"):
            answer = await commands.decide_request(
                session, tenant_id, rest, approve=word == "/approve", by=f"operator:{actor}", jobs=state().jobs
            )
        elif word == "/help":
            answer = commands.Answer(HELP)
        else:
            return False
    elements = [cl.Pyplot(name="chart", figure=answer.figure, display="inline")] if answer.figure is not None else []
    await cl.Message(content=answer.markdown, elements=elements).send()
    return True


async def _handle(session: Any, word: str, rest: str, tenant_id: uuid.UUID, operator: str) -> commands.Answer:
    """Take over, reply as a person, or release a shopper's conversation."""
    ref, _, text = rest.strip().partition(" ")
    try:
        conversation_id = uuid.UUID(ref)
    except ValueError:
        return commands.Answer(f"`{word}` needs a conversation id from `/handoffs`.")
    try:
        if word == "/reply":
            message = await handoff.reply_as_human(
                session, state().jobs, tenant_id, conversation_id, text, operator=operator
            )
            return commands.Answer(f"Sent to the shopper as you (message {message.id}).")
        conversation = await handoff.set_handler(
            session, tenant_id, conversation_id, human=word == "/takeover", operator=operator
        )
    except handoff.HandoffError as exc:
        return commands.Answer(f"Cannot do that: {exc}")
    await session.commit()
    if word == "/takeover":
        return commands.Answer(
            f"Conversation {conversation.id} is yours: the bot stays quiet. Answer with `/reply {conversation.id} ...`"
            f" and give it back with `/release {conversation.id}`."
        )
    return commands.Answer(f"Conversation {conversation.id} is handled by the bot again.")


@cl.on_message
async def on_message(message: cl.Message) -> None:
    tenant_id, operator_id, actor = _who()
    text = message.content.strip()
    if text.startswith("/") and await _command(text, tenant_id, actor):
        return
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        assert tenant is not None  # the signed-in operator's shop
        speaker = await _speaker(session, operator_id)
        await session.commit()  # hold nothing while the turn waits on a model
        out = await state().conversations.turn(
            session=session,
            tenant=tenant,
            speaker=speaker,
            text=text,
            request_id=uuid.uuid4().hex,
        )
        await session.commit()
        await _show(out, session, tenant_id)


async def _decide(action: cl.Action, approved: bool) -> None:
    tenant_id, operator_id, actor = _who()
    async with state().sessions() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        assert tenant is not None  # the signed-in operator's shop
        speaker = await _speaker(session, operator_id)
        await session.commit()  # hold nothing while the turn waits on a model
        try:
            out = await state().conversations.resume(
                session=session,
                tenant=tenant,
                speaker=speaker,
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
