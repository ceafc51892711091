"""Time the job queue against a bare Redis Streams loop on the same Redis, side by side.

1. Pickup latency: jobs enqueued one at a time (a short gap between them, an idle worker waiting); the time from
   enqueue to the task starting. HUB's `JobQueue` (priorities, heartbeats, reclaim, retries, results, batched
   reads and acks) against XADD → XREADGROUP (blocking) → XACK with no bookkeeping at all. Goal: p50 ≤ 5 ms.
2. Throughput: N no-op jobs already waiting, drained by one worker with a channel worker's concurrency
   (`HUB_JOBS_CONCURRENCY`); jobs per second from the first pickup to the last, both ways (the raw loop reads
   100 entries per call and acks each). Goal: ≥ 0.5× the raw loop.
3. Both workers are stopped after each phase; a stop that raised would end the run with its traceback.

    python -m bench.imaging_queue [--jobs 300] [--burst 2000] [--concurrency N] [--redis-url redis://127.0.0.1:6379/15]

Without `--redis-url` it starts the embedded Valkey (unix socket); both sides always use the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from hub.jobs import JobQueue, QueueSpec
from hub.redis_conn import EmbeddedRedis, create_redis
from hub.settings import Settings
from hub.usage.rollup import nearest_rank

BENCH_QUEUE = QueueSpec("bench-jobs", "jobs_concurrency")
TASK = "bench_pickup"


class Clock:
    """Pickup times, and a signal when the expected number of jobs has been seen."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.picked: list[float] = []
        self.expected = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.latencies, self.picked, self.expected = [], [], count
        self.done.clear()

    def seen(self, sent_at: float) -> None:
        now = time.perf_counter()
        self.latencies.append(now - sent_at)
        self.picked.append(now)
        if len(self.latencies) >= self.expected:
            self.done.set()

    def rate(self) -> float:
        return (len(self.picked) - 1) / (self.picked[-1] - self.picked[0])


async def drive(clock: Clock, enqueue: Callable[[float], Awaitable[None]], jobs: int, gap_s: float) -> list[float]:
    clock.expect(jobs)
    for _ in range(jobs):
        await enqueue(time.perf_counter())
        await asyncio.sleep(gap_s)
    async with asyncio.timeout(120):
        await clock.done.wait()
    return sorted(clock.latencies)


async def fill(enqueue: Callable[[float], Awaitable[None]], jobs: int) -> None:
    """Enqueue `jobs` no-op jobs, 50 in flight at a time."""
    for start in range(0, jobs, 50):
        await asyncio.gather(*(enqueue(time.perf_counter()) for _ in range(min(50, jobs - start))))


async def drain(clock: Clock, start: Callable[[], Awaitable[None]], jobs: int) -> float:
    """Start the consumer on `jobs` waiting jobs; jobs per second from its first pickup to its last."""
    clock.expect(jobs)
    await start()
    async with asyncio.timeout(600):
        await clock.done.wait()
    return clock.rate()


# --- the service's queue ----------------------------------------------------------------------------------


class QueueSide:
    """HUB's `JobQueue`: a producer, and a fresh worker for each phase, stopped (cleanly) at its end."""

    name = "hub JobQueue"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.producer = JobQueue(settings, BENCH_QUEUE, linked=())
        self.stop = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> QueueSide:
        await self.producer.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_worker()
        await self.producer.__aexit__(*exc)

    async def enqueue(self, sent_at: float) -> None:
        await self.producer.enqueue(TASK, sent_at)

    async def start_worker(self) -> None:
        consumer = JobQueue(self.settings, BENCH_QUEUE, linked=())
        clock = self.clock

        @consumer.task(TASK, timeout_s=60)
        async def bench_pickup(sent_at: float) -> None:
            clock.seen(sent_at)

        self.stop = asyncio.Event()
        self.worker = asyncio.create_task(consumer.run(self.stop))

    async def stop_worker(self) -> None:
        if self.worker is not None:
            self.stop.set()
            await self.worker  # a stop that raised would end the bench here
            self.worker = None


# --- the bare loop ----------------------------------------------------------------------------------------


class RawSide:
    """XADD, then XREADGROUP 100 at a time and XACK each: no priorities, retries, reclaim or results."""

    name = "raw XADD/XREADGROUP"

    def __init__(self, redis_url: str) -> None:
        self.clock = Clock()
        self.stream, self.group = f"bench:raw:{uuid.uuid4().hex[:8]}", "workers"
        self.producer, self.consumer = create_redis(redis_url), create_redis(redis_url)
        self.stop = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RawSide:
        await self.producer.xgroup_create(self.stream, self.group, id="$", mkstream=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_worker()
        await self.producer.delete(self.stream)
        await self.producer.aclose()
        await self.consumer.aclose()

    async def enqueue(self, sent_at: float) -> None:
        await self.producer.xadd(self.stream, {"sent_at": repr(sent_at)})

    async def start_worker(self) -> None:
        stop, clock, consumer = asyncio.Event(), self.clock, self.consumer
        stream, group = self.stream, self.group

        async def consume() -> None:
            while not stop.is_set():  # cancelling a blocked XREADGROUP can hang the client: stop between reads
                found = await consumer.xreadgroup(group, "c1", {stream: ">"}, count=100, block=50)
                for _, entries in found or []:
                    for entry_id, fields in entries:
                        clock.seen(float(fields["sent_at"]))
                        await consumer.xack(stream, group, entry_id)

        self.stop = stop
        self.worker = asyncio.create_task(consume())

    async def stop_worker(self) -> None:
        if self.worker is not None:
            self.stop.set()
            await self.worker
            self.worker = None


Side = QueueSide | RawSide


async def pickup(side: Side, jobs: int, gap_s: float) -> list[float]:
    """Pickup latencies of `jobs` jobs sent one at a time to an idle worker (after 20 to warm up)."""
    await side.start_worker()
    await drive(side.clock, side.enqueue, 20, gap_s)
    latencies = await drive(side.clock, side.enqueue, jobs, gap_s)
    await side.stop_worker()
    return latencies


async def throughput(side: Side, jobs: int) -> float:
    """Jobs per second of a fresh worker draining `jobs` waiting jobs."""
    await fill(side.enqueue, jobs)
    rate = await drain(side.clock, side.start_worker, jobs)
    await side.stop_worker()
    return rate


def _ms(values: list[float], percent: int) -> str:
    return f"{nearest_rank(values, percent) * 1000:8.2f}"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        embedded = None if args.redis_url else EmbeddedRedis(Path(tmp))
        url = args.redis_url or embedded.start()  # type: ignore[union-attr]
        try:
            concurrency = args.concurrency or Settings.model_fields["jobs_concurrency"].default
            settings = Settings(data_dir=Path(tmp), redis_url=url, jobs_concurrency=concurrency)
            gap = args.gap_ms / 1000
            print(
                f"pickup: {args.jobs} jobs, {args.gap_ms:g} ms apart; drain: {args.burst} jobs, {args.rounds} rounds "
                f"alternating; worker concurrency {concurrency}",
                file=sys.stderr,
            )
            async with RawSide(url) as raw, QueueSide(settings) as queue:
                latencies = {side.name: await pickup(side, args.jobs, gap) for side in (raw, queue)}
                rates: dict[str, list[float]] = {raw.name: [], queue.name: []}
                for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits both sides
                    for side in (raw, queue):
                        rates[side.name].append(await throughput(side, args.burst))
        finally:
            if embedded is not None:
                embedded.stop()
    print(f"redis: {'embedded valkey' if args.redis_url is None else args.redis_url}")
    print(f"{'':24}{'p50 ms':>8}  {'p99 ms':>8}  {'mean ms':>8}  {'jobs/s (median of rounds)':>26}")
    for name, lat in latencies.items():
        median = statistics.median(rates[name])
        print(f"{name:24}{_ms(lat, 50)}  {_ms(lat, 99)}  {statistics.fmean(lat) * 1000:8.2f}  {median:26.0f}")
    p50 = nearest_rank(latencies[QueueSide.name], 50) * 1000
    print(f"pickup p50 {p50:.2f} ms (goal ≤ 5 ms): {'met' if p50 <= 5 else 'missed'}")
    ratios = [q / r for q, r in zip(rates[QueueSide.name], rates[RawSide.name], strict=True)]
    ratio = statistics.median(ratios)
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    print(
        f"drain ratio queue/raw {ratio:.2f}× (median of rounds: {shown}; goal ≥ 0.5×): {'met' if ratio >= 0.5 else 'missed'}"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs for the pickup latency, one at a time")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause between two pickup jobs")
    parser.add_argument("--burst", type=int, default=2000, help="jobs enqueued at once for throughput")
    parser.add_argument("--rounds", type=int, default=3, help="drain rounds per side, alternating")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs the service worker runs at once [default: HUB_JOBS_CONCURRENCY's]",
    )
    parser.add_argument("--redis-url", default=None, help="a Redis server; default: the embedded Valkey")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
