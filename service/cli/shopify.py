"""`hub shopify connect|disconnect`: a shop lets its Shopify store push product, order and inventory changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import cli_actor, load_settings, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

shopify_app = typer.Typer(no_args_is_help=True, help="A shop's Shopify store: webhooks that keep the catalog in sync.")

Tenant = Annotated[str, typer.Option(help="Tenant slug or id.")]


@shopify_app.command("connect")
def shopify_connect(
    tenant: Tenant,
    webhook_secret: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            help="The secret Shopify signs webhooks with (Settings → Notifications → Webhooks, or the app's client "
            "secret); stored encrypted. Asked for when left out.",
        ),
    ],
) -> None:
    """Connect a shop's Shopify store, or replace its webhook secret; the secret is never printed."""
    from hub.encryption import SecretBox
    from hub.shopify.connect import connect_shopify
    from hub.tenancy import admin

    settings = load_settings()
    box = SecretBox(settings.secret_key.get_secret_value())

    async def work(session: AsyncSession) -> tuple[str, bool]:
        t = await admin.resolve_tenant(session, tenant)
        created = await connect_shopify(session, box, tenant=t, webhook_secret=webhook_secret, actor=cli_actor())
        return t.slug, created

    slug, created = with_session(settings, work)
    typer.echo(f"{slug}: Shopify store {'connected' if created else 'updated'} (webhook secret encrypted)")
    typer.echo(f"  Shopify webhook URL:  <your HUB base URL>/webhooks/shopify/{slug}  (JSON format)")


@shopify_app.command("disconnect")
def shopify_disconnect(tenant: Tenant) -> None:
    """Forget a shop's Shopify webhook secret: its webhooks are refused from then on."""
    from hub.shopify.connect import disconnect_shopify
    from hub.tenancy import admin

    async def work(session: AsyncSession) -> str:
        t = await admin.resolve_tenant(session, tenant)
        await disconnect_shopify(session, tenant=t, actor=cli_actor())
        return t.slug

    slug = with_session(load_settings(), work)
    typer.echo(f"{slug}: Shopify store disconnected")
