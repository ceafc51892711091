"""Photo jobs as the rest of HUB sees them: the brief, the checks before any GPU work, submission, states, events.

The imaging service (`imaging_service`, run by `hub worker imaging`) does the rendering; everything that asks for
photos (the operator HTTP API, the agent's `request_photos` tool) goes through `submit` here, so the same checks,
per-shop caps and audit apply whichever way a job arrives. A job is a row in `image_jobs` (its state, every
transition with a timestamp, its candidates and scores) plus a task on the `IMAGING` queue carrying only its id:
the row is the truth, so a task that runs twice, or after a cancel, finds the job already settled and stops.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.gateway.guards import Refusal
from hub.gateway.switches import PHOTOGRAPHY, tenant_switch
from hub.jobs import IMAGING, JobQueue, Priority
from hub.prompting.outputs import PhotoBrief
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.usage.billing import tenant_budget

DEFAULT_NEGATIVE_PROMPT = "text, watermark, extra logos, distorted product"
"""What a brief avoids when its author names nothing."""
RENDER_TASK = "imaging_render"
"""The task on the `IMAGING` queue; its one argument is the job id."""
UNFINISHED = frozenset(
    {m.ImageJobState.QUEUED, m.ImageJobState.RUNNING, m.ImageJobState.SCORING, m.ImageJobState.RETRYING}
)
FINISHED = frozenset(set(m.ImageJobState) - UNFINISHED)
WITH_IMAGES = frozenset({m.ImageJobState.SUCCEEDED, m.ImageJobState.FALLBACK})
"""States in which a job carries images an operator can judge."""


class StudioBrief(PhotoBrief):
    """What the imaging service renders for one job: `image_jobs.brief`, read back with `model_validate`."""

    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Fixed seed, or None for a fresh one.")


@dataclass
class ImagingRefused(Exception):
    """A job that cannot be taken, said so before any work: HTTP status, the field at fault, and why."""

    status: int
    field: str
    message: str
    code: str | None = None
    """The error code callers see, when the status alone does not say it (a spent budget is a 429 too)."""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def reference_path(settings: Settings, product: m.Product) -> Path | None:
    """The product's reference photo on disk, if it has one inside its shop's media folder."""
    if not product.image_path:
        return None
    media = settings.media_dir.resolve()
    path = (media / product.image_path).resolve()
    shop = media / str(product.tenant_id)
    return path if path.is_relative_to(shop) and path.is_file() else None


async def check_inputs(
    session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, sku: str, brief: StudioBrief
) -> m.Product:
    """Refuse a brief no GPU should see: unknown SKU, no reference photo, too many images (aspect is typed)."""
    product = (
        await session.execute(select(m.Product).where(m.Product.tenant_id == tenant_id, m.Product.sku == sku.strip()))
    ).scalar_one_or_none()
    if product is None:
        raise ImagingRefused(404, "sku", f"Unknown SKU {sku.strip()!r} in this shop")
    if reference_path(settings, product) is None:
        raise ImagingRefused(422, "sku", f"SKU {product.sku!r} has no reference photo: upload one first")
    if brief.count > settings.imaging_max_count:
        raise ImagingRefused(
            422, "brief.count", f"{brief.count} images asked for; at most {settings.imaging_max_count} per job"
        )
    return product


def transition(job: m.ImageJob, state: m.ImageJobState, **detail: Any) -> None:
    """Move a job to `state`, recording when (and anything worth knowing) in its history."""
    job.state = state
    job.history = [*job.history, {"state": state.value, "at": datetime.now(UTC).isoformat(), **detail}]


async def unfinished_jobs(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(m.ImageJob)
            .where(m.ImageJob.tenant_id == tenant_id, m.ImageJob.state.in_(UNFINISHED))
        )
    ).scalar_one()


async def over_budget(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    """Why the shop may not spend on photos now (a hard budget spent, as the gateway's guard words it), or None."""
    tenant = await session.get(m.Tenant, tenant_id)
    if tenant is None:
        return None
    budget = await tenant_budget(session, tenant_id, TenantConfig.model_validate(tenant.settings or {}).budgets)
    return budget.detail if budget.state == "exhausted" else None


async def submit(
    session: AsyncSession,
    settings: Settings,
    tenant_id: uuid.UUID,
    sku: str,
    brief: StudioBrief,
    *,
    by: str,
    priority: Priority = "normal",
) -> m.ImageJob:
    """Check and store a new queued job (the caller commits, then `dispatch`es it); refuse past the shop's cap,
    while the shop's `photography` kill switch (or its `*`) is off, or once a hard budget of the shop is spent."""
    if (switch := await tenant_switch(session, tenant_id, PHOTOGRAPHY)) is not None:
        raise ImagingRefused(
            503, "tenant", f"photo shoots are paused for this shop: {switch.describe()}; try again once it is back on"
        )
    if (spent := await over_budget(session, tenant_id)) is not None:
        raise ImagingRefused(
            429,
            "tenant",
            f"{Refusal.BUDGET_EXHAUSTED}: {spent}; photo shoots resume when the budget resets or is raised",
            code=Refusal.BUDGET_EXHAUSTED,
        )
    product = await check_inputs(session, settings, tenant_id, sku, brief)
    waiting = await unfinished_jobs(session, tenant_id)
    if waiting >= settings.imaging_max_queued_per_tenant:
        raise ImagingRefused(
            429,
            "tenant",
            f"this shop already has {waiting} photo jobs waiting or running (the cap is "
            f"{settings.imaging_max_queued_per_tenant}); wait for some to finish or cancel one",
        )
    job = m.ImageJob(
        tenant_id=tenant_id,
        sku=product.sku,
        brief=brief.model_dump(mode="json"),
        priority=["low", "normal", "high"].index(priority),
        state=m.ImageJobState.QUEUED,
        history=[{"state": m.ImageJobState.QUEUED.value, "at": datetime.now(UTC).isoformat(), "by": by}],
        result={},
    )
    session.add(job)
    await session.flush()
    await record(
        session,
        tenant_id=tenant_id,
        actor=by,
        action="photos.requested",
        subject=product.sku,
        data={"job_id": str(job.id), "brief": job.brief, "priority": priority},
    )
    return job


async def dispatch(jobs: JobQueue, job: m.ImageJob) -> str:
    """Put a stored job on the imaging queue; a task that arrives before the row commits waits for it."""
    priorities: tuple[Priority, Priority, Priority] = ("low", "normal", "high")
    priority = priorities[max(0, min(2, job.priority))]
    return await jobs.on(IMAGING).enqueue(RENDER_TASK, str(job.id), priority=priority)


async def cancel(session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID, *, by: str) -> m.ImageJob:
    """Cancel an unfinished job; the worker drops it before its next batch. The caller commits."""
    job = await session.get(m.ImageJob, job_id, with_for_update=True)
    if job is None or job.tenant_id != tenant_id:
        raise ImagingRefused(404, "job_id", f"no photo job {job_id} in this shop")
    if job.state in FINISHED:
        raise ImagingRefused(409, "job_id", f"photo job {job_id} is already {job.state}")
    transition(job, m.ImageJobState.CANCELLED, by=by)
    await record(
        session, tenant_id=tenant_id, actor=by, action="photos.cancelled", subject=job.sku, data={"job_id": str(job.id)}
    )
    return job


def finished_event(job: m.ImageJob) -> dict[str, Any]:
    """What the operator consoles hear when a job settles (see `chat_ui.console_commands.job_event`)."""
    images: list[dict[str, Any]] = (job.result or {}).get("images") or []
    return {
        "kind": "photos.finished",
        "job_id": str(job.id),
        "sku": job.sku,
        "state": job.state.value if isinstance(job.state, m.ImageJobState) else str(job.state),  # pyright: ignore[reportUnnecessaryIsInstance]  # a String column: a loaded row holds a str
        "images": [image["path"] for image in images],
        "scores": [image.get("score") for image in images],
        "error": job.error,
    }


async def decide(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    image: int,
    *,
    approve: bool,
    by: str,
    reason: str | None = None,
) -> m.ImageJob:
    """Record an operator's verdict on one image (numbered from 1) of a finished job; audited; the caller commits."""
    job = await session.get(m.ImageJob, job_id, with_for_update=True)
    if job is None or job.tenant_id != tenant_id:
        raise ImagingRefused(404, "job_id", f"Unknown photo job {job_id}")
    images = list((job.result or {}).get("images") or [])
    if job.state not in WITH_IMAGES or not images:
        raise ImagingRefused(409, "job_id", f"photo job {job.id} has no results yet: it is {job.state}")
    if not 1 <= image <= len(images):
        raise ImagingRefused(404, "image", f"photo job {job.id} has {len(images)} images; there is no image {image}")
    verdict = {
        "decision": "approve" if approve else "reject",
        "decided_by": by,
        "decided_at": datetime.now(UTC).isoformat(),
        "reason": reason,
    }
    images[image - 1] = {**images[image - 1], **verdict}
    job.result = {**job.result, "images": images}  # a new dict: JSON changes are not tracked in place
    await record(
        session,
        tenant_id=tenant_id,
        actor=by,
        action="photos.approved" if approve else "photos.rejected",
        subject=job.sku,
        data={"job_id": str(job.id), "image": image, "reason": reason},
    )
    await session.flush()
    await session.refresh(job)  # updated_at is set by the database
    return job
