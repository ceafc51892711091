"""`hub serve` runs its channel and imaging workers in a child process: restarted when it dies, stopped with
the server, and gone when the server is killed."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from tests.processes import free_port, hub, start_serve

T = TypeVar("T")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**clean, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json"}


def worker_children(serve_pid: int) -> list[psutil.Process]:
    """The server's live worker processes (a killed one is a zombie until the server reaps it)."""
    found = []
    for child in psutil.Process(serve_pid).children(recursive=True):
        try:
            if "service.worker_process" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def eventually(check: Callable[[], T], within_s: float = 60.0) -> T:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {within_s}s")


def live_worker_pids(env: dict[str, str]) -> dict[str, int]:
    status = hub("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    return {w["kind"]: w["pid"] for w in json.loads(status.stdout)["workers"]}


def test_serve_runs_its_workers_in_a_child_restarted_when_it_dies_and_stopped_on_sigterm(
    env: dict[str, str],
) -> None:
    serve = start_serve(env=env, port=free_port())
    try:
        [child] = worker_children(serve.pid)
        assert live_worker_pids(env) == {"channels": child.pid, "imaging": child.pid}, "not in the server's process"
        child.kill()
        [restarted] = eventually(lambda: [c for c in worker_children(serve.pid) if c.pid != child.pid])
        eventually(lambda: live_worker_pids(env) == {"channels": restarted.pid, "imaging": restarted.pid})
    finally:
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=90)
    assert serve.returncode == 0, stderr
    assert not restarted.is_running(), "the worker process outlived the server"
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "worker_process_died" in events and events.count("jobs_worker_stopped") == 2
    assert events.index("worker_process_stopped") < events.index("embedded_redis_stopped")
    assert "Traceback" not in stderr


def test_a_serve_killed_with_sigkill_takes_its_worker_process_with_it(env: dict[str, str]) -> None:
    serve = start_serve(env=env, port=free_port())
    data_dir = env["HUB_DATA_DIR"]
    try:
        [child] = worker_children(serve.pid)
        serve.kill()
        serve.communicate()
        _, alive = psutil.wait_procs([child], timeout=30)
        assert not alive, "the worker process outlived a SIGKILLed server"
    finally:
        # The embedded Redis outlives a SIGKILL by design (the next start takes it over); stop it here.
        for proc in psutil.process_iter(["cmdline"]):
            if data_dir in " ".join(proc.info["cmdline"] or []):
                proc.kill()
