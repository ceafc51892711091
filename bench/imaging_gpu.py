"""Time diffusion rendering: HUB's `DiffusionRenderer.render` against a bare diffusers `pipe()` call, eager and compiled.

Builds a random SD1.5-architecture inpainting pipeline (speed does not depend on the weights) in a temp folder, then
for each batch size renders the same requests (one seed each, 512×512 by default) through the service and through
one plain `pipe(prompt=[...], image=[...], mask_image=[...], generator=[...])` call on the same pipeline, alternately
so drift hits both alike. Prints images/s, the service/bare ratio (the price of batching bookkeeping, resizing and
paste-back; goal ≥ 0.97×) and, with `--compile`, the speed-up `torch.compile` gives the UNet.

    python -m bench.imaging_gpu [--steps 20] [--batches 1,4,8] [--repeats 3] [--no-compile]
    python -m bench.imaging_gpu --allow-cpu --size tiny --resolution 64 --steps 2 --batches 1,2 --no-compile  # smoke
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import torch
from PIL import Image

from imaging_service.pipelines import DiffusionConfig, DiffusionRenderer
from imaging_service.tiny import Size, build_tiny_sd
from imaging_service.types import RenderRequest

COLOURS = ("#C81E1E", "#1E1EC8", "#1EA03C", "#E6B414", "#8C3CB4", "#14A0A0", "#F07814", "#505050")


@dataclass(frozen=True)
class Row:
    compiled: bool
    batch: int
    service: float
    """Images per second through `DiffusionRenderer.render`."""
    bare: float
    """Images per second through one bare `pipe()` call."""


def requests(batch: int, side: int) -> list[RenderRequest]:
    """`batch` different products, one seed each, centred on a white canvas with the rest left to paint."""
    box = (side // 4, side // 4, 3 * side // 4, 3 * side // 4)
    made = []
    for i in range(batch):
        image, mask = Image.new("RGB", (side, side), "white"), Image.new("L", (side, side), 255)
        image.paste(COLOURS[i % len(COLOURS)], box)
        mask.paste(0, box)
        made.append(
            RenderRequest(
                job_id=f"bench-{i}",
                init_image=image,
                mask=mask,
                prompt="a studio photo of the product on a marble counter, soft light",
                negative_prompt="blurry, low quality",
                seeds=(i,),
            )
        )
    return made


def bare_call(renderer: DiffusionRenderer, batch: list[RenderRequest]) -> Callable[[], object]:
    """What a diffusers user would write for the same images: one call, no service bookkeeping."""
    config, pipe = renderer.config, renderer.pipeline
    width, height = batch[0].size

    def call() -> object:
        return pipe(
            prompt=[r.prompt for r in batch],
            negative_prompt=[r.negative_prompt for r in batch],
            image=[r.init_image for r in batch],
            mask_image=[r.mask for r in batch],
            generator=[torch.Generator(renderer.device).manual_seed(r.seeds[0]) for r in batch],
            num_inference_steps=config.steps,
            guidance_scale=config.guidance,
            width=width,
            height=height,
        ).images

    return call


def seconds(call: Callable[[], object], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    call()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(renderer: DiffusionRenderer, batch: int, side: int, repeats: int) -> Row:
    """Images/s of service and bare calls, from the median of `repeats` alternating runs after one warm-up each."""
    work = requests(batch, side)
    service, bare = (lambda: renderer.render(work)), bare_call(renderer, work)
    service(), bare()  # warm-up: allocator, cuDNN autotuning and, when compiled, the compile for this shape
    timings: dict[str, list[float]] = {"service": [], "bare": []}
    for _ in range(repeats):
        timings["service"].append(seconds(service, renderer.device))
        timings["bare"].append(seconds(bare, renderer.device))
    rate = {name: batch / statistics.median(runs) for name, runs in timings.items()}
    return Row(compiled=renderer.config.compile, batch=batch, service=rate["service"], bare=rate["bare"])


def run(model: Path, args: argparse.Namespace, device: str) -> list[Row]:
    rows = []
    for compiled in (False, True) if args.compile else (False,):
        config = DiffusionConfig(model=str(model), steps=args.steps, compile=compiled, device=device)
        renderer = DiffusionRenderer(config)
        renderer.load()
        for batch in args.batches:
            print(f"  {'compiled' if compiled else 'eager'} batch {batch}…", flush=True)
            rows.append(measure(renderer, batch, args.resolution, args.repeats))
        del renderer
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def report(rows: list[Row], args: argparse.Namespace, device: str) -> None:
    card = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    dtype = "float16" if device == "cuda" else "float32"
    print(
        f"{args.size} random SD1.5-architecture inpainting, {args.resolution}×{args.resolution}, {args.steps} steps, "
        f"guidance on, {dtype}, {card}"
    )
    print(f"  {'unet':<9}{'batch':>6}{'service img/s':>15}{'bare img/s':>12}{'service/bare':>14}{'compile ×':>11}")
    eager = {row.batch: row.service for row in rows if not row.compiled}
    for row in rows:
        speedup = f"{row.service / eager[row.batch]:.2f}×" if row.compiled else ""
        print(
            f"  {'compiled' if row.compiled else 'eager':<9}{row.batch:>6}{row.service:>15.2f}{row.bare:>12.2f}"
            f"{row.service / row.bare:>13.2f}×{speedup:>11}"
        )
    print("  service/bare: the price of HUB's batching, resizing and paste-back (goal ≥ 0.97×)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("CUDA is not available: skipping the imaging GPU bench (pass --allow-cpu --size tiny for a smoke run).")
        return 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        print(f"building a random {args.size} SD1.5-architecture pipeline…", flush=True)
        model = build_tiny_sd(Path(tmp) / "sd", size=args.size)
        report(run(model, args, device), args, device)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batches", type=lambda v: [int(b) for b in v.split(",")], default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=True, help="also time torch.compile"
    )
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU when CUDA is missing (use --size tiny)")
    parser.add_argument("--size", choices=get_args(Size), default="sd15", help="model dimensions")
    parser.add_argument("--resolution", type=int, default=512, help="image side in pixels")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
