"""Turn an uploaded file's bytes into rows: decode (UTF-8 with or without BOM, else Windows-1252), sniff the CSV
delimiter, and number every row by the physical line it starts on."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from hub.catalog.records import CatalogFormatError, Rejection

DELIMITERS = ",;\t"


def decode(data: bytes) -> str:
    """Decode UTF-8 (a BOM is dropped); a file that is not UTF-8 is read as Windows-1252, as Excel writes it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def header_key(name: str) -> str:
    """Match column names as people type them: case, surrounding and repeated spaces do not matter."""
    return " ".join(name.replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True)
class Row:
    line: int
    """The 1-based physical line the row starts on (the header is line 1)."""
    cells: dict[str, str]
    """Header key (see `header_key`) → the cell, stripped."""

    def get(self, key: str) -> str:
        return self.cells.get(key, "")


@dataclass(frozen=True)
class Table:
    headers: dict[str, str]
    """Header key → the header as the file spells it (what a rejection names)."""
    rows: list[Row]

    def require(self, names: Iterable[str], what: str) -> None:
        """Refuse a file missing any of the columns `names` with one message naming them all."""
        missing = [n for n in names if header_key(n) not in self.headers]
        if missing:
            raise CatalogFormatError(f"not a {what}: missing column(s) {', '.join(missing)}")

    def column(self, key: str) -> str:
        return self.headers.get(key, key)

    def aliased(self, aliases: dict[str, str]) -> Table:
        """The same table with columns known by another name (alias key → canonical key) read as the canonical one,
        unless the file has that column too (and keeps it: a column that is itself renamed frees its name, so a generic
        file's `number` becomes `name` while its `name` becomes `billing name`); a rejection still names the column
        as the file spells it."""
        staying = self.headers.keys() - aliases.keys()
        renames = {a: c for a, c in aliases.items() if a in self.headers and c not in staying}
        if not renames:
            return self
        headers = {renames.get(k, k): name for k, name in self.headers.items()}
        rows = [Row(r.line, {renames.get(k, k): v for k, v in r.cells.items()}) for r in self.rows]
        return Table(headers=headers, rows=rows)


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(text: str) -> Table:
    """Parse CSV text whose first line is the header; blank rows are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        names = next(reader)
    except StopIteration:
        raise CatalogFormatError("the file is empty") from None
    keys = [header_key(n) for n in names]
    headers = {k: " ".join(n.replace("\ufeff", "").split()) for k, n in zip(keys, names, strict=True) if k}
    rows: list[Row] = []
    line_end = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: the row starts on the line after the previous row ended.
        start, line_end = line_end + 1, reader.line_num
        if any(c.strip() for c in cells):
            rows.append(Row(line=start, cells={k: c.strip() for k, c in zip(keys, cells, strict=False) if k}))
    return Table(headers=headers, rows=rows)


def read_jsonl_rows(text: str) -> tuple[list[Row], dict[int, dict[str, Any]], list[Rejection]]:
    """Parse JSON Lines, one object a line: the rows (scalar values as cells, keyed by `header_key`), each row's
    list and object values by line, and the lines that are not objects. A first line that is not a JSON object means
    the file is not JSON Lines at all."""
    rows: list[Row] = []
    extras: dict[int, dict[str, Any]] = {}
    rejected: list[Rejection] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj: object = json.loads(line)
        except json.JSONDecodeError as exc:
            if not rows and not rejected:
                raise CatalogFormatError(f"not JSON Lines: line {number}: {exc.msg}") from None
            rejected.append(Rejection(number, "", f"not JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            if not rows and not rejected:
                raise CatalogFormatError(f"not JSON Lines of objects: line {number} is {type(obj).__name__}")
            rejected.append(Rejection(number, "", "not a JSON object"))
            continue
        cells: dict[str, str] = {}
        extra: dict[str, Any] = {}
        for key, value in cast(dict[str, Any], obj).items():
            name = header_key(str(key))
            if isinstance(value, list | dict):
                extra[name] = value
            elif value is not None:
                cells[name] = (str(value).lower() if isinstance(value, bool) else str(value)).strip()
        rows.append(Row(line=number, cells=cells))
        extras[number] = extra
    if not rows and not rejected:
        raise CatalogFormatError("the file is empty")
    return rows, extras, rejected
