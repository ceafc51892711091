"""Time LiteLLM's SDK path against a bare openai SDK call, side by side, inside LiteLLM's own virtualenv.

Run by `bench.gateway_overhead --litellm` with `.bench-venvs/litellm/bin/python`: it imports only the
standard library, `openai` and `litellm` (never `hub`), and prints one JSON object on its last line:
`{"c1": {"bare": [ms…], "litellm": [ms…]}, "c64": {"bare": [rps…], "litellm": [rps…]}}`.

    python bench/litellm_peer.py --base-url http://127.0.0.1:PORT/v1 --request FILE [--calls 400] …
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the machine may be offline: no download at import

import litellm
import openai


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


async def main(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    messages, params = request["messages"], request["params"]
    bare_client = openai.AsyncOpenAI(base_url=args.base_url, api_key="test-key", max_retries=0, timeout=10)

    async def bare() -> object:
        return await bare_client.chat.completions.create(model="model-a", messages=messages, **params)

    async def peer() -> object:
        return await litellm.acompletion(
            model="openai/model-a", api_base=args.base_url, api_key="test-key", messages=messages, timeout=10, **params
        )

    for _ in range(20):  # connections, caches, imports
        await bare()
        await peer()
    c1: dict[str, list[float]] = {"bare": [], "litellm": []}
    for i in range(args.calls):
        pairs = (("bare", bare), ("litellm", peer))
        for name, fn in pairs if i % 2 else pairs[::-1]:
            started = time.perf_counter()
            await fn()
            c1[name].append((time.perf_counter() - started) * 1000)
    c64: dict[str, list[float]] = {"bare": [], "litellm": []}
    for r in range(args.rounds):
        pairs = (("bare", bare), ("litellm", peer))
        for name, fn in pairs if r % 2 else pairs[::-1]:
            c64[name].append(await throughput(fn, args.concurrency, args.seconds))
        print(f"  litellm sdk c={args.concurrency} round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    await bare_client.close()
    return {"c1": c1, "c64": c64}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--request", required=True, help='a JSON file: {"messages": [...], "params": {...}} to send')
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args, json.loads(Path(args.request).read_text())))))
