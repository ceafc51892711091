"""Time intent routing, the router before the sentence encoder and the one shipped now, side by side in one run,
and measure the memory the encoder adds to a process.

The old router is the n-gram head alone trained on the original English file (what `IntentRouter.default()` was);
the new one is `IntentRouter.default()`: the n-gram head blended with the multilingual sentence head, whose vector
of each message costs one encoder call (a batch of one). Every message is a text the process has not routed
before, so no cached vector helps; a second pass over the same texts shows the cached cost (a conversation's engine
routing the same text again). Goal: new p50 ≤ 10 ms on a 2-core host.

    python -m bench.routing [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from agents.router import EXAMPLES_PATH, IntentRouter, load_examples, load_holdout_examples
from hub.knowledge import encoder
from hub.usage.rollup import nearest_rank

GOAL_P50_MS = 10.0


def _rss_mib() -> float:
    """This process's resident memory now, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _time_routes(router: IntentRouter, texts: Sequence[str]) -> list[float]:
    timings = []
    for text in texts:
        started = time.perf_counter()
        router.route(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _line(name: str, timings: list[float]) -> str:
    return (
        f"{name:<44}p50 {statistics.median(timings):6.2f} ms   p99 {nearest_rank(sorted(timings), 99):6.2f} ms   "
        f"n={len(timings)}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="intent routing latency, old router vs new, and encoder memory")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the held-out messages, each text new")
    args = parser.parse_args(argv)

    rss_start = _rss_mib()
    old = IntentRouter.train(load_examples(EXAMPLES_PATH), sentence_weight=0)
    started = time.perf_counter()
    new = IntentRouter.default()
    train_ms = (time.perf_counter() - started) * 1000
    rss_routers = _rss_mib()
    started = time.perf_counter()
    encoder.encode(["warm up"])
    load_ms = (time.perf_counter() - started) * 1000
    rss_encoder = _rss_mib()

    messages = [e.text for e in load_holdout_examples()]
    # A suffix makes each round's texts new to the sentence-vector cache, as a live shopper's messages are.
    texts = [f"{text}{' ' * round_}" for round_ in range(1, args.rounds + 1) for text in messages]
    old_timings = _time_routes(old, texts)
    new_timings = _time_routes(new, texts)
    cached_timings = _time_routes(new, texts[: len(messages)])

    print(f"# intent routing on {len(messages)} held-out messages × {args.rounds} rounds (six languages)")
    print(_line("old: n-gram head alone", old_timings))
    print(_line("new: n-gram + sentence head (encoder call)", new_timings))
    print(_line("new, text routed before (cached vector)", cached_timings))
    ratio = statistics.median(new_timings) / statistics.median(old_timings)
    print(f"new / old p50: {ratio:.0f}×; goal new p50 ≤ {GOAL_P50_MS:.0f} ms")
    print(
        f"\nmemory (RSS): start {rss_start:.0f} MiB, both routers trained {rss_routers:.0f} MiB "
        f"(+{rss_routers - rss_start:.0f}; default() trained in {train_ms:.0f} ms), "
        f"encoder loaded {rss_encoder:.0f} MiB (+{rss_encoder - rss_routers:.0f} MiB, {load_ms:.0f} ms), "
        f"after routing {_rss_mib():.0f} MiB"
    )


if __name__ == "__main__":
    main()
