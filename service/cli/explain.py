"""`hub explain` and `hub replay`: why an answer was given, and what another prompt version or model would say."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import cli_actor, fail, load_settings, migrate_database, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.audit.explain import Explanation


def _message_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise fail(f"{value!r} is not a message id (a UUID, as in POST /v1/chat's message_id)") from None


def explain_command(
    message_id: Annotated[str, typer.Argument(help="The answer's message id (or the customer message it answered).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as one JSON object.")] = False,
) -> None:
    """Explain one answer from its stored trace: prompt and sha256, models, attempts, tools, validation, fallback."""
    from hub.audit.explain import ExplainError, explain

    settings = load_settings()
    wanted = _message_id(message_id)

    async def work(session: AsyncSession) -> Explanation:
        return await explain(session, wanted)

    try:
        explanation = with_session(settings, work)
    except ExplainError as exc:
        raise fail(str(exc)) from None
    typer.echo(explanation.model_dump_json(indent=2) if as_json else explanation.render())


def replay_command(
    message_id: Annotated[str, typer.Argument(help="The answer's message id.")],
    prompt_version: Annotated[str, typer.Option("--prompt-version", help="The prompt version to replay with.")],
    model: Annotated[str | None, typer.Option("--model", help="Use only this model (default: the chain).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as one JSON object.")] = False,
) -> None:
    """Re-run a recorded turn with another prompt version or model; show the diff of reply, tools, validation.

    Tool calls are answered from the recording; model calls are real, billed to the shop and marked as a replay.
    """
    settings = load_settings()
    wanted = _message_id(message_id)
    migrate_database(settings)
    from graphs.replay import replay_from_cli as replay  # the graph takes seconds to import: only for a replay

    errors = (LookupError, ValueError)  # ReplayError, an unknown prompt version (PromptError)
    typer.echo(f"replaying {wanted} with prompt version {prompt_version}…", err=True)
    try:
        result = asyncio.run(replay(settings, wanted, prompt_version=prompt_version, model=model, actor=cli_actor()))
    except errors as exc:
        raise fail(str(exc)) from None
    typer.echo(result.model_dump_json(indent=2) if as_json else result.render())
