"""Run `hub serve`'s background workers in a child process: started with it, restarted when they die, stopped
before it stops, and never outliving it.

In the embedded default `hub serve` runs the channel and imaging workers itself; in a child process their job
work (a turn, a photo shoot) never holds up the server's event loop. The child runs `python -m
service.worker_process PARENT_PID` with the server's environment plus the embedded Redis's URL, so it uses the
same SQLite file and the same Redis, and announces its workers there like `hub worker` does (`hub status`,
`hub health worker` see them). It runs in a session of its own, so Ctrl-C in a terminal reaches the server
alone, which then stops the child in order (SIGTERM; running jobs finish or go back to their queue; SIGKILL
after `STOP_TIMEOUT_S`). If the server dies without stopping it (SIGKILL), the kernel sends the child SIGTERM
(Linux `PR_SET_PDEATHSIG`), and the child also checks every second that its parent is still the one that
started it.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable

import redis
import structlog

from hub.constants import WORKER_HEARTBEAT
from hub.jobs import STOP_GRACE_S
from hub.settings import Settings
from hub.worker_kinds import WorkerKind

log = structlog.get_logger(__name__)

STOP_TIMEOUT_S = STOP_GRACE_S + 10.0
"""How long the server waits for the child to stop after SIGTERM before it kills it."""
RESTART_BACKOFF_S = (1.0, 30.0)
"""First and longest pause before a child that died is started again (doubling in between)."""
STABLE_S = 60.0
"""A child that ran this long before dying is restarted after the first pause again."""
PARENT_CHECK_S = 1.0
_PR_SET_PDEATHSIG = 1


class WorkerProcess:
    """Supervise one child process running every worker kind, from a thread of the server (`with` block)."""

    def __init__(self, settings: Settings, kinds: Iterable[WorkerKind] = tuple(WorkerKind)) -> None:
        if not settings.redis_url:
            raise ValueError("worker processes need settings.redis_url (the embedded Redis's)")
        self.settings = settings
        self.redis_url = settings.redis_url
        self.kinds = tuple(kinds)
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.pid: int | None = None
        """The running child's pid (None between a death and its restart)."""
        self.starts = 0

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the child (from a supervising thread, which also restarts it) and return at once."""
        self._thread = threading.Thread(target=self._supervise, name="hub-worker-process", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the child's workers of every kind have announced themselves in Redis."""
        ready = self._ready.wait(timeout_s)
        if not ready:
            log.warning("worker_process_not_ready", waited_s=timeout_s)
        return ready

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after `STOP_TIMEOUT_S`) and the supervising thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # --- the supervising thread ---

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "HUB_REDIS_URL": self.redis_url, "HUB_DATA_DIR": str(self.settings.data_dir)}
        env.pop("HUB_METRICS_PORT", None)  # the server's /metrics is on its own port; two listeners would clash
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.worker_process", str(os.getpid()), *self.kinds],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # stdout is the server's (its banner); the child only logs
            start_new_session=True,
        )
        self.pid = proc.pid
        self.starts += 1
        log.info("worker_process_started", pid=proc.pid, kinds=list(self.kinds), start=self.starts)
        return proc

    def _supervise(self) -> None:
        backoff = RESTART_BACKOFF_S[0]
        client = redis.Redis.from_url(self.redis_url, decode_responses=True, socket_connect_timeout=5)
        try:
            while not self._stopping.is_set():
                proc = self._spawn()
                started = time.monotonic()
                while proc.poll() is None and not self._stopping.wait(0.2):
                    if not self._ready.is_set() and self._announced(client, proc.pid):
                        self._ready.set()
                        log.info("worker_process_ready", pid=proc.pid, after_s=round(time.monotonic() - started, 2))
                if self._stopping.is_set():
                    self._terminate(proc)
                    return
                self.pid = None
                if time.monotonic() - started >= STABLE_S:
                    backoff = RESTART_BACKOFF_S[0]
                log.error("worker_process_died", pid=proc.pid, exit_code=proc.returncode, restart_in_s=backoff)
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, RESTART_BACKOFF_S[1])
        finally:
            client.close()

    def _announced(self, client: redis.Redis, pid: int) -> bool:
        try:
            kinds = set()
            for key in client.scan_iter(match=f"{WORKER_HEARTBEAT}:*"):
                raw = client.get(key)
                info = json.loads(raw) if raw else {}
                if info.get("pid") == pid:
                    kinds.add(info.get("kind"))
            return kinds >= set(self.kinds)
        except (redis.RedisError, OSError, ValueError):
            return False

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("worker_process_killed", pid=proc.pid, waited_s=STOP_TIMEOUT_S)
                proc.kill()
                proc.wait()
        log.info("worker_process_stopped", pid=proc.pid, exit_code=proc.returncode)
        self.pid = None


# --- the child ---------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (elsewhere the parent check alone does it)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("worker_process_orphaned", parent_pid=parent_pid)
            stop.set()
            return
        await asyncio.sleep(PARENT_CHECK_S)


async def run_children(settings: Settings, kinds: Iterable[WorkerKind], parent_pid: int) -> None:
    """Run a worker of each kind in this process until SIGTERM, SIGINT, SIGHUP or the parent's death."""
    from hub.workers import run_worker
    from service.workers import consumers as consumers_of  # the task code, imported before any consumer starts

    consumers = {kind: consumers_of(kind) for kind in kinds}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop))
    try:
        await asyncio.gather(
            *(run_worker(kind, settings, stop=stop, handle_signals=False, consumers=c) for kind, c in consumers.items())
        )
    finally:
        stop.set()
        await watcher


def main(argv: list[str] | None = None) -> None:
    """`python -m service.worker_process PARENT_PID KIND...`: what `WorkerProcess` runs."""
    args = sys.argv[1:] if argv is None else argv
    parent_pid, kinds = int(args[0]), [WorkerKind(k) for k in args[1:]]
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        return
    from service.cli.common import load_settings

    asyncio.run(run_children(load_settings(service=True), kinds, parent_pid))


if __name__ == "__main__":
    main()
