"""The imaging service end to end: the operator API, the queue, micro-batches, scoring, retries and the fallback.

Jobs go in through `POST /v1/images/jobs` and are done by a real imaging worker (the job queue on Redis) in this
process; the generated path uses a tiny random Stable Diffusion pipeline built and saved here, loaded from disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.llm_server import ScriptedLLMServer, reply
from hub.db import models as m
from hub.db.engine import session_factory
from hub.jobs import IMAGING, JobResources, events_channel
from hub.redis_conn import create_redis
from hub.seed.demo import DemoCredentials
from hub.seed.images import render_product_image
from hub.settings import Settings
from hub.status import platform_status
from hub.tenancy import admin
from hub.usage.billing import spend_keys
from imaging_service.batching import MicroBatcher
from imaging_service.compose import CompositorRenderer
from imaging_service.studio import Studio
from imaging_service.types import RenderRequest
from imaging_service.worker import STUDIO
from service.app import create_app
from service.workers import host, worker_queue

ROOT = Path(__file__).resolve().parents[2]
BRIEF = {"scene": "studio packshot", "background": "seamless pure white", "aspect": "1:1", "count": 2, "seed": 11}


@pytest.fixture
def imaging_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(
        update={"imaging_long_side": 256, "imaging_min_side": 128, "imaging_max_attempts": 2, "jobs_max_tries": 2}
    )


async def give_reference(session: AsyncSession, settings: Settings, demo: DemoCredentials, sku: str) -> m.Product:
    """Draw the product's reference photo where the catalog says it is (the `demo` fixture skips the photos)."""
    product = (
        await session.execute(
            select(m.Product).where(m.Product.tenant_id == uuid.UUID(demo.tenant_id), m.Product.sku == sku)
        )
    ).scalar_one()
    path = settings.media_dir / product.image_path
    path.parent.mkdir(parents=True, exist_ok=True)
    render_product_image(
        {
            "sku": product.sku,
            "title": product.title,
            "category": product.category,
            "attributes": product.attributes,
            "tags": product.tags,
        }
    ).save(path)
    await session.commit()  # no transaction left open: the app's Postgres checkpointer setup waits on those
    return product


class Imaging:
    """The app, its HTTP client, and imaging workers started on demand."""

    def __init__(self, app: Any, client: httpx.AsyncClient, settings: Settings, demo: DemoCredentials) -> None:
        self.app, self.client, self.settings, self.demo = app, client, settings, demo
        self.workers: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
        self.resources: list[JobResources] = []
        self.headers = {"X-Hub-Key": demo.operator_key}

    def start_worker(self, settings: Settings | None = None) -> None:
        queue = worker_queue(settings or self.settings, IMAGING)
        queue.provide("test_resources", self._keep)
        stop = asyncio.Event()
        self.workers.append((stop, asyncio.create_task(host(queue, stop))))

    @asynccontextmanager
    async def _keep(self, resources: JobResources) -> AsyncIterator[None]:
        self.resources.append(resources)
        yield

    async def stop_workers(self) -> None:
        for stop, _ in self.workers:
            stop.set()
        await asyncio.gather(*(task for _, task in self.workers))
        for res in self.resources:
            await res.extra[STUDIO].compositor.aclose()
            await res.gateway.aclose()
            await res.redis.aclose()
            await res.sessions.kw["bind"].dispose()
        self.workers.clear()
        self.resources.clear()

    async def post(self, sku: str, **brief: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/images/jobs", json={"sku": sku, "brief": {**BRIEF, **brief}}, headers=self.headers
        )

    async def finished(self, job_id: str, within_s: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            job = (await self.client.get(f"/v1/images/jobs/{job_id}", headers=self.headers)).json()
            if job["state"] in ("succeeded", "fallback", "failed", "cancelled"):
                return job
            await asyncio.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish within {within_s}s")


@asynccontextmanager
async def imaging_app(settings: Settings, demo: DemoCredentials) -> AsyncIterator[Imaging]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            harness = Imaging(app, client, settings, demo)
            try:
                yield harness
            finally:
                await harness.stop_workers()


async def test_bad_requests_are_refused_before_any_work_naming_the_field(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    async with imaging_app(imaging_settings, demo) as hub:
        body = {"sku": demo.sample_sku, "brief": BRIEF}
        assert (await hub.client.post("/v1/images/jobs", json=body)).status_code == 401
        shopper = await hub.client.post("/v1/images/jobs", json=body, headers={"X-Hub-Key": demo.storefront_key})
        assert shopper.status_code == 403
        unknown = await hub.post("SKU-NOPE")
        assert unknown.status_code == 404 and unknown.json()["error"]["message"].startswith("sku: Unknown SKU")
        aspect = await hub.post(demo.sample_sku, aspect="5:7")
        assert aspect.status_code == 422 and "brief.aspect" in aspect.json()["error"]["message"]
        many = await hub.post(demo.sample_sku, count=9)
        assert many.status_code == 422 and "brief.count: Input should be less than or equal to 8" in many.text
        other = (
            await session.execute(
                select(m.Product)
                .where(m.Product.sku != demo.sample_sku, m.Product.tenant_id == uuid.UUID(demo.tenant_id))
                .limit(1)
            )
        ).scalar_one()
        no_photo = await hub.post(other.sku)
        assert no_photo.status_code == 422 and "has no reference photo" in no_photo.text
    async with session_factory(engine)() as fresh:
        assert (await fresh.execute(select(m.ImageJob))).scalars().all() == [], "nothing was queued"


async def test_without_a_model_the_studio_compositor_makes_scored_photos_only_the_shop_can_fetch(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    redis = create_redis(imaging_settings.redis_url or "")
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel(demo.tenant_id))
    try:
        async with imaging_app(imaging_settings, demo) as hub:
            created = await hub.post(demo.sample_sku)
            assert created.status_code == 202 and created.json()["state"] == "queued"
            hub.start_worker()
            job = await hub.finished(created.json()["id"])
            assert job["state"] == "fallback", job
            assert [h["state"] for h in job["history"]] == ["queued", "running", "scoring", "fallback"]
            assert len(job["images"]) == 2 and all(i["passed"] and i["score"] >= 0.7 for i in job["images"])
            assert {i["seed"] for i in job["images"]} == {11, 12} and job["images"][0]["renderer"] == "compositor"

            photo = await hub.client.get(job["images"][0]["url"], headers=hub.headers)
            assert photo.status_code == 200 and photo.headers["content-type"] == "image/png"
            assert Image.open(__import__("io").BytesIO(photo.content)).size == (256, 256)
            shopper = await hub.client.get(job["images"][0]["url"], headers={"X-Hub-Key": demo.storefront_key})
            assert shopper.status_code == 403
            other_tenant = await _other_shop_operator_key(engine)
            foreign = await hub.client.get(job["images"][0]["url"], headers={"X-Hub-Key": other_tenant})
            assert foreign.status_code == 404

            approved = await hub.client.post(f"/v1/images/jobs/{job['id']}/images/1/approve", headers=hub.headers)
            assert approved.json()["images"][0]["decision"] == "approve"
            missing = await hub.client.post(f"/v1/images/jobs/{job['id']}/images/3/approve", headers=hub.headers)
            assert missing.status_code == 404 and "there is no image 3" in missing.text

            heard = await _events(pubsub)
            assert ["running", "scoring"] == [e["state"] for e in heard if e["kind"] == "photos.state"]
            assert next(e for e in heard if e["kind"] == "photos.finished")["images"] == [
                i["url"].replace(f"/v1/images/jobs/{job['id']}/files/", f"{demo.tenant_id}/photos/{job['id']}/")
                for i in job["images"]
            ]
    finally:
        await pubsub.aclose()
        await redis.aclose()
    async with session_factory(engine)() as fresh:
        usage = (
            (await fresh.execute(select(m.UsageRecord).where(m.UsageRecord.feature == "photography"))).scalars().all()
        )
    assert [(u.provider, u.outcome, u.request_id) for u in usage] == [("compositor", "fallback", job["id"])]
    assert usage[0].latency_ms >= 0 and usage[0].cost >= 0


async def _other_shop_operator_key(engine: AsyncEngine) -> str:
    async with session_factory(engine)() as session:
        tenant = await admin.create_tenant(session, name=f"Other {uuid.uuid4().hex[:6]}")
        _, key = await admin.issue_key(session, tenant_id=tenant.id, role=m.ApiKeyRole.OPERATOR)
        await session.commit()
        return key


async def _events(pubsub: Any) -> list[dict[str, Any]]:
    heard = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # an ignored subscribe confirmation also reads as None
        raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if raw is not None:
            heard.append(json.loads(raw["data"]))
    return heard


async def test_a_shop_past_its_cap_gets_429_and_a_cancelled_job_is_never_rendered(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    settings = imaging_settings.model_copy(update={"imaging_max_queued_per_tenant": 2})
    async with imaging_app(settings, demo) as hub:
        first, second = (await hub.post(demo.sample_sku)).json(), (await hub.post(demo.sample_sku)).json()
        refused = await hub.post(demo.sample_sku)
        assert refused.status_code == 429
        assert "already has 2 photo jobs waiting or running (the cap is 2)" in refused.json()["error"]["message"]
        cancelled = await hub.client.post(f"/v1/images/jobs/{first['id']}/cancel", headers=hub.headers)
        assert cancelled.json()["state"] == "cancelled"
        again = await hub.client.post(f"/v1/images/jobs/{first['id']}/cancel", headers=hub.headers)
        assert again.status_code == 409
        hub.start_worker()
        assert (await hub.finished(second["id"]))["state"] == "fallback"
        first_now = await hub.finished(first["id"])
        assert first_now["state"] == "cancelled" and first_now["images"] == [] and first_now["attempts"] == 0


async def test_photo_spend_counts_against_the_shops_budget_for_photos_and_model_calls_alike(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession
) -> None:
    """Photo seconds are billed where model calls are: once a hard budget is spent on photos, the next shoot is
    refused, a queued one fails before it renders, the shop's chat gets no model, and `hub status` agrees."""
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    tenant_id = uuid.UUID(demo.tenant_id)
    with ScriptedLLMServer(default=reply("We have hoodies in stock.")) as llm:
        settings = imaging_settings.model_copy(
            update={"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k"), "llm_model": "model-a"}
        )
        async with imaging_app(settings, demo) as hub:
            first = (await hub.post(demo.sample_sku)).json()
            hub.start_worker()
            assert (await hub.finished(first["id"]))["state"] == "fallback"
            await hub.stop_workers()
            queued = await hub.post(demo.sample_sku)
            assert queued.status_code == 202, "no budget is set yet"
            budget = {"settings": {"budgets": {"daily_hard": "0.00000001"}}}
            patched = await hub.client.patch("/v1/tenant", json=budget, headers={"X-Hub-Key": demo.admin_key})
            assert patched.status_code == 200, patched.text

            refused = await hub.post(demo.sample_sku)
            assert refused.status_code == 429, refused.text
            error = refused.json()["error"]
            assert error["code"] == "budget_exhausted" and "daily budget of $0.00000001 spent" in error["message"]
            hub.start_worker()
            stopped = await hub.finished(queued.json()["id"])
            assert stopped["state"] == "failed" and stopped["images"] == [] and stopped["attempts"] == 0
            assert stopped["error"].startswith("budget_exhausted: daily budget of $0.00000001 spent")

            chat = await hub.client.post(
                "/v1/chat",
                json={"session_id": "budget", "message": "do you have hoodies?"},
                headers={"X-Hub-Key": demo.storefront_key},
            )
            assert chat.status_code == 200 and chat.json()["engine"] == "deterministic"
            assert llm.requests == [], "the guard refused the model call: the photo spend is in its counters"
            redis = hub.app.state.resources.redis
            async with session_factory(engine)() as fresh:
                status = await platform_status(fresh, redis, settings, tenant_id)
                photos = (
                    await fresh.execute(
                        select(func.sum(m.UsageRecord.cost)).where(m.UsageRecord.feature == "photography")
                    )
                ).scalar_one()
            counted = Decimal(await redis.get(spend_keys(tenant_id, datetime.now(UTC))[0]))
    [shop] = status.tenants
    assert shop.budget == "exhausted" and shop.spent_today == photos > 0
    assert abs(counted - shop.spent_today) < Decimal("1e-12"), "the guard's counter and hub status read one spend"


# --- generation, retries, micro-batches ------------------------------------------------------------------


class Scripted:
    """A renderer whose first round misses (noise where the product was) and whose later rounds are clean."""

    name = "scripted"
    device = "cpu"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.clean = CompositorRenderer()

    def batch_key(self, request: RenderRequest) -> str:
        return f"{request.size}"

    def render(self, batch: list[RenderRequest]) -> list[list[Image.Image]]:
        self.calls.append(sum(len(r.seeds) for r in batch))
        good = self.clean.render(batch)
        if len(self.calls) > 1:
            return good
        noise = np.random.default_rng(0).integers(0, 255, (*batch[0].size[::-1], 3), dtype=np.uint8)
        return [[Image.fromarray(noise) for _ in r.seeds] for r in batch]


async def test_a_round_that_misses_is_rejected_and_regenerated_until_a_shot_passes(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    async with imaging_app(imaging_settings, demo) as hub:
        job = (await hub.post(demo.sample_sku)).json()
    renderer = Scripted()
    published: list[dict[str, Any]] = []

    async def publish(tenant_id: object, event: dict[str, Any]) -> None:
        published.append(event)

    sessions = session_factory(engine)
    redis = create_redis(imaging_settings.redis_url or "")
    studio = Studio(
        imaging_settings,
        sessions,
        redis,
        publish,
        compositor=MicroBatcher(CompositorRenderer(), max_images=8, wait_s=0),
        generator=MicroBatcher(renderer, max_images=8, wait_s=0),
        rng=random.Random(0),
    )
    try:
        summary = await studio.run(uuid.UUID(job["id"]))
    finally:
        await redis.aclose()
    assert summary["state"] == "succeeded" and renderer.calls == [2, 2]
    async with sessions() as fresh:
        row = await fresh.get(m.ImageJob, uuid.UUID(job["id"]))
    states = [h["state"] for h in row.history]
    assert states == ["queued", "running", "scoring", "retrying", "scoring", "succeeded"]
    retry = row.history[3]
    assert retry["round"] == 1 and retry["reasons"], "the retry says why the first round was rejected"
    assert [c["round"] for c in row.result["candidates"]] == [1, 1, 2, 2]
    assert [c["passed"] for c in row.result["candidates"]] == [False, False, True, True]
    assert {i["round"] for i in row.result["images"]} == {2} and {i["seed"] for i in row.result["images"]} == {13, 14}
    assert (await studio.run(uuid.UUID(job["id"])))["rerun"] is True and renderer.calls == [2, 2]
    assert published[-1]["kind"] == "photos.finished" and published[-1]["state"] == "succeeded"
    async with sessions() as fresh:
        usage = (await fresh.execute(select(m.UsageRecord).order_by(m.UsageRecord.id))).scalars().all()
    assert [(u.attempt, u.outcome) for u in usage] == [(1, "invalid_output"), (2, "ok")]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    from imaging_service.tiny import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "model")


def with_tiny_model(settings: Settings, model: Path, **more: Any) -> Settings:
    """Generate with the tiny pipeline at 64 px (scored against a 32 px floor)."""
    update = {"imaging_model": str(model), "imaging_steps": 2, "imaging_long_side": 64, "imaging_min_side": 32}
    return settings.model_copy(update={**update, **more})


async def test_concurrent_jobs_share_one_gpu_batch_and_random_weights_end_in_the_fallback(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession, tiny_model: Path
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    settings = with_tiny_model(
        imaging_settings, tiny_model, imaging_batch_wait_ms=500.0, imaging_max_running_per_tenant=2
    )
    async with imaging_app(settings, demo) as hub:
        jobs = [(await hub.post(demo.sample_sku, seed=seed)).json() for seed in (1, 100)]
        hub.start_worker()
        done = [await hub.finished(job["id"], within_s=120) for job in jobs]
        batcher = hub.resources[0].extra[STUDIO].generator
        assert batcher is not None and batcher.renderer.name == f"diffusers:{tiny_model}"
        assert batcher.stats.sizes[0] == 4, f"both jobs' first rounds ran as one batch: {batcher.stats.sizes}"
    for job in done:
        rounds = [c["round"] for c in job["candidates"] if c["renderer"] != "compositor"]
        assert job["state"] in ("succeeded", "fallback"), job
        if job["state"] == "fallback":  # random weights paint noise: every round is rejected, then the compositor
            assert rounds == [1, 1, 2, 2] and all(i["renderer"] == "compositor" for i in job["images"])
        assert all(i["passed"] for i in job["images"]) and job["attempts"] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_killed_mid_job_loses_nothing_and_the_job_finishes_exactly_once(
    imaging_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, session: AsyncSession, tiny_model: Path
) -> None:
    await give_reference(session, imaging_settings, demo, demo.sample_sku)
    settings = with_tiny_model(
        imaging_settings,
        tiny_model,
        imaging_steps=200,  # long enough to be killed in the middle of a round
        imaging_idle_timeout_s=2.0,
        log_level="WARNING",  # the worker's stderr is a pipe, read only if it dies
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {f"HUB_{k.upper()}": str(v) for k, v in settings.model_dump(mode="json").items() if _plain(v)}
    async with imaging_app(settings, demo) as hub:
        job = (await hub.post(demo.sample_sku)).json()
        doomed = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub",
            "worker",
            "imaging",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await _until(lambda: _state(hub, job["id"]), lambda state: state == "running", within_s=120, proc=doomed)
            await asyncio.sleep(0.5)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
        finally:
            if doomed.returncode is None:
                doomed.kill()
                await doomed.wait()
        assert await _state(hub, job["id"]) in ("running", "scoring"), "the killed worker did not finish it"
        hub.start_worker(settings.model_copy(update={"imaging_steps": 2}))
        done = await hub.finished(job["id"], within_s=120)
    assert done["state"] in ("succeeded", "fallback") and done["attempts"] == 2, "taken twice: killed, then rescued"
    finished = [h for h in done["history"] if h["state"] in ("succeeded", "fallback", "failed")]
    assert len(finished) == 1 and len(done["images"]) == 2
    photos = imaging_settings.media_dir / demo.tenant_id / "photos" / job["id"]
    assert sorted(p.name for p in photos.iterdir() if p.suffix == ".png") == sorted(
        c["url"].rsplit("/", 1)[-1] for c in done["candidates"]
    ), "a rerun overwrote the killed try's files instead of adding to them"


def _plain(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list))


async def _state(hub: Imaging, job_id: str) -> str:
    return (await hub.client.get(f"/v1/images/jobs/{job_id}", headers=hub.headers)).json()["state"]


async def _until(read: Any, check: Any, within_s: float, proc: asyncio.subprocess.Process) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and proc.returncode is None:
        if check(value := await read()):
            return value
        await asyncio.sleep(0.1)
    if proc.returncode is not None:
        raise AssertionError(f"the worker exited: {(await proc.communicate())[1].decode()[-2000:]}")
    raise AssertionError(f"not reached within {within_s}s (last: {value})")
