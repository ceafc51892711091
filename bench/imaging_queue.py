"""Time the imaging queue against a bare Redis Streams loop on the same Redis, side by side.

1. Pickup latency: jobs enqueued one at a time (a short gap between them, an idle worker waiting); the time from
   enqueue to the task starting. HUB's `JobQueue` (streaq: priorities, heartbeats, reclaim, retries, results)
   against XADD → XREADGROUP (blocking) → XACK with no bookkeeping at all. Goal: p50 ≤ 5 ms.
2. Throughput: N no-op jobs already waiting, drained by one worker; jobs per second from the first pickup to
   the last, both ways (the raw loop reads 100 entries per call and acks each). Goal: ≥ 0.8× the raw loop.

    python -m bench.imaging_queue [--jobs 300] [--burst 2000] [--redis-url redis://127.0.0.1:6379/15]

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

BENCH_QUEUE = QueueSpec("bench-imaging", (), "imaging_concurrency")
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


async def service_side(settings: Settings, jobs: int, burst_jobs: int, gap_s: float) -> tuple[list[float], float]:
    clock = Clock()
    consumer = JobQueue(settings, BENCH_QUEUE, linked=())  # a worker and a producer, as `hub serve` has them
    producer = JobQueue(settings, BENCH_QUEUE, register=False, linked=())

    async def bench_pickup(sent_at: float) -> None:
        clock.seen(sent_at)

    consumer.task(TASK, timeout_s=60)(bench_pickup)

    async def enqueue(sent_at: float) -> None:
        await producer.enqueue(TASK, sent_at)

    async with producer:
        stop = asyncio.Event()
        worker = asyncio.create_task(consumer.run(stop))
        await drive(clock, enqueue, 20, gap_s)  # warm up: connections, scripts, the worker's first poll
        latencies = await drive(clock, enqueue, jobs, gap_s)
        stop.set()
        await worker
        await fill(enqueue, burst_jobs)
        again = JobQueue(consumer.settings, BENCH_QUEUE, linked=())
        again.task(TASK, timeout_s=60)(bench_pickup)
        stop = asyncio.Event()
        holder: list[asyncio.Task[None]] = []

        async def start() -> None:
            holder.append(asyncio.create_task(again.run(stop)))

        rate = await drain(clock, start, burst_jobs)
        stop.set()
        await holder[0]
    return latencies, rate


# --- the bare loop ----------------------------------------------------------------------------------------


async def raw_side(redis_url: str, jobs: int, burst_jobs: int, gap_s: float) -> tuple[list[float], float]:
    clock = Clock()
    stream, group = f"bench:raw:{uuid.uuid4().hex[:8]}", "workers"
    producer, consumer = create_redis(redis_url), create_redis(redis_url)
    await producer.xgroup_create(stream, group, id="$", mkstream=True)

    stop = asyncio.Event()
    readers: list[asyncio.Task[None]] = []

    async def consume() -> None:
        while not stop.is_set():  # cancelling a blocked XREADGROUP can hang the client: stop between reads
            found = await consumer.xreadgroup(group, "c1", {stream: ">"}, count=100, block=50)
            for _, entries in found or []:
                for entry_id, fields in entries:
                    clock.seen(float(fields["sent_at"]))
                    await consumer.xack(stream, group, entry_id)

    async def enqueue(sent_at: float) -> None:
        await producer.xadd(stream, {"sent_at": repr(sent_at)})

    async def start() -> None:
        readers.append(asyncio.create_task(consume()))

    try:
        await start()
        await drive(clock, enqueue, 20, gap_s)
        latencies = await drive(clock, enqueue, jobs, gap_s)
        stop.set()
        await asyncio.gather(*readers)
        stop.clear()
        await fill(enqueue, burst_jobs)
        rate = await drain(clock, start, burst_jobs)
    finally:
        stop.set()
        await asyncio.gather(*readers, return_exceptions=True)
        await producer.delete(stream)
        await producer.aclose()
        await consumer.aclose()
    return latencies, rate


def _ms(values: list[float], percent: int) -> str:
    return f"{nearest_rank(values, percent) * 1000:8.2f}"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        embedded = None if args.redis_url else EmbeddedRedis(Path(tmp))
        url = args.redis_url or embedded.start()  # type: ignore[union-attr]
        try:
            settings = Settings(data_dir=Path(tmp), redis_url=url, imaging_concurrency=args.concurrency)
            gap = args.gap_ms / 1000
            print(f"pickup: {args.jobs} jobs, {args.gap_ms:g} ms apart; burst: {args.burst} jobs", file=sys.stderr)
            raw_lat, raw_rate = await raw_side(url, args.jobs, args.burst, gap)
            print("raw loop done; now the service queue", file=sys.stderr)
            svc_lat, svc_rate = await service_side(settings, args.jobs, args.burst, gap)
        finally:
            if embedded is not None:
                embedded.stop()
    print(f"redis: {'embedded valkey' if args.redis_url is None else args.redis_url}")
    print(f"{'':24}{'p50 ms':>8}  {'p99 ms':>8}  {'mean ms':>8}  {'jobs/s':>9}")
    for name, lat, rate in (("raw XADD/XREADGROUP", raw_lat, raw_rate), ("hub JobQueue (streaq)", svc_lat, svc_rate)):
        print(f"{name:24}{_ms(lat, 50)}  {_ms(lat, 99)}  {statistics.fmean(lat) * 1000:8.2f}  {rate:9.0f}")
    p50 = nearest_rank(svc_lat, 50) * 1000
    print(f"pickup p50 {p50:.2f} ms (goal ≤ 5 ms): {'met' if p50 <= 5 else 'missed'}")
    ratio = svc_rate / raw_rate
    print(f"throughput ratio queue/raw {ratio:.2f}× (goal ≥ 0.8×): {'met' if ratio >= 0.8 else 'missed'}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs for the pickup latency, one at a time")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause between two pickup jobs")
    parser.add_argument("--burst", type=int, default=2000, help="jobs enqueued at once for throughput")
    parser.add_argument("--concurrency", type=int, default=32, help="jobs the service worker holds at once")
    parser.add_argument("--redis-url", default=None, help="a Redis server; default: the embedded Valkey")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
