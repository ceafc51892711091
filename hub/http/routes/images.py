"""Photo jobs over HTTP for the shop's operators: ask for shots, follow them, fetch the files, judge them, cancel.

Every route takes an operator (or admin) key in `X-Hub-Key`; a storefront key gets 403, another shop's job 404.
Result files are served only through `/v1/images/jobs/{id}/files/{name}`, so they never leave the shop's keys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from hub.db import models as m
from hub.http.deps import OperatorKey, Resources, Session, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_JSON_BODY, NO_NUL
from hub.imaging import DEFAULT_NEGATIVE_PROMPT, ImagingRefused, StudioBrief, cancel, decide, dispatch, submit
from hub.jobs import Priority
from hub.prompting.outputs import AspectRatio

router = APIRouter(
    prefix="/v1/images",
    tags=["images"],
    responses=error_responses(*KEY_ERRORS, 403, 422),
    max_body_size=MAX_JSON_BODY,
)

_FILE_NAME = r"^[A-Za-z0-9_-]{1,64}\.png$"
MAX_SHOTS = 8
"""Most shots one job may render: `PhotoBrief.count`'s bound, and the most `HUB_IMAGING_MAX_COUNT` may allow."""
_NO_JOB = (404, "No such photo job in this shop.")
_NOT_READY = (409, "The job is not in a state that allows this (already finished, or no results yet).")


class BriefIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scene: str = Field(min_length=3, max_length=300, examples=["on a weathered oak table"])
    background: str = Field(min_length=3, max_length=200, examples=["seamless pure white"])
    aspect: AspectRatio = AspectRatio.SQUARE
    count: int = Field(
        default=4,
        ge=1,
        le=MAX_SHOTS,
        description=f"Shots to render, 1 to {MAX_SHOTS} (fewer where `HUB_IMAGING_MAX_COUNT` says so).",
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    negative_prompt: str = Field(default=DEFAULT_NEGATIVE_PROMPT, max_length=400)
    style_notes: str = Field(default="", max_length=400)


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    brief: BriefIn
    priority: Priority = "normal"


class ImageOut(BaseModel):
    number: int | None = None
    """1-based, for approve/reject; candidates that did not reach the operator have none."""
    url: str
    seed: int | None
    round: int | None
    renderer: str | None
    score: float | None
    passed: bool | None
    scores: dict[str, float]
    reasons: list[str]
    decision: str | None = None
    decided_by: str | None = None
    reason: str | None = None


class JobOut(BaseModel):
    id: uuid.UUID
    sku: str
    state: m.ImageJobState
    priority: int
    attempts: int
    brief: dict[str, Any]
    history: list[dict[str, Any]]
    images: list[ImageOut]
    """What passed scoring and reached the operator, best first."""
    candidates: list[ImageOut]
    """Every image scored, passing or not, with why it failed."""
    error: str | None
    created_at: datetime
    updated_at: datetime


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


def _image(job: m.ImageJob, raw: dict[str, Any], number: int | None) -> ImageOut:
    name = str(raw.get("path", "")).rsplit("/", 1)[-1]
    return ImageOut(
        number=number,
        url=f"/v1/images/jobs/{job.id}/files/{name}",
        seed=raw.get("seed"),
        round=raw.get("round"),
        renderer=raw.get("renderer"),
        score=raw.get("score"),
        passed=raw.get("passed"),
        scores=raw.get("scores") or {},
        reasons=raw.get("reasons") or [],
        decision=raw.get("decision"),
        decided_by=raw.get("decided_by"),
        reason=raw.get("reason"),
    )


def job_out(job: m.ImageJob) -> JobOut:
    result = job.result or {}
    images: list[dict[str, Any]] = result.get("images") or []
    candidates: list[dict[str, Any]] = result.get("candidates") or []
    return JobOut(
        id=job.id,
        sku=job.sku,
        state=job.state,
        priority=job.priority,
        attempts=job.attempts,
        brief=job.brief,
        history=job.history,
        images=[_image(job, raw, n) for n, raw in enumerate(images, start=1)],
        candidates=[_image(job, raw, None) for raw in candidates],
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def _refused(exc: ImagingRefused) -> ApiError:
    codes = {404: "not_found", 409: "conflict", 422: "invalid_brief", 429: "too_many_jobs", 503: "switched_off"}
    return ApiError(exc.status, exc.code or codes.get(exc.status, "refused"), str(exc))


async def _job(auth: OperatorKey, session: Session, job_id: uuid.UUID) -> m.ImageJob:
    job = await session.get(m.ImageJob, job_id)
    if job is None or job.tenant_id != auth.caller.tenant_id:
        raise ApiError(404, "not_found", f"job_id: no photo job {job_id} in this shop")
    return job


def _by(auth: OperatorKey) -> str:
    return f"key:{auth.caller.key_prefix}"


@router.post(
    "/jobs",
    status_code=202,
    responses=error_responses(
        *BODY_ERRORS,
        (404, "No such SKU in this shop."),
        (422, "The body failed validation, or the product has no reference photo; the message names the field."),
        (
            429,
            "The shop has as many unfinished jobs as it may, or a hard budget is spent; or, from this address, "
            "too many invalid keys.",
        ),
        (503, "Photo shoots are switched off for this shop."),
    ),
)
async def create_job(
    body: JobIn, auth: OperatorKey, session: Session, res: Annotated[Resources, Depends(resources)]
) -> JobOut:
    """Queue a shoot of one product; 404 for an unknown SKU, 422 for a bad brief, 429 past the shop's cap or once
    a hard budget of the shop is spent (`budget_exhausted`), 503 while the shop's photo shoots are switched off."""
    if body.brief.count > res.settings.imaging_max_count:
        raise ApiError(
            422,
            "invalid_brief",
            f"brief.count: {body.brief.count} images asked for; at most {res.settings.imaging_max_count} per job",
        )
    brief = StudioBrief(**body.brief.model_dump())
    try:
        job = await submit(
            session, res.settings, auth.caller.tenant_id, body.sku, brief, by=_by(auth), priority=body.priority
        )
    except ImagingRefused as exc:
        raise _refused(exc) from None
    await session.commit()
    await session.refresh(job)
    await dispatch(res.jobs, job)
    return job_out(job)


@router.get("/jobs/{job_id}", responses=error_responses(_NO_JOB))
async def get_job(job_id: uuid.UUID, auth: OperatorKey, session: Session) -> JobOut:
    """A job's state, every transition, its images and every scored candidate."""
    return job_out(await _job(auth, session, job_id))


@router.get(
    "/jobs/{job_id}/files/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}, **error_responses((404, "No such job, or no such file of it."))},
)
async def job_file(
    job_id: uuid.UUID,
    name: Annotated[str, Path(pattern=_FILE_NAME)],
    auth: OperatorKey,
    session: Session,
    res: Annotated[Resources, Depends(resources)],
) -> FileResponse:
    """One of the job's images; only for this shop's operator keys."""
    job = await _job(auth, session, job_id)
    path = res.settings.media_dir / str(job.tenant_id) / "photos" / str(job.id) / name
    if not path.is_file():
        raise ApiError(404, "not_found", f"name: photo job {job_id} has no file {name}")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


@router.post("/jobs/{job_id}/cancel", responses=error_responses(_NO_JOB, _NOT_READY))
async def cancel_job(job_id: uuid.UUID, auth: OperatorKey, session: Session) -> JobOut:
    """Stop a job that has not finished; its worker drops it before the next batch."""
    try:
        job = await cancel(session, auth.caller.tenant_id, job_id, by=_by(auth))
    except ImagingRefused as exc:
        raise _refused(exc) from None
    await session.commit()
    await session.refresh(job)
    return job_out(job)


async def _decide(
    job_id: uuid.UUID, number: int, approve: bool, body: DecisionIn | None, auth: OperatorKey, session: Session
) -> JobOut:
    try:
        job = await decide(
            session,
            auth.caller.tenant_id,
            job_id,
            number,
            approve=approve,
            by=_by(auth),
            reason=body.reason if body else None,
        )
    except ImagingRefused as exc:
        raise _refused(exc) from None
    await session.commit()
    return job_out(job)


_DECISION_ERRORS = error_responses(*BODY_ERRORS, (404, "No such job, or no such image of it."), _NOT_READY)
ImageNumber = Annotated[int, Path(ge=1, le=MAX_SHOTS, description="The image's number in `images`, from 1.")]


@router.post("/jobs/{job_id}/images/{number}/approve", responses=_DECISION_ERRORS)
async def approve_image(
    job_id: uuid.UUID, number: ImageNumber, auth: OperatorKey, session: Session, body: DecisionIn | None = None
) -> JobOut:
    """Approve one image of a finished job (numbered from 1, as `images` lists them)."""
    return await _decide(job_id, number, True, body, auth, session)


@router.post("/jobs/{job_id}/images/{number}/reject", responses=_DECISION_ERRORS)
async def reject_image(
    job_id: uuid.UUID, number: ImageNumber, auth: OperatorKey, session: Session, body: DecisionIn | None = None
) -> JobOut:
    """Reject one image of a finished job, optionally saying why."""
    return await _decide(job_id, number, False, body, auth, session)
