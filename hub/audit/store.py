"""Store a finished trace in the caller's transaction, redacted per tenant, and copy it to OTLP when configured."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.otlp import OtlpExport
from hub.audit.trace import Trace
from hub.db import models as m


class TraceStore:
    """One per process; `close` sends whatever the OTLP exporter still holds."""

    def __init__(self, otlp_endpoint: str | None = None) -> None:
        self.otlp = OtlpExport(otlp_endpoint) if otlp_endpoint else None

    async def store(self, session: AsyncSession, trace: Trace, *, redact_pii: bool) -> list[m.TraceSpan]:
        """Insert the trace's spans in the session's transaction, all in one statement."""
        rows = trace.rows(redact_pii=redact_pii)
        if rows:
            table = m.TraceSpan.__table__
            columns = [c.key for c in table.columns if c.key != "id"]
            # a Core executemany: one statement, whichever span has a parent (the ORM's bulk insert groups by nulls)
            await session.execute(insert(table), [{c: getattr(row, c) for c in columns} for row in rows])
        if self.otlp is not None:
            self.otlp.emit(rows)
        return rows

    def close(self) -> None:
        if self.otlp is not None:
            self.otlp.shutdown()
