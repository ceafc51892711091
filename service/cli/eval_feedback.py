"""`hub eval candidates|adopt`: production turns rated down or corrected, and turning them into golden cases.

Shoppers rate replies in the widget and on WhatsApp, operators rate and correct them in the console (`/rate`);
`candidates` lists the turns rated down or corrected, with what their tools returned, personal data masked, and
`adopt` appends the corrected ones to the golden JSONL (the golden source), the correction as the reference.
The commands are added to the `hub eval` group by `with_feedback_commands`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import fail, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.feedback import Candidate

UseCase = Annotated[str, typer.Option("--use-case", "-u", help="The use case whose turns were rated.")]
GoldenDir = Annotated[
    Path | None, typer.Option(help="Where the golden JSONL files are (default: the repository's evals/golden).")
]


def with_feedback_commands(app: typer.Typer) -> typer.Typer:
    """Add `candidates` and `adopt` to the `hub eval` group (once)."""
    if not any(c.name == "candidates" for c in app.registered_commands):
        app.command("candidates")(candidates)
        app.command("adopt")(adopt)
    return app


def _check_use_case(use_case: str) -> None:
    from evals.adopt import ADOPTABLE

    if use_case not in ADOPTABLE:
        raise fail(f"production turns are rated for {', '.join(ADOPTABLE)} only, not {use_case!r}")


def candidates(
    use_case: UseCase = "customer_reply",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's turns (slug or id).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="List at most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """List turns rated down or corrected: the shopper's message, the reply, ratings, intent, language, tools."""
    _check_use_case(use_case)
    from hub.feedback import candidates as find
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> list[Candidate]:
        tenant_id = (await admin.resolve_tenant(session, tenant)).id if tenant else None
        return await find(session, tenant_id=tenant_id, limit=limit)

    found = with_session(load_settings(), work)
    if as_json:
        for candidate in found:
            typer.echo(json.dumps(candidate.as_json(), ensure_ascii=False, default=str))
        return
    _table(found)


def _table(found: list[Candidate]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(found)} candidate(s): adopt corrected ones with `hub eval adopt ID…`")
    for head in ("message", "shopper said", "reply", "rating", "correction", "intent", "lang", "tools"):
        table.add_column(head, overflow="fold")
    for c in found:
        ratings = ", ".join(f"{r.source} {'+1' if r.rating > 0 else '-1'}" for r in c.ratings)
        tools = ", ".join(f"{t.get('tool')} ({t.get('status')})" for t in c.tools) or "–"
        table.add_row(
            str(c.message_id),
            c.shopper_message,
            c.reply,
            ratings,
            c.correction or "–",
            c.intent or "–",
            c.language or "–",
            tools,
        )
    Console().print(table)


def adopt(
    ids: Annotated[list[str], typer.Argument(help="Message ids from `hub eval candidates` (a unique prefix will do).")],
    use_case: UseCase = "customer_reply",
    golden_dir: GoldenDir = None,
) -> None:
    """Append a golden case per corrected candidate to `<golden dir>/<use case>.jsonl`: the correction is its
    reference; cases are masked for personal data, and a turn adopted before is refused."""
    _check_use_case(use_case)
    from evals.adopt import AdoptError
    from evals.adopt import adopt as append
    from evals.cases import GOLDEN_DIR, CaseFileError
    from hub.feedback import candidates as find

    async def work(session: AsyncSession) -> list[Candidate]:
        every = await find(session, limit=100_000)
        chosen: list[Candidate] = []
        for ref in ids:
            matches = [c for c in every if str(c.message_id).startswith(ref.strip().lower())]
            if not matches:
                raise fail(f"no rated-down or corrected reply {ref!r}: see `hub eval candidates`")
            if len(matches) > 1:
                raise fail(f"{ref!r} names {len(matches)} replies: give more of the id")
            chosen.append(matches[0])
        return chosen

    chosen = with_session(load_settings(), work)
    try:
        made = append(chosen, use_case, golden_dir or GOLDEN_DIR)
    except (AdoptError, CaseFileError) as exc:
        raise fail(str(exc)) from None
    for adopted in made:
        typer.echo(f"adopted {adopted.case.source_message} as {adopted.case.id} in {adopted.path}")
