"""Operator photography tools: queue studio shots of a product for the imaging service, follow a job, judge results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.db import models as m
from hub.prompting.outputs import AspectRatio, PhotoBrief
from tools.context import Audience, ToolContext, ToolError
from tools.deps import actor, record
from tools.registry import ToolSpec

OPERATOR_ONLY = frozenset({Audience.OPERATOR})
DEFAULT_NEGATIVE_PROMPT = "text, watermark, extra logos, distorted product"
FINISHED_WITH_IMAGES = frozenset({m.ImageJobState.SUCCEEDED, m.ImageJobState.FALLBACK})
"""States in which a job carries images an operator can judge."""


class StudioBrief(PhotoBrief):
    """What the imaging service renders for one job: `image_jobs.brief`, read back with `model_validate`."""

    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Fixed seed, or None for a fresh one.")


class PhotoDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class PhotoImage(BaseModel):
    """One generated image, as the imaging service writes it under `result["images"]`, plus the operator's verdict."""

    model_config = ConfigDict(extra="ignore")

    number: int
    """1-based position in the job's results: what an operator refers to."""
    path: str
    """Relative to the media directory."""
    score: float | None = None
    seed: int | None = None
    decision: PhotoDecision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class PhotoJobResult(BaseModel):
    job_id: uuid.UUID
    sku: str
    state: m.ImageJobState
    brief: StudioBrief
    attempts: int
    history: list[dict[str, Any]]
    """Every state the job went through, oldest first: `{state, at, ...}`."""
    images: list[PhotoImage]
    """Empty until the imaging service has finished the job."""
    error: str | None
    created_at: datetime
    updated_at: datetime


def _images(job: m.ImageJob) -> list[PhotoImage]:
    images = []
    for number, raw in enumerate((job.result or {}).get("images") or [], start=1):
        try:
            images.append(PhotoImage.model_validate({**raw, "number": number}))
        except (ValidationError, TypeError):
            continue  # an entry without a path is nothing an operator can look at
    return images


def _job_result(job: m.ImageJob) -> PhotoJobResult:
    return PhotoJobResult(
        job_id=job.id,
        sku=job.sku,
        state=job.state,
        brief=StudioBrief.model_validate(job.brief),
        attempts=job.attempts,
        history=list(job.history or []),
        images=_images(job),
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


async def _job(ctx: ToolContext, job_id: uuid.UUID, *, lock: bool = False) -> m.ImageJob:
    job = await ctx.data.image_jobs.get(job_id)
    if job is None:
        raise ToolError(f"Unknown photo job {job_id}")
    if lock:
        await ctx.session.refresh(job, with_for_update=True)
    return job


# --- request_photos ---------------------------------------------------------------------------------


class RequestPhotosInput(BaseModel):
    sku: str = Field(
        min_length=1, max_length=64, description="The product's SKU exactly as the catalog has it, e.g. `SKU-1042`."
    )
    scene: str = Field(
        min_length=3,
        max_length=300,
        description="What surrounds the product, e.g. `on a weathered oak table beside a steaming mug`.",
    )
    background: str = Field(
        min_length=3, max_length=200, description="The backdrop, e.g. `seamless pure white` or `soft morning forest`."
    )
    aspect: AspectRatio = Field(
        default=AspectRatio.SQUARE, description="Width:height: `1:1`, `4:5`, `3:4`, `16:9` or `9:16`."
    )
    count: int = Field(default=4, ge=1, le=8, description="How many images to make, 1 to 8.")
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="A number that reproduces an earlier result; leave it out for fresh images.",
    )
    negative_prompt: str = Field(
        default=DEFAULT_NEGATIVE_PROMPT, max_length=400, description="What must not appear, comma-separated."
    )
    style_notes: str = Field(
        default="", max_length=400, description="Lighting, lens and mood, e.g. `soft diffused studio light, 50mm`."
    )


async def request_photos(ctx: ToolContext, args: RequestPhotosInput) -> PhotoJobResult:
    """Queue a studio shoot of one product for the imaging service; the job waits there until a worker takes it."""
    sku = args.sku.strip()
    product = await ctx.data.products.by_sku(sku)
    if product is None:
        raise ToolError(f"Unknown SKU {sku!r}")
    if not product.image_path:
        raise ToolError(f"SKU {sku!r} has no reference photo: upload one before asking for studio shots")
    brief = StudioBrief(
        scene=args.scene,
        background=args.background,
        aspect=args.aspect,
        count=args.count,
        negative_prompt=args.negative_prompt,
        style_notes=args.style_notes,
        seed=args.seed,
    )
    by = await actor(ctx)
    now = datetime.now(UTC)
    job = ctx.data.image_jobs.add(
        sku=product.sku,
        brief=brief.model_dump(mode="json"),
        state=m.ImageJobState.QUEUED,
        history=[{"state": m.ImageJobState.QUEUED.value, "at": now.isoformat(), "by": by}],
        result={},
    )
    await ctx.session.flush()
    await ctx.session.refresh(job)  # created_at and updated_at are set by the database
    await record(ctx, "photos.requested", product.sku, {"job_id": str(job.id), "brief": job.brief}, by=by)
    return _job_result(job)


# --- photo_job_status -------------------------------------------------------------------------------


class PhotoJobRef(BaseModel):
    job_id: uuid.UUID = Field(description="The photo job's id, as request_photos returned it.")


async def photo_job_status(ctx: ToolContext, args: PhotoJobRef) -> PhotoJobResult:
    """Return a photo job's state, history and, once finished, its images and any decisions on them."""
    return _job_result(await _job(ctx, args.job_id))


# --- decide_photo -----------------------------------------------------------------------------------


class DecidePhotoInput(PhotoJobRef):
    image: int = Field(ge=1, le=64, description="Which image, numbered from 1 as photo_job_status lists them.")
    decision: PhotoDecision = Field(description="`approve` to use the image, `reject` to discard it.")
    reason: str | None = Field(default=None, max_length=500, description="Why, in the operator's words; optional.")


async def decide_photo(ctx: ToolContext, args: DecidePhotoInput) -> PhotoJobResult:
    """Approve or reject one image of a finished photo job."""
    job = await _job(ctx, args.job_id, lock=True)
    raw_images = list((job.result or {}).get("images") or [])
    if job.state not in FINISHED_WITH_IMAGES or not raw_images:
        raise ToolError(f"photo job {job.id} has no results yet: it is {job.state}")
    if args.image > len(raw_images):
        raise ToolError(f"photo job {job.id} has {len(raw_images)} images; there is no image {args.image}")
    by = await actor(ctx)
    verdict = {
        "decision": args.decision.value,
        "decided_by": by,
        "decided_at": datetime.now(UTC).isoformat(),
        "reason": args.reason,
    }
    raw_images[args.image - 1] = {**raw_images[args.image - 1], **verdict}
    job.result = {**job.result, "images": raw_images}  # a new dict: JSON changes are not tracked in place
    action = "photos.approved" if args.decision is PhotoDecision.APPROVE else "photos.rejected"
    await record(ctx, action, job.sku, {"job_id": str(job.id), "image": args.image}, by=by)
    await ctx.session.flush()
    await ctx.session.refresh(job)  # updated_at is set by the database
    return _job_result(job)


PHOTO_TOOLS: list[ToolSpec] = [
    ToolSpec(
        name="request_photos",
        description="Queue studio shots of one product: its reference photo placed in a new scene. The images "
        "arrive later; follow them with photo_job_status.",
        input_model=RequestPhotosInput,
        result_model=PhotoJobResult,
        fn=request_photos,
        audiences=OPERATOR_ONLY,
        sensitive=True,
    ),
    ToolSpec(
        name="photo_job_status",
        description="The state of a photo job and, once finished, its images.",
        input_model=PhotoJobRef,
        result_model=PhotoJobResult,
        fn=photo_job_status,
        audiences=OPERATOR_ONLY,
    ),
    ToolSpec(
        name="decide_photo",
        description="Approve or reject one image of a finished photo job.",
        input_model=DecidePhotoInput,
        result_model=PhotoJobResult,
        fn=decide_photo,
        audiences=OPERATOR_ONLY,
        sensitive=True,
    ),
]
