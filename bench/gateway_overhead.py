"""Measure what the gateway adds to a model call: our `generate` vs a bare openai SDK call, and LiteLLM on request.

Every path sends the same request (the intent_route prompt's messages, temperature and max_tokens) to
the same local OpenAI-compatible server (a separate process, fixed 20 ms latency). The gateway sends
through the SDK client's `post` (`Gateway.complete`), without `create()`'s per-call parameter
transform, so the bare SDK is measured both ways: `create()` is the baseline the goals name, and
`client.post` isolates the gateway's own work.

At concurrency 1 the paths take turns call by call, so drift hits them alike: added latency p50/p99.
At concurrency 64 they run in short slices whose order turns over every round; each round gives a
ratio against the bare SDK slice beside it, and the figure is the median of those ratios (a busy
machine moves whole rounds, not one side; the startup heap is frozen first, so no full collection over
it lands in one path's slice by chance). The bench process's CPU per call is printed beside it:
what the gateway itself costs, whatever else the machine runs. Goals: added p50 ≤ 0.5 ms, p99 ≤ 2 ms,
RPS ≥ 0.9×.

`--litellm` adds LiteLLM as a peer, installed on first use into `.bench-venvs/litellm` (never in tests
or CI): its proxy (`litellm --config …`, which refuses to start without LITELLM_MASTER_KEY) called
through the same bare SDK in the same rounds, and its SDK path (`litellm.acompletion`), which runs in
that virtualenv's own process (`bench/litellm_peer.py`) beside a bare SDK baseline of its own.

    python -m bench.gateway_overhead [--calls 400] [--seconds 2] [--rounds 10] [--litellm]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from openai.types.chat import ChatCompletion

from hub.gateway.guards import Refusal
from hub.gateway.transport import make_client, make_http_client
from hub.prompting.outputs import IntentRoute
from hub.redis_conn import EmbeddedRedis
from hub.usage.rollup import nearest_rank
from tests.gateway_harness import fast_config, gateway_harness, route_json

LATENCY_MS = 20
CONCURRENCY = 64
ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = ROOT / ".bench-venvs" / "litellm"
LITELLM_REQUIREMENT = "litellm[proxy]==1.108.*"
MASTER_KEY = "sk-bench-gateway-overhead"
Call = Callable[[], Awaitable[object]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen[bytes], what: str, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it answered {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{what} did not answer {url} within {deadline_s:g}s")


@contextmanager
def running(cmd: list[str], url: str, what: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    try:
        wait_until_up(url, proc, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def model_server(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evals.llm_server",
        "--port",
        str(port),
        "--latency-ms",
        str(LATENCY_MS),
        "--reply",
        route_json(),
    ]


def peer_venv() -> Path:
    """LiteLLM's own virtualenv, created and installed from the registry the first time it is asked for."""
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / "bin" / "litellm").exists():
        print(f"installing {LITELLM_REQUIREMENT} into {PEER_VENV} (first use only)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", LITELLM_REQUIREMENT], check=True)
    return PEER_VENV


def proxy_command(venv: Path, port: int, base_url: str, tmp: Path) -> tuple[list[str], dict[str, str]]:
    config = tmp / "litellm.yaml"
    model = {"model": "openai/model-a", "api_base": base_url, "api_key": "test-key"}
    config.write_text(json.dumps({"model_list": [{"model_name": "model-a", "litellm_params": model}]}))  # YAML ⊃ JSON
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    cmd = [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    return cmd, env


def pct(values: list[float], q: int) -> float:
    return nearest_rank(sorted(values), q)


async def throughput(call: Call, concurrency: int, seconds: float) -> tuple[float, float]:
    """Run `call` on `concurrency` workers for `seconds`; return calls per second and this process's CPU ms per call."""
    done = 0
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await call()
            done += 1

    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started), (time.process_time() - cpu) * 1000 / max(done, 1)


def rotations(names: list[str], i: int) -> list[str]:
    """Turn the order over every time, so no path always runs first (or right after another)."""
    shift = i % len(names)
    order = names[shift:] + names[:shift]
    return order if (i // len(names)) % 2 == 0 else order[::-1]


async def measure(paths: dict[str, Call], calls: int, seconds: float, rounds: int) -> dict[str, Any]:
    names = list(paths)
    for _ in range(20):  # warm every path: connections, caches, imports
        for fn in paths.values():
            await fn()
    # Freeze the startup heap, as a server would after it starts: a full collection over it stalls the
    # loop for hundreds of milliseconds on a busy machine, in whichever slice it happens to land.
    gc.collect()
    gc.freeze()
    latency: dict[str, list[float]] = {name: [] for name in names}
    for i in range(calls):
        for name in rotations(names, i):
            started = time.perf_counter()
            await paths[name]()
            latency[name].append((time.perf_counter() - started) * 1000)
        if i % 50 == 0:
            print(f"\r  c=1: {i}/{calls}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rps: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in rotations(names, r):
            got, ms = await throughput(paths[name], CONCURRENCY, seconds)
            rps[name].append(got)
            cpu[name].append(ms)
        line = ", ".join(f"{name} {rps[name][-1]:.0f}" for name in names)
        print(f"  c={CONCURRENCY} round {r + 1}/{rounds}: {line} rps", file=sys.stderr, flush=True)
    return {"latency": latency, "rps": rps, "cpu": cpu}


def round_ratios(rps: dict[str, list[float]], name: str, baseline: str) -> list[float]:
    return [a / b for a, b in zip(rps[name], rps[baseline], strict=True)]


async def main(calls: int, seconds: float, rounds: int, litellm: bool) -> None:
    venv = peer_venv() if litellm else None
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    config = fast_config(base_url, rate_limit_per_minute=10_000_000, deadline_s=30, read_timeout_s=10)
    peer_sdk: dict[str, Any] | None = None
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        running(model_server(port), f"{base_url}/models", "the scripted model server"),
        EmbeddedRedis(Path(tmp_dir) / "redis") as redis_server,
    ):
        tmp = Path(tmp_dir)
        async with gateway_harness(tmp, redis_server.url, config, flush_interval_s=0.5) as h:
            prompt = h.gateway.prompts.resolve("intent_route", {})
            variables = {"message": "where is A-10001?", "history": ""}
            messages = prompt.render({**variables, "output_schema": prompt.output_json_schema()})
            params = {k: v for k, v in prompt.params.items() if k in ("temperature", "max_tokens")}
            direct_client = make_client(config, make_http_client(config))
            ctx = h.ctx()

            def fallback(reason: Refusal) -> IntentRoute:
                raise AssertionError(f"benchmark fell back: {reason}")

            async def direct() -> object:
                return await direct_client.chat.completions.create(model="model-a", messages=messages, **params)

            async def direct_post() -> object:  # the SDK request path the gateway itself takes (Gateway.complete)
                body = {"model": "model-a", "messages": messages, **params}
                return await direct_client.post("/chat/completions", body=body, cast_to=ChatCompletion)

            async def gateway() -> object:
                return await h.gateway.generate(ctx, use_case="intent_route", variables=variables, fallback=fallback)

            paths: dict[str, Call] = {"direct": direct, "direct_post": direct_post, "gateway": gateway}
            if venv is None:
                results = await measure(paths, calls, seconds, rounds)
            else:
                proxy_port = free_port()
                cmd, env = proxy_command(venv, proxy_port, base_url, tmp)
                proxy_url = f"http://127.0.0.1:{proxy_port}"
                proxy_config = replace(config, base_url=f"{proxy_url}/v1", api_key=MASTER_KEY)
                proxy_client = make_client(proxy_config, make_http_client(proxy_config))

                async def proxy() -> object:
                    return await proxy_client.chat.completions.create(model="model-a", messages=messages, **params)

                with running(cmd, f"{proxy_url}/health/liveliness", "the LiteLLM proxy", env):
                    results = await measure({**paths, "litellm_proxy": proxy}, calls, seconds, rounds)
                await proxy_client.close()
                request_file = tmp / "request.json"
                request_file.write_text(json.dumps({"messages": messages, "params": params}))
                peer = await asyncio.to_thread(
                    subprocess.run,
                    [
                        str(venv / "bin" / "python"),
                        str(ROOT / "bench" / "litellm_peer.py"),
                        f"--base-url={base_url}",
                        f"--request={request_file}",
                        f"--calls={calls}",
                        f"--seconds={seconds}",
                        f"--rounds={rounds}",
                        f"--concurrency={CONCURRENCY}",
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "LITELLM_LOG": "ERROR"},
                )
                peer_sdk = json.loads(peer.stdout.strip().splitlines()[-1])
            await h.gateway.ledger.flush()
            await direct_client.close()
    report(results, peer_sdk, calls, rounds)


def report(results: dict[str, Any], peer_sdk: dict[str, Any] | None, calls: int, rounds: int) -> None:
    latency, rps, cpu = results["latency"], results["rps"], results["cpu"]
    base_p50, base_p99 = pct(latency["direct"], 50), pct(latency["direct"], 99)
    print(
        f"gateway overhead vs a bare openai SDK call: scripted server latency {LATENCY_MS} ms, "
        f"{calls} calls per path at c=1, {rounds} rounds at c={CONCURRENCY}"
    )
    print(f"  {'path':<24}{'c=1 p50':>10}{'added':>10}{'c=1 p99':>10}{'added':>10}{'c=64 rps':>10}{'ratio':>8}")
    labels = {
        "direct": "bare openai SDK",
        "direct_post": "bare SDK, client.post",
        "gateway": "HUB gateway",
        "litellm_proxy": "LiteLLM proxy",
    }
    for name, values in latency.items():
        p50, p99 = pct(values, 50), pct(values, 99)
        ratio = statistics.median(round_ratios(rps, name, "direct"))
        print(
            f"  {labels[name]:<24}{p50:8.2f}ms{p50 - base_p50:+8.2f}ms{p99:8.2f}ms{p99 - base_p99:+8.2f}ms"
            f"{statistics.median(rps[name]):10.0f}{ratio:7.2f}×"
        )
    if peer_sdk is not None:
        sdk_lat, sdk_rps = peer_sdk["c1"], peer_sdk["c64"]
        sdk_base = pct(sdk_lat["bare"], 50)
        for name, label in (("bare", "bare SDK (LiteLLM venv)"), ("litellm", "LiteLLM SDK")):
            p50, p99 = pct(sdk_lat[name], 50), pct(sdk_lat[name], 99)
            ratio = statistics.median(round_ratios(sdk_rps, name, "bare"))
            print(
                f"  {label:<24}{p50:8.2f}ms{p50 - sdk_base:+8.2f}ms{p99:8.2f}ms{p99 - pct(sdk_lat['bare'], 99):+8.2f}ms"
                f"{statistics.median(sdk_rps[name]):10.0f}{ratio:7.2f}×"
            )
        print("  (LiteLLM's SDK runs in its own virtualenv's process; its added figures and ratio are against")
        print("   the bare SDK measured beside it there.)")
    added_p50 = pct(latency["gateway"], 50) - base_p50
    added_p99 = pct(latency["gateway"], 99) - base_p99
    ratio = statistics.median(round_ratios(rps, "gateway", "direct"))
    per_round = " ".join(f"{r:.2f}" for r in round_ratios(rps, "gateway", "direct"))
    cpu_direct, cpu_gateway = statistics.median(cpu["direct"]), statistics.median(cpu["gateway"])
    cpu_post = statistics.median(cpu["direct_post"])
    own_p50 = pct(latency["gateway"], 50) - pct(latency["direct_post"], 50)
    own_ratio = statistics.median(round_ratios(rps, "gateway", "direct_post"))
    print(f"  gateway added latency p50 {added_p50:+.2f} ms (goal ≤ 0.5), p99 {added_p99:+.2f} ms (goal ≤ 2)")
    print(f"  gateway RPS ratio at c={CONCURRENCY} {ratio:.2f}× (goal ≥ 0.9×); per round: {per_round}")
    print(
        f"  bench process CPU per call at c={CONCURRENCY}: bare SDK {cpu_direct:.2f} ms, gateway {cpu_gateway:.2f} ms"
        f" ({cpu_direct / cpu_gateway:.2f}× the bare SDK's calls per CPU second)"
    )
    print(
        "  the gateway's own work, against the SDK path it takes (client.post, without create()'s parameter"
        f" transform): added p50 {own_p50:+.2f} ms, RPS {own_ratio:.2f}×, CPU per call {cpu_post:.2f} → {cpu_gateway:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per path at concurrency 1")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one slice at concurrency 64")
    parser.add_argument("--rounds", type=int, default=10, help="slices per path at concurrency 64")
    parser.add_argument(
        "--litellm",
        action="store_true",
        help=f"add LiteLLM's proxy and SDK as peers ({LITELLM_REQUIREMENT}, installed into {PEER_VENV} on first use)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.seconds, args.rounds, args.litellm))
