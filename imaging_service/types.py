"""The shapes the imaging service's parts pass to each other: layouts, render requests, brand rules, scores.

A job flows: reference photo → `compose.cut_out` (product mask) → `compose.place` (a `Placement` on the
output canvas) → a `Renderer` turns `RenderRequest`s into candidates (diffusers, or the compositor) →
`scoring.score` grades each candidate against the placed reference and the tenant's `BrandRules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class Placement:
    """Where the product sits on the output canvas."""

    width: int
    height: int
    box: tuple[int, int, int, int]
    """(left, top, right, bottom) of the product on the canvas, in pixels."""
    product: Image.Image
    """RGBA, canvas-sized: the cut-out product at `box`, transparent elsewhere."""

    @property
    def mask(self) -> Image.Image:
        """L, canvas-sized: 255 where the product is."""
        return self.product.getchannel("A")


@dataclass(frozen=True)
class BrandRules:
    """What a tenant's photos must respect; built from the tenant's brand kit."""

    palette: tuple[str, ...] = ("#FFFFFF",)
    """Background colours (`#RRGGBB`) the brand accepts; the first is the default studio background."""
    margin: float = 0.06
    """Logo-safe margin: the product must stay this fraction of the canvas away from every edge."""
    padding: float = 0.12
    """Room the compositor leaves around the product, as a fraction of the canvas's shorter side."""
    max_colour_distance: float = 60.0
    """Largest mean RGB distance of the background from its nearest palette colour that still passes."""


@dataclass(frozen=True)
class RenderRequest:
    """One job's share of a batch: `len(seeds)` images of one product in one scene."""

    job_id: str
    init_image: Image.Image
    """RGB, canvas-sized: the product placed on the plain brand background (what img2img starts from)."""
    mask: Image.Image
    """L, canvas-sized: 255 where the model may paint (everything but the product), 0 to keep."""
    prompt: str
    negative_prompt: str
    seeds: tuple[int, ...]
    background: str = "#FFFFFF"
    """The brief's background as `#RRGGBB` (the compositor paints it; diffusion is prompted with it)."""
    lora: str | None = None
    """A tenant LoRA (local path) for brand consistency, or None."""

    @property
    def size(self) -> tuple[int, int]:
        return self.init_image.size


class Renderer(Protocol):
    """Something that turns a batch of requests into candidate images (one list per request, one per seed)."""

    name: str
    """Recorded per image, e.g. `diffusers:/models/sd15` or `compositor`."""
    device: str
    """`cuda`, `cpu`: what the job is billed for (GPU or CPU seconds)."""

    def batch_key(self, request: RenderRequest) -> str:
        """Requests with equal keys may share one batch (same size, same LoRA, ...)."""
        ...

    def render(self, batch: list[RenderRequest]) -> list[list[Image.Image]]:
        """Blocking; the service runs it in a thread. Same order as `batch`."""
        ...


@dataclass(frozen=True)
class Scores:
    """One candidate's grades, each in [0, 1]; `passed` when every group clears its floor and `total` the threshold."""

    adherence: float
    """The product still looks like its reference: colour histogram, structure (SSIM) and edges inside the mask."""
    brand: float
    """Background within the palette, product clear of the logo-safe margins."""
    quality: float
    """Resolution, sharpness, exposure, not blank."""
    total: float
    passed: bool
    details: dict[str, float] = field(default_factory=dict)
    """Every sub-score by name, stored with the candidate."""
    reasons: tuple[str, ...] = ()
    """Why it failed, in words an operator understands; empty when it passed."""
