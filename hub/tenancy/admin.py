"""Create tenants, issue and revoke API keys, create operators, authenticate callers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from slugify import slugify
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.tenancy import secrets as sec
from hub.tenancy.config import TenantConfig


class TenancyError(ValueError):
    """A request the caller can fix: the message names the bad value."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an API key belongs to."""

    tenant_id: uuid.UUID
    role: m.ApiKeyRole
    key_prefix: str


async def create_tenant(
    session: AsyncSession, *, name: str, slug: str | None = None, config: TenantConfig | None = None, actor: str = "cli"
) -> m.Tenant:
    slug = slugify(slug or name, max_length=64)
    if not slug:
        raise TenancyError(f"tenant name {name!r} gives an empty slug; choose a name with letters or digits")
    if await tenant_by_slug(session, slug) is not None:
        raise TenancyError(f"tenant {slug!r} already exists")
    tenant = m.Tenant(slug=slug, name=name, settings=(config or TenantConfig()).to_column())
    session.add(tenant)
    await session.flush()
    await record(session, actor=actor, action="tenant.created", tenant_id=tenant.id, subject=slug)
    return tenant


async def update_tenant_settings(
    session: AsyncSession, tenant: m.Tenant, changes: dict[str, Any], *, actor: str = "cli"
) -> dict[str, tuple[Any, Any]]:
    """Change top-level settings of a tenant, validated as a whole; audited; return {setting: (before, after)}."""
    before = {**TenantConfig().to_column(), **(tenant.settings or {})}
    try:
        after = TenantConfig.model_validate({**before, **changes}).to_column()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise TenancyError(f"invalid settings for tenant {tenant.slug!r}: {problems}") from None
    changed = {key: (before.get(key), after.get(key)) for key in changes if before.get(key) != after.get(key)}
    if changed:
        tenant.settings = after
        await record(
            session,
            actor=actor,
            action="tenant.settings_changed",
            tenant_id=tenant.id,
            subject=tenant.slug,
            data={"sections": sorted(changed), "changes": {k: {"from": b, "to": a} for k, (b, a) in changed.items()}},
        )
    return changed


async def tenant_by_slug(session: AsyncSession, slug: str) -> m.Tenant | None:
    return (await session.execute(select(m.Tenant).where(m.Tenant.slug == slug))).scalar_one_or_none()


async def resolve_tenant(session: AsyncSession, ref: str) -> m.Tenant:
    """Find a tenant by slug or id, or raise TenancyError naming the reference."""
    tenant = await tenant_by_slug(session, ref)
    if tenant is None:
        try:
            tenant = await session.get(m.Tenant, uuid.UUID(ref))
        except ValueError:
            tenant = None
    if tenant is None:
        raise TenancyError(f"unknown tenant {ref!r}")
    return tenant


async def list_tenants(session: AsyncSession) -> list[m.Tenant]:
    return list((await session.execute(select(m.Tenant).order_by(m.Tenant.created_at))).scalars())


async def issue_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    role: m.ApiKeyRole,
    name: str = "",
    seed: bytes | None = None,
    actor: str = "cli",
) -> tuple[m.ApiKey, str]:
    """Store a new key's hash and return the row with the plaintext, which is never stored."""
    minted = sec.mint_key(role, seed=seed)
    row = m.ApiKey(tenant_id=tenant_id, role=role, name=name, prefix=minted.prefix, key_hash=minted.key_hash)
    session.add(row)
    await record(
        session, actor=actor, action="key.issued", tenant_id=tenant_id, subject=minted.prefix, data={"role": role}
    )
    await session.flush()
    return row, minted.plaintext


async def revoke_key(session: AsyncSession, prefix: str, *, actor: str = "cli") -> m.ApiKey:
    """Revoke a key by its prefix (or whole plaintext); revoking twice is harmless."""
    lookup = sec.key_prefix(prefix) or prefix
    row = (await session.execute(select(m.ApiKey).where(m.ApiKey.prefix == lookup))).scalar_one_or_none()
    if row is None:
        raise TenancyError(f"unknown key {lookup!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await record(session, actor=actor, action="key.revoked", tenant_id=row.tenant_id, subject=row.prefix)
    return row


async def authenticate_key(session: AsyncSession, plaintext: str) -> Caller | None:
    """Return the caller for a valid, unrevoked key of an active tenant; None otherwise."""
    prefix = sec.key_prefix(plaintext)
    if prefix is None:
        return None
    stmt = (
        select(m.ApiKey)
        .join(m.Tenant, m.Tenant.id == m.ApiKey.tenant_id)
        .where(m.ApiKey.prefix == prefix, m.ApiKey.revoked_at.is_(None), m.Tenant.active.is_(True))
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None or not sec.key_matches(plaintext, row.key_hash):
        return None
    return Caller(tenant_id=row.tenant_id, role=m.ApiKeyRole(row.role), key_prefix=row.prefix)


async def create_operator(
    session: AsyncSession, *, tenant_id: uuid.UUID, email: str, password: str, name: str = "", actor: str = "cli"
) -> m.Operator:
    email = email.strip().lower()
    if "@" not in email:
        raise TenancyError(f"operator email {email!r} is not an email address")
    if len(password) < 10:
        raise TenancyError("operator password must be at least 10 characters")
    existing = await session.execute(
        select(m.Operator).where(m.Operator.tenant_id == tenant_id, m.Operator.email == email)
    )
    if existing.scalar_one_or_none() is not None:
        raise TenancyError(f"operator {email!r} already exists for this tenant")
    op = m.Operator(tenant_id=tenant_id, email=email, name=name, password_hash=sec.hash_password(password))
    session.add(op)
    await record(session, actor=actor, action="operator.created", tenant_id=tenant_id, subject=email)
    await session.flush()
    return op


async def authenticate_operator(session: AsyncSession, email: str, password: str) -> m.Operator | None:
    """Return the active operator whose email and password match, in any tenant; None otherwise."""
    stmt = select(m.Operator).where(m.Operator.email == email.strip().lower(), m.Operator.active.is_(True))
    for op in (await session.execute(stmt)).scalars():
        if sec.verify_password(op.password_hash, password):
            return op
    return None
