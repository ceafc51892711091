"""asyncio helpers that keep cancellation intact on Python 3.11.

`asyncio.wait_for` on 3.11 returns the awaited result and drops a cancellation that arrives just as the
awaited thing finishes (CPython gh-86296, fixed in 3.12), so a loop built on it can outlive `task.cancel()`
and hang a shutdown. `asyncio.timeout` has no such gap; ruff bans `asyncio.wait_for` in this repository.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` passes; return whether it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
    return event.is_set()
