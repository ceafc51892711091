"""The diffusion renderer on tiny random SD1.5 models: batching, seeds, paste-back, ControlNet, LoRA, IP-Adapter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="needs the imaging extra")

from diffusers import StableDiffusionInpaintPipeline
from PIL import Image

from imaging_service.pipelines import (
    DiffusionConfig,
    DiffusionRenderer,
    ModelUnavailable,
    canny_edges,
    check_model,
)
from imaging_service.tiny import build_tiny_ip_adapter, build_tiny_lora, build_tiny_sd
from imaging_service.types import RenderRequest

pytestmark = pytest.mark.timeout(120)

SIZE = (64, 64)
PRODUCT_BOX = (20, 16, 44, 48)


@dataclass(frozen=True)
class TinyModels:
    inpaint: Path
    """9-channel inpainting pipeline, with a ControlNet in `inpaint / "controlnet"`."""
    plain: Path
    """4-channel text-to-image pipeline, for img2img."""
    lora: Path
    ip_adapter: Path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyModels]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        root = tmp_path_factory.mktemp("tiny-sd")
        inpaint = build_tiny_sd(root / "inpaint", controlnet=True, seed=0)
        yield TinyModels(
            inpaint=inpaint,
            plain=build_tiny_sd(root / "plain", in_channels=4, seed=0),
            lora=build_tiny_lora(root / "lora", model=inpaint, seed=0),
            ip_adapter=build_tiny_ip_adapter(root / "ip-adapter", model=inpaint, seed=0),
        )


@pytest.fixture(scope="module")
def config(models: TinyModels) -> DiffusionConfig:
    return DiffusionConfig(model=str(models.inpaint), steps=2, device="cpu")


@pytest.fixture(scope="module")
def renderer(config: DiffusionConfig) -> DiffusionRenderer:
    renderer = DiffusionRenderer(config)
    renderer.load()
    return renderer


def request(
    job_id: str,
    seeds: tuple[int, ...],
    *,
    size: tuple[int, int] = SIZE,
    colour: str = "#C81E1E",
    lora: Path | None = None,
) -> RenderRequest:
    """A red product placed on a white canvas; the mask lets the model paint everything else."""
    image = Image.new("RGB", size, "white")
    mask = Image.new("L", size, 255)
    image.paste(colour, PRODUCT_BOX)
    mask.paste(0, PRODUCT_BOX)
    return RenderRequest(
        job_id=job_id,
        init_image=image,
        mask=mask,
        prompt="a photo of the product on a soft studio background",
        negative_prompt="blurry",
        seeds=seeds,
        lora=str(lora) if lora else None,
    )


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_a_batch_returns_one_image_per_seed_per_request_at_the_requested_size(renderer: DiffusionRenderer) -> None:
    out = renderer.render([request("a", (1, 2)), request("b", (3, 4), colour="#1E1EC8")])
    assert [[image.size for image in images] for images in out] == [[SIZE, SIZE], [SIZE, SIZE]]
    assert all(image.mode == "RGB" for images in out for image in images)
    assert renderer.name == f"diffusers:{renderer.config.model}" and renderer.device == "cpu"


def test_a_seed_reproduces_its_image_and_different_seeds_differ(renderer: DiffusionRenderer) -> None:
    (first, second), (again, _) = renderer.render([request("a", (7, 8)), request("b", (7, 9))])
    assert np.array_equal(pixels(first), pixels(again)), "same inputs and seed in one batch"
    assert np.abs(pixels(first) - pixels(second)).mean() > 1
    [[alone]] = renderer.render([request("c", (8,))])
    # A different batch shape may change float rounding, never the picture.
    assert np.abs(pixels(alone) - pixels(second)).max() <= 4


def test_an_odd_sized_request_comes_back_at_its_own_size(renderer: DiffusionRenderer) -> None:
    [[image]] = renderer.render([request("a", (1,), size=(70, 60))])
    assert image.size == (70, 60)


def test_paste_back_keeps_every_product_pixel(renderer: DiffusionRenderer, config: DiffusionConfig) -> None:
    job = request("a", (5,))
    [[kept]] = renderer.render([job])
    product = np.asarray(job.mask) == 0
    assert np.array_equal(pixels(kept)[product], pixels(job.init_image)[product])
    assert not np.array_equal(pixels(kept)[~product], pixels(job.init_image)[~product]), "the background is painted"
    [[raw]] = DiffusionRenderer(replace(config, paste_back=False)).render([job])
    assert not np.array_equal(pixels(raw)[product], pixels(job.init_image)[product])


def test_one_pipeline_call_renders_the_whole_batch(
    renderer: DiffusionRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    original = StableDiffusionInpaintPipeline.__call__

    def counted(pipe: StableDiffusionInpaintPipeline, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(pipe, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "__call__", counted)
    renderer.render([request("a", (1, 2)), request("b", (3, 4))])
    assert len(calls) == 1
    assert len(calls[0]["prompt"]) == len(calls[0]["generator"]) == len(calls[0]["mask_image"]) == 4
    assert [g.initial_seed() for g in calls[0]["generator"]] == [1, 2, 3, 4]


def test_a_mixed_batch_is_refused_before_any_work(renderer: DiffusionRenderer) -> None:
    small, large = request("a", (1,)), request("b", (1,), size=(96, 64))
    assert renderer.batch_key(small) != renderer.batch_key(large)
    with pytest.raises(ValueError, match="group them by batch_key"):
        renderer.render([small, large])
    with pytest.raises(ValueError, match=r"job_id='a'\)\.lora: no such file"):
        renderer.render([request("a", (1,), lora=Path("/nowhere/lora"))])


def test_a_tenant_lora_changes_the_output_and_switches_off_again(
    renderer: DiffusionRenderer, models: TinyModels
) -> None:
    [[before]] = renderer.render([request("a", (3,))])
    [[branded]] = renderer.render([request("a", (3,), lora=models.lora)])
    [[after]] = renderer.render([request("a", (3,))])
    assert np.abs(pixels(branded) - pixels(before)).mean() > 1
    assert np.abs(pixels(after) - pixels(before)).max() <= 4
    assert renderer.batch_key(request("a", (3,), lora=models.lora)) != renderer.batch_key(request("a", (3,)))


def test_the_controlnet_variant_renders_from_the_product_edges(config: DiffusionConfig, models: TinyModels) -> None:
    job = request("a", (1, 2))
    assert np.asarray(canny_edges(job.init_image)).any(), "the product outline is visible to the ControlNet"
    out = DiffusionRenderer(replace(config, controlnet=str(models.inpaint / "controlnet"))).render([job])
    assert [image.size for image in out[0]] == [SIZE, SIZE]


def test_each_image_gets_its_own_product_as_ip_adapter_prompt(
    renderer: DiffusionRenderer, config: DiffusionConfig, models: TinyModels
) -> None:
    with_ip = DiffusionRenderer(replace(config, ip_adapter=str(models.ip_adapter), ip_adapter_scale=1.0))
    red, blue = request("a", (4,)), request("b", (4,), colour="#1E1EC8")
    [_, [red_after_blue]] = with_ip.render([blue, red])
    [[red_alone]] = with_ip.render([red])
    [[red_plain]] = renderer.render([red])
    assert np.abs(pixels(red_alone) - pixels(red_plain)).mean() > 1, "the image prompt steers the render"
    assert np.abs(pixels(red_after_blue) - pixels(red_alone)).max() <= 4, "and it is this request's product"


def test_img2img_mode_restyles_and_keeps_the_product(config: DiffusionConfig, models: TinyModels) -> None:
    job = request("a", (1,))
    [[image]] = DiffusionRenderer(replace(config, model=str(models.plain), mode="img2img")).render([job])
    product = np.asarray(job.mask) == 0
    assert image.size == SIZE
    assert np.array_equal(pixels(image)[product], pixels(job.init_image)[product])
    assert not np.array_equal(pixels(image)[~product], pixels(job.init_image)[~product])


def test_a_missing_model_names_the_setting(tmp_path: Path, models: TinyModels) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable, match=rf"^HUB_IMAGING_MODEL='{re.escape(str(missing))}': no such folder"):
        check_model(DiffusionConfig(model=str(missing)))
    with pytest.raises(ModelUnavailable, match=r"HUB_IMAGING_MODEL=.*: the folder has no model_index\.json"):
        DiffusionRenderer(DiffusionConfig(model=str(tmp_path), device="cpu")).render([request("a", (1,))])
    with pytest.raises(ModelUnavailable, match=r"HUB_IMAGING_MODEL='acme/sd15-product': .*not in the local"):
        check_model(DiffusionConfig(model="acme/sd15-product"))
    with pytest.raises(ModelUnavailable, match=r"^HUB_IMAGING_CONTROLNET="):
        check_model(DiffusionConfig(model=str(models.inpaint), controlnet=str(missing)))
