"""Claim webhook events in the idempotency ledger (`processed_webhook_events`): a redelivery finds its key taken."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from chat_ui.whatsapp.constants import WEBHOOK_SOURCE
from hub.db import models as m
from hub.db.upsert import upsert_insert
from hub.metrics import observe_webhook_dedupe


async def claim(session: AsyncSession, events: Iterable[tuple[uuid.UUID, str]]) -> set[str]:
    """Claim `(tenant id, event key)` pairs in the session's transaction, in one statement; return the keys it took.

    A key missing from the answer was claimed by a committed transaction before (or by a concurrent one, which
    this statement waited for): the event is a duplicate, and is counted as one. Nothing is claimed until the
    caller commits, so work that fails before the commit leaves its events to the retry.
    """
    unique = dict(sorted({key: tenant_id for tenant_id, key in events}.items()))  # one lock order for every writer
    if not unique:
        return set()
    rows = [{"tenant_id": tenant_id, "source": WEBHOOK_SOURCE, "event_key": key} for key, tenant_id in unique.items()]
    table = m.ProcessedWebhookEvent.__table__
    # One statement with the rows as parameters (SQLAlchemy sends them as one multi-row INSERT), so its SQL is
    # compiled once per process; rows written into the statement's VALUES would be compiled on every call.
    statement = (
        upsert_insert(session, table)
        .on_conflict_do_nothing(index_elements=["source", "event_key"])
        .returning(table.c.event_key)
    )
    taken = set((await session.execute(statement, rows)).scalars())
    for _ in range(len(unique) - len(taken)):
        observe_webhook_dedupe(WEBHOOK_SOURCE)
    return taken
