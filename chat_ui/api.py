"""The storefront chat API: `POST /v1/chat` answers one shopper message for the key's tenant."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from chat_ui.turns import run_turn
from hub.db import models as m
from hub.http.deps import Resources, Session, Storefront, resources
from hub.prompting.outputs import Intent
from tools.engagement import ProductCard

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatIn(BaseModel):
    session_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The widget's session id; one conversation per session.",
    )
    message: str = Field(min_length=1, max_length=4000, description="What the shopper wrote.")


class ChatOut(BaseModel):
    message_id: uuid.UUID
    reply: str
    intent: Intent
    tools: list[str]
    engine: Literal["llm", "deterministic"]
    prompt_version: str | None
    trace_id: str
    products: list[ProductCard]
    """Product cards from this turn's tool results, for the widget to render."""


@router.post("/chat")
async def chat(
    body: ChatIn, auth: Storefront, session: Session, request: Request, res: Annotated[Resources, Depends(resources)]
) -> ChatOut:
    """Answer one shopper message; the conversation is kept per (tenant, session id)."""
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    result = await run_turn(
        session=session,
        engine=request.app.state.engine,
        gateway=res.gateway,
        tenant=tenant,
        channel=m.Channel.WEB,
        external_ref=body.session_id,
        text=body.message.strip() or body.message,
        request_id=request.state.request_id,
    )
    await session.commit()
    return ChatOut(**result.__dict__)
