"""Let a shop's admin add, list and remove its policy and help pages over HTTP: the twins of `hub knowledge`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel

from hub.http.deps import AdminKey, Session
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_IMPORT_BODY
from hub.knowledge.documents import DocumentInfo, KnowledgeFile, add_documents, list_documents, remove_document
from hub.knowledge.kinds import KnowledgeKind

router = APIRouter(
    prefix="/v1/knowledge",
    tags=["operator"],
    responses=error_responses(*KEY_ERRORS, 403),
    max_body_size=MAX_IMPORT_BODY,
)


class RejectedFile(BaseModel):
    path: str
    reason: str


class AddOut(BaseModel):
    documents: int
    """Files read and stored, changed or not."""
    passages: int
    added: int
    updated: int
    unchanged: int
    rejected: list[RejectedFile]


class DocumentsOut(BaseModel):
    documents: list[DocumentInfo]


class RemovedOut(BaseModel):
    removed: DocumentInfo


@router.post(
    "",
    responses=error_responses(*BODY_ERRORS, (422, "No file was sent, or a bad parameter.")),
)
async def add_knowledge(
    auth: AdminKey,
    session: Session,
    files: Annotated[
        list[UploadFile], File(description="Markdown, HTML, plain text or PDF pages; each file's name names it.")
    ],
    kind: Annotated[KnowledgeKind, Form(description="Policies the shop keeps, or help pages.")] = KnowledgeKind.POLICY,
) -> AddOut:
    """Add or replace documents as `hub knowledge add` does: an unchanged file is left as it is, an unreadable one is
    listed in `rejected` while the others are added."""
    batch = [KnowledgeFile(f.filename or "upload", await f.read()) for f in files]
    if not batch:
        raise ApiError(422, "no_files", "send at least one file in the `files` field")
    summary = await add_documents(session, auth.caller.tenant_id, batch, kind=kind)
    await session.commit()
    return AddOut.model_validate(summary.as_dict())


@router.get("")
async def list_knowledge(auth: AdminKey, session: Session) -> DocumentsOut:
    """The shop's documents, with their passage counts."""
    docs = await list_documents(session, auth.caller.tenant_id)
    return DocumentsOut(documents=docs)


@router.delete("/{document}", responses=error_responses((404, "No document of this shop has that id or slug."), 422))
async def remove_knowledge(auth: AdminKey, session: Session, document: str) -> RemovedOut:
    """Remove a document, by id or slug, and its passages: the assistant stops quoting it at once."""
    info = await remove_document(session, auth.caller.tenant_id, document)
    if info is None:
        raise ApiError(404, "not_found", f"no document {document!r}")
    await session.commit()
    return RemovedOut(removed=info)
