"""Candidate scoring: good packshots pass; recoloured products, off-brand backdrops and broken images fail, saying why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from hub.seed.catalog import build_demo_shop
from hub.seed.images import render_product_image
from imaging_service.compose import CompositorRenderer, composite, cut_out, init_and_mask, place
from imaging_service.scoring import GROUP_FLOORS, score
from imaging_service.types import BrandRules, Placement, RenderRequest, Scores

ANCHOR = datetime(2025, 11, 26, 15, 30, 12, tzinfo=UTC)
RULES = BrandRules(palette=("#FFFFFF", "#F4D7DA"))
THRESHOLD = 0.75
MIN_SIDE = 512
SIZE = (512, 640)


@pytest.fixture(scope="module")
def catalogue() -> list[dict[str, Any]]:
    return build_demo_shop(ANCHOR).products


def placed(
    catalogue: list[dict[str, Any]],
    kind: str,
    colour: str,
    rules: BrandRules = RULES,
    *,
    size: tuple[int, int] = SIZE,
    photo_px: int = 384,
) -> Placement:
    product = next(
        p for p in catalogue if p["attributes"]["product_type"] == kind and p["attributes"]["colours"][0] == colour
    )
    reference = render_product_image(product, size=photo_px)
    return place(reference, cut_out(reference), *size, rules)


@pytest.fixture(scope="module")
def mustard_tee(catalogue: list[dict[str, Any]]) -> Placement:
    return placed(catalogue, "tee", "Mustard")


@pytest.fixture(scope="module")
def packshot(mustard_tee: Placement) -> Image.Image:
    return composite(mustard_tee, "#FFFFFF")


def grade(candidate: Image.Image, placement: Placement, rules: BrandRules = RULES) -> Scores:
    return score(candidate, placement, rules, threshold=THRESHOLD, min_side=MIN_SIDE)


def failing_groups(scores: Scores) -> set[str]:
    return {group for group, floor in GROUP_FLOORS.items() if getattr(scores, group) < floor}


def hue_shifted(image: Image.Image, where: Image.Image, degrees: int) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    inside = np.asarray(where) > 0
    hsv[..., 0] = np.where(inside, (hsv[..., 0].astype(int) + degrees * 256 // 360) % 256, hsv[..., 0])
    return Image.fromarray(hsv, "HSV").convert("RGB")


# --- what passes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "colour", "background"),
    [
        ("tee", "Mustard", "#FFFFFF"),
        ("tee", "White", "#FFFFFF"),
        ("tote", "Black", "#F4D7DA"),
        ("mug", "Sage", "#FFFFFF"),
    ],
)
def test_compositor_packshots_pass(catalogue: list[dict[str, Any]], kind: str, colour: str, background: str) -> None:
    placement = placed(catalogue, kind, colour)
    init, mask = init_and_mask(placement, background)
    request = RenderRequest("job-1", init, mask, "", "", (11, 12), background)
    for candidate in CompositorRenderer().render([request])[0]:
        scores = grade(candidate, placement)
        assert scores.passed, scores.reasons
        assert scores.reasons == ()
        assert min(scores.adherence, scores.brand, scores.quality, scores.total) >= 0.9


def test_a_jpeg_round_trip_still_passes(mustard_tee: Placement, packshot: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "candidate.jpg"
    packshot.save(path, quality=75)
    with Image.open(path) as candidate:
        assert grade(candidate, mustard_tee).passed


def test_details_name_every_check_and_scores_stay_in_range(mustard_tee: Placement, packshot: Image.Image) -> None:
    scores = grade(packshot, mustard_tee)
    assert set(scores.details) == {
        "adherence.colour",
        "adherence.structure",
        "adherence.edges",
        "brand.palette",
        "brand.margin",
        "brand.border",
        "quality.contrast",
        "quality.resolution",
        "quality.sharpness",
        "quality.exposure",
        "quality.clipping",
    }
    values = [scores.adherence, scores.brand, scores.quality, scores.total, *scores.details.values()]
    assert all(0 <= value <= 1 for value in values)


def test_scores_are_deterministic(mustard_tee: Placement, packshot: Image.Image) -> None:
    noisy = Image.effect_noise(packshot.size, 40).convert("RGB")
    for candidate in (packshot, noisy):
        assert grade(candidate, mustard_tee) == grade(candidate.copy(), mustard_tee)


def test_a_good_image_below_the_threshold_says_so(mustard_tee: Placement, packshot: Image.Image) -> None:
    scores = score(packshot, mustard_tee, RULES, threshold=0.9999, min_side=MIN_SIDE)
    assert not scores.passed
    assert failing_groups(scores) == set()
    assert len(scores.reasons) == 1 and "below the 1.00 threshold" in scores.reasons[0]


# --- the product changed ---------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [60, 180])
def test_recoloured_product_fails_adherence(mustard_tee: Placement, packshot: Image.Image, degrees: int) -> None:
    scores = grade(hue_shifted(packshot, mustard_tee.mask, degrees), mustard_tee)
    assert not scores.passed
    assert "adherence" in failing_groups(scores)
    assert "the product's colours drifted from the reference" in scores.reasons


def test_a_different_product_in_its_place_fails_adherence(
    catalogue: list[dict[str, Any]], mustard_tee: Placement
) -> None:
    candidate = composite(placed(catalogue, "hoodie", "Charcoal"), "#FFFFFF")
    scores = grade(candidate, mustard_tee)
    assert not scores.passed and "adherence" in failing_groups(scores)


# --- off brand -------------------------------------------------------------------------------------


def test_off_palette_background_fails_brand_and_names_the_nearest_colour(mustard_tee: Placement) -> None:
    scores = grade(composite(mustard_tee, "#2E7D32"), mustard_tee)
    assert not scores.passed
    assert failing_groups(scores) == {"brand"}
    [reason] = scores.reasons
    assert reason.startswith("background is off-palette (#2E7D32; #F4D7DA is nearest")


def test_every_palette_colour_is_on_brand(mustard_tee: Placement) -> None:
    assert grade(composite(mustard_tee, "#F4D7DA"), mustard_tee).passed
    assert not grade(
        composite(mustard_tee, "#F4D7DA"), mustard_tee, BrandRules(palette=("#FFFFFF",), max_colour_distance=30)
    ).passed


def test_product_inside_the_logo_safe_margin_fails_brand(catalogue: list[dict[str, Any]]) -> None:
    edge_to_edge = placed(catalogue, "tee", "Mustard", BrandRules(padding=0.0, margin=0.0))
    scores = grade(composite(edge_to_edge, "#FFFFFF"), edge_to_edge)
    assert not scores.passed and "brand" in failing_groups(scores)
    assert any("logo-safe margin" in reason for reason in scores.reasons)


def test_clutter_along_the_edges_fails_brand(mustard_tee: Placement, packshot: Image.Image) -> None:
    cluttered = packshot.copy()
    draw = ImageDraw.Draw(cluttered)
    for i in range(0, SIZE[0], 12):
        draw.line((i, 0, i + 6, 40), fill=(40, 40, 40), width=3)
        draw.line((i, SIZE[1] - 40, i + 6, SIZE[1]), fill=(40, 40, 40), width=3)
    for j in range(0, SIZE[1], 12):
        draw.line((0, j, 40, j + 6), fill=(40, 40, 40), width=3)
        draw.line((SIZE[0] - 40, j, SIZE[0], j + 6), fill=(40, 40, 40), width=3)
    scores = grade(cluttered, mustard_tee)
    assert not scores.passed and "brand" in failing_groups(scores)
    assert any("logo-safe border is cluttered" in reason for reason in scores.reasons)


# --- broken images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda image: Image.new("RGB", image.size, "black"), "image is too dark"),
        (lambda image: Image.new("RGB", image.size, "white"), "image is blank"),
        (lambda image: image.filter(ImageFilter.GaussianBlur(6)), "image is blurry"),
        (lambda image: image.resize((128, 160)), "image is 128×160, smaller than 512 px on its shorter side"),
        (lambda image: image.point(lambda v: min(255, round(v * 1.8))), "image is too bright"),
    ],
    ids=["black", "blank", "very blurry", "tiny", "blown out"],
)
def test_broken_images_fail_quality(
    mustard_tee: Placement, packshot: Image.Image, breakage: Callable[[Image.Image], Image.Image], reason: str
) -> None:
    scores = grade(breakage(packshot), mustard_tee)
    assert not scores.passed
    assert "quality" in failing_groups(scores)
    assert reason in scores.reasons


def test_random_noise_fails(mustard_tee: Placement) -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8))
    scores = grade(noise, mustard_tee)
    assert not scores.passed
    assert {"adherence", "brand"} <= failing_groups(scores)
    assert scores.total < 0.5


def test_a_candidate_of_another_size_is_compared_on_the_canvas(mustard_tee: Placement, packshot: Image.Image) -> None:
    larger = packshot.resize((1024, 1280), Image.Resampling.LANCZOS)
    scores = grade(larger, mustard_tee)
    assert scores.passed, scores.reasons


def test_full_size_packshots_are_judged_the_same_way(catalogue: list[dict[str, Any]]) -> None:
    placement = placed(catalogue, "tee", "Rust", size=(816, 1024), photo_px=768)
    candidate = composite(placement, "#FFFFFF")
    assert grade(candidate, placement).passed
    blurred = grade(candidate.filter(ImageFilter.GaussianBlur(6)), placement)
    assert not blurred.passed and "image is blurry" in blurred.reasons
    recoloured = grade(hue_shifted(candidate, placement.mask, 180), placement)
    assert not recoloured.passed and "the product's colours drifted from the reference" in recoloured.reasons
