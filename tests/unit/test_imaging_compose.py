"""The studio compositor: cut-outs of the demo shop's reference photos, packshot layouts, and the CPU renderer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw
from scipy import ndimage as ndi

from hub.prompting.outputs import AspectRatio
from hub.seed.catalog import build_demo_shop
from hub.seed.images import render_product_image
from imaging_service.compose import (
    CompositorRenderer,
    canvas_size,
    composite,
    cut_out,
    init_and_mask,
    margin_px,
    place,
)
from imaging_service.types import BrandRules, Placement, RenderRequest

ANCHOR = datetime(2025, 11, 26, 15, 30, 12, tzinfo=UTC)
RULES = BrandRules()
BRAND_GREEN = "#1F3B33"
ASPECTS = [*AspectRatio, "4:3", "2:3", "3:2"]
# Pale products on the pale studio sweep, see-through handles, two-part items, contact shadows.
DEMO_PRODUCTS = [
    ("tee", "White"),
    ("dress", "Ecru"),
    ("mug", "White"),
    ("tote", "Black"),
    ("hoodie", "Charcoal"),
    ("cap", "Burgundy"),
    ("socks", "Cream"),
    ("cushion", "Sky Blue"),
]


@pytest.fixture(scope="module")
def catalogue() -> list[dict[str, Any]]:
    return build_demo_shop(ANCHOR).products


def demo_product(catalogue: list[dict[str, Any]], kind: str, colour: str) -> dict[str, Any]:
    return next(
        p for p in catalogue if p["attributes"]["product_type"] == kind and p["attributes"]["colours"][0] == colour
    )


def silhouette(product: dict[str, Any]) -> np.ndarray:
    """Return where the product is in its render: the pixels that change when only its colour does."""
    renders = [
        np.asarray(render_product_image({**product, "attributes": {**product["attributes"], "colours": [hex_]}}))
        for hex_ in ("#000000", "#FFFFFF")
    ]
    return np.abs(renders[0].astype(int) - renders[1].astype(int)).max(axis=2) > 40


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def tee_placement(catalogue: list[dict[str, Any]]) -> Placement:
    reference = render_product_image(demo_product(catalogue, "tee", "Rust"))
    return place(reference, cut_out(reference), 512, 640, RULES)


def request_for(placement: Placement, background: str, seeds: tuple[int, ...]) -> RenderRequest:
    init, mask = init_and_mask(placement, background)
    return RenderRequest(
        job_id="job-1", init_image=init, mask=mask, prompt="", negative_prompt="", seeds=seeds, background=background
    )


# --- cut-out ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "colour"), DEMO_PRODUCTS)
def test_cut_out_finds_the_product_on_demo_references(catalogue: list[dict[str, Any]], kind: str, colour: str) -> None:
    product = demo_product(catalogue, kind, colour)
    mask = np.asarray(cut_out(render_product_image(product))) >= 128
    assert iou(mask, silhouette(product)) >= 0.9
    assert not mask[:8, :8].any() and not mask[-8:, -8:].any()


def test_cut_out_leaves_the_floor_shadow_behind(catalogue: list[dict[str, Any]]) -> None:
    product = demo_product(catalogue, "cap", "Burgundy")
    truth = silhouette(product)
    mask = np.asarray(cut_out(render_product_image(product))) >= 128
    below = np.zeros_like(truth)
    bottom = np.nonzero(truth.any(axis=1))[0][-1]
    below[bottom + 3 : bottom + 20] = truth.any(axis=0)
    assert not (mask & below).any()


def test_cut_out_sees_through_bag_handles(catalogue: list[dict[str, Any]]) -> None:
    product = demo_product(catalogue, "tote", "Black")
    truth = silhouette(product)
    gaps = ndi.binary_fill_holes(truth) & ~truth
    mask = np.asarray(cut_out(render_product_image(product))) >= 128
    assert gaps.sum() > 1000
    assert (mask & gaps).sum() < 0.05 * gaps.sum()


def test_cut_out_of_a_large_photo_is_full_size_and_soft_edged(catalogue: list[dict[str, Any]]) -> None:
    product = demo_product(catalogue, "hoodie", "Charcoal")
    mask = cut_out(render_product_image(product, size=1024))
    assert mask.size == (1024, 1024) and mask.mode == "L"
    values = np.asarray(mask)
    edge = (values > 0) & (values < 255)
    assert 0 < edge.sum() < 0.1 * (values == 255).sum()


def test_cut_out_uses_real_transparency() -> None:
    reference = Image.effect_noise((300, 200), 80).convert("RGBA")
    alpha = Image.new("L", reference.size, 0)
    ImageDraw.Draw(alpha).ellipse((60, 40, 240, 170), fill=255)
    reference.putalpha(alpha)
    assert ImageChops.difference(cut_out(reference), alpha).getbbox() is None


def test_cut_out_ignores_an_alpha_channel_that_is_all_opaque(catalogue: list[dict[str, Any]]) -> None:
    product = demo_product(catalogue, "tee", "White")
    mask = np.asarray(cut_out(render_product_image(product).convert("RGBA"))) >= 128
    assert iou(mask, silhouette(product)) >= 0.9


@pytest.mark.parametrize(
    "reference",
    [
        Image.new("RGB", (256, 256), "#F4F2EE"),
        Image.new("RGBA", (256, 256), (255, 255, 255, 0)),
        Image.effect_noise((256, 256), 100).convert("RGB"),
    ],
    ids=["plain backdrop", "fully transparent", "no studio backdrop"],
)
def test_cut_out_never_returns_an_empty_mask(reference: Image.Image, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="imaging_service.compose"):
        mask = cut_out(reference)
    assert mask.size == reference.size
    assert np.asarray(mask).min() == 255
    assert "whole" in caplog.text


# --- layout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect", ASPECTS)
def test_canvas_size_keeps_the_aspect_in_multiples_of_8(aspect: str) -> None:
    width, height = canvas_size(aspect, 1024)
    w, h = (int(side) for side in aspect.split(":"))
    assert width % 8 == 0 and height % 8 == 0
    assert max(width, height) == 1024
    assert abs(width / height - w / h) < 0.02


@pytest.mark.parametrize(("aspect", "long_side"), [("square", 1024), ("0:1", 1024), ("1:9", 1024), ("1:1", 32)])
def test_canvas_size_rejects_what_is_not_a_photo_format(aspect: str, long_side: int) -> None:
    with pytest.raises(ValueError, match=r"aspect|long_side"):
        canvas_size(aspect, long_side)


@pytest.mark.parametrize("aspect", ASPECTS)
def test_packshot_fills_each_format_clear_of_the_margin(catalogue: list[dict[str, Any]], aspect: str) -> None:
    reference = render_product_image(demo_product(catalogue, "tote", "Black"))
    width, height = canvas_size(aspect, 768)
    placement = place(reference, cut_out(reference), width, height, RULES)
    image = composite(placement, BRAND_GREEN)
    left, top, right, bottom = placement.box
    inset = margin_px(width, height, max(RULES.padding, RULES.margin))
    assert image.size == (width, height) and image.mode == "RGB"
    assert {
        image.getpixel(corner) for corner in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]
    } == {(0x1F, 0x3B, 0x33)}
    assert min(left, top, width - right, height - bottom) >= inset
    # As large as the padding allows on at least one axis, centred across, a little low like a packshot.
    assert right - left >= width - 2 * inset - 1 or bottom - top >= height - 2 * inset - 1
    assert abs((left + right) - width) <= 1
    assert (top + bottom) / 2 >= height / 2 - 1


def test_shadow_darkens_the_floor_under_the_product_only_slightly(tee_placement: Placement) -> None:
    with_shadow = np.asarray(composite(tee_placement, "#FFFFFF").convert("L"), dtype=float)
    without = np.asarray(composite(tee_placement, "#FFFFFF", shadow=False).convert("L"), dtype=float)
    left, top, right, bottom = tee_placement.box
    centre = (left + right) // 2
    floor = with_shadow[bottom + 2 : bottom + 8, centre - 20 : centre + 20]
    assert 150 < floor.min() and floor.mean() < 245
    # Soft, but local: the rest of the backdrop is the pure brand colour.
    away = 0.05 * tee_placement.width
    assert (with_shadow[: round(top - away)] == 255).all()
    assert (with_shadow[:, : round(left - away)] == 255).all() and (with_shadow[:, round(right + away) :] == 255).all()
    product = np.asarray(tee_placement.mask) == 255
    assert (with_shadow[product] == without[product]).all()


def test_composite_without_shadow_is_product_on_plain_colour(tee_placement: Placement) -> None:
    image = np.asarray(composite(tee_placement, BRAND_GREEN, shadow=False))
    outside = np.asarray(tee_placement.mask) == 0
    assert (image[outside] == (0x1F, 0x3B, 0x33)).all()


@pytest.mark.parametrize("background", ["white", "#FFF", "#12345G"])
def test_composite_rejects_a_background_that_is_not_rrggbb(tee_placement: Placement, background: str) -> None:
    with pytest.raises(ValueError, match="background"):
        composite(tee_placement, background)


def test_place_rejects_a_mask_of_another_size(catalogue: list[dict[str, Any]]) -> None:
    reference = render_product_image(demo_product(catalogue, "tee", "White"))
    with pytest.raises(ValueError, match="mask"):
        place(reference, Image.new("L", (10, 10), 255), 512, 512, RULES)


# --- inpainting inputs and the renderer ------------------------------------------------------------


def test_init_and_mask_keep_the_product_and_free_everything_else(tee_placement: Placement) -> None:
    init, mask = init_and_mask(tee_placement, "#FFFFFF")
    product = np.asarray(tee_placement.mask) > 0
    free = np.asarray(mask) == 255
    assert init.size == mask.size == (512, 640) and init.mode == "RGB" and mask.mode == "L"
    assert not (free & product).any()
    # A thin ring around the product is kept too, and nothing far from it.
    kept = ~free
    assert kept.sum() > product.sum() and (kept.sum() - product.sum()) < 0.1 * product.sum()
    assert np.asarray(init)[free].min() == 255


def test_compositor_renders_one_packshot_per_seed_the_same_way_twice(tee_placement: Placement) -> None:
    renderer = CompositorRenderer()
    requests = [request_for(tee_placement, "#FFFFFF", (1, 2, 3)), request_for(tee_placement, BRAND_GREEN, (7,))]
    first, again = renderer.render(requests), renderer.render(requests)
    assert [len(images) for images in first] == [3, 1]
    assert all(image.size == (512, 640) and image.mode == "RGB" for images in first for image in images)
    assert [[i.tobytes() for i in images] for images in first] == [[i.tobytes() for i in images] for images in again]
    assert len({image.tobytes() for image in first[0]}) == 3
    assert first[1][0].getpixel((0, 0)) == (0x1F, 0x3B, 0x33)


def test_compositor_keeps_the_product_exactly(tee_placement: Placement) -> None:
    [[image]] = CompositorRenderer().render([request_for(tee_placement, "#FFFFFF", (5,))])
    product = np.asarray(tee_placement.mask) == 255
    expected = np.asarray(composite(tee_placement, "#FFFFFF", shadow=False))
    assert (np.asarray(image)[product] == expected[product]).all()


def test_compositor_batches_every_request_together(tee_placement: Placement) -> None:
    renderer = CompositorRenderer()
    other = place(Image.new("RGB", (64, 64), "red"), Image.new("L", (64, 64), 255), 256, 256, RULES)
    keys = {renderer.batch_key(request_for(p, "#FFFFFF", (1,))) for p in (tee_placement, other)}
    assert len(keys) == 1 and (renderer.name, renderer.device) == ("compositor", "cpu")


def test_compositor_rejects_a_mask_of_another_size(tee_placement: Placement) -> None:
    request = request_for(tee_placement, "#FFFFFF", (1,))
    broken = RenderRequest(
        job_id="job-2",
        init_image=request.init_image,
        mask=request.mask.resize((64, 64)),
        prompt="",
        negative_prompt="",
        seeds=(1,),
    )
    with pytest.raises(ValueError, match="job-2: mask"):
        CompositorRenderer().render([broken])
