"""`hub knowledge add|list|remove`: the shop's policy and help pages that the assistant answers from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.knowledge.kinds import KnowledgeKind
from service.cli.catalog import JsonOpt, TenantOpt, run_import
from service.cli.common import fail, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from hub.db.models import Tenant
    from hub.knowledge.documents import DocumentInfo, KnowledgeFile, KnowledgeSummary, Progress, Rejected

knowledge_app = typer.Typer(no_args_is_help=True, help="The shop's policy and help pages the assistant quotes.")


@knowledge_app.command("add")
def add_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Markdown, HTML, plain text or PDF files, or folders of them.", exists=True, readable=True),
    ],
    tenant: TenantOpt,
    kind: Annotated[KnowledgeKind, typer.Option(help="Policies the shop keeps, or help pages.")] = KnowledgeKind.POLICY,
    as_json: JsonOpt = False,
) -> None:
    """Add or replace documents, each named by its file name; an unchanged file is left as it is, and a file that
    cannot be read is reported while the others are still added."""
    settings = load_settings()
    files, rejected = _collect(paths)
    if not files and not rejected:
        raise fail("no files to add")

    async def job(sessions: async_sessionmaker[AsyncSession], row: Tenant, tick: Progress) -> KnowledgeSummary:
        from hub.knowledge.documents import add_documents

        async with sessions() as session:
            summary = await add_documents(session, row.id, files, kind=kind, progress=tick)
            await session.commit()
        return summary

    summary = run_import(settings, tenant, job, show_progress=not as_json)
    summary.rejected = [*rejected, *summary.rejected]
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
        return
    typer.echo(
        f"{summary.documents} documents ({summary.passages} passages): {summary.added} added, "
        f"{summary.updated} updated, {summary.unchanged} unchanged; {len(summary.rejected)} files rejected"
    )
    for r in summary.rejected:
        typer.echo(f"  {r.path}: {r.reason}")


def _collect(paths: list[Path]) -> tuple[list[KnowledgeFile], list[Rejected]]:
    """Read every named file, and every readable-looking file in a named folder (not recursing)."""
    from hub.knowledge.documents import KnowledgeFile, Rejected
    from hub.knowledge.readers import SUFFIXES

    files: list[KnowledgeFile] = []
    rejected: list[Rejected] = []
    for path in paths:
        inside = (
            sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            if path.is_dir()
            else [path]
        )
        if path.is_dir() and not inside:
            rejected.append(Rejected(str(path), f"no {', '.join(sorted(SUFFIXES))} files in this folder"))
        for file in inside:
            try:
                files.append(KnowledgeFile(str(file), file.read_bytes()))
            except OSError as exc:
                rejected.append(Rejected(str(file), exc.strerror or str(exc)))
    return files, rejected


@knowledge_app.command("list")
def list_command(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """List the tenant's documents with their passage counts."""
    from hub.knowledge.documents import list_documents

    settings = load_settings()

    async def job(sessions: async_sessionmaker[AsyncSession], row: Tenant, tick: Progress) -> list[DocumentInfo]:
        async with sessions() as session:
            return await list_documents(session, row.id)

    docs = run_import(settings, tenant, job, show_progress=False)
    if as_json:
        typer.echo(json.dumps({"documents": [d.as_dict() for d in docs]}))
        return
    if not docs:
        typer.echo("no documents")
    for d in docs:
        typer.echo(f"{d.id}  {d.kind:<6}  {d.passages:>3} passages  {d.slug}  ({d.title})")


@knowledge_app.command("remove")
def remove_command(
    document: Annotated[str, typer.Argument(help="The document's id or slug (its file name works too).")],
    tenant: TenantOpt,
    as_json: JsonOpt = False,
) -> None:
    """Remove a document and its passages: the assistant stops quoting it at once."""
    from hub.knowledge.documents import remove_document

    settings = load_settings()

    async def job(sessions: async_sessionmaker[AsyncSession], row: Tenant, tick: Progress) -> DocumentInfo | None:
        async with sessions() as session:
            info = await remove_document(session, row.id, document)
            await session.commit()
        return info

    info = run_import(settings, tenant, job, show_progress=False)
    if info is None:
        raise fail(f"no document {document!r} in this tenant's knowledge (hub knowledge list shows them)")
    if as_json:
        typer.echo(json.dumps({"removed": info.as_dict()}))
        return
    typer.echo(f"removed {info.slug} ({info.passages} passages)")
