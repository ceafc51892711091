"""One trip to aiosqlite's thread per SQLite statement, instead of three or four.

SQLAlchemy's adapter drives an aiosqlite cursor the way a DBAPI is driven: open the cursor, execute, fetch the
rows, close it, each an `await` that hands a function to the driver's thread and waits for it to come back (about
0.1 ms each on a small box). Here the four run as one function in that thread; the adapter then serves
`description`, `rowcount`, `lastrowid` and the rows from what the function returned. Server-side cursors (results
streamed a batch at a time) keep SQLAlchemy's own class.

This leans on two internals, both pinned in `constraints.txt`: SQLAlchemy's `AsyncAdapt_aiosqlite_cursor` (its
`_execute_async`/`_executemany_async` hooks and slots) and aiosqlite's `Connection._execute` (run a function in the
connection's thread). The whole test suite runs on SQLite through this class.
"""

from __future__ import annotations

import collections
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.util import EMPTY_DICT


@dataclass(slots=True)
class _Executed:
    """What a driver cursor reported for one statement; the adapter's `description`, `rowcount`, `lastrowid` and
    `arraysize` read it where they would read a live cursor."""

    description: Any = None
    rowcount: int = -1
    lastrowid: Any = None
    arraysize: int = 1


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple[_Executed, list[Any] | None]:
    """In the driver's thread: execute, read every row, close; return what the adapter serves afterwards."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Executed(cursor.description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        # No driver cursor lives between trips: _Executed serves the attributes the adapter reads from one.
        self._cursor = _Executed()  # pyright: ignore[reportAttributeAccessIssue]  # not the full cursor protocol
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:  # pyright: ignore[reportPrivateUsage]  # the adapter's own lock
            raw = self._connection._conn  # the sqlite3 connection, used only inside its own thread
            executed, rows = await self._connection._execute(_run, raw, operation, parameters, many)
        executed.arraysize = self._cursor.arraysize
        self._cursor = executed
        self._rows = collections.deque(rows or ())

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None  # nothing open in the driver: the rows are already here

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


def one_hop(dbapi_connection: Any) -> None:
    """Make a freshly opened aiosqlite adapter connection use `OneHopCursor` (called from the engine's connect
    event; the classes share their layout, so only the cursor class changes)."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneHopConnection
