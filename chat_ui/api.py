"""The storefront chat API: `POST /v1/chat` (and `/v1/chat/stream`) answers one shopper message for the key's tenant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from graphs.turns import Speaker, TurnResult
from hub.db import models as m
from hub.http.deps import Authenticated, Session, Storefront
from tools.context import Audience

router = APIRouter(prefix="/v1", tags=["chat"])
_WORDS_PER_DELTA = 4


class ChatIn(BaseModel):
    session_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The widget's session id; one conversation per session.",
    )
    message: str = Field(min_length=1, max_length=4000, description="What the shopper wrote.")


ChatOut = TurnResult


async def _answer(body: ChatIn, auth: Authenticated, session: AsyncSession, request: Request) -> ChatOut:
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    result = await request.app.state.conversations.turn(
        session=session,
        tenant=tenant,
        speaker=Speaker(audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=body.session_id),
        text=body.message.strip() or body.message,
        request_id=request.state.request_id,
    )
    await session.commit()
    return result


@router.post("/chat")
async def chat(body: ChatIn, auth: Storefront, session: Session, request: Request) -> ChatOut:
    """Answer one shopper message; the conversation is kept per (tenant, session id)."""
    return await _answer(body, auth, session, request)


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


@router.post("/chat/stream", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def chat_stream(body: ChatIn, auth: Storefront, session: Session, request: Request) -> StreamingResponse:
    """Answer as server-sent events: `meta`, then `delta` pieces of the reply, then `done`.

    The reply is validated whole before its first piece is sent: a shopper never sees model text
    that the validators would have rejected.
    """
    out = await _answer(body, auth, session, request)

    async def events() -> AsyncIterator[bytes]:
        yield _event("meta", out.model_dump(mode="json", exclude={"reply"}))
        words = out.reply.split(" ")
        for start in range(0, len(words), _WORDS_PER_DELTA):
            piece = " ".join(words[start : start + _WORDS_PER_DELTA])
            yield _event("delta", {"text": piece if start == 0 else " " + piece})
        yield _event("done", {"message_id": str(out.message_id)})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
