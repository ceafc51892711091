"""Test-only background tasks, and a worker process that runs them: `python -m tests.job_tasks SETTINGS_JSON [QUEUE]`.

With QUEUE the worker consumes a queue of that name that has only these tasks (as the queue bench's worker
has only its own); without, the general queue with every registered task.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import anyio
import pytest

from hub.jobs import GENERAL, JobQueue, QueueSpec
from hub.settings import Settings

RUNS = "hub:test:runs"
"""Hash: job key → how many times a task started on it."""
FINISHED = "hub:test:finished"


def register_test_tasks(queue: JobQueue) -> None:
    @queue.task("count_and_sleep", timeout_s=60)
    async def count_and_sleep(key: str, steps: int, step_s: float) -> str:
        redis = queue.resources.redis
        await redis.hincrby(RUNS, key, 1)
        for step in range(1, steps + 1):
            await anyio.sleep(step_s)
            await queue.publish("tests", {"key": key, "step": step})
        await redis.rpush(FINISHED, key)
        return key

    @queue.task("always_fails", timeout_s=10)
    async def always_fails(key: str) -> None:
        await queue.resources.redis.hincrby(RUNS, key, 1)
        raise ValueError(f"no luck with {key}")


async def _main(settings: Settings, spec: QueueSpec = GENERAL) -> None:
    queue = JobQueue(settings, spec, linked=())
    register_test_tasks(queue)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await queue.run(stop)


if __name__ == "__main__":
    spec = QueueSpec(sys.argv[2], "jobs_concurrency") if len(sys.argv) > 2 else GENERAL
    asyncio.run(_main(Settings.model_validate_json(sys.argv[1]), spec))


def record_enqueues(queue: JobQueue, task_ids: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Append the id of every job `queue` queues from now on to `task_ids` (a test then waits for exactly those)."""
    enqueue = queue.enqueue

    async def recording_enqueue(name: str, *args: Any, **kwargs: Any) -> str:
        task_id = await enqueue(name, *args, **kwargs)
        task_ids.append(task_id)
        return task_id

    monkeypatch.setattr(queue, "enqueue", recording_enqueue)
