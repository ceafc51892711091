"""Connect and disconnect a shop's Shopify store: the webhook secret Shopify signs its pushes with, encrypted at
rest, and the lookup the webhook makes with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.encryption import SecretBox, SecretError
from hub.tenancy.admin import TenancyError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookSigner:
    """The shop a webhook URL names, as the webhook needs it: its id and the secret its webhooks are signed with."""

    tenant_id: uuid.UUID
    secret: bytes = field(repr=False)

    def signed(self, body: bytes, signature: str) -> bool:
        """Whether `signature` is Shopify's `X-Shopify-Hmac-Sha256` of `body`: base64 of its HMAC-SHA256."""
        if not self.secret:
            return False
        expected = base64.b64encode(hmac.new(self.secret, body, hashlib.sha256).digest())
        return hmac.compare_digest(expected, signature.strip().encode())


async def connect_shopify(
    session: AsyncSession, box: SecretBox, *, tenant: m.Tenant, webhook_secret: str, actor: str = "cli"
) -> bool:
    """Store the shop's Shopify webhook secret, encrypted; True when the store was new, False when its secret was
    replaced."""
    if not webhook_secret.strip():
        raise TenancyError("the webhook secret is empty")
    connection = await _connection(session, tenant.id)
    created = connection is None
    config = box.seal_config({"webhook_secret": webhook_secret.strip()})
    if connection is None:
        session.add(m.ShopConnection(tenant_id=tenant.id, platform=m.ShopPlatform.SHOPIFY, config=config))
    else:
        connection.config = {**(connection.config or {}), **config}
    await session.flush()
    action = "shopify.connected" if created else "shopify.updated"
    await record(session, actor=actor, action=action, tenant_id=tenant.id, subject=tenant.slug)
    return created


async def disconnect_shopify(session: AsyncSession, *, tenant: m.Tenant, actor: str = "cli") -> None:
    """Forget the shop's Shopify webhook secret: its webhooks are refused from now on."""
    connection = await _connection(session, tenant.id)
    if connection is None:
        raise TenancyError(f"shop {tenant.slug!r} has no Shopify store connected")
    await session.delete(connection)
    await session.flush()
    await record(session, actor=actor, action="shopify.disconnected", tenant_id=tenant.id, subject=tenant.slug)


async def webhook_signer(session: AsyncSession, box: SecretBox, slug: str) -> WebhookSigner | None:
    """The active shop `slug` names with its decrypted webhook secret; None when there is none, it is inactive, or
    it has no Shopify store connected (a caller cannot tell which)."""
    row = (
        await session.execute(
            select(m.Tenant.id, m.ShopConnection.config)
            .join(m.ShopConnection, m.ShopConnection.tenant_id == m.Tenant.id)
            .where(
                m.Tenant.slug == slug,
                m.Tenant.active.is_(True),
                m.ShopConnection.platform == m.ShopPlatform.SHOPIFY,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    tenant_id, config = row
    try:
        secret = box.open(str((config or {}).get("webhook_secret") or ""))
    except SecretError:
        log.warning("shopify_webhook_secret_unreadable", tenant_id=str(tenant_id))
        secret = ""  # nothing verifies: every webhook is refused until the store is connected again
    return WebhookSigner(tenant_id, secret.encode())


async def _connection(session: AsyncSession, tenant_id: uuid.UUID) -> m.ShopConnection | None:
    return (
        await session.execute(
            select(m.ShopConnection).where(
                m.ShopConnection.tenant_id == tenant_id, m.ShopConnection.platform == m.ShopPlatform.SHOPIFY
            )
        )
    ).scalar_one_or_none()
