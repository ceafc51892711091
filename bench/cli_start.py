"""How fast the `hub` command starts: help and `hub status`, against bare interpreter and Typer start-up.

Each round runs every command once as a subprocess, in turn, so all of them share the machine's load; a
warm-up round first migrates the temporary data directory that `hub status` reads. Prints each command's
p50 wall time and its ratio to two baselines timed in the same rounds: `python -c pass` (the interpreter
starting) and `python -c 'import typer'` (the least any Typer CLI pays). Goal: `hub --help` ≤ 0.3 s.

    python -m bench.cli_start [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_GOAL_S = 0.3


def hub_command() -> list[str]:
    """The `hub` console script beside this interpreter, as a user runs it; `python -m hub` without one."""
    script = Path(sys.executable).with_name("hub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hub"]


def commands() -> dict[str, list[str]]:
    hub = hub_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "hub --help": [*hub, "--help"],
        "hub status --help": [*hub, "status", "--help"],
        "hub status --json": [*hub, "status", "--json"],
    }


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return elapsed


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-cli-start-") as data_dir:
        # Embedded defaults only (SQLite under the temp dir, no Redis): what `hub status` reads on a fresh clone.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env["HUB_DATA_DIR"] = data_dir
        timings: dict[str, list[float]] = {name: [] for name in commands()}
        for argv in commands().values():  # warm-up: migrate the database, fill the OS file cache
            run_once(argv, env, data_dir)
        for _ in range(rounds):
            for name, argv in commands().items():
                timings[name].append(run_once(argv, env, data_dir))
    p50 = {name: statistics.median(values) for name, values in timings.items()}
    interpreter, typer = p50["python -c pass"], p50["python -c 'import typer'"]
    print(f"CLI start-up, p50 of {rounds} rounds, each command once per round ({sys.executable})")
    print(f"  {'command':<28} {'p50':>8}  {'÷ python':>9}  {'÷ typer':>8}")
    for name, value in p50.items():
        print(f"  {name:<28} {value:7.3f}s  {value / interpreter:8.1f}×  {value / typer:7.2f}×")
    verdict = "met" if p50["hub --help"] <= HELP_GOAL_S else "NOT met"
    print(f"  goal: hub --help ≤ {HELP_GOAL_S:.1f} s on this machine: {verdict} ({p50['hub --help']:.3f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    main(parser.parse_args().rounds)
