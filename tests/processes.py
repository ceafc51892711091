"""Run `hub` as a real process in tests: the CLI, and `hub serve` on a free port."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

import httpx


def hub(
    *args: str, env: dict[str, str], input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `hub ARGS`; one that outlives `timeout` is aborted so faulthandler prints where its threads were."""
    command = [sys.executable, "-m", "hub", *args]
    with subprocess.Popen(
        command,
        env={**env, "PYTHONFAULTHANDLER": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate()
            raise AssertionError(f"`hub {' '.join(args)}` ran over {timeout}s; its stderr:\n{err[-6000:]}") from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


async def ahub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`hub` from an async test that has an app running in its own event loop: the loop keeps going meanwhile.

    Blocking the loop would freeze the app's background writers mid-transaction (the usage ledger between
    its INSERT and COMMIT), and on SQLite the command would then wait on a lock nobody can release.
    """
    return await asyncio.to_thread(hub, *args, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen[str], deadline_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "server exited"
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {deadline_s}s")


def start_serve(*args: str, env: dict[str, str], port: int) -> subprocess.Popen[str]:
    """Start `hub serve --port PORT ARGS` with its output piped and wait until it is ready (database and Redis)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", proc)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc
