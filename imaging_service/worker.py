"""The imaging worker: the `IMAGING` queue's task, and the studio (renderers, batchers) it keeps loaded.

`hub worker imaging` (and, in the embedded default, `hub serve`) runs the queue `register_jobs` fills. The studio
is built once per worker: the compositor always, and the diffusion pipeline when `HUB_IMAGING_MODEL` is set (loaded
before the first job, so a bad model path stops the worker at start with the setting's name).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import structlog

from hub.imaging import RENDER_TASK
from hub.jobs import JobQueue, JobResources
from hub.settings import Settings
from imaging_service.batching import MicroBatcher
from imaging_service.compose import CompositorRenderer
from imaging_service.studio import Deferred, Studio

log = structlog.get_logger(__name__)

STUDIO = "imaging_studio"
"""`JobResources.extra` key of the worker's studio."""
RENDER_TIMEOUT_S = 1800
DEFER_S = 3.0
"""How long a job waits before trying again when its shop already has its cap of jobs running."""


def diffusion_renderer(settings: Settings) -> Any:
    """The configured diffusion renderer (imports torch and diffusers: only called when a model is set)."""
    from imaging_service.pipelines import DiffusionConfig, DiffusionRenderer, check_model

    config = DiffusionConfig(
        model=str(settings.imaging_model),
        mode=settings.imaging_mode,
        controlnet=settings.imaging_controlnet,
        ip_adapter=settings.imaging_ip_adapter,
        steps=settings.imaging_steps,
        dtype=settings.imaging_dtype,
        device=settings.imaging_device,
        compile=settings.imaging_compile,
    )
    check_model(config)
    return DiffusionRenderer(config)


@asynccontextmanager
async def open_studio(resources: JobResources, *, queue: JobQueue) -> AsyncIterator[Studio]:
    settings = resources.settings
    compositor = MicroBatcher(CompositorRenderer(), max_images=settings.imaging_batch_size, wait_s=0.0)
    generator = None
    if settings.imaging_model:
        renderer = diffusion_renderer(settings)
        await asyncio.to_thread(renderer.load)
        generator = MicroBatcher(
            renderer, max_images=settings.imaging_batch_size, wait_s=settings.imaging_batch_wait_ms / 1000
        )
        log.info("imaging_model_loaded", renderer=renderer.name, device=renderer.device)
    studio = Studio(settings, resources.sessions, resources.redis, queue.publish, compositor, generator)
    try:
        yield studio
    finally:
        with anyio.CancelScope(shield=True):  # a worker stops by cancelling its lifespan
            await compositor.aclose()
            if generator is not None:
                await generator.aclose()


def register_jobs(queue: JobQueue) -> None:
    """Register the render task and the studio its worker keeps open."""
    queue.provide(STUDIO, partial(open_studio, queue=queue))

    @queue.task(RENDER_TASK, timeout_s=RENDER_TIMEOUT_S)
    async def imaging_render(job_id: str) -> dict[str, Any]:
        studio: Studio = queue.resources.extra[STUDIO]
        try:
            return await studio.run(uuid.UUID(job_id))
        except Deferred as waiting:
            log.info("photo_job_deferred", job_id=job_id, reason=str(waiting))
            await queue.enqueue(RENDER_TASK, job_id, delay_s=DEFER_S)
            return {"job_id": job_id, "state": "deferred"}
        except Exception as exc:
            if queue.last_try:
                await studio.fail(uuid.UUID(job_id), f"{type(exc).__name__}: {exc}")
            raise
