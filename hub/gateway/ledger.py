"""Write model attempts' usage rows in batches off the hot path, never losing one, through the one billing path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.aio import wait_event
from hub.metrics import observe_usage
from hub.usage.billing import bill

log = structlog.get_logger(__name__)


class UsageLedger:
    """`record()` only appends to memory; a background task bills batches (`hub.usage.billing.bill`: the rows and
    the spend counters budgets read) and retries failed ones."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redis: aioredis.Redis,
        *,
        flush_interval_s: float = 0.5,
        batch_size: int = 200,
        spill_dir: Path | None = None,
    ) -> None:
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._redis = redis
        self._interval = flush_interval_s
        self._batch = batch_size
        self._buffer: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._spill_dir = spill_dir
        self.written = 0
        self.on_spend: Callable[[uuid.UUID, datetime, Decimal], None] | None = None
        """Told of every billed row once it is stored, so budget checks in this process see it at once."""

    def start(self) -> None:
        """Re-queue rows a previous process spilled to disk, then flush in the background."""
        if self._spill_dir is not None:
            for path in sorted(self._spill_dir.glob(f"{_SPILL_PREFIX}*.jsonl")):
                self._buffer.extend(_load_row(line) for line in path.read_text().splitlines() if line)
                path.unlink()
                log.info("usage_spill_requeued", file=path.name, pending=len(self._buffer))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-ledger")

    def record(self, row: dict[str, Any]) -> None:
        """Queue one usage row (a UsageRecord's columns) and count it in the metrics; returns at once."""
        observe_usage(row)
        self._buffer.append(row)
        if len(self._buffer) >= self._batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, self._interval)
            self._wake.clear()
            # Shielded: cancelling the loop at shutdown must not abandon a batch mid-insert.
            await asyncio.shield(self.flush())

    async def flush(self) -> int:
        """Bill everything buffered; rows that fail to insert go back to the buffer for the next try."""
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            try:
                await bill(self._engine, self._redis, rows, on_stored=lambda: self._tell_spend(rows))
            except Exception:
                self._buffer[:0] = rows
                log.exception("usage_flush_failed", pending=len(self._buffer))
                return 0
            self.written += len(rows)
            return len(rows)

    def _tell_spend(self, rows: list[dict[str, Any]]) -> None:
        if self.on_spend is not None:
            for row in rows:
                if row["cost"]:
                    self.on_spend(row["tenant_id"], row["ts"], row["cost"])

    async def aclose(self) -> None:
        """Stop the background task and flush what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _ in range(3):
            await self.flush()
            if not self._buffer:
                return
            await asyncio.sleep(self._interval)
        self._spill()

    def _spill(self) -> None:
        """The database stayed down through shutdown: keep the rows on disk for the next start."""
        if self._spill_dir is None:
            log.error("usage_rows_lost_at_shutdown", count=len(self._buffer))
            return
        self._spill_dir.mkdir(parents=True, exist_ok=True)
        path = self._spill_dir / f"{_SPILL_PREFIX}{uuid.uuid4().hex}.jsonl"
        path.write_text("".join(json.dumps(_dump_row(r)) + "\n" for r in self._buffer))
        log.error("usage_rows_spilled", count=len(self._buffer), file=str(path))
        self._buffer = []


_SPILL_PREFIX = "usage-spill-"


def _dump_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal | uuid.UUID) else v)
        for k, v in row.items()
    }


def _load_row(line: str) -> dict[str, Any]:
    row = json.loads(line)
    row["ts"] = datetime.fromisoformat(row["ts"])
    row["tenant_id"] = uuid.UUID(row["tenant_id"])
    row["cost"] = Decimal(row["cost"])
    return row
