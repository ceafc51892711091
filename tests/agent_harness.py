"""Talk to the app's conversation graph directly, as a shopper or an operator, one committed turn at a time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from evals.llm_server import ScriptedLLMServer
from graphs.conversation import Decision
from graphs.turns import Speaker, TurnResult
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.app import create_app
from tools.context import Audience


def with_model(settings: Settings, llm: ScriptedLLMServer) -> Settings:
    return settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k"), "llm_model": "model-a"}
    )


@asynccontextmanager
async def running(settings: Settings, *, in_process_workers: bool = False) -> AsyncIterator[FastAPI]:
    app = create_app(settings, in_process_workers=in_process_workers)
    async with app.router.lifespan_context(app):
        yield app


class Chat:
    """Talk to the app's conversation graph as one speaker, one committed transaction per turn."""

    def __init__(self, app: FastAPI, engine: AsyncEngine, demo: DemoCredentials, speaker: Speaker) -> None:
        self.app, self.sessions, self.demo, self.speaker = app, session_factory(engine), demo, speaker

    async def say(self, text: str) -> TurnResult:
        async with self.sessions() as session:
            tenant = await session.get(m.Tenant, self._tenant_id)
            out = await self.app.state.conversations.turn(
                session=session, tenant=tenant, speaker=self.speaker, text=text, request_id="req"
            )
            await session.commit()
            return out

    async def decide(self, approved: bool, note: str | None = None) -> TurnResult:
        async with self.sessions() as session:
            tenant = await session.get(m.Tenant, self._tenant_id)
            out = await self.app.state.conversations.resume(
                session=session,
                tenant=tenant,
                speaker=self.speaker,
                decision=Decision(approved=approved, by=self.demo.operator_email, note=note),
                request_id="req",
            )
            await session.commit()
            return out

    @property
    def _tenant_id(self) -> uuid.UUID:
        return uuid.UUID(self.demo.tenant_id)


async def operator_chat(app: FastAPI, engine: AsyncEngine, demo: DemoCredentials, ref: str = "console-1") -> Chat:
    async with session_factory(engine)() as session:
        operator = (
            await session.execute(select(m.Operator).where(m.Operator.email == demo.operator_email))
        ).scalar_one()
    speaker = Speaker(audience=Audience.OPERATOR, channel=m.Channel.CONSOLE, external_ref=ref, operator=operator)
    return Chat(app, engine, demo, speaker)


def shopper_chat(app: FastAPI, engine: AsyncEngine, demo: DemoCredentials, ref: str = "web-1") -> Chat:
    return Chat(app, engine, demo, Speaker(audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=ref))


async def audit_of(engine: AsyncEngine, out: TurnResult) -> m.AuditEvent:
    async with session_factory(engine)() as session:
        return (
            await session.execute(select(m.AuditEvent).where(m.AuditEvent.subject == str(out.message_id)))
        ).scalar_one()


async def last_result(engine: AsyncEngine, out: TurnResult) -> dict[str, Any] | None:
    """The last successful tool result of a turn, as the audit recorded it."""
    calls = (await audit_of(engine, out)).data["tools"]
    results = [c["result"] for c in calls if c["status"] == "ok"]
    return results[-1] if results else None


def fill(value: Any, **names: Any) -> Any:
    """Format every string inside a golden-file value with `names` ({demo.x}, {product.x}, {r[...]})."""
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, **names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, **names) for v in value]
    return value
