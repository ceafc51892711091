"""Kill switches: flip them in the database (audited), announce flips on Redis, answer lookups from memory.

A switch is a row in `kill_switches`, present while something is switched off: one tenant's feature (or `*`,
all of its features), or one model for every tenant. The row is the truth. A flip is written with its audit
event in the caller's transaction; after the commit the caller `announce`s it on a pub/sub channel and every
process's `SwitchBoard` reloads the table. Each board also re-reads the table every `poll_s` seconds, so a
missed message (Redis down, a subscriber reconnecting) delays a flip by seconds but never loses it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub import broadcast
from hub.aio import wait_event
from hub.audit.events import record
from hub.broadcast import Follower
from hub.constants import SWITCHES
from hub.db import models as m

log = structlog.get_logger(__name__)

EVERY_FEATURE = "*"
"""The feature of a tenant switch that stops every AI feature of that shop."""
PHOTOGRAPHY = "photography"
"""The photo pipeline's feature: no model call, `hub.imaging.submit` checks it before queueing GPU work."""
_REASON_MAX = 500
_READY_S = 10.0
"""Longest a model call waits for the switch board's first load."""
_BY_MAX = 200


class SwitchError(ValueError):
    """A flip the caller can fix: the message names the bad value."""


class Switch(BaseModel):
    """One switch that is off, as every process sees it."""

    model_config = ConfigDict(frozen=True)

    key: str
    tenant_id: uuid.UUID | None
    feature: str | None
    model: str | None
    reason: str
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, row: m.KillSwitch) -> Switch:
        return cls(
            key=row.key,
            tenant_id=row.tenant_id,
            feature=row.feature,
            model=row.model,
            reason=row.reason,
            set_by=row.set_by,
            set_at=row.set_at,
        )

    @property
    def scope(self) -> str:
        if self.model is not None:
            return f"model {self.model!r}"
        return "every AI feature" if self.feature == EVERY_FEATURE else f"AI for {self.feature!r}"

    def describe(self) -> str:
        """Say what is off, who switched it off and why: the detail of a refusal and of its fallback usage row."""
        return f"{self.scope} switched off by {self.set_by}: {self.reason}"


def switch_key(*, tenant_id: uuid.UUID | None, feature: str | None, model: str | None) -> str:
    """Name one switch: a tenant with a feature (or `*`), or a model; anything else is a SwitchError."""
    if model is not None and (tenant_id is not None or feature is not None):
        raise SwitchError("name either a tenant (and a feature) or a model, not both")
    if model is not None:
        if not model.strip() or len(model) > 128:
            raise SwitchError(f"model {model!r} is not a model name")
        return f"model:{model}"
    if tenant_id is None:
        raise SwitchError("name a tenant (and a feature) or a model")
    feature = feature or EVERY_FEATURE
    if len(feature) > 64:
        raise SwitchError(f"feature {feature!r} is not a feature name")
    return f"tenant:{tenant_id}:{feature}"


def switchable_features(use_cases: Iterable[str]) -> list[str]:
    """Every feature a tenant switch may name: the gateway's use cases, the photo pipeline and `*`."""
    return [*sorted({*use_cases, PHOTOGRAPHY}), EVERY_FEATURE]


def check_feature(feature: str, known: list[str]) -> str:
    """Return the feature if a switch may name it, else raise a SwitchError listing the ones that may."""
    if feature not in known:
        raise SwitchError(f"unknown feature {feature!r}; choose one of {', '.join(known)}")
    return feature


async def switch_off(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    feature: str | None = None,
    model: str | None = None,
    reason: str,
    by: str,
) -> Switch:
    """Switch a tenant's feature or a model off, or restate why it is off; audited. The caller commits, then
    `announce`s."""
    key = switch_key(tenant_id=tenant_id, feature=feature, model=model)
    reason = " ".join(reason.split())
    if not reason:
        raise SwitchError("a reason is required to switch something off")
    if len(reason) > _REASON_MAX:
        raise SwitchError(f"the reason is {len(reason)} characters; at most {_REASON_MAX}")
    by = by.strip()[:_BY_MAX] or "unknown"
    if tenant_id is not None:
        feature = feature or EVERY_FEATURE
    now = datetime.now(UTC)
    row = (await session.execute(select(m.KillSwitch).where(m.KillSwitch.key == key))).scalar_one_or_none()
    if row is None:
        row = m.KillSwitch(key=key, tenant_id=tenant_id, feature=feature, model=model, reason="", set_by="")
        session.add(row)
    row.reason, row.set_by, row.set_at = reason, by, now
    await record(
        session,
        actor=by,
        action="switch.off",
        tenant_id=tenant_id,
        subject=key,
        data={"reason": reason, "feature": feature, "model": model},
    )
    await session.flush()
    return Switch.of(row)


async def switch_on(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    feature: str | None = None,
    model: str | None = None,
    reason: str = "",
    by: str,
) -> Switch | None:
    """Switch a tenant's feature or a model back on; audited. Return the switch that was off, or None when it
    was not (nothing changes, nothing is audited). The caller commits, then `announce`s."""
    key = switch_key(tenant_id=tenant_id, feature=feature, model=model)
    row = (await session.execute(select(m.KillSwitch).where(m.KillSwitch.key == key))).scalar_one_or_none()
    if row is None:
        return None
    was = Switch.of(row)
    await session.execute(delete(m.KillSwitch).where(m.KillSwitch.key == key))
    await record(
        session,
        actor=by.strip()[:_BY_MAX] or "unknown",
        action="switch.on",
        tenant_id=tenant_id,
        subject=key,
        data={
            "reason": " ".join(reason.split())[:_REASON_MAX],
            "feature": was.feature,
            "model": model,
            "was_off_since": was.set_at.isoformat(),
            "was_off_by": was.set_by,
            "was_off_because": was.reason,
        },
    )
    await session.flush()
    return was


async def list_switches(session: AsyncSession, *, tenant_id: uuid.UUID | None = None) -> list[Switch]:
    """Every switch that is off; with `tenant_id`, only that tenant's (model switches are listed separately)."""
    stmt = select(m.KillSwitch).order_by(m.KillSwitch.key)
    if tenant_id is not None:
        stmt = stmt.where(m.KillSwitch.tenant_id == tenant_id)
    return [Switch.of(row) for row in (await session.execute(stmt)).scalars()]


async def tenant_switch(session: AsyncSession, tenant_id: uuid.UUID, feature: str) -> Switch | None:
    """Read from the database whether a tenant's feature (or all of them) is off, for rare calls that need no board."""
    keys = [switch_key(tenant_id=tenant_id, feature=f, model=None) for f in (feature, EVERY_FEATURE)]
    rows = (await session.execute(select(m.KillSwitch).where(m.KillSwitch.key.in_(keys)))).scalars().all()
    found = {row.feature: row for row in rows}
    row = found.get(feature) or found.get(EVERY_FEATURE)
    return Switch.of(row) if row is not None else None


async def announce(redis: aioredis.Redis) -> bool:
    """Tell every process to reload the switches now; False when Redis is unreachable (they poll instead)."""
    return await broadcast.announce(redis, SWITCHES)


def _one_line(exc: Exception) -> str:
    """The database's own words for a failed read, without SQLAlchemy's statement and link lines."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    hint = (
        " (is the database migrated? `hub db upgrade`)" if "no such table" in first or "does not exist" in first else ""
    )
    return f"{type(cause).__name__}: {first}{hint}"


class SwitchBoard:
    """One process's view of the switches: in memory for lookups, reloaded on each announcement and every poll."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, *, poll_s: float) -> None:
        self._sessions = sessions
        self._tenants: dict[tuple[uuid.UUID, str], Switch] = {}
        self._models: dict[str, Switch] = {}
        self._loaded = asyncio.Event()
        self._reload_error: str | None = None
        self._follower = Follower(
            redis, self._reload_or_keep, channel=SWITCHES, poll_s=poll_s, name="gateway-switch-board"
        )

    def tenant_off(self, tenant_id: uuid.UUID, feature: str) -> Switch | None:
        """The switch that stops this tenant's feature (its own, else the tenant's `*`), or None."""
        return self._tenants.get((tenant_id, feature)) or self._tenants.get((tenant_id, EVERY_FEATURE))

    def model_off(self, model: str) -> Switch | None:
        return self._models.get(model)

    def start(self) -> None:
        """Load the switches and follow flips in the background (idempotent; call inside the event loop)."""
        self._follower.start()

    async def ready(self) -> None:
        """Wait for the first load, so no call slips through before the switches are known; a load that takes
        longer than `_READY_S` (a stuck database) is not waited for: calls go on, and the next load applies."""
        if not self._loaded.is_set():
            self.start()
            if not await wait_event(self._loaded, _READY_S):
                log.warning("switch_board_not_ready", waited_s=_READY_S)

    async def reload(self) -> None:
        """Read every switch from the database now and replace this process's view."""
        async with self._sessions() as session:
            rows = await list_switches(session)
        self._tenants = {(s.tenant_id, s.feature): s for s in rows if s.tenant_id is not None and s.feature}
        self._models = {s.model: s for s in rows if s.model is not None}

    async def _reload_or_keep(self) -> None:
        """Reload; when the database is unreachable keep the last view (a fresh board then has none) and go on.

        A failure is one log line, said again only when the error changes: a database that was never migrated
        (no `kill_switches` table) or is down must not print a traceback every poll.
        """
        try:
            await self.reload()
        except Exception as exc:
            error = _one_line(exc)
            if error != self._reload_error:
                log.warning("switch_reload_failed", error=error)
                self._reload_error = error
        else:
            if self._reload_error is not None:
                log.info("switch_reload_recovered")
                self._reload_error = None
        finally:
            self._loaded.set()

    async def aclose(self) -> None:
        """Stop following flips and close the subscription's connection."""
        await self._follower.aclose()
        self._loaded.set()  # nobody waits for a first load that will not come
