"""Group concurrent render requests into one GPU batch, then hand each job its own images back.

Jobs run concurrently in the worker (one asyncio task each); each `submit`s its request and awaits the result.
Requests with the same `Renderer.batch_key` (same size, same LoRA) wait together up to `wait_s` for company, and
a batch goes as soon as it holds `max_images` images. Batches run one at a time on the renderer (one GPU) in a
thread, so the event loop keeps heartbeating and taking jobs while the GPU works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from PIL import Image

from imaging_service.types import Renderer, RenderRequest

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Rendered:
    """One request's images, and its share of the batch's compute time (split by image count)."""

    images: list[Image.Image]
    seconds: float
    batch_images: int
    """How many images the whole batch held: 1 means the job ran alone."""


@dataclass
class _Pending:
    request: RenderRequest
    future: asyncio.Future[Rendered]


@dataclass
class _Group:
    items: list[_Pending] = field(default_factory=list)
    flush: asyncio.TimerHandle | None = None

    @property
    def images(self) -> int:
        return sum(len(p.request.seeds) for p in self.items)


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    sizes: list[int] = field(default_factory=list)


class MicroBatcher:
    def __init__(
        self, renderer: Renderer, *, max_images: int, wait_s: float, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.renderer = renderer
        self.max_images = max_images
        self.wait_s = wait_s
        self.stats = BatchStats()
        self._clock = clock
        self._groups: dict[str, _Group] = {}
        self._gpu = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, request: RenderRequest) -> Rendered:
        """Render one request, batched with whatever else arrives meanwhile."""
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        key = self.renderer.batch_key(request)
        group = self._groups.setdefault(key, _Group())
        if group.items and group.images + len(request.seeds) > self.max_images:
            self._launch(key)  # this request would overflow the batch: send what waits, start a new one
            group = self._groups.setdefault(key, _Group())
        group.items.append(_Pending(request, future))
        if group.images >= self.max_images:
            self._launch(key)
        elif group.flush is None:
            group.flush = asyncio.get_running_loop().call_later(self.wait_s, self._launch, key)
        return await future

    def _launch(self, key: str) -> None:
        group = self._groups.pop(key, None)
        if group is None or not group.items:
            return
        if group.flush is not None:
            group.flush.cancel()
        task = asyncio.create_task(self._run(group.items), name=f"render-batch:{key}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, items: list[_Pending]) -> None:
        batch = [p.request for p in items]
        total = sum(len(r.seeds) for r in batch)
        try:
            async with self._gpu:
                started = self._clock()
                results = await asyncio.to_thread(self.renderer.render, batch)
                seconds = self._clock() - started
        except Exception as exc:  # every job in the batch learns why, and retries on its own
            for pending in items:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self.stats.batches += 1
        self.stats.images += total
        self.stats.sizes.append(total)
        log.info("render_batch", renderer=self.renderer.name, jobs=len(items), images=total, seconds=round(seconds, 3))
        for pending, images in zip(items, results, strict=True):
            if not pending.future.done():
                share = seconds * len(pending.request.seeds) / total
                pending.future.set_result(Rendered(images, share, total))

    async def aclose(self) -> None:
        for key in list(self._groups):
            self._launch(key)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
