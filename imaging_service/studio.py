"""Run one photo job: place the product, generate, score, regenerate, fall back, store, bill, tell the console.

`Studio.run(job_id)` is the whole job and is safe to run twice (at-least-once delivery): the `image_jobs` row is
the truth, a finished or cancelled job is left as it is, and every file is written under the job's own folder
with a name fixed by its round and position, so a rerun overwrites rather than adds.

States, each recorded with a timestamp: queued → running → scoring → (retrying → running → scoring)* →
succeeded | fallback | failed (or cancelled by an operator). A generation round renders `count` candidates
(micro-batched with other jobs on the GPU); each is scored, and the job stops as soon as enough pass. When no
generated candidate passes after `imaging_max_attempts` rounds, or no diffusion model is configured (the
embedded default), the studio compositor renders the shots, which are scored by the same rules. Only passing
images reach the operator; every candidate's scores are kept. Compute time is billed per round under the
`photography` feature through the same path as model calls (`hub.usage.billing.bill`: the usage row and the spend
counters budgets read), and a job whose shop has spent a hard budget fails before it renders anything.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import models as m
from hub.gateway.guards import Refusal
from hub.imaging import FINISHED, StudioBrief, finished_event, over_budget, reference_path, transition
from hub.metrics import observe_usage
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.usage.billing import bill
from imaging_service import compose
from imaging_service.batching import MicroBatcher, Rendered
from imaging_service.scoring import score
from imaging_service.types import BrandRules, Placement, RenderRequest, Scores

log = structlog.get_logger(__name__)

FEATURE = "photography"
PRICE_VERSION = "imaging-1"
ROW_WAIT_S = 60.0
"""How long a task waits for its job's row: the agent's tool queues the task before its turn commits."""
RUNNING_STATES = frozenset({m.ImageJobState.RUNNING, m.ImageJobState.SCORING, m.ImageJobState.RETRYING})
COLOURS = {
    "white": "#FFFFFF",
    "black": "#111111",
    "grey": "#9CA3AF",
    "gray": "#9CA3AF",
    "beige": "#E8DCC4",
    "cream": "#F5EFE0",
    "ivory": "#FFFFF0",
    "pink": "#F9D5E0",
    "blue": "#BFDBFE",
    "navy": "#1E3A5F",
    "green": "#C7E3C9",
    "yellow": "#FDE9A8",
    "red": "#E35D5B",
    "orange": "#F8C38A",
    "sand": "#E6D5B8",
}
"""Backgrounds a brief can name in words; anything else gets the brand's studio default."""

Publish = Callable[[uuid.UUID, dict[str, Any]], Awaitable[None]]


class Deferred(Exception):
    """The shop already has its cap of jobs running: try this one again a little later."""


@dataclass
class Candidate:
    path: str
    seed: int
    round: int
    renderer: str
    scores: Scores

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "seed": self.seed,
            "round": self.round,
            "renderer": self.renderer,
            "score": round(self.scores.total, 4),
            "passed": self.scores.passed,
            "scores": {
                "adherence": round(self.scores.adherence, 4),
                "brand": round(self.scores.brand, 4),
                "quality": round(self.scores.quality, 4),
                **{k: round(v, 4) for k, v in self.scores.details.items()},
            },
            "reasons": list(self.scores.reasons),
        }


PLAIN_WORDS = frozenset("plain pure clean seamless solid simple studio packshot backdrop background".split())
ANY_BACKGROUND = 442.0
"""The largest RGB distance there is: a scene's backdrop is judged by the scene, not by the palette."""


def background_colour(brief: StudioBrief, palette: list[str]) -> str:
    """The backdrop colour a brief asks for in words (`on white`, `a pink backdrop`), else the brand default."""
    words = f"{brief.background} {brief.scene}".lower().replace("-", " ").split()
    for word in words:
        if word in COLOURS:
            return COLOURS[word]
    return palette[0]


def is_scene(brief: StudioBrief) -> bool:
    """A lifestyle scene (`a marble counter`), as opposed to a plain studio backdrop in one colour."""
    words = set(brief.background.lower().replace("-", " ").split())
    return not words <= (PLAIN_WORDS | set(COLOURS))


def brand_rules(config: TenantConfig, brief: StudioBrief, background: str) -> BrandRules:
    """The brand's palette (plus a colour the brief names) for studio shots; margins always."""
    palette = tuple(dict.fromkeys([background, *config.brand.photo_palette]))
    if is_scene(brief):
        return BrandRules(palette=palette, max_colour_distance=ANY_BACKGROUND)
    return BrandRules(palette=palette)


def prompt_for(brief: StudioBrief, product: m.Product) -> str:
    parts = [f"{product.title}", brief.scene, f"{brief.background} background", brief.style_notes]
    return ", ".join(p for p in parts if p) + ", professional product photography"


@dataclass
class Studio:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    """Where the spend counters live that budgets read; every round is billed to them."""
    publish: Publish
    compositor: MicroBatcher
    generator: MicroBatcher | None = None
    """Diffusion, when `HUB_IMAGING_MODEL` is set; None means the compositor makes every photo."""
    rng: random.Random | None = None

    async def run(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Do the job; return a short summary (the queue keeps it as the task's result)."""
        job = await self._wait_for_row(job_id)
        if job is None:
            log.warning("photo_job_missing", job_id=str(job_id))
            return {"job_id": str(job_id), "state": "missing"}
        if job.state in FINISHED:
            return {"job_id": str(job_id), "state": str(job.state), "rerun": True}
        async with self.sessions() as session:
            spent = await over_budget(session, job.tenant_id)
        if spent is not None:
            return await self._finish(
                job_id, m.ImageJobState.FAILED, [], [], error=f"{Refusal.BUDGET_EXHAUSTED}: {spent}"
            )
        async with self.sessions() as session:
            job, product, config = await self._start(session, job_id)
            reference = Image.open(self._reference(product)).convert("RGBA")
        brief = StudioBrief.model_validate(job.brief)
        background = background_colour(brief, config.brand.photo_palette)
        rules = brand_rules(config, brief, background)
        width, height = compose.canvas_size(brief.aspect.value, self.settings.imaging_long_side)
        placement = await asyncio.to_thread(_placement, reference, width, height, rules)
        base_seed = brief.seed if brief.seed is not None else (self.rng or random.SystemRandom()).randrange(2**31)
        init, mask = compose.init_and_mask(placement, background)
        candidates: list[Candidate] = []
        if self.generator is not None:
            lora = self._lora(config)
            for round_no in range(1, self.settings.imaging_max_attempts + 1):
                if await self._cancelled(job_id):
                    return {"job_id": str(job_id), "state": "cancelled"}
                seeds = tuple(base_seed + (round_no - 1) * brief.count + i for i in range(brief.count))
                request = RenderRequest(
                    job_id=str(job_id),
                    init_image=init,
                    mask=mask,
                    prompt=prompt_for(brief, product),
                    negative_prompt=brief.negative_prompt,
                    seeds=seeds,
                    background=background,
                    lora=lora,
                )
                rendered = await self.generator.submit(request)
                batch = await self._scored(job, round_no, "r", rendered, seeds, placement, rules, self.generator)
                candidates += batch
                if sum(c.scores.passed for c in candidates) >= brief.count:
                    break
                if round_no < self.settings.imaging_max_attempts:
                    reasons = sorted({r for c in batch if not c.scores.passed for r in c.scores.reasons})
                    await self._move(job_id, m.ImageJobState.RETRYING, round=round_no, reasons=reasons[:5])
        passing = sorted((c for c in candidates if c.scores.passed), key=lambda c: -c.scores.total)
        if passing:
            return await self._finish(job_id, m.ImageJobState.SUCCEEDED, passing[: brief.count], candidates)
        if await self._cancelled(job_id):
            return {"job_id": str(job_id), "state": "cancelled"}
        seeds = tuple(base_seed + i for i in range(brief.count))
        request = RenderRequest(
            job_id=str(job_id),
            init_image=init,
            mask=mask,
            prompt="",
            negative_prompt="",
            seeds=seeds,
            background=background,
        )
        rendered = await self.compositor.submit(request)
        fallback = await self._scored(job, 0, "fallback", rendered, seeds, placement, rules, self.compositor)
        candidates += fallback
        usable = sorted((c for c in fallback if c.scores.passed), key=lambda c: -c.scores.total)
        if usable:
            return await self._finish(job_id, m.ImageJobState.FALLBACK, usable, candidates)
        reasons = sorted({r for c in fallback for r in c.scores.reasons})
        error = "no candidate reached the score threshold: " + "; ".join(reasons[:5])
        return await self._finish(job_id, m.ImageJobState.FAILED, [], candidates, error=error)

    # --- steps --------------------------------------------------------------------------------------

    async def _wait_for_row(self, job_id: uuid.UUID) -> m.ImageJob | None:
        deadline = asyncio.get_running_loop().time() + ROW_WAIT_S
        while True:
            async with self.sessions() as session:
                job = await session.get(m.ImageJob, job_id)
            if job is not None or asyncio.get_running_loop().time() > deadline:
                return job
            await asyncio.sleep(0.2)

    async def _start(self, session: AsyncSession, job_id: uuid.UUID) -> tuple[m.ImageJob, m.Product, TenantConfig]:
        """Take the job (queued → running) unless the shop has its cap of jobs running already."""
        job = await session.get(m.ImageJob, job_id, with_for_update=True)
        assert job is not None
        await session.get(m.Tenant, job.tenant_id, with_for_update=True)  # one cap check per shop at a time
        tenant = await session.get(m.Tenant, job.tenant_id)
        running = (
            await session.execute(
                select(func.count())
                .select_from(m.ImageJob)
                .where(
                    m.ImageJob.tenant_id == job.tenant_id,
                    m.ImageJob.state.in_(RUNNING_STATES),
                    m.ImageJob.id != job.id,
                )
            )
        ).scalar_one()
        if job.state == m.ImageJobState.QUEUED and running >= self.settings.imaging_max_running_per_tenant:
            await session.rollback()
            raise Deferred(f"{running} photo jobs of this shop are running")
        product = (
            await session.execute(
                select(m.Product).where(m.Product.tenant_id == job.tenant_id, m.Product.sku == job.sku)
            )
        ).scalar_one()
        job.attempts += 1  # a rerun after a crash counts too
        transition(job, m.ImageJobState.RUNNING, attempt=job.attempts)
        await session.commit()
        await self._announce(job)
        assert tenant is not None
        return job, product, TenantConfig.model_validate(tenant.settings)

    def _reference(self, product: m.Product) -> Path:
        path = reference_path(self.settings, product)
        if path is None:
            raise FileNotFoundError(f"SKU {product.sku!r} lost its reference photo")
        return path

    def _lora(self, config: TenantConfig) -> str | None:
        if not config.brand.photo_lora:
            return None
        return str((self.settings.media_dir / config.brand.photo_lora).resolve())

    async def _cancelled(self, job_id: uuid.UUID) -> bool:
        async with self.sessions() as session:
            state = (await session.execute(select(m.ImageJob.state).where(m.ImageJob.id == job_id))).scalar_one()
        return state == m.ImageJobState.CANCELLED

    async def _move(self, job_id: uuid.UUID, state: m.ImageJobState, **detail: Any) -> None:
        async with self.sessions() as session:
            job = await session.get(m.ImageJob, job_id, with_for_update=True)
            assert job is not None
            if job.state == m.ImageJobState.CANCELLED:
                return
            transition(job, state, **detail)
            await session.commit()
            await self._announce(job)

    async def _scored(
        self,
        job: m.ImageJob,
        round_no: int,
        prefix: str,
        rendered: Rendered,
        seeds: tuple[int, ...],
        placement: Placement,
        rules: BrandRules,
        batcher: MicroBatcher,
    ) -> list[Candidate]:
        """Score and store one round's images, and bill its compute."""
        await self._move(job.id, m.ImageJobState.SCORING, round=round_no)
        folder = self.settings.media_dir / str(job.tenant_id) / "photos" / str(job.id)
        tag = f"r{round_no}" if prefix == "r" else prefix
        out = []
        for n, (image, seed) in enumerate(zip(rendered.images, seeds, strict=True), start=1):
            scores = await asyncio.to_thread(
                score,
                image,
                placement,
                rules,
                threshold=self.settings.imaging_threshold,
                min_side=self.settings.imaging_min_side,
            )
            relative = f"{job.tenant_id}/photos/{job.id}/{tag}-{n}.png"
            await asyncio.to_thread(_save, image, folder / f"{tag}-{n}.png")
            out.append(Candidate(relative, seed, round_no, batcher.renderer.name, scores))
        await self._bill(job, round_no, rendered, batcher, any(c.scores.passed for c in out), prefix == "fallback")
        return out

    async def _bill(
        self, job: m.ImageJob, round_no: int, rendered: Rendered, batcher: MicroBatcher, passed: bool, fallback: bool
    ) -> None:
        gpu = batcher.renderer.device == "cuda"
        price = self.settings.imaging_gpu_second_usd if gpu else self.settings.imaging_cpu_second_usd
        cost = (Decimal(str(rendered.seconds)) * price).quantize(Decimal("0.00000001"))
        outcome = (
            m.UsageOutcome.FALLBACK if fallback else (m.UsageOutcome.OK if passed else m.UsageOutcome.INVALID_OUTPUT)
        )
        row = {
            "ts": datetime.now(UTC),
            "tenant_id": job.tenant_id,
            "feature": FEATURE,
            "provider": "compositor" if fallback else "diffusers",
            "model": batcher.renderer.name[:128],
            "prompt_id": None,
            "prompt_version": None,
            "input_tokens": 0,
            "output_tokens": 0,
            "tokens_estimated": False,
            "latency_ms": round(rendered.seconds * 1000),
            "cost": cost,
            "request_id": str(job.id),
            "trace_id": None,
            "attempt": max(round_no, 1),
            "outcome": outcome,
            "price_version": PRICE_VERSION,
            "error": None if passed else "no candidate passed scoring",
            "replay_of": None,
        }
        await bill(self.sessions.kw["bind"], self.redis, [row])
        observe_usage(row)

    async def _finish(
        self,
        job_id: uuid.UUID,
        state: m.ImageJobState,
        chosen: list[Candidate],
        candidates: list[Candidate],
        *,
        error: str | None = None,
    ) -> dict[str, Any]:
        async with self.sessions() as session:
            job = await session.get(m.ImageJob, job_id, with_for_update=True)
            assert job is not None
            if job.state == m.ImageJobState.CANCELLED:
                return {"job_id": str(job_id), "state": "cancelled"}
            job.result = {
                "images": [c.as_json() for c in chosen],
                "candidates": [c.as_json() for c in candidates],
            }
            job.error = error
            transition(job, state, images=len(chosen), candidates=len(candidates))
            await session.commit()
            await self.publish(job.tenant_id, finished_event(job))
        log.info("photo_job_finished", job_id=str(job_id), state=str(state), images=len(chosen))
        return {"job_id": str(job_id), "state": str(state), "images": len(chosen), "candidates": len(candidates)}

    async def _announce(self, job: m.ImageJob) -> None:
        await self.publish(
            job.tenant_id,
            {"kind": "photos.state", "job_id": str(job.id), "sku": job.sku, "state": str(job.state)},
        )

    async def fail(self, job_id: uuid.UUID, error: str) -> None:
        """Mark a job failed after its last try raised (the queue dead-letters the task)."""
        async with self.sessions() as session:
            job = await session.get(m.ImageJob, job_id, with_for_update=True)
            if job is None or job.state in FINISHED:
                return
            job.error = error[:2000]
            transition(job, m.ImageJobState.FAILED, error=error[:300])
            await session.commit()
            await self.publish(job.tenant_id, finished_event(job))


def _placement(reference: Image.Image, width: int, height: int, rules: BrandRules) -> Placement:
    return compose.place(reference, compose.cut_out(reference), width, height, rules)


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    image.convert("RGB").save(partial, format="PNG")
    partial.replace(path)
