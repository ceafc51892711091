"""Grade a candidate packshot: is it still the reference product, is it on brand, is it a usable photo.

Every check compares the candidate with what the job asked for, never with taste:

- adherence, inside the placed product's mask: colour histograms (per channel, intersection), grayscale
  SSIM, and Canny edges matched within a couple of pixels (F1). The reference is the placed product
  pasted over the candidate itself, so only a changed product can lower these, not a new background.
- brand: how far the background is from the nearest palette colour, whether the product box keeps the
  logo-safe margin, and whether that margin's strip along the edges is clear of clutter.
- quality: resolution, sharpness and exposure measured against the reference (a black product is dark by
  design, a plain one has few edges), clipped highlights and shadows, and a blank-image guard.

Each check has a floor. A group's score is the weighted mean of its checks, capped just under the group's
floor (in proportion) when any check is under its own, so "every group clears its floor" means exactly
that no check failed either. Pure functions on arrays: a 512×512 candidate scores in tens of milliseconds,
and larger ones are scored at `SCORE_SIDE` so the cost stays flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import feature, filters
from skimage.metrics import structural_similarity

from imaging_service.compose import hex_rgb, margin_px
from imaging_service.types import BrandRules, Placement, Scores

Group = Literal["adherence", "brand", "quality"]

GROUP_WEIGHTS: dict[Group, float] = {"adherence": 0.4, "brand": 0.3, "quality": 0.3}
"""How much each group counts towards `total`."""
GROUP_FLOORS: dict[Group, float] = {"adherence": 0.75, "brand": 0.7, "quality": 0.7}
"""The least each group may score and still pass."""
REASON_ORDER: tuple[Group, ...] = ("quality", "adherence", "brand")
"""Reasons are listed in this order: a broken image explains everything else that failed."""

SCORE_SIDE = 640
"""Larger canvases are scored scaled down to this longer side (resolution is judged on the original)."""
HISTOGRAM_BINS = 32
"""Bins per channel for the product's colour histograms (8 levels each)."""
CANNY_SIGMA = 1.5
"""Gaussian sigma for the edges compared, in pixels: fine detail, not noise."""
EDGE_TOLERANCE = 2
"""Pixels an edge may move and still match its counterpart."""
PRODUCT_REACH = 3
"""Pixels around the product mask that still belong to it: its outline is measured on both sides."""
SHADOW_REACH = 0.03
"""Fraction of the shorter side around the product left out of the background: its contact shadow lives there."""
PALETTE_TRIM = 0.1
"""The farthest tenth of background pixels (props, shadow tails) is left out of the mean colour distance."""
SAMPLE_STEP = 3
"""Every this-many-th background pixel is measured; the mean barely moves and scoring stays fast."""
MIN_STRIP = 0.02
"""The border strip checked for clutter is at least this fraction of the shorter side wide."""
CLUTTER_EDGE = 0.08
"""Grayscale Sobel magnitude above which a border pixel shows an object, not a smooth backdrop."""
CLUTTER_COLOUR = 60.0
"""RGB distance from the background's median colour beyond which a border pixel is something else."""
SHARPNESS_SIGMA = 1.0
"""Scale, in pixels, of the Laplacian of Gaussian that measures detail: a JPEG or VAE softening barely moves it."""
SHARPNESS_KEPT = 0.5
"""Full marks while the product keeps at least this share of the reference's detail."""
EXPOSURE_STOPS = 1.0
"""Product brightness this many stops (doublings) from the reference's scores zero."""
CLIPPED_EXCESS = 0.3
"""Extra clipped product pixels, as a fraction, that score zero."""
BLANK_STD = 0.02
"""Grayscale standard deviation (0 to 1) that earns full marks for having any content at all."""

_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass(frozen=True)
class Check:
    """One graded property of a candidate."""

    name: str
    """`group.check`, the key in `Scores.details`."""
    score: float
    floor: float
    weight: float
    problem: str
    """What an operator reads when the score is under its floor."""

    @property
    def failed(self) -> bool:
        return self.score < self.floor


@dataclass(frozen=True)
class _Views:
    """The candidate on the scoring canvas, and both it and its reference around the product, as floats.

    The scoring canvas is the placement's, scaled down to `SCORE_SIDE` when it is larger.
    """

    candidate: np.ndarray
    """RGB in [0, 1], the whole scoring canvas."""
    product: np.ndarray
    """Boolean, the whole scoring canvas: at least half opaque in the placement."""
    crop: tuple[slice, slice]
    """The product's box, widened by `PRODUCT_REACH`: where the product checks look."""
    found: np.ndarray
    """The candidate's RGB inside `crop`."""
    expected: np.ndarray
    """The placed product pasted over the candidate, inside `crop`: what `found` should look like."""
    found_gray: np.ndarray
    expected_gray: np.ndarray
    inside: np.ndarray
    """Boolean, inside `crop`: the product."""
    near: np.ndarray
    """Boolean, inside `crop`: the product and `PRODUCT_REACH` pixels around it, so its outline counts."""


def score(
    candidate: Image.Image, placement: Placement, rules: BrandRules, *, threshold: float, min_side: int
) -> Scores:
    """Grade `candidate` against the product it should show and the brand it should respect."""
    views = _views(candidate, placement)
    groups: dict[Group, list[Check]] = {
        "adherence": _adherence(views),
        "brand": _brand(views, placement, rules),
        "quality": _quality(views, candidate.size, min_side),
    }
    grades: dict[Group, float] = {name: _grade(checks, GROUP_FLOORS[name]) for name, checks in groups.items()}
    total = sum(GROUP_WEIGHTS[name] * grade for name, grade in grades.items()) / sum(GROUP_WEIGHTS.values())
    reasons = [reason for name in REASON_ORDER for reason in _reasons(name, groups[name], grades[name])]
    if total < threshold and not reasons:
        reasons.append(f"overall score {total:.2f} is below the {threshold:.2f} threshold")
    return Scores(
        adherence=grades["adherence"],
        brand=grades["brand"],
        quality=grades["quality"],
        total=total,
        passed=not reasons,
        details={check.name: check.score for checks in groups.values() for check in checks},
        reasons=tuple(reasons),
    )


def _grade(checks: Sequence[Check], floor: float) -> float:
    mean = sum(c.weight * c.score for c in checks) / sum(c.weight for c in checks)
    caps = [floor * c.score / c.floor for c in checks if c.failed]
    return float(np.clip(min([mean, *caps]), 0, 1))


_GROUP_PROBLEMS: dict[Group, str] = {
    "adherence": "the product only loosely matches its reference",
    "brand": "the image is only loosely on brand",
    "quality": "the image's overall quality is marginal",
}


def _reasons(group: Group, checks: Sequence[Check], grade: float) -> list[str]:
    if grade >= GROUP_FLOORS[group]:
        return []
    return [c.problem for c in checks if c.failed] or [_GROUP_PROBLEMS[group]]


def _views(candidate: Image.Image, placement: Placement) -> _Views:
    scale = min(1.0, SCORE_SIDE / max(placement.width, placement.height))
    size = (round(placement.width * scale), round(placement.height * scale))
    image = candidate.convert("RGB")
    if image.size != size:
        shrink = image.width >= size[0] and image.height >= size[1]
        image = image.resize(size, Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    product = placement.product if scale == 1 else placement.product.resize(size, Image.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.float32) / 255
    alpha = np.asarray(product.getchannel("A"), dtype=np.float32) / 255
    left, top, right, bottom = (round(v * scale) for v in placement.box)
    crop = (
        slice(max(0, top - PRODUCT_REACH), min(size[1], bottom + PRODUCT_REACH)),
        slice(max(0, left - PRODUCT_REACH), min(size[0], right + PRODUCT_REACH)),
    )
    found = pixels[crop]
    opacity = alpha[crop][..., None]
    product_rgb = np.asarray(product.convert("RGB").crop(_pil_box(crop)), dtype=np.float32) / 255
    inside = opacity[..., 0] >= 0.5
    expected = product_rgb * opacity + found * (1 - opacity)
    return _Views(
        candidate=pixels,
        product=alpha >= 0.5,
        crop=crop,
        found=found,
        expected=expected,
        found_gray=_gray(found),
        expected_gray=_gray(expected),
        inside=inside,
        near=ndi.maximum_filter(inside, size=2 * PRODUCT_REACH + 1),
    )


def _pil_box(crop: tuple[slice, slice]) -> tuple[int, int, int, int]:
    rows, columns = crop
    return columns.start, rows.start, columns.stop, rows.stop


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _LUMA


# --- adherence -------------------------------------------------------------------------------------


def _adherence(views: _Views) -> list[Check]:
    found, expected = views.found_gray, views.expected_gray
    return [
        Check(
            "adherence.colour",
            _colour_match(views.found[views.inside], views.expected[views.inside]),
            floor=0.7,
            weight=0.4,
            problem="the product's colours drifted from the reference",
        ),
        Check(
            "adherence.structure",
            _structure(found, expected, views.inside),
            floor=0.6,
            weight=0.35,
            problem="the product's shape or texture changed from the reference",
        ),
        Check(
            "adherence.edges",
            _edge_match(found, expected, views.near),
            floor=0.5,
            weight=0.25,
            problem="the product's outline and details no longer line up with the reference",
        ),
    ]


def _colour_match(candidate: np.ndarray, reference: np.ndarray) -> float:
    """Return the mean per-channel intersection of two pixel sets' colour histograms, slightly blurred."""
    if not len(reference):
        return 1.0
    overlap = [_intersection(_histogram(candidate[:, c]), _histogram(reference[:, c])) for c in range(3)]
    return float(np.mean(overlap))


def _histogram(values: np.ndarray) -> np.ndarray:
    bins = np.minimum((values * HISTOGRAM_BINS).astype(np.intp), HISTOGRAM_BINS - 1)
    counts = np.bincount(bins, minlength=HISTOGRAM_BINS) / len(values)
    # A shift of a level or two (a VAE round trip, JPEG) should not empty a bin into its neighbour.
    return np.convolve(counts, [0.25, 0.5, 0.25], mode="same")


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(a, b).sum() / max(a.sum(), b.sum(), 1e-9))


def _structure(candidate: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> float:
    """Return the mean SSIM over the product's pixels."""
    side = min(candidate.shape)
    window = min(7, side if side % 2 else side - 1)
    if window < 3 or not inside.any():
        return 1.0
    # With full=True it returns the mean and the per-pixel image (its return type covers every flag).
    _, similarity = cast(
        "tuple[float, np.ndarray]",
        structural_similarity(reference, candidate, data_range=1.0, win_size=window, full=True),
    )
    return float(np.clip(similarity[inside].mean(), 0, 1))


def _edge_match(candidate: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> float:
    """Return the F1 of the two images' Canny edges inside the product, each allowed `EDGE_TOLERANCE` of play."""
    found = feature.canny(candidate, sigma=CANNY_SIGMA) & inside
    expected = feature.canny(reference, sigma=CANNY_SIGMA) & inside
    if not expected.any() and not found.any():
        return 1.0
    if not expected.any() or not found.any():
        return 0.0
    reach = 2 * EDGE_TOLERANCE + 1
    precision = (found & ndi.maximum_filter(expected, size=reach)).sum() / found.sum()
    recall = (expected & ndi.maximum_filter(found, size=reach)).sum() / expected.sum()
    return float(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))


# --- brand -----------------------------------------------------------------------------------------


def _brand(views: _Views, placement: Placement, rules: BrandRules) -> list[Check]:
    height, width = views.product.shape
    reach = round(SHADOW_REACH * min(width, height) / SAMPLE_STEP)
    grid = (slice(None, None, SAMPLE_STEP), slice(None, None, SAMPLE_STEP))
    near_product = cast("np.ndarray", ndi.maximum_filter(views.product[grid], size=2 * reach + 1))  # a bool mask in
    background = views.candidate[grid][~near_product] * 255
    backdrop = np.median(background, axis=0) if len(background) else None
    return [
        _palette_check(background, rules),
        _margin_check(placement, margin_px(placement.width, placement.height, rules.margin)),
        _border_check(views, margin_px(width, height, max(rules.margin, MIN_STRIP)), backdrop),
    ]


def _palette_check(background: np.ndarray, rules: BrandRules) -> Check:
    """Score the background's trimmed mean RGB distance from its nearest palette colour; no palette, no limit."""
    if not len(background) or not rules.palette:
        return Check("brand.palette", 1.0, floor=0.5, weight=0.5, problem="")
    distances = {
        colour: _trimmed_distance(background, np.array(hex_rgb(colour, name="palette colour"), dtype=np.float32))
        for colour in rules.palette
    }
    nearest = min(distances, key=distances.__getitem__)
    distance = distances[nearest]
    measured = "#{:02X}{:02X}{:02X}".format(*np.median(background, axis=0).round().astype(int))
    return Check(
        "brand.palette",
        float(np.clip(1 - distance / (2 * rules.max_colour_distance), 0, 1)),
        floor=0.5,
        weight=0.5,
        problem=(
            f"background is off-palette ({measured}; {nearest} is nearest, "
            f"{distance:.0f} away where at most {rules.max_colour_distance:.0f} is allowed)"
        ),
    )


def _trimmed_distance(pixels: np.ndarray, colour: np.ndarray) -> float:
    distance = np.linalg.norm(pixels - colour, axis=1)
    kept = max(1, round(len(distance) * (1 - PALETTE_TRIM)))
    return float(np.partition(distance, kept - 1)[:kept].mean())


def _margin_check(placement: Placement, required: int) -> Check:
    left, top, right, bottom = placement.box
    clearance = min(left, top, placement.width - right, placement.height - bottom)
    return Check(
        "brand.margin",
        1.0 if required <= 0 else float(np.clip(clearance / required, 0, 1)),
        floor=1.0,
        weight=0.3,
        problem=f"the product reaches into the logo-safe margin ({clearance} px from the edge, {required} px needed)",
    )


def _border_check(views: _Views, width: int, backdrop: np.ndarray | None) -> Check:
    """Score how clear the strips along the four edges are: no objects (edges) and no off-backdrop colour."""
    busy, total = 0, 0
    for band in _bands(views.candidate.shape[:2], width):
        pixels, product = views.candidate[band], views.product[band]
        stuff = filters.sobel(_gray(pixels)) > CLUTTER_EDGE
        if backdrop is not None:
            stuff |= np.linalg.norm(pixels * 255 - backdrop, axis=-1) > CLUTTER_COLOUR
        busy += int(np.count_nonzero(stuff & ~product))
        total += int(np.count_nonzero(~product))
    clutter = busy / total if total else 0.0
    return Check(
        "brand.border",
        1 - clutter,
        floor=0.6,
        weight=0.2,
        problem=f"{clutter:.0%} of the logo-safe border is cluttered where it should be clear",
    )


def _bands(shape: tuple[int, int], width: int) -> list[tuple[slice, slice]]:
    """Return the top, bottom, left and right strips `width` pixels wide, without overlapping at the corners."""
    height, across = shape
    width = max(1, min(width, height // 2, across // 2))
    middle = slice(width, height - width)
    return [
        (slice(0, width), slice(None)),
        (slice(height - width, height), slice(None)),
        (middle, slice(0, width)),
        (middle, slice(across - width, across)),
    ]


# --- quality ---------------------------------------------------------------------------------------


def _quality(views: _Views, size: tuple[int, int], min_side: int) -> list[Check]:
    found, expected = views.found_gray, views.expected_gray
    return [
        # First, because a blank image is also dark or bright, blurry and clipped, and that is not news.
        Check(
            "quality.contrast",
            min(1.0, float(_gray(views.candidate[::2, ::2]).std()) / BLANK_STD),
            floor=0.5,
            weight=0.15,
            problem="image is blank",
        ),
        Check(
            "quality.resolution",
            min(1.0, min(size) / min_side),
            floor=1.0,
            weight=0.2,
            problem=f"image is {size[0]}×{size[1]}, smaller than {min_side} px on its shorter side",
        ),
        _sharpness_check(found, expected, views.near),
        _exposure_check(found[views.inside], expected[views.inside]),
        _clipping_check(views.found[views.inside], views.expected[views.inside]),
    ]


def _sharpness_check(found: np.ndarray, expected: np.ndarray, near: np.ndarray) -> Check:
    """Score how much fine detail (variance of the Laplacian of Gaussian) the product kept from the reference."""
    if not near.any():
        return Check("quality.sharpness", 1.0, floor=0.5, weight=0.25, problem="")
    detail = float(ndi.gaussian_laplace(found, SHARPNESS_SIGMA)[near].var())
    reference = float(ndi.gaussian_laplace(expected, SHARPNESS_SIGMA)[near].var())
    kept = detail / reference if reference > 1e-8 else 1.0
    return Check(
        "quality.sharpness",
        min(1.0, kept / SHARPNESS_KEPT),
        floor=0.5,
        weight=0.25,
        problem="image is blurry",
    )


def _exposure_check(candidate: np.ndarray, reference: np.ndarray) -> Check:
    if not len(reference):
        return Check("quality.exposure", 1.0, floor=0.5, weight=0.25, problem="")
    stops = float(np.log2((candidate.mean() + 0.01) / (reference.mean() + 0.01)))
    return Check(
        "quality.exposure",
        float(np.clip(1 - abs(stops) / EXPOSURE_STOPS, 0, 1)),
        floor=0.5,
        weight=0.25,
        problem="image is too dark" if stops < 0 else "image is too bright",
    )


def _clipping_check(candidate: np.ndarray, reference: np.ndarray) -> Check:
    """Score how many more product pixels than in the reference have a channel crushed to black or blown to white."""

    def clipped(rgb: np.ndarray) -> float:
        return float(np.mean(((rgb <= 1 / 255) | (rgb >= 254 / 255)).any(axis=-1))) if len(rgb) else 0.0

    excess = max(0.0, clipped(candidate) - clipped(reference))
    return Check(
        "quality.clipping",
        float(np.clip(1 - excess / CLIPPED_EXCESS, 0, 1)),
        floor=0.5,
        weight=0.15,
        problem="the product's highlights or shadows are clipped",
    )
