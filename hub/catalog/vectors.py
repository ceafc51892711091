"""Keep each active product's sentence vector (`product_vectors`) in step with its text, off the request path.

A catalog write enqueues `embed_products` for the tenant (`request_embedding`); the job encodes, in batches, only
the products whose text has no vector yet or has changed since (by its hash), so a rerun, or a write that changed
only prices or stock, reads the tenant's hashes and encodes nothing. Archived products keep their vectors (search
reads active products only); a deleted product's vector goes with it (ON DELETE CASCADE).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import models as m
from hub.db.upsert import upsert_insert
from hub.jobs import JobQueue
from hub.knowledge import encoder

log = structlog.get_logger(__name__)

EMBED_TASK = "embed_products"
EMBED_TIMEOUT_S = 3600
EMBED_BATCH = 256
"""Products encoded and written per transaction: a crash loses at most one batch of work."""
DESCRIPTION_CHARS = 200
"""The most of the description's first sentence the vector reads: the opening says what the product is; the
rest (care, sizes, fabric weight) dilutes it, and on the demo catalog lowered every related query's cosine."""

Progress = Callable[[int, int], None]
"""Called with (encoded so far, to encode) after each batch."""


def product_text(title: str, category: str, attributes: dict[str, Any] | None, description: str) -> str:
    """The text a product's vector encodes: title, category and type, colours, the description's first sentence."""
    attrs = attributes or {}
    kind = " ".join(dict.fromkeys(s for s in (category, str(attrs.get("product_type") or "")) if s))
    colours = ", ".join(str(c) for c in attrs.get("colours", []) if c)
    opening = re.split(r"(?<=[.!?])\s", " ".join(description.split()), maxsplit=1)[0][:DESCRIPTION_CHARS]
    parts = [title.strip(), kind.replace("_", " "), colours, opening]
    return ". ".join(p for p in parts if p)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class EmbedReport:
    encoded: int
    """Products whose vector was written (new, or their text changed)."""
    unchanged: int
    """Active products whose vector was already current."""

    def as_dict(self) -> dict[str, int]:
        return {"encoded": self.encoded, "unchanged": self.unchanged}


async def _stale(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[list[tuple[uuid.UUID, str, str]], int]:
    """The tenant's active products whose vector is missing or stale, as (id, text, hash), and how many are current."""
    p, v = m.Product, m.ProductVector
    rows = await session.execute(
        select(p.id, p.title, p.category, p.attributes, p.description, v.text_hash)
        .outerjoin(v, v.product_id == p.id)
        .where(p.tenant_id == tenant_id, p.active.is_(True))
    )
    stale: list[tuple[uuid.UUID, str, str]] = []
    current = 0
    for product_id, title, category, attributes, description, stored in rows:
        text = product_text(title, category, attributes, description)
        digest = text_hash(text)
        if digest == stored:
            current += 1
        else:
            stale.append((product_id, text, digest))
    return stale, current


async def embed_products(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, *, progress: Progress | None = None
) -> EmbedReport:
    """Encode the tenant's active products that have no vector or a stale one, and store their vectors."""
    async with sessions() as session:
        stale, current = await _stale(session, tenant_id)
    done = 0
    if progress is not None:
        progress(0, len(stale))
    for start in range(0, len(stale), EMBED_BATCH):
        batch = stale[start : start + EMBED_BATCH]
        vectors = await asyncio.to_thread(encoder.encode, [text for _, text, _ in batch])
        now = datetime.now(UTC)
        rows = [
            {
                "product_id": pid,
                "tenant_id": tenant_id,
                "text_hash": digest,
                "vector": encoder.to_bytes(vec),
                "updated_at": now,
            }
            for (pid, _, digest), vec in zip(batch, vectors, strict=True)
        ]
        async with sessions() as session:
            stmt = upsert_insert(session, m.ProductVector)
            stmt = stmt.on_conflict_do_update(
                index_elements=["product_id"],
                set_={"text_hash": stmt.excluded.text_hash, "vector": stmt.excluded.vector, "updated_at": now},
            )
            await session.execute(stmt, rows)
            await session.commit()
        done += len(batch)
        if progress is not None:
            progress(done, len(stale))
    return EmbedReport(encoded=done, unchanged=current)


async def request_embedding(jobs: JobQueue | None, tenant_id: uuid.UUID) -> None:
    """Queue `embed_products` for the tenant after its catalog changed; without a queue (no Redis), say how to run it
    by hand. A failure to enqueue is logged, never raised: the write it follows has landed."""
    if jobs is None:
        log.info("product_vectors_not_queued", tenant_id=str(tenant_id), hint="run `hub catalog embed`")
        return
    try:
        await jobs.enqueue(EMBED_TASK, str(tenant_id), priority="low")
    except RedisError as exc:  # search by words still works meanwhile; the next catalog write queues it again
        log.warning("product_vectors_not_queued", tenant_id=str(tenant_id), error=str(exc))


def register_jobs(queue: JobQueue) -> None:
    """Register the job that brings a tenant's product vectors up to date; a rerun encodes only what is still stale."""

    @queue.task(EMBED_TASK, timeout_s=EMBED_TIMEOUT_S)
    async def embed_products_job(tenant_id: str) -> dict[str, int]:
        report = await embed_products(queue.resources.sessions, uuid.UUID(tenant_id))
        return report.as_dict()
