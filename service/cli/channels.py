"""`hub whatsapp connect|list|disconnect` and `hub widget snippet`: a shop connects its own channels."""

from __future__ import annotations

import asyncio
import json
from html import escape
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import cli_actor, fail, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chat_ui.whatsapp.connect import WhatsAppNumber
    from hub.settings import Settings

whatsapp_app = typer.Typer(no_args_is_help=True, help="A shop's WhatsApp Business numbers (Cloud API).")
widget_app = typer.Typer(no_args_is_help=True, help="The storefront chat widget.")

Tenant = Annotated[str, typer.Option(help="Tenant slug or id.")]
PhoneNumberId = Annotated[str, typer.Option(help="The number's Phone number ID (Meta's WhatsApp API setup page).")]


@whatsapp_app.command("connect")
def whatsapp_connect(
    tenant: Tenant,
    phone_number_id: PhoneNumberId,
    access_token: Annotated[str, typer.Option(help="A system user's permanent access token; stored encrypted.")],
    app_secret: Annotated[str, typer.Option(help="The Meta app's secret (signs webhooks); stored encrypted.")],
    verify_token: Annotated[str, typer.Option(help="The verify token you give Meta's webhook setup.")],
    display_phone: Annotated[str | None, typer.Option(help="The number as shoppers see it, e.g. +15550100000.")] = None,
) -> None:
    """Connect a WhatsApp number to a shop, or replace its secrets; running servers pick it up at once."""
    from chat_ui.whatsapp.connect import connect_whatsapp
    from hub.encryption import SecretBox
    from hub.tenancy import admin

    settings = load_settings()
    box = SecretBox(settings.secret_key.get_secret_value())

    async def work(session: AsyncSession) -> tuple[str, bool]:
        t = await admin.resolve_tenant(session, tenant)
        created = await connect_whatsapp(
            session,
            box,
            tenant=t,
            phone_number_id=phone_number_id.strip(),
            access_token=access_token,
            app_secret=app_secret,
            verify_token=verify_token,
            display_phone_number=display_phone,
            actor=cli_actor(),
        )
        return t.slug, created

    slug, created = with_session(settings, work)
    typer.echo(f"{slug}: WhatsApp number {phone_number_id} {'connected' if created else 'updated'} (secrets encrypted)")
    typer.echo(_reload_notice(settings))
    typer.echo("  Meta webhook URL:  <your HUB base URL>/webhooks/whatsapp  (with the verify token you gave)")


@whatsapp_app.command("list")
def whatsapp_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (slug or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List connected WhatsApp numbers; never their secrets."""
    from chat_ui.whatsapp.connect import list_whatsapp
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> list[WhatsAppNumber]:
        t = await admin.resolve_tenant(session, tenant) if tenant is not None else None
        return await list_whatsapp(session, t)

    numbers = with_session(load_settings(), work)
    if as_json:
        typer.echo(json.dumps([n.as_dict() for n in numbers]))
        return
    if not numbers:
        typer.echo("no WhatsApp numbers connected")
    for n in numbers:
        stored = "secrets encrypted" if n.secrets_encrypted else "secrets in plaintext (reconnect to encrypt)"
        typer.echo(f"{n.tenant:<24} {n.phone_number_id:<18} {n.display_phone_number or '-':<16} {stored}")


@whatsapp_app.command("disconnect")
def whatsapp_disconnect(tenant: Tenant, phone_number_id: PhoneNumberId) -> None:
    """Remove a shop's WhatsApp number: its webhooks are refused from then on."""
    from chat_ui.whatsapp.connect import disconnect_whatsapp
    from hub.tenancy import admin

    settings = load_settings()

    async def work(session: AsyncSession) -> str:
        t = await admin.resolve_tenant(session, tenant)
        await disconnect_whatsapp(session, tenant=t, phone_number_id=phone_number_id.strip(), actor=cli_actor())
        return t.slug

    slug = with_session(settings, work)
    typer.echo(f"{slug}: WhatsApp number {phone_number_id} disconnected")
    typer.echo(_reload_notice(settings))


def _reload_notice(settings: Settings) -> str:
    """Tell running servers and workers to reload the accounts; say whether they heard."""
    from service.cli.ops import announce_tenancy_change

    if asyncio.run(announce_tenancy_change(settings)):
        return "  running servers and workers reload it now"
    return "  no running HUB answered: servers started later read it; a running one within 30 s"


@widget_app.command("snippet")
def widget_snippet(
    tenant: Tenant,
    base_url: Annotated[
        str | None, typer.Option(help="Where shoppers' browsers reach HUB [default: http://HUB_HOST:HUB_PORT].")
    ] = None,
) -> None:
    """Print the <script> tag a shop pastes into its pages to show the chat widget."""
    from urllib.parse import urlsplit

    from hub.tenancy import admin
    from hub.tenancy.config import TenantConfig

    settings = load_settings()
    url = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise fail(f"--base-url {url!r} is not a URL like https://hub.example.com")

    async def work(session: AsyncSession) -> tuple[str, list[str]]:
        t = await admin.resolve_tenant(session, tenant)
        return t.slug, [str(o) for o in TenantConfig.model_validate(t.settings or {}).allowed_origins]

    slug, origins = with_session(settings, work)
    typer.echo(f'<script src="{escape(url)}/widget.js" data-key="STOREFRONT_KEY"></script>')
    typer.echo(
        f"Replace STOREFRONT_KEY with a storefront key of {slug} (keys are stored hashed, so none can be shown "
        f"again): hub keys create --tenant {slug} --role storefront --name widget",
        err=True,
    )
    if not origins:
        typer.echo(
            f"{slug} allows no site yet: hub tenants set {slug} --allowed-origin https://your-shop.example", err=True
        )
    else:
        typer.echo(f"sites allowed to chat: {', '.join(origins)}", err=True)
