"""Apply WhatsApp's delivery statuses in batches: the statuses of many jobs in one short transaction.

Statuses are most of Meta's webhook traffic (sent, delivered, read for every message we send), and each is a
tiny write. Every job of a worker hands its statuses to the worker's one `StatusLedger` and waits; whichever
job finds no transaction running takes everything queued so far and applies it in one: one INSERT claims the
events (a redelivered status finds its key taken and is a duplicate), one `SELECT … FOR UPDATE` reads the
deliveries they name, and one batched UPDATE moves them forward. While that transaction runs, other jobs'
statuses queue for the next one, so the busier the worker, the bigger the batch and the fewer statements per
status. A failed transaction fails every job in it, and their retries find the same statuses unclaimed.

A status whose wamid no delivery holds may be about a send whose answer was never recorded (its worker stopped,
or the answer was lost: the delivery is `sending` or `unconfirmed`). Meta echoes the delivery's id we sent as
`biz_opaque_callback_data`, so such a status finds its delivery by that id, confirms it went out and gives it
the wamid, for the statuses after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_ui.whatsapp.events import StatusUpdate
from chat_ui.whatsapp.ledger import claim
from chat_ui.whatsapp.outbox import apply_status
from hub.db import models as m

log = structlog.get_logger(__name__)

MAX_BATCH = 500
"""Most statuses in one transaction."""
StatusOutcome = Literal["processed", "duplicate"]


@dataclass(eq=False)
class _Queued:
    tenant_id: uuid.UUID
    update: StatusUpdate
    outcome: StatusOutcome | None = None
    error: BaseException | None = None

    @property
    def key(self) -> str:
        return f"{self.update.id}:{self.update.status}"


class StatusLedger:
    """One worker's queue of statuses to apply; `apply` from any number of concurrent jobs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = MAX_BATCH) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: list[_Queued] = []
        self._writing = asyncio.Lock()

    async def apply(self, tenant_id: uuid.UUID, updates: Sequence[StatusUpdate]) -> Counter[StatusOutcome]:
        """Apply one tenant's statuses, in order, with whatever other jobs queued; count processed and duplicates.

        Raises what the transaction that carried them raised: nothing of it was written.
        """
        mine = [_Queued(tenant_id, update) for update in updates]
        self._queue.extend(mine)
        try:
            await asyncio.sleep(0)  # jobs started together queue theirs before the first of them writes
            async with self._writing:
                while any(q.outcome is None and q.error is None for q in mine):
                    batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                    await self._flush(batch, mine)
        finally:
            waiting = set(map(id, mine))
            self._queue = [q for q in self._queue if id(q) not in waiting]  # cancelled: nobody waits for them
        for queued in mine:
            if queued.error is not None:
                raise queued.error
        return Counter(q.outcome for q in mine if q.outcome is not None)

    async def _flush(self, batch: list[_Queued], mine: list[_Queued]) -> None:
        try:
            outcomes = await self._write(batch)
        except asyncio.CancelledError:
            # This job was stopped; the others' statuses go back to the head of the queue for the next writer.
            ours = set(map(id, mine))
            self._queue[:0] = [q for q in batch if id(q) not in ours]
            raise
        except Exception as exc:
            for queued in batch:
                queued.error = exc
            return
        for queued, outcome in zip(batch, outcomes, strict=True):
            queued.outcome = outcome

    async def _write(self, batch: list[_Queued]) -> list[StatusOutcome]:
        first: dict[str, int] = {}
        for i, queued in enumerate(batch):
            first.setdefault(queued.key, i)  # the same status twice in one batch: the second is a duplicate
        async with self._sessions() as session:
            taken = await claim(session, ((batch[i].tenant_id, key) for key, i in first.items()))
            fresh = [i for i, queued in enumerate(batch) if first[queued.key] == i and queued.key in taken]
            rows: dict[str | None, m.MessageDelivery] = {}
            if fresh:
                found = await session.execute(
                    select(m.MessageDelivery)
                    .where(m.MessageDelivery.external_id.in_({batch[i].update.id for i in fresh}))
                    .order_by(m.MessageDelivery.id)
                    .with_for_update()
                )
                rows = {row.external_id: row for row in found.scalars()}
            unsettled = await self._unsettled(session, [batch[i] for i in fresh if batch[i].update.id not in rows])
            unmatched = 0
            for i in fresh:
                update = batch[i].update
                row = rows.get(update.id) or unsettled.pop(update.callback_data or "", None)
                if row is None or row.tenant_id != batch[i].tenant_id:
                    unmatched += 1
                    continue
                if row.external_id is None:
                    log.info("whatsapp_delivery_confirmed", delivery_id=str(row.id), status=update.status)
                rows[update.id] = row  # the statuses after it find it by its wamid
                apply_status(row, update)
            await session.commit()
        if unmatched:
            log.info("whatsapp_statuses_unmatched", count=unmatched, batch=len(batch))
        fresh_set = set(fresh)
        return ["processed" if i in fresh_set else "duplicate" for i in range(len(batch))]

    @staticmethod
    async def _unsettled(session: AsyncSession, queued: list[_Queued]) -> dict[str, m.MessageDelivery]:
        """The deliveries still `sending` or `unconfirmed` that these statuses name by callback data, by id."""
        ids = set()
        for q in queued:
            with contextlib.suppress(ValueError):
                ids.add(uuid.UUID(q.update.callback_data or ""))
        if not ids:
            return {}
        found = await session.execute(
            select(m.MessageDelivery)
            .where(
                m.MessageDelivery.id.in_(ids),
                m.MessageDelivery.status.in_((m.DeliveryStatus.SENDING, m.DeliveryStatus.UNCONFIRMED)),
            )
            .order_by(m.MessageDelivery.id)
            .with_for_update()
        )
        return {str(row.id): row for row in found.scalars()}
