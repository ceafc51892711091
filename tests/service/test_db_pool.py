"""The Postgres pool: a connection the server dropped while it sat idle is replaced, not handed to a request."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from hub.db import engine as db_engine

pytestmark = pytest.mark.service


async def test_a_pooled_connection_killed_while_idle_is_replaced_before_anyone_uses_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_S", 0.2)
    engine = db_engine.create_engine(postgres_url)
    killer = db_engine.create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
        async with killer.connect() as conn:  # a restart or a proxy's idle timeout, as the pool sees it
            await conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.4)
        async with engine.connect() as conn:
            again = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
        assert again != first
        # a connection used a moment ago is handed out again as it is: no ping, the same backend
        async with engine.connect() as conn:
            assert (await conn.execute(text("select pg_backend_pid()"))).scalar_one() == again
    finally:
        await engine.dispose()
        await killer.dispose()
