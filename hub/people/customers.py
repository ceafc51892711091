"""Customers from a Shopify customers export (classic and newer) or HUB's CSV / JSON Lines, upserted by email.

Generic columns (keys), any case; only `email` is required:

    email, name (or first_name + last_name), phone, country (ISO code, reads a national phone number),
    tags (comma-separated; JSONL: a list too), accepts_marketing, accepts_sms (true/false), note
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import bindparam

from hub.catalog import fields
from hub.catalog.importer import BATCH, Progress, batches
from hub.catalog.records import Rejection, rejections_json
from hub.catalog.source import Row
from hub.db import models as m
from hub.people.common import PeopleFormat, email, phone, read_rows
from hub.text import EMAIL

NAME_MAX = 200
_FIELDS = ("name", "phone", "tags", "marketing_opt_in", "whatsapp_opt_in")
GENERIC = {
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "phone": "Phone",
    "country": "Default Address Country Code",
    "tags": "Tags",
    "accepts_marketing": "Accepts Email Marketing",
    "accepts_sms": "Accepts SMS Marketing",
    "note": "Note",
}
SHOPIFY_ALIASES = {"accepts marketing": "accepts email marketing"}
"""The classic export's name for a column the newer one renamed."""


@dataclass
class CustomerRecord:
    line: int
    email: str
    name: str
    phone: str | None
    tags: list[str]
    marketing_opt_in: bool
    whatsapp_opt_in: bool
    note: str


@dataclass
class CustomerSummary:
    customers: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list[Rejection])

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": rejections_json(self.rejected),
        }


def read_customers(data: bytes, fmt: PeopleFormat) -> tuple[list[CustomerRecord], list[Rejection]]:
    """Parse a customers file; raise CatalogFormatError when it is not `fmt`."""
    table = read_rows(data, fmt, aliases=GENERIC, required=["Email"], what="customers").aliased(SHOPIFY_ALIASES)
    records: list[CustomerRecord] = []
    rejected: list[Rejection] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        address = email(row.get("email"))
        if not address:
            rejected.append(Rejection(row.line, table.column("email"), "email is empty"))
        elif not EMAIL.fullmatch(address):
            rejected.append(Rejection(row.line, table.column("email"), f"not an email: {address!r}"))
        elif address in seen:
            rejected.append(Rejection(row.line, table.column("email"), f"{address} is on line {seen[address]} too"))
        else:
            seen[address] = row.line
            records.append(_record(row, address))
    return records, rejected


def _record(row: Row, address: str) -> CustomerRecord:
    name = row.get("name") or " ".join(p for p in (row.get("first name"), row.get("last name")) if p)
    country = row.get("default address country code")
    return CustomerRecord(
        line=row.line,
        email=address,
        name=(name or address.split("@")[0])[:NAME_MAX],
        phone=phone(row.get("phone") or row.get("default address phone"), country),
        tags=fields.tags(row.get("tags")),
        marketing_opt_in=fields.truthy(row.get("accepts email marketing")),
        whatsapp_opt_in=fields.truthy(row.get("accepts sms marketing")),
        note=row.get("note"),
    )


async def existing_customers(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """email → the tenant's stored customer (id and the imported fields)."""
    table = m.Customer.__table__
    rows = await session.execute(
        select(table.c.id, table.c.email, *(table.c[f] for f in _FIELDS)).where(table.c.tenant_id == tenant_id)
    )
    return {r["email"].lower(): dict(r) for r in rows.mappings()}


async def import_customers(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    records: list[CustomerRecord],
    rejected: list[Rejection],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> CustomerSummary:
    """Create or update the tenant's customers by email; equal ones are left untouched."""
    summary = CustomerSummary(rejected=list(rejected))
    async with sessions() as session:
        stored = await existing_customers(session, tenant_id)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for record in records:
        values = {f: getattr(record, f) for f in _FIELDS}
        summary.customers += 1
        before = stored.get(record.email)
        if before is None:
            summary.created += 1
            notes = [{"text": record.note, "source": "import"}] if record.note else []
            new.append({"id": uuid.uuid4(), "tenant_id": tenant_id, "email": record.email, "notes": notes, **values})
        elif any(before[f] != v for f, v in values.items()):
            summary.updated += 1
            changed.append({"_id": before["id"], **values})
        else:
            summary.unchanged += 1
    if dry_run:
        return summary
    table = m.Customer.__table__
    writes: list[tuple[str, dict[str, Any]]] = [("new", v) for v in new] + [("changed", v) for v in changed]
    for done, batch in enumerate(batches(writes), start=1):
        async with sessions() as session:
            if inserts := [v for kind, v in batch if kind == "new"]:
                await session.execute(insert(table), inserts)
            if updates := [v for kind, v in batch if kind == "changed"]:
                await session.execute(
                    update(table)
                    .where(and_(table.c.tenant_id == tenant_id, table.c.id == bindparam("_id")))
                    .values(**{f: bindparam(f) for f in _FIELDS}),
                    updates,
                )
            await session.commit()
        if progress is not None:
            progress(min(done * BATCH, len(writes)), len(writes))
    return summary
