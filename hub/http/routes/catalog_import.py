"""Let a shop's admin import its catalog over HTTP: the twin of `hub catalog import`, the file as the raw body."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from hub.catalog.importer import import_catalog, read_catalog
from hub.catalog.records import CatalogFormat, CatalogFormatError
from hub.catalog.vectors import request_embedding
from hub.db import models as m
from hub.http.deps import AdminKey, Resources, Session, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_IMPORT_BODY

router = APIRouter(
    prefix="/v1/catalog", tags=["operator"], responses=error_responses(*KEY_ERRORS, 403), max_body_size=MAX_IMPORT_BODY
)


class RejectedRow(BaseModel):
    line: int
    """The file's 1-based physical line (the header is line 1)."""
    column: str
    reason: str


class ImportOut(BaseModel):
    products: int
    variants: int
    created: int
    updated: int
    unchanged: int
    archived: int
    rejected: list[RejectedRow]


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The export file as it is (CSV, or JSON Lines for `format=jsonl`).",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/import",
    openapi_extra=_BODY,
    responses=error_responses(
        *BODY_ERRORS,
        (422, "The file is not the named format (the message names the missing columns), or a bad parameter."),
    ),
)
async def import_products(
    request: Request,
    auth: AdminKey,
    session: Session,
    res: Annotated[Resources, Depends(resources)],
    fmt: Annotated[CatalogFormat, Query(alias="format", description="What wrote the file.")],
    dry_run: Annotated[bool, Query(description="Check the file and count changes; write nothing.")] = False,
    prune: Annotated[
        bool, Query(description="The file is a full export: archive imported products missing from it.")
    ] = False,
) -> ImportOut:
    """Create or update this tenant's products from the file, matched by handle, as `hub catalog import` does."""
    data = await request.body()
    try:
        catalog = await asyncio.to_thread(read_catalog, data, fmt)
    except CatalogFormatError as exc:
        raise ApiError(422, "wrong_format", str(exc)) from None
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    tenant_id, currency = tenant.id, str((tenant.settings or {}).get("currency") or "USD")
    await session.rollback()  # the import writes in its own transactions; hold no read snapshot meanwhile
    summary = await import_catalog(
        res.sessions,
        tenant_id,
        catalog,
        fmt=fmt,
        currency=currency,
        dry_run=dry_run,
        prune=prune,
    )
    if not dry_run and (summary.created or summary.updated):
        await request_embedding(res.jobs, tenant_id)
    return ImportOut.model_validate(summary.as_dict())
