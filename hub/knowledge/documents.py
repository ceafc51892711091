"""Add, list and remove a tenant's policy and help pages: read, cut into passages, encoded, stored.

A document is known by its slug, made from its file name: adding a file whose bytes are unchanged writes nothing
(`unchanged`), adding a changed one replaces the document's passages (`updated`). A file that cannot be read is
reported in `rejected` with its reason, and the other files are still added.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict
from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.knowledge import encoder
from hub.knowledge.kinds import KnowledgeKind
from hub.knowledge.passages import PassageText, encoder_input, split_sections
from hub.knowledge.readers import ReadDocument, UnreadableDocumentError, read_document
from hub.tenancy.repository import Policies

MAX_FILE_BYTES = 20 * 1024 * 1024
"""A policy or help page larger than this is refused: it is not a page."""

Progress = Callable[[int, int], None]
"""Called with (files done, files to do) after each file."""


@dataclass(frozen=True)
class KnowledgeFile:
    """One file to add: its name (which gives the document's slug and format) and its bytes."""

    name: str
    data: bytes
    topic: str = ""
    """What the document is about, when the caller knows (the demo shop's policy topics); blank otherwise."""


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str


@dataclass
class KnowledgeSummary:
    documents: int = 0
    """Files read and stored, changed or not."""
    passages: int = 0
    """Passages of those documents."""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list[Rejected])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Prepared:
    doc: ReadDocument
    passages: list[PassageText]
    vectors: encoder.Vectors | None


def slug_of(name: str) -> str:
    """A document's slug from its file name: `Returns Policy.md` → `returns-policy`."""
    return slugify(PurePath(name).stem, max_length=100) or "document"


def _prepare(file: KnowledgeFile, *, encode: bool) -> _Prepared:
    """Read, split and encode one file (CPU work, run off the event loop)."""
    if len(file.data) > MAX_FILE_BYTES:
        raise UnreadableDocumentError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    doc = read_document(file.name, file.data)
    passages = split_sections(doc.sections)
    vectors = encoder.encode([encoder_input(doc.title, p.heading, p.text) for p in passages]) if encode else None
    return _Prepared(doc, passages, vectors)


async def add_documents(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    files: Sequence[KnowledgeFile],
    *,
    kind: KnowledgeKind = KnowledgeKind.POLICY,
    encode: bool = True,
    progress: Progress | None = None,
) -> KnowledgeSummary:
    """Add or replace the tenant's documents from `files` in the session's transaction (the caller commits).

    `encode=False` stores the passages without vectors, for the process that first ranks them to encode: the demo
    seed uses it so `hub serve --demo` does not wait for the encoder to load before it serves.
    """
    policies = Policies(session, tenant_id)
    summary = KnowledgeSummary()
    seen: dict[str, str] = {}
    for done, file in enumerate(files, start=1):
        slug = slug_of(file.name)
        if slug in seen:
            summary.rejected.append(Rejected(file.name, f"has the same name as {seen[slug]!r} in this batch"))
            continue
        seen[slug] = file.name
        digest = hashlib.sha256(file.data).hexdigest()
        existing = await policies.by_slug(slug)
        if existing is not None and existing.content_hash == digest and existing.kind == kind:
            summary.documents += 1
            summary.unchanged += 1
            summary.passages += (await policies.passage_counts()).get(existing.id, 0)
        else:
            try:
                prepared = await asyncio.to_thread(_prepare, file, encode=encode)
            except UnreadableDocumentError as exc:
                summary.rejected.append(Rejected(file.name, str(exc)))
                continue
            values: dict[str, Any] = {
                "title": prepared.doc.title,
                "body": prepared.doc.text,
                "kind": kind,
                "source": PurePath(file.name).name[:255],
                "content_hash": digest,
                "topic": file.topic[:64],
            }
            if existing is None:
                document = policies.add(id=uuid.uuid4(), slug=slug, **values)
                summary.added += 1
            else:
                document = existing
                for key, value in values.items():
                    setattr(document, key, value)
                summary.updated += 1
            await session.flush()
            await policies.replace_passages(
                document,
                [
                    {
                        "ordinal": i,
                        "heading": p.heading[:300],
                        "text": p.text,
                        "embedding": None if prepared.vectors is None else encoder.to_bytes(prepared.vectors[i]),
                    }
                    for i, p in enumerate(prepared.passages)
                ],
            )
            summary.documents += 1
            summary.passages += len(prepared.passages)
        if progress is not None:
            progress(done, len(files))
    return summary


class DocumentInfo(BaseModel):
    """A stored document as listings show it (also the HTTP answer's shape)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    slug: str
    title: str
    kind: KnowledgeKind
    source: str
    passages: int
    updated_at: str

    @classmethod
    def of(cls, document: m.PolicyDocument, passages: int) -> DocumentInfo:
        return cls(
            id=document.id,
            slug=document.slug,
            title=document.title,
            kind=KnowledgeKind(document.kind),
            source=document.source,
            passages=passages,
            updated_at=document.updated_at.isoformat(),
        )

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


async def list_documents(session: AsyncSession, tenant_id: uuid.UUID) -> list[DocumentInfo]:
    """The tenant's documents by slug, with their passage counts."""
    policies = Policies(session, tenant_id)
    counts = await policies.passage_counts()
    return [DocumentInfo.of(d, counts.get(d.id, 0)) for d in await policies.list(order_by=[m.PolicyDocument.slug])]


async def remove_document(session: AsyncSession, tenant_id: uuid.UUID, ref: str) -> DocumentInfo | None:
    """Delete the tenant's document named by id or slug, with its passages; None when there is no such document."""
    policies = Policies(session, tenant_id)
    try:
        document = await policies.get(uuid.UUID(ref))
    except ValueError:
        document = None
    document = document or await policies.by_slug(ref) or await policies.by_slug(slug_of(ref))
    if document is None:
        return None
    info = DocumentInfo.of(document, (await policies.passage_counts()).get(document.id, 0))
    await policies.remove(document)
    return info
