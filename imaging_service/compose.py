"""Cut the product out of its reference photo and compose studio packshots on the brand background, on CPU.

The cut-out is classical segmentation, tuned for shop photos on a light, plain or graded backdrop:

1. An RGBA reference with real transparency already says where the product is: its alpha is the mask.
2. Otherwise the backdrop is modelled as a smooth colour ramp (a plane per channel) fitted robustly to the
   photo's border, so gradients and falloff are background rather than product.
3. Each pixel's CIELAB distance from that model counts a darkening only at `SHADOW_LIGHTNESS_WEIGHT`,
   because cast shadows change lightness far more than hue; hysteresis between a fixed floor and Otsu's
   threshold keeps what is clearly not backdrop, plus what is connected to it.
4. Colour alone misses pale products on pale backdrops, so strong colour edges (Sobel on CIELAB) are added:
   their closed outlines are filled, which recovers a white tee's interior from its contour. Thresholds
   rise with the border's noise, and a noisy photo is lightly smoothed first.
5. Filled holes that look like bare backdrop (bag handles, a mug's handle) are opened again; specks are
   dropped; edges spread a couple of pixels, so the outline is pulled back in; a slight feather softens it.

Nothing here ever returns an empty mask: when there is no studio backdrop to cut from, or what stands out
from it is implausibly small, the whole reference is the product (and a warning is logged), so a job still
gets a usable, if plain, image.

The compositor places the cut-out like a marketplace packshot (centred, a little below the middle, clear
of the logo-safe margin), paints the brand colour, adds a soft contact shadow and pastes the product.
`CompositorRenderer` does the same for `RenderRequest`s: it is the embedded default and the GPU fallback.
"""

from __future__ import annotations

import logging
import math
import random
import re
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from scipy import ndimage as ndi
from skimage import color, filters, morphology

from imaging_service.types import BrandRules, Placement, RenderRequest

logger = logging.getLogger(__name__)

RGB = tuple[int, int, int]

WORK_SIDE = 512
"""Segmentation runs with the reference's longer side at most this many pixels; the mask is scaled back up."""
BORDER = 0.02
"""Width of the border strip the backdrop is learned from, as a fraction of the shorter side."""
QUIET = 1.0
"""Border noise, in 8-bit levels, above which the photo is smoothed before measuring distances and edges."""
SMOOTH = 1.0
"""Gaussian sigma, in working pixels, of that smoothing against sensor and JPEG noise."""
MIN_BACKDROP = 0.5
"""Below this fraction of border pixels fitting one smooth ramp, there is no studio backdrop to cut from."""
SHADOW_LIGHTNESS_WEIGHT = 0.35
"""How much a pixel being darker than the backdrop counts, relative to a change of hue: shadows only darken."""
COLOUR_FLOOR = 9.0
"""Smallest CIELAB distance from the backdrop that can be product, above the photo's own noise."""
EDGE_FLOOR = 2.0
"""Smallest colour gradient (Sobel on CIELAB) that can be a product outline, above the photo's own noise."""
NOISE_FACTOR = 2.0
"""Thresholds stay this many times above the border's 95th-percentile distance and gradient."""
CLOSING_RADIUS = 2
"""Outline gaps up to about twice this many pixels are bridged before filling."""
EDGE_SPREAD = 2
"""Pixels an edge response reaches past the true outline; the filled outline is pulled back by this much."""
MIN_HOLE = 0.0005
"""Enclosed regions smaller than this fraction of the image stay filled: they are seams, not see-through gaps."""
MATCH_FLOOR = 0.5
"""CIELAB distance within which a pixel is bare backdrop, however clean the photo."""
BACKDROP_HOLE = 0.25
"""An enclosed region is see-through when at least this fraction of it is bare backdrop."""
MIN_PART = 0.10
"""Parts smaller than this fraction of the largest one are specks, not a second sock."""
MIN_PRODUCT = 0.01
"""A cut-out smaller than this fraction of the reference is a detail (a neckline, a button), not the product."""
FEATHER = 0.6
"""Gaussian sigma, in working pixels, that softens the mask's edge."""
ALPHA_FLOOR = 8
"""Mask values below this are feather, not product, when measuring the product's extent."""
TRANSPARENT = 0.01
"""A reference whose alpha is below half on at least this fraction of pixels has real transparency."""

BELOW_CENTRE = 0.03
"""The product's centre sits this fraction of the canvas height below the middle, as packshots do."""
MIN_RATIO = 0.25
"""Aspect ratios beyond 1:4 or 4:1 are not photo formats."""
KEEP_RING = 0.004
"""Inpainting keeps this fraction of the shorter side around the product, so its edges stay the reference's."""
EDGE_CONTRAST = 24.0
"""RGB distance from the plain background at which an edge pixel of a request's product counts as opaque."""

_ASPECT = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


# --- cut-out ---------------------------------------------------------------------------------------


def cut_out(reference: Image.Image) -> Image.Image:
    """Return the product's mask in `reference` (L, same size, 255 where the product is, softly edged)."""
    alpha = _transparency(reference)
    if alpha is not None:
        if alpha.getbbox() is None:
            return _whole(reference, "its alpha channel is fully transparent")
        return alpha
    work = _working_copy(reference.convert("RGB"))
    rgb = np.asarray(work, dtype=np.float32) / 255
    border = _border(rgb.shape[:2])
    backdrop, fit = _backdrop(rgb, border)
    if fit < MIN_BACKDROP:
        return _whole(reference, f"only {fit:.0%} of its border looks like one studio backdrop")
    noise = _border_noise(rgb, backdrop, border)
    if noise > QUIET:
        rgb = ndi.gaussian_filter(rgb, (SMOOTH, SMOOTH, 0))
    lab = color.rgb2lab(rgb)
    distance = _backdrop_distance(lab, color.rgb2lab(backdrop))
    gradient = np.max([filters.sobel(lab[..., c]) for c in range(3)], axis=0)
    product = _segment(distance, gradient, border)
    share = float(product.mean())
    if not MIN_PRODUCT <= share < 1:
        return _whole(reference, f"the product found covers {share:.1%} of it, which is not believable")
    return _soft_mask(product, reference.size)


def _transparency(reference: Image.Image) -> Image.Image | None:
    if not reference.has_transparency_data:
        return None
    alpha = reference.convert("RGBA").getchannel("A")
    see_through = np.count_nonzero(np.asarray(alpha) < 128)
    return alpha if see_through >= TRANSPARENT * alpha.width * alpha.height else None


def _whole(reference: Image.Image, why: str) -> Image.Image:
    logger.warning("cut-out fell back to the whole %dx%d reference: %s", *reference.size, why)
    return Image.new("L", reference.size, 255)


def _working_copy(image: Image.Image) -> Image.Image:
    scale = WORK_SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def _border(shape: tuple[int, int]) -> np.ndarray:
    width = max(2, round(BORDER * min(shape)))
    strip = np.ones(shape, dtype=bool)
    strip[width:-width, width:-width] = False
    return strip


def _ramp_terms(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    y, x = ys / shape[0] - 0.5, xs / shape[1] - 0.5
    return np.stack([np.ones_like(x), x, y], axis=-1)


def _backdrop(rgb: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a colour ramp to the border, ignoring what overlaps it; return the ramp and the fraction that fits."""
    ys, xs = np.nonzero(border)
    terms = _ramp_terms(ys.astype(np.float32), xs.astype(np.float32), rgb.shape[:2])
    values = rgb[ys, xs]
    fits = np.ones(len(ys), dtype=bool)
    for _ in range(3):
        coefficients, *_ = np.linalg.lstsq(terms[fits], values[fits], rcond=None)
        residual = np.abs(terms @ coefficients - values).max(axis=1)
        # Objects cut by the frame are outliers; the ramp is refitted without them.
        fits = residual <= max(6 * float(np.median(residual[fits])), 0.02)
    grid = np.indices(rgb.shape[:2], dtype=np.float32)
    model = _ramp_terms(grid[0], grid[1], rgb.shape[:2]) @ coefficients
    return np.clip(model, 0, 1).astype(np.float32), float(fits.mean())


def _backdrop_distance(lab: np.ndarray, backdrop_lab: np.ndarray) -> np.ndarray:
    delta = lab - backdrop_lab
    lightness = np.where(delta[..., 0] < 0, delta[..., 0] * SHADOW_LIGHTNESS_WEIGHT, delta[..., 0])
    return np.sqrt(lightness**2 + delta[..., 1] ** 2 + delta[..., 2] ** 2)


def _border_noise(rgb: np.ndarray, backdrop: np.ndarray, border: np.ndarray) -> float:
    """Return the typical deviation of the border from the fitted backdrop, in 8-bit levels."""
    return float(np.median(np.abs(rgb[border] - backdrop[border]))) * 255


def _segment(distance: np.ndarray, gradient: np.ndarray, border: np.ndarray) -> np.ndarray:
    backdrop_spread = float(np.percentile(distance[border], 95))
    low = max(COLOUR_FLOOR, NOISE_FACTOR * backdrop_spread)
    high = max(float(filters.threshold_otsu(distance)), 2 * low)
    colour = filters.apply_hysteresis_threshold(distance, low, high)
    edge_floor = max(EDGE_FLOOR, NOISE_FACTOR * float(np.percentile(gradient[border], 95)))
    closed = cast("np.ndarray", ndi.binary_closing(colour | (gradient > edge_floor), morphology.disk(CLOSING_RADIUS)))
    filled = ndi.binary_fill_holes(closed)
    bare = distance <= max(MATCH_FLOOR, NOISE_FACTOR * backdrop_spread)
    filled &= ~_see_through_holes(filled & ~closed, bare)
    filled = _main_parts(filled)
    return ndi.binary_erosion(filled, iterations=EDGE_SPREAD) | (colour & filled)


def _see_through_holes(holes: np.ndarray, bare: np.ndarray) -> np.ndarray:
    """Return the enclosed regions where enough pixels are `bare` backdrop to be gaps, not product."""
    labels, count = cast("tuple[np.ndarray, int]", ndi.label(holes))  # without `output`: (labels, count)
    if not count:
        return holes
    index = np.arange(1, count + 1)
    matching = ndi.mean(bare, labels, index)
    area = ndi.sum(holes, labels, index)
    return np.isin(labels, index[(matching >= BACKDROP_HOLE) & (area >= MIN_HOLE * holes.size)])


def _main_parts(mask: np.ndarray) -> np.ndarray:
    labels, count = cast("tuple[np.ndarray, int]", ndi.label(mask))  # without `output`: (labels, count)
    if count <= 1:
        return mask
    index = np.arange(1, count + 1)
    area = ndi.sum(mask, labels, index)
    return np.isin(labels, index[area >= MIN_PART * area.max()])


def _soft_mask(product: np.ndarray, size: tuple[int, int]) -> Image.Image:
    soft = ndi.gaussian_filter(product.astype(np.float32), FEATHER)
    mask = Image.fromarray(np.round(soft * 255).astype(np.uint8))
    return mask if mask.size == size else mask.resize(size, Image.Resampling.BILINEAR)


# --- layout ----------------------------------------------------------------------------------------


def canvas_size(aspect: str, long_side: int) -> tuple[int, int]:
    """Return (width, height) for `aspect` (`"W:H"`, e.g. an `AspectRatio`) with its longer side near `long_side`.

    Both sides are multiples of 8, as diffusion models need.
    """
    match = _ASPECT.match(aspect)
    w, h = (int(match[1]), int(match[2])) if match else (0, 0)
    if not (w and h):
        raise ValueError(f"aspect {aspect!r} is not of the form 'W:H' with positive whole numbers, e.g. '4:5'")
    if not MIN_RATIO <= w / h <= 1 / MIN_RATIO:
        raise ValueError(f"aspect {aspect!r} is more extreme than 1:4 or 4:1")
    if long_side < 64:
        raise ValueError(f"long_side {long_side} is too small for a photo: at least 64 pixels")
    long_px = _multiple_of_8(long_side)
    short_px = _multiple_of_8(long_px * min(w, h) / max(w, h))
    return (long_px, short_px) if w >= h else (short_px, long_px)


def _multiple_of_8(value: float) -> int:
    return max(8, 8 * round(value / 8))


def margin_px(width: int, height: int, fraction: float) -> int:
    """Return `fraction` of the canvas's shorter side in whole pixels, rounded up: how far the product stays in."""
    return math.ceil(round(fraction * min(width, height), 6))


def place(reference: Image.Image, mask: Image.Image, width: int, height: int, rules: BrandRules) -> Placement:
    """Lay the masked product out on a `width`×`height` canvas, as large as `rules` allow, like a packshot."""
    if mask.size != reference.size:
        raise ValueError(f"mask is {mask.size}, but reference is {reference.size}: they must match")
    inset = margin_px(width, height, max(rules.padding, rules.margin))
    room = (width - 2 * inset, height - 2 * inset)
    if min(room) < 1:
        raise ValueError(f"padding {rules.padding} and margin {rules.margin} leave no room on {width}x{height}")
    mask = mask.convert("L")

    def opaque(v: int) -> int:  # Pillow calls it once per grey level
        return 255 if v >= ALPHA_FLOOR else 0

    extent = mask.point(opaque).getbbox() or (0, 0, *mask.size)
    cut = reference.convert("RGB").crop(extent)
    cut.putalpha(mask.crop(extent))
    scale = min(room[0] / cut.width, room[1] / cut.height)
    size = (max(1, min(room[0], round(cut.width * scale))), max(1, min(room[1], round(cut.height * scale))))
    cut = cut.resize(size, Image.Resampling.LANCZOS)
    left = (width - size[0]) // 2
    top = round(height / 2 + BELOW_CENTRE * height - size[1] / 2)
    top = min(max(top, inset), height - inset - size[1])
    product = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    product.paste(cut, (left, top))
    return Placement(width=width, height=height, box=(left, top, left + size[0], top + size[1]), product=product)


# --- composition -----------------------------------------------------------------------------------

SHADOW_TONE = 0.35
"""The shadow is the background colour multiplied by this, so it reads naturally on any brand colour."""
CONTACT_DEPTH = 0.035
"""Half the height of the contact shadow's ellipse, as a fraction of the product's width."""
AMBIENT_SHARE = 0.45
"""The ambient shadow (the product's blurred silhouette) is this much weaker than the contact shadow."""
AMBIENT_BLUR = 0.6
"""The ambient shadow's blur, relative to the contact shadow's: it hugs the product more closely."""


@dataclass(frozen=True)
class ShadowStyle:
    """How the soft shadow under the product looks; sizes are fractions of the product's box."""

    softness: float = 0.035
    """Blur radius of the contact shadow, as a fraction of the product's width."""
    drop: float = 0.012
    """How far the ambient shadow falls below the product, as a fraction of its height."""
    strength: float = 0.32
    """Opacity at the shadow's core; the floor darkens by at most `strength × (1 - SHADOW_TONE)`."""

    @classmethod
    def for_seed(cls, seed: int) -> ShadowStyle:
        """Vary the default shadow a little, the same way every time for the same seed."""
        rng = random.Random(seed)
        base = cls()
        return replace(
            base,
            softness=base.softness * rng.uniform(0.8, 1.25),
            drop=base.drop * rng.uniform(0.6, 1.4),
            strength=base.strength * rng.uniform(0.85, 1.1),
        )


DEFAULT_SHADOW = ShadowStyle()


def composite(
    placement: Placement, background: str, *, shadow: bool = True, style: ShadowStyle = DEFAULT_SHADOW
) -> Image.Image:
    """Paint `background` (`#RRGGBB`), a soft contact shadow unless `shadow` is False, and the product on top."""
    fill = hex_rgb(background, name="background")
    size = (placement.width, placement.height)
    image = Image.new("RGB", size, fill)
    if shadow:
        shade = Image.new("RGB", size, tuple(round(c * SHADOW_TONE) for c in fill))
        image = Image.composite(shade, image, _shadow(placement, style))
    image.paste(placement.product, mask=placement.mask)
    return image


def hex_rgb(value: str, *, name: str = "colour") -> RGB:
    """Return the (r, g, b) of a `#RRGGBB` colour; `name` says which argument was wrong if it is not one."""
    if not _HEX.match(value):
        raise ValueError(f"{name} {value!r} is not a #RRGGBB colour")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _shadow(placement: Placement, style: ShadowStyle) -> Image.Image:
    """Return the shadow's opacity: an ellipse where the product meets the floor, and its faint silhouette."""
    left, top, right, bottom = placement.box
    width, height = right - left, bottom - top
    size = (placement.width, placement.height)
    floor = Image.new("L", size, 0)
    foot = _footprint(placement.mask.crop(placement.box))
    half_height = max(1.0, CONTACT_DEPTH * width)
    ImageDraw.Draw(floor).ellipse(
        (left + foot[0], bottom - half_height, left + foot[1], bottom + half_height * 0.6), fill=255
    )
    floor = floor.filter(ImageFilter.GaussianBlur(max(1.0, style.softness * width)))
    ambient = Image.new("L", size, 0)
    ambient.paste(placement.mask, (0, round(style.drop * height)))
    ambient = ambient.filter(ImageFilter.GaussianBlur(max(1.0, style.softness * AMBIENT_BLUR * width)))

    def faint(v: int) -> int:  # Pillow calls these once per grey level
        return round(v * AMBIENT_SHARE)

    def strength(v: int) -> int:
        return round(v * style.strength)

    ambient = ambient.point(faint)
    return ImageChops.lighter(floor, ambient).point(strength)


def _footprint(cut: Image.Image) -> tuple[int, int]:
    """Return the columns where the product's lowest tenth meets the floor, inset a little from its ends."""
    alpha = np.asarray(cut) >= 128
    rows = alpha[-max(1, alpha.shape[0] // 10) :].any(axis=0)
    columns = np.nonzero(rows)[0]
    if not len(columns):
        return 0, cut.width
    inset = 0.04 * (columns[-1] - columns[0])
    return round(columns[0] + inset), round(columns[-1] + 1 - inset)


def keep_ring_px(width: int, height: int) -> int:
    """Return how many pixels around the product inpainting must keep on a `width`×`height` canvas."""
    return max(1, round(KEEP_RING * min(width, height)))


def init_and_mask(placement: Placement, background: str) -> tuple[Image.Image, Image.Image]:
    """Return what inpainting starts from: the product on plain `background` (RGB) and where it may paint (L)."""
    init = composite(placement, background, shadow=False)
    ring = keep_ring_px(placement.width, placement.height)
    keep = placement.mask.point(lambda v: 255 if v else 0).filter(ImageFilter.MaxFilter(2 * ring + 1))
    return init, ImageChops.invert(keep)


# --- renderer --------------------------------------------------------------------------------------


class CompositorRenderer:
    """Render requests on CPU by compositing their kept product onto the background, one shadow per seed."""

    name = "compositor"
    device = "cpu"

    def batch_key(self, request: RenderRequest) -> str:
        """Return one key for every request: compositing has nothing to share or to keep apart."""
        return self.name

    def render(self, batch: list[RenderRequest]) -> list[list[Image.Image]]:
        """Return `len(request.seeds)` packshots per request, in order; the same seed gives the same image."""
        for request in batch:
            _check_request(request)
        images = []
        for request in batch:
            placement = _kept_product(request)
            images.append(
                [composite(placement, request.background, style=ShadowStyle.for_seed(seed)) for seed in request.seeds]
            )
        return images


def _check_request(request: RenderRequest) -> None:
    if request.mask.size != request.init_image.size:
        raise ValueError(
            f"job {request.job_id}: mask is {request.mask.size}, but init_image is {request.init_image.size}"
        )
    if not request.seeds:
        raise ValueError(f"job {request.job_id}: seeds is empty, so there is nothing to render")
    hex_rgb(request.background, name=f"job {request.job_id}: background")


def _kept_product(request: RenderRequest) -> Placement:
    """Recover the product from a request: the kept region, minus the ring of plain background around it."""
    init = np.asarray(request.init_image.convert("RGB"), dtype=np.float32)
    keep = np.asarray(request.mask.convert("L")) < 128
    width, height = request.size
    if keep.all() or not keep.any():
        alpha = keep.astype(np.float32)
    else:
        plain = np.median(init[~keep][::7], axis=0)
        # The ring is plain background by construction; its edge pixels blend product and background.
        core = ndi.binary_erosion(keep, iterations=keep_ring_px(width, height) + 1)
        contrast = np.clip(np.linalg.norm(init - plain, axis=-1) / EDGE_CONTRAST, 0, 1)
        alpha = np.where(core, 1.0, contrast * keep)
    product = request.init_image.convert("RGBA")
    product.putalpha(Image.fromarray(np.round(alpha * 255).astype(np.uint8)))
    box = product.getchannel("A").getbbox() or (0, 0, width, height)
    return Placement(width=width, height=height, box=box, product=product)
