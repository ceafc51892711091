"""Export one tenant's rows for a date range as JSONL files with a checksummed manifest, and verify such an export.

Every table that holds tenant data gets one file, `<table>.jsonl`: the tenant's rows whose time column falls in
the range (UTC days, both ends included), one JSON object per line with sorted keys. UUIDs are strings,
datetimes ISO 8601, decimals exact strings. Secrets are left out (key and password hashes, channel credentials);
the manifest names each file's time column and the columns left out. `manifest.json` holds per file the row
count, byte size and sha256, so a recipient can check that nothing was lost or changed (`verify_export`).

Rows are chosen by tenant in SQL, table by table; a table added later is exported by the same rule as soon as it
has a `tenant_id` column. The export is written to a hidden sibling directory and renamed into place at the end,
so a failed export leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m

FORMAT = "hub-audit-export/1"
MANIFEST = "manifest.json"
SUFFIX = ".jsonl"
STREAM_ROWS = 500
CONSOLE = "console_"

TIME_COLUMNS: dict[str, str] = {
    "usage": "ts",
    "audit_events": "ts",
    "usage_daily": "day",
    "trace_spans": "start_ts",
    "orders": "placed_at",
    "kill_switches": "set_at",
    "processed_webhook_events": "received_at",
    "eval_runs": "started_at",
}
"""Each tenant table's time column where it is not `created_at`."""
OMITTED: dict[str, frozenset[str]] = {
    "api_keys": frozenset({"key_hash"}),
    "operators": frozenset({"password_hash"}),
    "channel_accounts": frozenset({"config"}),
}
"""Secrets never leave the service, not even in an export: key and password hashes, channel credentials."""


class ExportError(ValueError):
    """An export that cannot be made or does not verify; the message names the file, directory or value."""


@dataclass(frozen=True, slots=True)
class ExportRange:
    """UTC days, both ends included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ExportError(f"--from {self.first} is after --to {self.last}")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the range."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Scope:
    tenant_id: uuid.UUID
    range: ExportRange
    operator_ids: list[str]
    """The tenant's operators as the console stores them (a console user's identifier)."""


@dataclass(frozen=True, slots=True)
class _Source:
    table: Table
    time_column: str | None
    """None: every row of the tenant (the tenant's own row)."""
    where: Callable[[_Scope], list[ColumnElement[bool]]]
    rule: str
    """How rows are chosen, in words, for the manifest."""
    prefix: str = ""
    """Put before the table's name in the file name (`console_` for Chainlit's generic table names)."""

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def file_name(self) -> str:
        return f"{self.prefix}{self.table.name}{SUFFIX}"

    @property
    def omitted(self) -> frozenset[str]:
        return OMITTED.get(self.name, frozenset())


@dataclass(frozen=True, slots=True)
class ExportedFile:
    name: str
    table: str
    rows: int
    bytes: int
    sha256: str
    time_column: str | None
    rule: str
    omitted_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExportResult:
    directory: Path
    files: list[ExportedFile]
    manifest_sha256: str

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


class ExportProgress(Protocol):
    def start(self, table: str, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


# --- which rows -------------------------------------------------------------------------------------------


def _in_range(column: Any, scope: _Scope) -> list[ColumnElement[bool]]:
    if isinstance(column.type, m.Date):
        return [column >= scope.range.first, column <= scope.range.last]
    return [column >= scope.range.start, column < scope.range.end]


def _text_in_range(column: Any, scope: _Scope) -> list[ColumnElement[bool]]:
    """Chainlit's timestamps are ISO 8601 text, which sorts by time."""
    start, end = scope.range.start.replace(tzinfo=None), scope.range.end.replace(tzinfo=None)
    return [column >= start.isoformat(), column < end.isoformat()]


def _tenant_table(table: Table) -> _Source:
    time_column = TIME_COLUMNS.get(table.name) or next((c for c in ("created_at", "ts") if c in table.c), None)

    def where(scope: _Scope) -> list[ColumnElement[bool]]:
        own = [table.c.tenant_id == scope.tenant_id]
        return own if time_column is None else own + _in_range(table.c[time_column], scope)

    rule = "every row of the tenant" if time_column is None else f"{time_column} in range"
    return _Source(table, time_column, where, rule)


def _conversations() -> _Source:
    c, msg = m.Conversation.__table__, m.Message.__table__

    def where(scope: _Scope) -> list[ColumnElement[bool]]:
        spoke = exists().where(msg.c.conversation_id == c.c.id, *_in_range(msg.c.created_at, scope))
        return [c.c.tenant_id == scope.tenant_id, or_(and_(*_in_range(c.c.created_at, scope)), spoke)]

    return _Source(c, "created_at", where, "created_at in range, or a message in range")


def _console_sources() -> list[_Source]:
    """The console's Chainlit tables: a user is one operator (identifier = operator id)."""
    users, threads, steps = m.console_users, m.console_threads, m.console_steps
    elements, feedbacks = m.console_elements, m.console_feedbacks

    def tenant_users(scope: _Scope) -> Any:
        return select(users.c.id).where(users.c.identifier.in_(scope.operator_ids))

    def tenant_threads(scope: _Scope) -> Any:
        return select(threads.c.id).where(threads.c.userId.in_(tenant_users(scope)))

    def steps_in_range(scope: _Scope) -> Any:
        return select(steps.c.id).where(
            steps.c.threadId.in_(tenant_threads(scope)), *_text_in_range(steps.c.createdAt, scope)
        )

    def attached(table: Table) -> Callable[[_Scope], list[ColumnElement[bool]]]:
        return lambda scope: [
            table.c.threadId.in_(tenant_threads(scope)),
            table.c.forId.in_(steps_in_range(scope)),
        ]

    return [
        _Source(
            users,
            "createdAt",
            lambda s: [users.c.identifier.in_(s.operator_ids), *_text_in_range(users.c.createdAt, s)],
            "the tenant's operators, createdAt in range",
            CONSOLE,
        ),
        _Source(
            threads,
            "createdAt",
            lambda s: [threads.c.userId.in_(tenant_users(s)), *_text_in_range(threads.c.createdAt, s)],
            "createdAt in range",
            CONSOLE,
        ),
        _Source(
            steps,
            "createdAt",
            lambda s: [steps.c.threadId.in_(tenant_threads(s)), *_text_in_range(steps.c.createdAt, s)],
            "createdAt in range",
            CONSOLE,
        ),
        _Source(elements, None, attached(elements), "attached to an exported step", CONSOLE),
        _Source(feedbacks, None, attached(feedbacks), "given on an exported step", CONSOLE),
    ]


def sources() -> list[_Source]:
    """Every table with tenant data, the tenant's own row first."""
    tenants = m.Tenant.__table__
    found = [_Source(tenants, None, lambda s: [tenants.c.id == s.tenant_id], "the tenant itself")]
    for table in m.Base.metadata.sorted_tables:
        if table.name == "conversations":
            found.append(_conversations())
        elif "tenant_id" in table.c:
            found.append(_tenant_table(table))
    return found + _console_sources()


# --- writing ----------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot export a {type(value).__name__}")


def json_line(row: dict[str, Any]) -> bytes:
    """One row as a line: sorted keys, no insignificant whitespace, UTF-8."""
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return text.encode() + b"\n"


def check_output_dir(out: Path) -> None:
    """Refuse a directory that holds anything, a file in the way, or a parent that is missing or read-only."""
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a directory")
        if any(out.iterdir()):
            raise ExportError(f"{out} is not empty: choose a new directory")
    parent = out.absolute().parent
    if not parent.is_dir():
        raise ExportError(f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"directory {parent} is not writable")


def _staging_dir(out: Path) -> Path:
    """A hidden sibling of `out` to write into, so a failed export leaves nothing where it was asked for."""
    staging = out.absolute().parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def _publish(staging: Path, out: Path, manifest: bytes) -> None:
    (staging / MANIFEST).write_bytes(manifest)
    if out.exists():
        out.rmdir()  # checked empty before the export started
    staging.rename(out)


async def export_tenant(
    session: AsyncSession,
    tenant: m.Tenant,
    period: ExportRange,
    out: Path,
    *,
    now: datetime | None = None,
    progress: ExportProgress | None = None,
) -> ExportResult:
    """Write the tenant's rows in `period` under `out` (new or empty) with `manifest.json`; return what was written."""
    check_output_dir(out)
    operator_ids = [
        str(i) for i in await session.scalars(select(m.Operator.id).where(m.Operator.tenant_id == tenant.id))
    ]
    scope = _Scope(tenant.id, period, operator_ids)
    staging = await asyncio.to_thread(_staging_dir, out)
    try:
        files = [await _write_source(session, source, scope, staging, progress) for source in sources()]
        manifest = {
            "format": FORMAT,
            "tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
            "range": {"from": period.first.isoformat(), "to": period.last.isoformat(), "timezone": "UTC"},
            "generated_at": (now or datetime.now(UTC)).isoformat(),
            "files": [asdict(f) for f in files],
            "totals": {"files": len(files), "rows": sum(f.rows for f in files), "bytes": sum(f.bytes for f in files)},
        }
        body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        await asyncio.to_thread(_publish, staging, out, body)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, files, hashlib.sha256(body).hexdigest())


async def _write_source(
    session: AsyncSession, source: _Source, scope: _Scope, directory: Path, progress: ExportProgress | None
) -> ExportedFile:
    table, where = source.table, source.where(scope)
    columns = [c for c in table.c if c.name not in source.omitted]
    order = [table.c[source.time_column]] if source.time_column else []
    order += list(table.primary_key.columns)
    if progress is not None:
        total = (await session.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        progress.start(source.name, total)
    name = source.file_name
    digest, rows, size = hashlib.sha256(), 0, 0
    with (directory / name).open("wb") as f:
        result = await session.stream(
            select(*columns).where(*where).order_by(*order).execution_options(yield_per=STREAM_ROWS)
        )
        async for batch in result.mappings().partitions():
            for row in batch:
                line = json_line(dict(row))
                f.write(line)
                digest.update(line)
                size += len(line)
            rows += len(batch)
            if progress is not None:
                progress.advance(len(batch))
    return ExportedFile(
        name=name,
        table=source.name,
        rows=rows,
        bytes=size,
        sha256=digest.hexdigest(),
        time_column=source.time_column,
        rule=source.rule,
        omitted_columns=sorted(source.omitted),
    )


# --- verifying --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    files: int
    rows: int
    problems: list[str]
    """One line per file that does not match the manifest, naming it; empty when the export verifies."""

    @property
    def ok(self) -> bool:
        return not self.problems


def _measure(path: Path) -> tuple[int, int, str]:
    digest, size, lines = hashlib.sha256(), 0, 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return lines, size, digest.hexdigest()


def verify_export(directory: Path) -> Verification:
    """Recompute every file's row count, size and sha256 and compare them with the manifest."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        entries = manifest["files"]
    except FileNotFoundError:
        raise ExportError(f"{directory / MANIFEST} not found: not an export directory") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{directory / MANIFEST} is not a readable manifest ({exc})") from None
    problems: list[str] = []
    listed, rows = {MANIFEST}, 0
    for entry in entries:
        name = str(entry.get("name", ""))
        listed.add(name)
        if not name or Path(name).name != name:
            problems.append(f"{name!r}: not a file name inside the export")
            continue
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        lines, size, sha256 = _measure(path)
        rows += lines
        if sha256 != entry.get("sha256"):
            problems.append(f"{name}: sha256 {sha256} differs from the manifest's {entry.get('sha256')}")
        if size != entry.get("bytes"):
            problems.append(f"{name}: {size} bytes, the manifest says {entry.get('bytes')}")
        if lines != entry.get("rows"):
            problems.append(f"{name}: {lines} rows, the manifest says {entry.get('rows')}")
    problems += [f"{p.name}: not in the manifest" for p in sorted(directory.iterdir()) if p.name not in listed]
    return Verification(files=len(entries), rows=rows, problems=problems)
