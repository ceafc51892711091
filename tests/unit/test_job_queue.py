"""The job queue on a real (embedded) Redis: it drains a backlog in batches, and a worker stopped mid-drain
raises nothing and loses nothing: jobs it fetched or was still running go back to the queue for another."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import hub.jobs
from hub.db.engine import create_engine, session_factory
from hub.gateway.switches import SwitchBoard
from hub.jobs import JobQueue, QueueSpec
from hub.logs import configure_logging
from hub.redis_conn import EmbeddedRedis, create_redis
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SPEC = QueueSpec("test-jobs", "jobs_concurrency")


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):
            self.events.append(record.msg)


@contextmanager
def structured_logs() -> Iterator[list[dict[str, Any]]]:
    """The structlog events logged in the block, routed as the service routes them (through stdlib logging).

    structlog's `capture_logs` misses loggers another test already used: the service caches them on first use.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    collector = _Events()
    root.addHandler(collector)
    try:
        yield collector.events
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def settings(embedded_redis: EmbeddedRedis, tmp_path: Path) -> Settings:
    """A worker's settings on a data dir whose database was never migrated, as the bench starts one."""
    return Settings(data_dir=tmp_path / "data", redis_url=embedded_redis.url, jobs_concurrency=8, jobs_idle_timeout_s=1)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[JobQueue]:
    async with JobQueue(settings, SPEC, linked=()) as queue:
        yield queue


class Runs:
    """What the test tasks saw: how often each job key started, and when every expected key has run."""

    def __init__(self, expected: int) -> None:
        self.started: Counter[int] = Counter()
        self.expected = expected
        self.all_ran = asyncio.Event()
        self.release = asyncio.Event()

    def worker(self, settings: Settings, *, step_s: float = 0.0) -> JobQueue:
        queue = JobQueue(settings, SPEC, linked=())

        @queue.task("record", timeout_s=30)
        async def record(key: int) -> int:
            self.started[key] += 1
            await asyncio.sleep(step_s)
            if len(self.started) == self.expected:
                self.all_ran.set()
            return key

        @queue.task("hold", timeout_s=30)
        async def hold(key: int) -> None:
            self.started[key] += 1
            if self.started[key] == 1:  # the first try waits for the stop; the next one finishes
                await self.release.wait()
            if len(self.started) == self.expected:
                self.all_ran.set()

        return queue


async def _fill(producer: JobQueue, task: str, keys: range) -> None:
    for start in range(0, len(keys), 50):
        await asyncio.gather(*(producer.enqueue(task, key) for key in keys[start : start + 50]))


async def _commands(url: str) -> dict[str, int]:
    client = create_redis(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_backlog_drains_with_batched_reads_and_acks(settings: Settings, producer: JobQueue) -> None:
    jobs = 400
    runs_id = await producer.enqueue("record", 0)
    await _fill(producer, "record", range(1, jobs))
    runs = Runs(jobs)
    before = await _commands(settings.redis_url or "")
    stop = asyncio.Event()
    worker = asyncio.create_task(runs.worker(settings).run(stop))
    async with asyncio.timeout(60):
        await runs.all_ran.wait()
    stop.set()
    await worker
    after = await _commands(settings.redis_url or "")
    reads = after["xreadgroup"] - before.get("xreadgroup", 0)
    acks = after["xack"] - before.get("xack", 0)
    assert sorted(runs.started) == list(range(jobs)) and set(runs.started.values()) == {1}
    assert reads <= jobs / 4, f"{reads} reads for {jobs} jobs: one read fetches a batch"
    assert acks <= jobs / 2, f"{acks} XACKs for {jobs} jobs: jobs that finish together are acknowledged together"
    assert (await producer.depths()) == {SPEC.name: 0}
    assert (await producer.result(runs_id, timeout_s=5)).result == 0, "a finished job's return value is kept"


async def test_a_worker_stopped_mid_drain_raises_nothing_and_another_runs_every_job_left(
    settings: Settings, producer: JobQueue
) -> None:
    jobs = 300
    await _fill(producer, "record", range(jobs))
    runs = Runs(jobs)
    stop = asyncio.Event()
    first = asyncio.create_task(runs.worker(settings, step_s=0.01).run(stop))
    async with asyncio.timeout(30):
        while len(runs.started) < 40:  # noqa: ASYNC110 — the tasks count into a plain dict
            await asyncio.sleep(0.01)
    with structured_logs() as logs:
        stop.set()
        await first  # raises nothing
    assert len(runs.started) < jobs, "stopped mid-drain"
    stopped = next(e for e in logs if e["event"] == "jobs_worker_stopped")
    assert stopped["put_back"] > 0, "jobs fetched ahead but not started went back to the queue"
    assert not [e for e in logs if e["level"] in ("error", "critical")]

    stop = asyncio.Event()
    second = asyncio.create_task(runs.worker(settings).run(stop))
    async with asyncio.timeout(60):
        await runs.all_ran.wait()
    stop.set()
    await second
    assert sorted(runs.started) == list(range(jobs)), "every job ran at least once"
    assert (await producer.depths()) == {SPEC.name: 0}


async def test_a_job_still_running_when_the_stop_grace_ends_goes_back_and_runs_again(
    settings: Settings, producer: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.jobs, "STOP_GRACE_S", 0.2)
    job_id = await producer.enqueue("hold", 7)
    runs = Runs(1)
    stop = asyncio.Event()
    first = asyncio.create_task(runs.worker(settings).run(stop))
    async with asyncio.timeout(30):
        while not runs.started:  # noqa: ASYNC110 — the task counts into a plain dict
            await asyncio.sleep(0.01)
    stop.set()
    await first  # cancels the held job after the grace and puts it back: no error
    runs.release.set()
    stop = asyncio.Event()
    second = asyncio.create_task(runs.worker(settings).run(stop))
    result = await producer.result(job_id, timeout_s=30)
    stop.set()
    await second
    assert result.success and runs.started[7] == 2
    assert await producer.dead_letters() == []


async def test_priorities_run_high_first_and_a_failing_job_is_retried_then_dead_lettered(
    settings: Settings, producer: JobQueue
) -> None:
    settings = settings.model_copy(update={"jobs_concurrency": 1, "jobs_max_tries": 2})
    order: list[str] = []
    queue = JobQueue(settings, SPEC, linked=())
    done = asyncio.Event()

    @queue.task("note", timeout_s=5)
    async def note(name: str) -> None:
        order.append(name)
        if name == "fails":
            raise ValueError("no luck")
        if len(order) == 4:
            done.set()

    await producer.enqueue("note", "low", priority="low")
    await producer.enqueue("note", "normal")
    await producer.enqueue("note", "high", priority="high")
    failing = await producer.enqueue("note", "fails", priority="low")
    stop = asyncio.Event()
    worker = asyncio.create_task(queue.run(stop))
    outcome = await producer.result(failing, timeout_s=30)
    stop.set()
    await worker
    assert order[:3] == ["high", "normal", "low"] and order.count("fails") == 2
    assert outcome.success is False and outcome.exception == "ValueError: no luck"
    [dead] = await producer.dead_letters()
    assert dead["task_id"] == failing and dead["tries"] == 2 and dead["reason"] == "ValueError: no luck"


async def test_a_worker_on_an_unmigrated_database_stops_on_sigterm_with_no_traceback(settings: Settings) -> None:
    """As the queue bench starts one (its own queue, its own tasks, a fresh data dir): no model gateway is built,
    so no switch board reads a `kill_switches` table that is not there, and SIGTERM mid-job stops it cleanly."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.job_tasks",
        settings.model_dump_json(),
        SPEC.name,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with JobQueue(settings, SPEC, linked=()) as producer:
        await producer.enqueue("count_and_sleep", "sigterm", 50, 0.1)
        client = create_redis(settings.redis_url or "")
        try:
            async with asyncio.timeout(60):
                while not await client.hget("hub:test:runs", "sigterm"):  # noqa: ASYNC110 — state is in Redis
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        proc.send_signal(signal.SIGTERM)
        output, _ = await proc.communicate()
    text = output.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "kill_switches" not in text, text
    assert "jobs_worker_stopped" in text


async def test_a_switch_board_on_an_unmigrated_database_says_so_in_one_line(
    embedded_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}")
    redis = create_redis(embedded_redis.url)
    board = SwitchBoard(session_factory(engine), redis, poll_s=0.05)
    try:
        with structured_logs() as logs:
            await board.ready()
            await asyncio.sleep(0.3)  # several polls
    finally:
        await board.aclose()
        await redis.aclose()
        await engine.dispose()
    failures = [e for e in logs if e["event"] == "switch_reload_failed"]
    assert len(failures) == 1, logs
    assert "exc_info" not in failures[0] and "\n" not in failures[0]["error"]
    assert failures[0]["error"].startswith("OperationalError: no such table: kill_switches")
    assert "hub db upgrade" in failures[0]["error"]


async def test_every_job_a_sigkilled_worker_held_is_reclaimed_and_finished_by_another(settings: Settings) -> None:
    from tests.job_tasks import FINISHED, RUNS, register_test_tasks

    keys = [f"held-{i}" for i in range(12)]
    client = create_redis(settings.redis_url or "")
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.job_tasks",
        settings.model_dump_json(),
        SPEC.name,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with JobQueue(settings, SPEC, linked=()) as producer:
            for key in keys:  # more than its concurrency (8): some run, the rest wait fetched ahead
                await producer.enqueue("count_and_sleep", key, 50, 0.1)
            async with asyncio.timeout(60):
                while await client.hlen(RUNS) < 8:  # noqa: ASYNC110 — state is in Redis
                    await asyncio.sleep(0.05)
            doomed.kill()
            await doomed.wait()
            assert await client.lrange(FINISHED, 0, -1) == []
            rescuer = JobQueue(settings.model_copy(update={"jobs_concurrency": 12}), SPEC, linked=())
            register_test_tasks(rescuer)
            stop = asyncio.Event()
            worker = asyncio.create_task(rescuer.run(stop))
            async with asyncio.timeout(90):
                while await client.llen(FINISHED) < len(keys):  # noqa: ASYNC110 — state is in Redis
                    await asyncio.sleep(0.1)
            stop.set()
            await worker
            assert sorted(await client.lrange(FINISHED, 0, -1)) == sorted(keys)
            assert (await producer.depths()) == {SPEC.name: 0}
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
        await client.aclose()
