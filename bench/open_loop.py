"""Fire a schedule of HTTP POSTs open loop, in a process of its own, and record when each one was answered.

Open loop: every request leaves at its scheduled time whether or not earlier ones have been answered, the way
Meta delivers webhooks; a slow server cannot slow the sender down and hide its own queueing. Latency is taken
from the scheduled time, so waiting for a free connection or a late start counts too (no coordinated omission);
`lag` says how late the request actually left, which is how the generator shows that it, not the server, was
the limit. Run as a process so it does not share an event loop (or a GIL) with what it measures:

    python -m bench.open_loop PLAN RESULTS --url URL [--connections 256]

PLAN is JSON lines `{"at": seconds, "body": str, "headers": {...}}`; RESULTS gets `{"start": time.monotonic()
at second 0, "shots": [[at, lag_s, latency_s, status], ...]}` in plan order, status 0 for no answer (refused,
reset, timeout). The monotonic clock is the machine's, so other processes can place their own events on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

PROGRESS_EVERY_S = 2.0
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Shot:
    at: float
    """Seconds after the start when the request should leave."""
    body: bytes
    headers: dict[str, str]


def read_plan(path: Path) -> list[Shot]:
    """Read a plan file; the shots come back sorted by send time."""
    shots = []
    for line in path.read_text().splitlines():
        raw = json.loads(line)
        shots.append(Shot(at=float(raw["at"]), body=raw["body"].encode(), headers=dict(raw["headers"])))
    return sorted(shots, key=lambda s: s.at)


async def fire(url: str, shots: list[Shot], *, connections: int) -> dict[str, Any]:
    """Send every shot at its time; return the start and `[at, lag_s, latency_s, status]` per shot, in order."""
    results: list[list[float]] = [[s.at, 0.0, 0.0, 0] for s in shots]
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    done = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.monotonic()

        async def one(i: int, shot: Shot) -> None:
            nonlocal done
            due = start + shot.at
            results[i][1] = time.monotonic() - due
            status = 0
            try:
                async with session.post(url, data=shot.body, headers=shot.headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            results[i][2] = time.monotonic() - due
            results[i][3] = status
            done += 1

        tasks: set[asyncio.Task[None]] = set()
        next_report = PROGRESS_EVERY_S
        for i, shot in enumerate(shots):
            delay = start + shot.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i, shot))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if shot.at >= next_report:
                _progress(f"  {shot.at:5.1f} s: sent {i + 1}/{len(shots)}, answered {done}, in flight {len(tasks)}")
                next_report += PROGRESS_EVERY_S
        if tasks:
            await asyncio.wait(tasks)
    return {"start": start, "shots": results}


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=256, help="Most connections open at once.")
    args = parser.parse_args(argv)
    shots = read_plan(args.plan)
    runner: Any = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    results = runner(fire(args.url, shots, connections=args.connections))
    args.results.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
