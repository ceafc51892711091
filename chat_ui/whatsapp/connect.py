"""Connect, list and disconnect a shop's WhatsApp numbers: the channel accounts, their secrets encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.encryption import SecretBox, is_sealed
from hub.tenancy.admin import TenancyError


@dataclass(frozen=True, slots=True)
class WhatsAppNumber:
    """A connected number as listings show it: no secret, only whether each is stored encrypted."""

    tenant: str
    phone_number_id: str
    display_phone_number: str | None
    secrets_encrypted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "secrets_encrypted": self.secrets_encrypted,
        }


async def connect_whatsapp(
    session: AsyncSession,
    box: SecretBox,
    *,
    tenant: m.Tenant,
    phone_number_id: str,
    access_token: str,
    app_secret: str,
    verify_token: str,
    display_phone_number: str | None = None,
    actor: str = "cli",
) -> bool:
    """Store the tenant's WhatsApp number with its secrets encrypted; True when it was new, False when updated.

    A number another shop has connected is refused: one phone number id names one shop's webhook traffic.
    """
    if not phone_number_id.isdigit():
        raise TenancyError(f"phone number id {phone_number_id!r} is not the digits Meta shows for the number")
    account = await _account(session, phone_number_id)
    if account is not None and account.tenant_id != tenant.id:
        raise TenancyError(f"phone number id {phone_number_id} is connected to another shop")
    config: dict[str, Any] = dict(account.config or {}) if account is not None else {}
    config.update(access_token=access_token, app_secret=app_secret, verify_token=verify_token)
    if display_phone_number is not None:
        config["display_phone_number"] = display_phone_number
    sealed = box.seal_config(config)
    created = account is None
    if account is None:
        session.add(
            m.ChannelAccount(
                tenant_id=tenant.id, channel=m.Channel.WHATSAPP, external_id=phone_number_id, config=sealed
            )
        )
    else:
        account.config = sealed
    await session.flush()
    await record(
        session,
        actor=actor,
        action="whatsapp.connected" if created else "whatsapp.updated",
        tenant_id=tenant.id,
        subject=phone_number_id,
    )
    return created


async def list_whatsapp(session: AsyncSession, tenant: m.Tenant | None = None) -> list[WhatsAppNumber]:
    """Every connected WhatsApp number (one shop's when `tenant` is given), by shop then number."""
    query = (
        select(m.ChannelAccount, m.Tenant.slug)
        .join(m.Tenant, m.Tenant.id == m.ChannelAccount.tenant_id)
        .where(m.ChannelAccount.channel == m.Channel.WHATSAPP)
        .order_by(m.Tenant.slug, m.ChannelAccount.external_id)
    )
    if tenant is not None:
        query = query.where(m.ChannelAccount.tenant_id == tenant.id)
    found: list[WhatsAppNumber] = []
    for account, slug in await session.execute(query):
        config = account.config or {}
        stored = [config[k] for k in ("access_token", "app_secret") if config.get(k)]
        found.append(
            WhatsAppNumber(
                tenant=slug,
                phone_number_id=account.external_id,
                display_phone_number=config.get("display_phone_number"),
                secrets_encrypted=all(is_sealed(v) for v in stored),
            )
        )
    return found


async def disconnect_whatsapp(
    session: AsyncSession, *, tenant: m.Tenant, phone_number_id: str, actor: str = "cli"
) -> None:
    """Remove the tenant's WhatsApp number: its webhooks are refused and nothing more is sent from it."""
    account = await _account(session, phone_number_id)
    if account is None or account.tenant_id != tenant.id:
        raise TenancyError(f"shop {tenant.slug!r} has no WhatsApp number {phone_number_id}")
    await session.delete(account)
    await session.flush()
    await record(session, actor=actor, action="whatsapp.disconnected", tenant_id=tenant.id, subject=phone_number_id)


async def _account(session: AsyncSession, phone_number_id: str) -> m.ChannelAccount | None:
    return (
        await session.execute(
            select(m.ChannelAccount).where(
                m.ChannelAccount.channel == m.Channel.WHATSAPP, m.ChannelAccount.external_id == phone_number_id
            )
        )
    ).scalar_one_or_none()
