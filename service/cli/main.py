"""The `hub` command: serve, workers, seeding, tenants, keys, operators, database."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.db.roles import ApiKeyRole
from hub.worker_kinds import WorkerKind
from service.cli.audit import audit_app
from service.cli.catalog import catalog_app
from service.cli.channels import whatsapp_app, widget_app
from service.cli.common import VERBOSITY, cli_actor, fail, load_settings, migrate_database, with_session
from service.cli.events import events_app
from service.cli.explain import explain_command, replay_command
from service.cli.knowledge import knowledge_app
from service.cli.ops import status_command, switch_app
from service.cli.people import customers_app, orders_app
from service.cli.prompts import prompts_app
from service.cli.requests import returns_app
from service.cli.shopify import shopify_app
from service.cli.usage import usage_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.db import models as m
    from hub.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="HUB: multi-tenant GenAI commerce agent service.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
seed_app = typer.Typer(no_args_is_help=True, help="Example data.")
tenants_app = typer.Typer(no_args_is_help=True, help="Tenants (shops).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
operators_app = typer.Typer(no_args_is_help=True, help="Console operators.")


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log at INFO (commands other than serve and worker log only warnings)."),
    ] = False,
) -> None:
    VERBOSITY.verbose = verbose


app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(operators_app, name="operators")
app.add_typer(prompts_app, name="prompts")
app.add_typer(usage_app, name="usage")
app.add_typer(audit_app, name="audit")
app.add_typer(catalog_app, name="catalog")
app.add_typer(customers_app, name="customers")
app.add_typer(orders_app, name="orders")
app.add_typer(returns_app, name="returns")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(whatsapp_app, name="whatsapp")
app.add_typer(widget_app, name="widget")
app.add_typer(shopify_app, name="shopify")
app.add_typer(events_app, name="events")
app.command("explain")(explain_command)
app.command("replay")(replay_command)
app.add_typer(switch_app, name="switch")
app.command("status")(status_command)


@app.command(
    "eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def eval_command(ctx: typer.Context) -> None:
    """Run eval suites, compare runs, gate prompt versions: `hub eval run|compare|gate --help`."""
    try:  # imported only when an eval command runs: ragas and the graph take seconds to import
        from service.cli.eval_feedback import with_feedback_commands
        from service.cli.evals import eval_app
    except ModuleNotFoundError as exc:
        raise fail(f"evals need the [evals] extra ({exc.name} is missing): pip install 'hub[evals]'") from None
    typer.main.get_command(with_feedback_commands(eval_app))(args=ctx.args, prog_name="hub eval")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: HUB_HOST or 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: HUB_PORT or 8000].")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Seed the demo shop first and print its keys.")] = False,
) -> None:
    """Migrate the database, start the embedded Redis if HUB_REDIS_URL is unset, and serve HTTP.

    SIGTERM, SIGINT (Ctrl-C) and SIGHUP shut down gracefully: requests finish, workers stop, then the
    embedded Redis saves its snapshot and stops, before the process exits.
    """
    from hub.http.serving import ServerStartFailed, serve_app, stop_on_signals
    from hub.redis_conn import EmbeddedRedis, EmbeddedRedisError
    from service.worker_process import WorkerProcess

    settings = load_settings(service=True)
    host = host or settings.host
    port = port or settings.port
    with stop_on_signals():
        migrate_database(settings)
        _verify_prompts(settings)
        embedded = EmbeddedRedis(settings.data_dir) if not settings.redis_url else None
        try:
            with embedded or nullcontext():
                if embedded is not None:
                    settings = settings.model_copy(update={"redis_url": embedded.url})
                if demo:  # once this data dir is known to be free: a refused start prints its one line only
                    _print_demo(settings, as_json=False, base_url=_base_url(host, port))
                # Embedded default: a child process runs the channel and imaging workers, so job work never
                # holds up this server's event loop; it stops before the embedded Redis does.
                with WorkerProcess(settings) if embedded is not None else nullcontext() as workers:
                    from service.app import create_app  # imported while the child starts

                    app = create_app(settings)
                    if workers is not None:
                        workers.wait_ready(WORKERS_READY_S)
                    serve_app(app, host=host, port=port)
        except (EmbeddedRedisError, ServerStartFailed) as exc:
            raise fail(str(exc)) from None


WORKERS_READY_S = 60.0
"""Longest `hub serve` waits for its worker process to announce its workers before it serves anyway."""


def _base_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server bound to `host:port`."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _verify_prompts(settings: Settings) -> None:
    """Refuse to start on a broken prompt file or a tenant pin that is not a released version."""
    from hub.gateway.factory import load_prompts, verify_tenant_pins
    from hub.prompting.registry import PromptError

    try:
        prompts = load_prompts(settings)
        with_session(settings, lambda session: verify_tenant_pins(session, prompts))
    except PromptError as exc:
        raise fail(str(exc)) from None


@app.command()
def worker(kind: Annotated[WorkerKind, typer.Argument(help="Which queues this worker consumes.")]) -> None:
    """Run a worker process for one kind of background work until SIGTERM or Ctrl-C."""
    from hub.workers import run_worker
    from service.workers import consumers  # the task code, imported before any consumer starts

    settings = load_settings(service=True)
    if not settings.redis_url:
        raise fail(
            "HUB_REDIS_URL must be set for a separate worker process (the embedded Redis lives inside `hub serve`)"
        )
    asyncio.run(run_worker(kind, settings, consumers=consumers(kind), metrics_port=settings.metrics_port))


health_app = typer.Typer(no_args_is_help=True, help="Health checks a container orchestrator runs.")
app.add_typer(health_app, name="health")


@health_app.command("worker")
def health_worker(kind: Annotated[WorkerKind, typer.Argument(help="Which kind of worker to look for.")]) -> None:
    """Exit 0 when a worker of KIND on this host has a live heartbeat in Redis, 1 otherwise (one line either way)."""
    from redis.exceptions import RedisError

    from hub.redis_conn import create_redis
    from hub.workers import worker_health

    settings = load_settings()
    if not settings.redis_url:
        raise fail("HUB_REDIS_URL must be set: worker heartbeats live in Redis")
    redis_url = settings.redis_url

    async def check() -> tuple[bool, str]:
        redis = create_redis(redis_url)
        try:
            return await worker_health(redis, kind)
        finally:
            await redis.aclose()

    try:
        alive, line = asyncio.run(check())
    except (RedisError, OSError) as exc:
        raise fail(f"cannot read {kind} worker heartbeats from Redis: {exc}") from None
    if not alive:
        raise fail(line)
    typer.echo(line)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations; an up-to-date database is left unchanged."""
    from hub.db.migrate import head_revision

    settings = load_settings()
    migrate_database(settings)
    typer.echo(f"database at revision {head_revision()}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    from hub.db.engine import create_engine
    from hub.db.migrate import current_revision, head_revision

    settings = load_settings()

    async def main() -> str | None:
        engine = create_engine(settings.resolved_database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(main())
    typer.echo(f"current: {current or 'none'}; head: {head_revision()}")


def _print_demo(settings: Settings, *, as_json: bool, base_url: str | None = None) -> None:
    from hub.seed.catalog import SHOP_SLUG
    from hub.seed.demo import seed_demo
    from service.cli.catalog import queue_embedding

    def progress(done: int, total: int) -> None:
        if not as_json and sys.stderr.isatty():
            typer.echo(f"\rwriting product images {done}/{total}", err=True, nl=done == total)

    creds = with_session(settings, lambda s: seed_demo(s, settings, progress=progress))
    asyncio.run(queue_embedding(settings, uuid.UUID(creds.tenant_id), SHOP_SLUG))
    if as_json:
        typer.echo(json.dumps(creds.as_dict()))
        return
    typer.echo(f"demo shop {creds.shop_name!r} ({creds.tenant_id}): {creds.summary}")
    if base_url is not None:
        typer.echo(f"  start here:        {base_url}/   (links to everything below)")
        typer.echo(f"  demo storefront:   {base_url}/demo   (the shop's page with the chat widget)")
        typer.echo(f"  operator console:  {base_url}/console")
    typer.echo(f"  operator login:    {creds.operator_email} / {creds.operator_password}")
    if base_url is not None:
        typer.echo(f"  API docs:          {base_url}/docs   (send keys in the X-Hub-Key header)")
        typer.echo(f"  metrics:           {base_url}/metrics")
    typer.echo(f"  storefront key:    {creds.storefront_key}   (public: the widget and the catalog)")
    typer.echo(f"  operator key:      {creds.operator_key}   (orders, photos, explain)")
    typer.echo(f"  admin key:         {creds.admin_key}   (the shop's settings: PATCH /v1/tenant)")
    typer.echo(f"  sample SKU:        {creds.sample_sku}")
    typer.echo(f"  sample order:      {creds.sample_order_id} ({creds.sample_order_email})")


@seed_app.command("demo")
def seed_demo_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """Create the demo shop (idempotent: a second run changes nothing)."""
    _print_demo(load_settings(), as_json=as_json)


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Option(help="Shop name.")],
    slug: Annotated[str | None, typer.Option(help="URL-safe id [default: from the name].")] = None,
) -> None:
    """Create a tenant."""
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> m.Tenant:
        return await admin.create_tenant(session, name=name, slug=slug)

    tenant = with_session(load_settings(), work)
    typer.echo(f"created tenant {tenant.slug} ({tenant.id})")


@tenants_app.command("list")
def tenants_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tenants."""
    from hub.tenancy import admin

    tenants = with_session(load_settings(), admin.list_tenants)
    rows = [{"id": str(t.id), "slug": t.slug, "name": t.name, "active": t.active} for t in tenants]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        typer.echo(f"{r['slug']:<24} {r['id']}  {r['name']}{'' if r['active'] else '  (inactive)'}")


@tenants_app.command("set")
def tenants_set(
    tenant: Annotated[str, typer.Argument(help="Tenant slug or id.")],
    retention_days: Annotated[
        int | None, typer.Option(help="Keep traces and messages this many days (the daily purge deletes older).")
    ] = None,
    no_retention: Annotated[bool, typer.Option("--no-retention", help="Keep traces and messages forever.")] = False,
    redact_pii: Annotated[
        bool | None, typer.Option("--redact-pii/--no-redact-pii", help="Mask PII in stored traces.")
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="A site (https://shop.example[:port]) whose pages may use the chat widget; repeat for several. "
            "Replaces the list."
        ),
    ] = None,
    no_allowed_origins: Annotated[
        bool, typer.Option("--no-allowed-origins", help="Allow no site to use the chat widget.")
    ] = False,
    language: Annotated[
        list[str] | None,
        typer.Option(
            help="A language the shop answers in (en, es, de, fr, it, pt); repeat for several. Replaces the list."
        ),
    ] = None,
    default_language: Annotated[
        str | None, typer.Option(help="What the shop answers in when a shopper's language is not one of its own.")
    ] = None,
    currency: Annotated[str | None, typer.Option(help="The shop's currency, an ISO 4217 code such as EUR.")] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Where the shop's systems receive its events (returns, cancellations, …), signed."),
    ] = None,
    no_webhook: Annotated[
        bool, typer.Option("--no-webhook", help="Send no events (they stay in the outbox as skipped).")
    ] = False,
) -> None:
    """Change a tenant's retention, trace redaction, the sites allowed to chat, languages, currency and event
    webhook; audited."""
    from hub.tenancy import admin

    if retention_days is not None and no_retention:
        raise fail("give --retention-days or --no-retention, not both")
    changes: dict[str, Any] = {}
    if retention_days is not None or no_retention:
        changes["retention_days"] = retention_days
    if redact_pii is not None:
        changes["redact_pii"] = redact_pii
    if allowed_origin and no_allowed_origins:
        raise fail("give --allowed-origin or --no-allowed-origins, not both")
    if allowed_origin or no_allowed_origins:
        changes["allowed_origins"] = [_origin(o) for o in allowed_origin or []]
    if language:
        changes["languages"] = [code.strip().lower() for code in language]
    if default_language is not None:
        changes["default_language"] = default_language.strip().lower()
    if currency is not None:
        changes["currency"] = currency.strip().upper()
    if webhook_url is not None and no_webhook:
        raise fail("give --webhook-url or --no-webhook, not both")
    if webhook_url is not None or no_webhook:
        changes["webhook_url"] = webhook_url.strip() if webhook_url is not None else None
    if not changes:
        raise fail(
            "nothing to change: give --retention-days, --no-retention, --redact-pii/--no-redact-pii, "
            "--allowed-origin, --no-allowed-origins, --language, --default-language, --currency, --webhook-url "
            "or --no-webhook"
        )

    async def work(session: AsyncSession) -> tuple[str, dict[str, tuple[Any, Any]]]:
        t = await admin.resolve_tenant(session, tenant)
        return t.slug, await admin.update_tenant_settings(session, t, changes)

    slug, changed = with_session(load_settings(), work)
    if not changed:
        typer.echo(f"{slug}: unchanged")
    for key, (before, after) in changed.items():
        typer.echo(f"{slug}: {key} {_setting(before)} → {_setting(after)}")


@tenants_app.command("webhook-secret")
def tenants_webhook_secret(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id.")],
    rotate: Annotated[
        bool,
        typer.Option("--rotate", help="Retire the current secret for a new one (events are signed with it at once)."),
    ] = False,
) -> None:
    """Print the secret that signs the shop's events (X-Hub-Signature-256), alone on the last line; `--rotate`
    replaces it first (audited)."""
    from hub.shop_events.delivery import rotate_webhook_secret, webhook_secret
    from hub.tenancy import admin

    settings = load_settings()
    secret_key = settings.secret_key.get_secret_value()

    async def work(session: AsyncSession) -> str:
        t = await admin.resolve_tenant(session, tenant)
        if rotate:
            return await rotate_webhook_secret(session, secret_key, t, actor=cli_actor())
        return webhook_secret(secret_key, t)

    secret = with_session(settings, work)
    typer.echo("new webhook secret (the old one no longer signs):" if rotate else "webhook secret:", err=True)
    typer.echo(secret)


def _setting(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _origin(url: str) -> str:
    """The origin a browser sends for a site: scheme and host[:port], lower-case; anything after it is refused."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path.strip("/")
        or parts.query
        or parts.fragment
        or parts.username
        or port == -1
    ):
        raise fail(f"--allowed-origin {url!r} is not a site like https://shop.example.com[:port] (no path)")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id.")],
    role: Annotated[ApiKeyRole, typer.Option(help="What the key may reach.")],
    name: Annotated[str, typer.Option(help="A label for listings.")] = "",
) -> None:
    """Issue an API key and print it once; only its hash is stored."""
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> str:
        t = await admin.resolve_tenant(session, tenant)
        _, plaintext = await admin.issue_key(session, tenant_id=t.id, role=role, name=name)
        return plaintext

    plaintext = with_session(load_settings(), work)
    typer.echo("new key (shown once, store it now):", err=True)
    typer.echo(plaintext)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's prefix (hub_xx_xxxxxxxxxxxx) or the whole key.")],
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> str:
        return (await admin.revoke_key(session, key)).prefix

    typer.echo(f"revoked {with_session(load_settings(), work)}")


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Tenant slug or id.")]) -> None:
    """List a tenant's keys by prefix (the secrets are not stored)."""
    from hub.db import models as m
    from hub.tenancy import admin
    from hub.tenancy.repository import ApiKeys

    async def work(session: AsyncSession) -> list[m.ApiKey]:
        t = await admin.resolve_tenant(session, tenant)
        return await ApiKeys(session, t.id).list(order_by=[m.ApiKey.created_at])

    for k in with_session(load_settings(), work):
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        typer.echo(f"{k.prefix:<28} {k.role:<10} {state:<18} {k.name}")


@operators_app.command("create")
def operators_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug or id.")],
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a console operator with a password (stored as an argon2 hash)."""
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> m.Operator:
        t = await admin.resolve_tenant(session, tenant)
        return await admin.create_operator(session, tenant_id=t.id, email=email, password=password, name=name)

    op = with_session(load_settings(), work)
    typer.echo(f"created operator {op.email}")


def main() -> None:
    app()
