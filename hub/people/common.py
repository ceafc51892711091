"""What the customer and order imports share: the formats, reading a file into rows, and contact normalisation."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

import phonenumbers

from hub.catalog.records import CatalogFormatError
from hub.catalog.source import Row, Table, decode, header_key, read_jsonl_rows, read_table

PHONE_MAX = 32


class PeopleFormat(StrEnum):
    SHOPIFY = "shopify"
    CSV = "csv"
    JSONL = "jsonl"


def read_rows(data: bytes, fmt: PeopleFormat, *, aliases: dict[str, str], required: list[str], what: str) -> Table:
    """The file's rows, columns known by an alias (generic name → Shopify key) read under the Shopify key; a file
    missing a `required` column (Shopify spelling) is refused. JSON Lines lists (tags) become comma-separated cells."""
    text = decode(data)
    if fmt is PeopleFormat.JSONL:
        rows, extras, rejected = read_jsonl_rows(text)
        if rejected:
            raise CatalogFormatError(f"not JSON Lines: line {rejected[0].line}: {rejected[0].reason}")
        rows = [Row(r.line, r.cells | _joined(extras.get(r.line, {}))) for r in rows]
        keys = {k for r in rows for k in r.cells}
        table = Table(headers={k: k for k in keys}, rows=rows)
    else:
        table = read_table(text)
    if fmt is not PeopleFormat.SHOPIFY:
        table = table.aliased({header_key(a): header_key(c) for a, c in aliases.items()})
        missing = [a for a, c in aliases.items() if c in required and header_key(c) not in table.headers]
        if missing:
            kind = "JSON Lines" if fmt is PeopleFormat.JSONL else "CSV"
            raise CatalogFormatError(f"not a HUB {what} {kind}: missing column(s) {', '.join(missing)}")
        return table
    table.require(required, f"Shopify {what} CSV")
    return table


def _joined(extra: dict[str, Any]) -> dict[str, str]:
    return {k: ", ".join(str(x) for x in cast(list[Any], v)) for k, v in extra.items() if isinstance(v, list)}


def email(raw: str) -> str:
    return raw.strip().lower()


def phone(raw: str, country: str = "") -> str | None:
    """E.164 (`+15550100199`) when the number reads as valid, with the address's country for a national one;
    otherwise as written (Shopify's `'+1…` text prefix dropped); empty is None."""
    text = raw.strip().lstrip("'")
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, country.strip().upper() or None)
    except phonenumbers.NumberParseException:
        return text[:PHONE_MAX]
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return text[:PHONE_MAX]
