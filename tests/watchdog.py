"""Say what a test was waiting for when it is about to hit pytest-timeout.

pytest-timeout's signal method reports only where the main thread stood, which for an async test is the
event loop's `select()`: it tells nothing. Shortly before the timeout this plugin prints, to the test's
captured stderr, the fixture being set up or torn down, every asyncio task's stack, and every thread's stack.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

LEAD_S = 20.0
"""How long before the timeout the dump is printed."""


def _timeout_s(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


def _frames(frame: FrameType | None) -> Iterator[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back


def _awaiting(coro: Any) -> Iterator[FrameType]:
    """The frames of a suspended coroutine and of everything it awaits, outermost first.

    `Task.get_stack()` gives a suspended coroutine's own frame only; the interesting one is at the bottom.
    """
    for _ in range(100):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            return
        yield frame
        awaited = (
            getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
        )
        if awaited is not None and type(awaited).__name__ in ("async_generator_asend", "async_generator_athrow"):
            # `await agen.__anext__()` hides the generator; find the running one among the frame's variables
            values = [*frame.f_locals.values(), *(getattr(v, "gen", None) for v in frame.f_locals.values())]
            awaited = next((v for v in values if getattr(v, "ag_running", False)), None)
        if awaited is None:
            return
        coro = awaited


def _dump(item: pytest.Item, main: int) -> None:
    out = sys.__stderr__
    if out is None:
        return
    frames = sys._current_frames()
    lines = [f"\n=== watchdog: {item.nodeid} is about to time out ===\n"]
    loop: asyncio.AbstractEventLoop | None = None
    fixtures: list[str] = []
    for frame in _frames(frames.get(main)):
        owner: Any = frame.f_locals.get("self")
        if loop is None and isinstance(owner, asyncio.AbstractEventLoop):
            loop = owner
        if type(owner).__name__ == "FixtureDef":
            fixtures.append(owner.argname)
    lines.append(f"fixtures in progress (innermost first): {fixtures or 'none'}\n")
    if loop is not None:
        for _ in range(3):  # the set of tasks can change under us
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                continue
        else:
            tasks = []
        lines.append(f"--- {len(tasks)} asyncio tasks ---\n")
        for task in tasks:
            lines.append(f"task {task.get_name()} {task.get_coro()!r}\n")
            for frame in _awaiting(task.get_coro()):
                lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}\n")
    for ident, frame in frames.items():
        if ident == threading.get_ident():
            continue
        name = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
        lines.append(f"--- thread {name} ---\n")
        lines.extend(traceback.format_stack(frame, limit=25))
    out.write("".join(lines))
    out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    timeout = _timeout_s(item)
    timer = None
    if timeout > LEAD_S * 2:
        timer = threading.Timer(timeout - LEAD_S, _dump, args=(item, threading.get_ident()))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
