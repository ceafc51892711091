"""Measure what the gateway adds to a model call: our `generate` vs a bare openai SDK call.

Both talk to the same local OpenAI-compatible server (a separate process, fixed 20 ms latency),
interleaved so drift hits both alike. Prints added latency p50/p99 at concurrency 1 and the
requests-per-second ratio at concurrency 64. Goals: p50 ≤ 0.5 ms, p99 ≤ 2 ms, RPS ≥ 0.9×.

    python -m bench.gateway_overhead [--calls 400] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from hub.gateway.guards import Refusal
from hub.gateway.transport import make_client, make_http_client
from hub.prompting.outputs import IntentRoute
from hub.redis_conn import EmbeddedRedis
from hub.usage.rollup import nearest_rank
from tests.gateway_harness import fast_config, gateway_harness, route_json

LATENCY_MS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evals.llm_server",
            "--port",
            str(port),
            "--latency-ms",
            str(LATENCY_MS),
            "--reply",
            route_json(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("model server did not start")


def pct(values: list[float], q: int) -> float:
    return nearest_rank(sorted(values), q)


async def throughput(call: Callable[[], Awaitable[object]], concurrency: int, seconds: float) -> float:
    done = 0
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await call()
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started)


async def main(calls: int, seconds: float, rounds: int) -> None:
    port = free_port()
    server = start_server(port)
    base_url = f"http://127.0.0.1:{port}/v1"
    config = fast_config(base_url, rate_limit_per_minute=10_000_000, deadline_s=30, read_timeout_s=10)
    try:
        with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis_server:
            async with gateway_harness(Path(tmp), redis_server.url, config, flush_interval_s=0.5) as h:
                prompt = h.gateway.prompts.resolve("intent_route", {})
                messages = prompt.render(
                    {"message": "where is A-10001?", "history": "", "output_schema": prompt.output_json_schema()}
                )
                http = make_http_client(config)
                direct_client = make_client(config, http)
                ctx = h.ctx()

                def fallback(reason: Refusal) -> IntentRoute:
                    raise AssertionError(f"benchmark fell back: {reason}")

                async def direct() -> object:
                    return await direct_client.chat.completions.create(model="model-a", messages=messages)

                async def gateway() -> object:
                    return await h.gateway.generate(
                        ctx,
                        use_case="intent_route",
                        variables={"message": "where is A-10001?", "history": ""},
                        fallback=fallback,
                    )

                for _ in range(20):  # warm both paths: connections, caches, imports
                    await direct()
                    await gateway()
                d_lat, g_lat = [], []
                for i in range(calls):
                    pairs = ((direct, d_lat), (gateway, g_lat))
                    for fn, bucket in pairs if i % 2 else pairs[::-1]:
                        started = time.perf_counter()
                        await fn()
                        bucket.append((time.perf_counter() - started) * 1000)
                    if i % 50 == 0:
                        print(f"\r  c=1: {i}/{calls} pairs", end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
                d_rps, g_rps = [], []
                for r in range(rounds):
                    d_rps.append(await throughput(direct, 64, seconds))
                    g_rps.append(await throughput(gateway, 64, seconds))
                    print(
                        f"  c=64 round {r + 1}/{rounds}: direct {d_rps[-1]:.0f} rps, gateway {g_rps[-1]:.0f} rps",
                        file=sys.stderr,
                    )
                await h.gateway.ledger.flush()
                await direct_client.close()
    finally:
        server.terminate()
        server.wait(10)

    added_p50 = pct(g_lat, 50) - pct(d_lat, 50)
    added_p99 = pct(g_lat, 99) - pct(d_lat, 99)
    ratio = statistics.mean(g_rps) / statistics.mean(d_rps)
    print(f"gateway overhead vs direct openai SDK, server latency {LATENCY_MS} ms, {calls} interleaved pairs")
    print(f"  c=1  direct  p50 {pct(d_lat, 50):7.2f} ms  p99 {pct(d_lat, 99):7.2f} ms")
    print(f"  c=1  gateway p50 {pct(g_lat, 50):7.2f} ms  p99 {pct(g_lat, 99):7.2f} ms")
    print(f"  added latency p50 {added_p50:+.2f} ms (goal ≤ 0.5)   p99 {added_p99:+.2f} ms (goal ≤ 2)")
    print(f"  c=64 direct {statistics.mean(d_rps):.0f} rps, gateway {statistics.mean(g_rps):.0f} rps")
    print(f"  RPS ratio gateway/direct {ratio:.2f}× (goal ≥ 0.9×)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.seconds, args.rounds))
