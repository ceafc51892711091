"""With Redis unreachable, guessing is no longer counted, but nobody is refused: keys and passwords are still checked,
and a Redis outage does not turn every signed-in request into a 500."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from hub.settings import Settings
from hub.tenancy.guessing import Subject, key_guesses, sign_in_guesses
from tests.processes import free_port


async def test_the_throttles_let_tries_through_when_redis_is_down() -> None:
    client = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    settings = Settings()
    address = {Subject.CLIENT: "198.51.100.7"}
    try:
        keys = key_guesses(client, settings)
        assert await keys.check(address) is None
        assert await keys.failed(address, counted=False) == ()
        sign_ins = sign_in_guesses(client, settings)
        subjects = {Subject.ACCOUNT: "ops", **address}
        assert await sign_ins.attempt(subjects) is None
        assert await sign_ins.failed(subjects, counted=True) == ()
        await sign_ins.succeeded(subjects)
    finally:
        await client.aclose()
