"""The diffusion renderer on a real GPU: fp16 weights, one batch for several jobs, seeds reproducible on CUDA.

Opt-in: skipped without CUDA (run on a GPU host with `pytest tests/gpu`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imaging_service.types import RenderRequest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def request(job: str, seeds: tuple[int, ...]) -> RenderRequest:
    size = (256, 256)
    init = Image.new("RGB", size, "white")
    mask = Image.new("L", size, 255)
    mask.paste(0, (96, 96, 160, 160))
    return RenderRequest(job, init, mask, "a red mug on a table", "text", seeds)


def test_a_batch_renders_in_half_precision_and_repeats_with_its_seeds(tmp_path: Path) -> None:
    from imaging_service.pipelines import DiffusionConfig, DiffusionRenderer
    from imaging_service.tiny import build_tiny_sd

    model = build_tiny_sd(tmp_path / "sd15", size="sd15")
    renderer = DiffusionRenderer(DiffusionConfig(model=str(model), steps=4))
    assert renderer.device == "cuda" and renderer.dtype == torch.float16
    first = renderer.render([request("a", (1, 2)), request("b", (3,))])
    again = renderer.render([request("b", (3,))])
    assert [len(images) for images in first] == [2, 1]
    assert first[1][0].tobytes() == again[0][0].tobytes() or _close(first[1][0], again[0][0])


def _close(a: Image.Image, b: Image.Image) -> bool:
    import numpy as np

    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean()) < 2.0
