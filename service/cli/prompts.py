"""`hub prompts`: list, show, diff, create, release and pin versioned prompts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.prompting.semver import Bump
from service.cli.common import fail, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.prompting.registry import Prompt, PromptRegistry

prompts_app = typer.Typer(no_args_is_help=True, help="Versioned prompts: list, show, diff, new, release, pin.")

UseCaseArg = Annotated[str, typer.Argument(help="Use case, e.g. customer_reply.", show_default=False)]
VersionArg = Annotated[str, typer.Argument(help="Exact version, e.g. 1.0.0.", show_default=False)]


@prompts_app.callback()
def prompts_root(
    ctx: typer.Context,
    prompts_dir: Annotated[
        Path | None,
        typer.Option("--dir", file_okay=False, help="Prompts folder (default: the repository's prompts/)."),
    ] = None,
) -> None:
    """Versioned prompts: list, show, diff, new, release, pin."""
    from hub.prompting.registry import default_prompts_dir

    ctx.obj = prompts_dir or default_prompts_dir()


@contextmanager
def _prompt_errors() -> Iterator[None]:
    """Stop the command with a PromptError's one line (it names the file, version or pin to fix)."""
    from hub.prompting.registry import PromptError

    try:
        yield
    except PromptError as exc:
        raise fail(str(exc)) from None


def _registry(ctx: typer.Context) -> PromptRegistry:
    from hub.prompting.registry import PromptRegistry

    with _prompt_errors():
        return PromptRegistry.load(ctx.obj)


def _get(registry: PromptRegistry, use_case: str, version: str) -> Prompt:
    with _prompt_errors():
        return registry.get(use_case, version, allow_drafts=True)


@prompts_app.command("list")
def list_prompts(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List use cases with their versions and default pin; drafts are marked."""
    registry = _registry(ctx)
    pins = registry.default_pins()
    rows = [
        {
            "use_case": use_case,
            "default": pins.get(use_case),
            "versions": [
                {"version": v, "released": registry.get(use_case, v, allow_drafts=True).released}
                for v in registry.versions(use_case)
            ],
        }
        for use_case in registry.use_cases()
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'USE CASE':<24} {'DEFAULT':<9} VERSIONS")
    for row in rows:
        versions = ", ".join(v["version"] + ("" if v["released"] else " (draft)") for v in row["versions"])
        typer.echo(f"{row['use_case']:<24} {row['default'] or '-':<9} {versions}")


@prompts_app.command()
def show(ctx: typer.Context, use_case: UseCaseArg, version: VersionArg) -> None:
    """Print a prompt file as it is: front matter and template body."""
    prompt = _get(_registry(ctx), use_case, version)
    state = f"released, sha256 {prompt.sha256}" if prompt.released else "draft"
    typer.echo(f"{prompt.ref}: {state}; variables: {', '.join(sorted(prompt.variables))}", err=True)
    typer.echo(prompt.path.read_text(encoding="utf-8"), nl=False)


@prompts_app.command()
def diff(ctx: typer.Context, use_case: UseCaseArg, a: VersionArg, b: VersionArg) -> None:
    """Print a unified diff between two versions of a use case."""
    with _prompt_errors():
        text = _registry(ctx).diff(use_case, a, b)
    if not text:
        typer.echo(f"{use_case}@{a} and {use_case}@{b} are identical", err=True)
    typer.echo(text, nl=False)


@prompts_app.command()
def new(
    ctx: typer.Context,
    use_case: UseCaseArg,
    bump: Annotated[Bump, typer.Option(help="Which part of the highest version to raise.")],
    changelog: Annotated[str, typer.Option(help="What changes in the new version, one line.")],
) -> None:
    """Copy the highest version to the next one as a draft to edit, evaluate and release."""
    with _prompt_errors():
        path = _registry(ctx).new_version(use_case, bump, changelog)
    typer.echo(f"created draft {path}")


@prompts_app.command()
def release(ctx: typer.Context, use_case: UseCaseArg, version: VersionArg) -> None:
    """Record a version's sha256 in prompts.lock; its file must never change afterwards."""
    registry = _registry(ctx)
    with _prompt_errors():
        prompt = registry.release(use_case, version)
    typer.echo(f"released {prompt.ref} (sha256 {prompt.sha256})")
    if use_case not in registry.default_pins():
        typer.echo(f'add a default pin to pins.toml: {use_case} = "{version}"', err=True)


def _pinnable(registry: PromptRegistry, use_case: str, version: str) -> Prompt:
    """Return the prompt a tenant pin would select, or stop with one line saying why it may not be pinned."""
    with _prompt_errors():
        registry.check_pins({use_case: version})
    return registry.get(use_case, version)


@prompts_app.command()
def pin(
    ctx: typer.Context,
    use_case: UseCaseArg,
    version: VersionArg,
    tenant: Annotated[str, typer.Option(help="Tenant slug or id.")],
    force: Annotated[
        str | None,
        typer.Option(
            "--force",
            metavar="REASON",
            help="Pin without a passing eval run for this tenant; the reason is kept in the audit trail.",
        ),
    ] = None,
) -> None:
    """Pin a tenant to an exact released version, once `hub eval run --tenant` has passed with it on the whole golden
    set (against the configured model, when there is one)."""
    from pydantic import ValidationError

    from hub.gateway.config import GatewayConfig
    from hub.tenancy import admin
    from hub.tenancy.config import TenantConfig
    from hub.tenancy.pins import PinRefused, approve_pins

    registry = _registry(ctx)
    prompt = _pinnable(registry, use_case, version)
    settings = load_settings()

    async def work(session: AsyncSession) -> tuple[str, str | None]:
        row = await admin.resolve_tenant(session, tenant)
        try:
            config = TenantConfig.model_validate(row.settings or {})
        except ValidationError as exc:
            raise admin.TenancyError(f"tenant {row.slug!r} has invalid settings: {exc.errors()[0]['msg']}") from None
        previous = config.prompt_pins.get(use_case)
        try:
            changes = await approve_pins(
                session,
                row,
                {use_case: version},
                current=config.prompt_pins,
                prompts=registry,
                models=GatewayConfig.from_settings(settings),
                actor="cli",
                force=force,
            )
        except PinRefused as exc:
            raise admin.TenancyError(f"{exc}, or pin with --force REASON (recorded in the audit trail)") from None
        if changes:
            config.prompt_pins[use_case] = version
            row.settings = config.to_column()
        return row.slug, previous

    slug, previous = with_session(settings, work)
    if previous == version:
        typer.echo(f"tenant {slug} is already pinned to {prompt.ref}")
    else:
        was = f"was {previous}" if previous else "was the default pin"
        typer.echo(f"pinned tenant {slug} to {prompt.ref} ({was})")
