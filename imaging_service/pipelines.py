"""Render product photos with Stable Diffusion 1.5: one diffusers pipeline call per batch, product pixels kept.

`DiffusionRenderer` is the imaging service's diffusion `Renderer`. A batch of `RenderRequest`s (same size, same tenant
LoRA) becomes a single `pipe()` call with one prompt, image, mask and seeded generator per requested image; the result
is split back per request, resized to the request's size, and the product's own pixels are pasted back over it.
Optional parts, all loaded from local folders by default: a ControlNet conditioned on the product's Canny edges, an
IP-Adapter that takes the placed product as its image prompt, and per-tenant LoRAs (cached, switched per batch).

Needs the `imaging` extra (torch, diffusers, transformers, peft).
"""

# diffusers exports its public names through a lazy import structure that pyright reads as private imports.
# pyright: reportPrivateImportUsage=false
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from diffusers import (
    ControlNetModel,
    DiffusionPipeline,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionControlNetInpaintPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
)
from huggingface_hub import try_to_load_from_cache
from PIL import Image
from skimage import feature

from imaging_service.types import RenderRequest

Mode = Literal["inpaint", "img2img"]
Control = Literal["canny"]
DType = Literal["auto", "float16", "bfloat16", "float32"]
Device = Literal["auto", "cuda", "cpu"]

SETTING_PREFIX = "HUB_IMAGING_"
"""Errors name a config field as the setting it comes from: `model` → `HUB_IMAGING_MODEL`."""

IP_ADAPTER_SUBFOLDER = "models"
IP_ADAPTER_WEIGHT_NAME = "ip-adapter_sd15.safetensors"
"""Where `h94/IP-Adapter` keeps the SD1.5 IP-Adapter (its image encoder sits beside it, in `image_encoder/`)."""


class _PerImageIPAdapterEmbeds:
    """Let `ip_adapter_image_embeds` hold one image prompt per generated image, not one for the whole batch.

    Stock diffusers repeats precomputed embeddings once per image and every image then attends to all of them, which
    would blend the products of a batch; rows already laid out per image are passed through as they are.
    """

    def prepare_ip_adapter_image_embeds(
        self,
        ip_adapter_image: Any,
        ip_adapter_image_embeds: list[torch.Tensor] | None,
        device: torch.device | str,
        num_images_per_prompt: int,
        do_classifier_free_guidance: bool,
    ) -> list[torch.Tensor]:
        rows = num_images_per_prompt * (2 if do_classifier_free_guidance else 1)
        if ip_adapter_image_embeds is not None and all(embeds.shape[0] == rows for embeds in ip_adapter_image_embeds):
            return [embeds.to(device) for embeds in ip_adapter_image_embeds]
        return super().prepare_ip_adapter_image_embeds(  # pyright: ignore[reportAttributeAccessIssue]  # a mixin: the pipeline after it in the MRO has it
            ip_adapter_image, ip_adapter_image_embeds, device, num_images_per_prompt, do_classifier_free_guidance
        )


def _per_image_ip_adapter(base: type[DiffusionPipeline]) -> type[DiffusionPipeline]:
    return type(base.__name__, (_PerImageIPAdapterEmbeds, base), {"__module__": __name__, "__doc__": base.__doc__})


PIPELINES: dict[tuple[Mode, bool], type[DiffusionPipeline]] = {
    ("inpaint", False): _per_image_ip_adapter(StableDiffusionInpaintPipeline),
    ("inpaint", True): _per_image_ip_adapter(StableDiffusionControlNetInpaintPipeline),
    ("img2img", False): _per_image_ip_adapter(StableDiffusionImg2ImgPipeline),
    ("img2img", True): _per_image_ip_adapter(StableDiffusionControlNetImg2ImgPipeline),
}
"""The diffusers pipeline for each (mode, with a ControlNet)."""

T = TypeVar("T")


@dataclass(frozen=True)
class DiffusionConfig:
    """How to build and run the diffusion pipeline; every field maps to a `HUB_IMAGING_<FIELD>` setting."""

    model: str
    """A local diffusers folder (or hub id) of an SD1.5-architecture pipeline, loaded with `from_pretrained`."""
    mode: Mode = "inpaint"
    """`inpaint` repaints where the request's mask is white; `img2img` re-noises the whole placed image by `strength`."""
    controlnet: str | None = None
    """A ControlNet folder (or hub id), conditioned on `control` computed from the placed product; None for none."""
    control: Control = "canny"
    """What the ControlNet sees: `canny` edges of the request's `init_image`."""
    control_scale: float = 0.8
    """How strongly the ControlNet steers (diffusers' `controlnet_conditioning_scale`)."""
    ip_adapter: str | None = None
    """An IP-Adapter folder (or hub id) whose image prompt is the placed product, for reference adherence."""
    ip_adapter_subfolder: str = IP_ADAPTER_SUBFOLDER
    ip_adapter_weight_name: str = IP_ADAPTER_WEIGHT_NAME
    ip_adapter_scale: float = 0.6
    """0 ignores the product image prompt, 1 follows it as strongly as the text."""
    lora_scale: float = 1.0
    """Weight of a request's tenant LoRA."""
    max_loras: int = 8
    """Tenant LoRAs kept loaded; the least recently used one is unloaded beyond this."""
    steps: int = 30
    guidance: float = 7.0
    """Classifier-free guidance scale; 1 or less turns guidance off (half the UNet work)."""
    strength: float = 0.75
    """img2img only: how far the placed image is re-noised (1 ignores it entirely)."""
    paste_back: bool = True
    """Copy the request's own pixels back where its mask is 0, so the product is pixel-faithful (both modes)."""
    dtype: DType = "auto"
    """`auto` is float16 on CUDA and float32 on CPU."""
    device: Device = "auto"
    """`auto` is CUDA when available."""
    compile: bool = False
    """`torch.compile` the UNet (the first batch of each shape pays the compile; a new LoRA recompiles)."""
    local_files_only: bool = True
    """Never download: a hub id must already be in the local Hugging Face cache."""

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "guidance": self.guidance >= 0,
            "strength": 0 < self.strength <= 1,
            "control_scale": self.control_scale >= 0,
            "ip_adapter_scale": self.ip_adapter_scale >= 0,
            "max_loras": self.max_loras >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{setting_name(name)}: out of range (got {getattr(self, name)!r})")


class ModelUnavailable(RuntimeError):
    """A configured model cannot be found or loaded; the message names the setting and its value."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        self.setting = setting_name(field)
        self.value = value
        super().__init__(f"{self.setting}={value!r}: {reason}")


def setting_name(field: str) -> str:
    """Return the environment variable a `DiffusionConfig` field is configured by."""
    return f"{SETTING_PREFIX}{field.upper()}"


def check_model(config: DiffusionConfig) -> None:
    """Raise `ModelUnavailable` if a configured model, ControlNet or IP-Adapter is missing; loads no weights."""
    _check_source("model", config.model, "model_index.json", config.local_files_only)
    if config.controlnet is not None:
        _check_source("controlnet", config.controlnet, "config.json", config.local_files_only)
    if config.ip_adapter is not None:
        weights = f"{config.ip_adapter_subfolder}/{config.ip_adapter_weight_name}".lstrip("/")
        _check_source("ip_adapter", config.ip_adapter, weights, config.local_files_only)


def _check_source(field: str, value: str, marker: str, local_files_only: bool) -> None:
    """Check that `value` is a folder holding `marker`, or (when downloads are off) a hub id cached with it."""
    path = Path(value).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            raise ModelUnavailable(field, value, f"the folder has no {marker}")
        return
    if path.exists():
        raise ModelUnavailable(field, value, "not a folder")
    if value.startswith(("/", ".", "~")) or value.count("/") > 1:
        raise ModelUnavailable(field, value, "no such folder")
    if not local_files_only:
        return
    try:
        cached = try_to_load_from_cache(repo_id=value, filename=marker)
    except ValueError as exc:
        raise ModelUnavailable(field, value, f"no such folder, and not a hub id ({exc})") from exc
    if not isinstance(cached, str):
        raise ModelUnavailable(field, value, "no such folder, and not in the local Hugging Face cache (downloads off)")


def canny_edges(image: Image.Image, sigma: float = 2.0) -> Image.Image:
    """Return the image's Canny edges as an RGB ControlNet condition: white edges on black."""
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    edges = feature.canny(gray, sigma=sigma)
    return Image.fromarray(edges.astype(np.uint8) * 255).convert("RGB")


class DiffusionRenderer:
    """A `Renderer` on a diffusers SD1.5 pipeline; thread-safe, one pipeline call at a time."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config
        self.name = f"diffusers:{config.model}"
        self.device: Literal["cuda", "cpu"] = _resolve_device(config.device)
        self.dtype = _resolve_dtype(config.dtype, self.device)
        self._pipe: DiffusionPipeline | None = None
        self._loras: OrderedDict[str, str] = OrderedDict()
        """LoRA path → adapter name, least recently used first."""
        self._lock = threading.RLock()

    @property
    def pipeline(self) -> DiffusionPipeline:
        """The loaded diffusers pipeline (loading it first if needed)."""
        self.load()
        assert self._pipe is not None
        return self._pipe

    def load(self) -> None:
        """Load the pipeline and its optional parts onto the device, unless already loaded."""
        with self._lock:
            if self._pipe is None:
                self._pipe = _build_pipeline(self.config, self.device, self.dtype)

    def batch_key(self, request: RenderRequest) -> str:
        """Requests share a batch when they have the same size and tenant LoRA."""
        width, height = request.size
        return f"{self.config.mode}:{width}x{height}:lora={request.lora or '-'}"

    def check_inputs(self, batch: list[RenderRequest]) -> None:
        """Raise `ValueError` naming the request and argument if the batch cannot be one pipeline call."""
        if not batch:
            raise ValueError("batch: empty")
        keys = {self.batch_key(request) for request in batch}
        if len(keys) > 1:
            raise ValueError(f"batch: requests differ in size or lora ({sorted(keys)}); group them by batch_key")
        for request in batch:
            where = f"RenderRequest(job_id={request.job_id!r})"
            if not request.seeds:
                raise ValueError(f"{where}.seeds: empty")
            if request.mask.size != request.init_image.size:
                raise ValueError(f"{where}.mask: size {request.mask.size} differs from init_image {request.size}")
            if request.lora is not None and not Path(request.lora).exists():
                raise ValueError(f"{where}.lora: no such file or folder {request.lora!r}")

    def render(self, batch: list[RenderRequest]) -> list[list[Image.Image]]:
        """Render every seed of every request in one pipeline call; one list per request, one image per seed."""
        self.check_inputs(batch)
        with self._lock:
            pipe = self.pipeline
            self._use_lora(pipe, batch[0].lora)
            images = iter(pipe(**self._call_arguments(pipe, batch)).images)  # pyright: ignore[reportCallIssue]  # every pipeline in PIPELINES is callable
        return [[self._finish(request, next(images)) for _ in request.seeds] for request in batch]

    def _call_arguments(self, pipe: DiffusionPipeline, batch: list[RenderRequest]) -> dict[str, Any]:
        config = self.config
        width, height = _render_size(batch[0].size, pipe.vae_scale_factor)
        arguments: dict[str, Any] = {
            "prompt": _per_image(batch, [request.prompt for request in batch]),
            "negative_prompt": _per_image(batch, [request.negative_prompt for request in batch]),
            "image": _per_image(batch, [request.init_image.convert("RGB") for request in batch]),
            "generator": [torch.Generator(self.device).manual_seed(seed) for r in batch for seed in r.seeds],
            "num_inference_steps": config.steps,
            "guidance_scale": config.guidance,
            "width": width,
            "height": height,
            "output_type": "pil",
        }
        if config.mode == "inpaint":
            arguments["mask_image"] = _per_image(batch, [request.mask.convert("L") for request in batch])
        else:
            arguments["strength"] = config.strength
        if config.controlnet is not None:
            arguments["control_image"] = _per_image(batch, [canny_edges(request.init_image) for request in batch])
            arguments["controlnet_conditioning_scale"] = config.control_scale
        if config.ip_adapter is not None:
            arguments["ip_adapter_image_embeds"] = self._ip_adapter_embeds(pipe, batch)
        return arguments

    @torch.no_grad()
    def _ip_adapter_embeds(self, pipe: DiffusionPipeline, batch: list[RenderRequest]) -> list[torch.Tensor]:
        """Encode each request's placed product once, as one image prompt per generated image.

        The layout is `[negatives; positives]`, each `(images, 1, dim)`: one row per image of the pipeline call.
        """
        guided = self.config.guidance > 1
        encoded = [
            pipe.prepare_ip_adapter_image_embeds([request.init_image.convert("RGB")], None, self.device, 1, guided)[0]
            for request in batch
        ]
        per_image = _per_image(batch, encoded)
        if not guided:
            return [torch.cat(per_image)]
        negatives, positives = zip(*(embeds.chunk(2) for embeds in per_image), strict=True)
        return [torch.cat([*negatives, *positives])]

    def _use_lora(self, pipe: DiffusionPipeline, lora: str | None) -> None:
        """Make `lora` the only active adapter (loading and caching it), or switch LoRAs off for None."""
        if lora is None:
            if self._loras:
                pipe.disable_lora()
            return
        if lora not in self._loras:
            if len(self._loras) >= self.config.max_loras:
                _, evicted = self._loras.popitem(last=False)
                pipe.delete_adapters(evicted)
            name = "tenant_" + hashlib.sha256(lora.encode()).hexdigest()[:16]
            try:
                pipe.load_lora_weights(lora, adapter_name=name, local_files_only=True)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ValueError(f"RenderRequest.lora {lora!r}: not a LoRA for this model ({exc})") from exc
            self._loras[lora] = name
        self._loras.move_to_end(lora)
        pipe.enable_lora()
        pipe.set_adapters([self._loras[lora]], adapter_weights=[self.config.lora_scale])

    def _finish(self, request: RenderRequest, image: Image.Image) -> Image.Image:
        """Bring one generated image to the request's size and, with `paste_back`, restore the kept pixels."""
        if image.size != request.size:
            image = image.resize(request.size, Image.Resampling.LANCZOS)
        if not self.config.paste_back:
            return image
        return Image.composite(image, request.init_image.convert("RGB"), request.mask.convert("L"))


def _build_pipeline(config: DiffusionConfig, device: str, dtype: torch.dtype) -> DiffusionPipeline:
    check_model(config)
    local = config.local_files_only
    parts: dict[str, Any] = {}
    if config.controlnet is not None:
        parts["controlnet"] = _loading(
            "controlnet",
            config.controlnet,
            lambda: ControlNetModel.from_pretrained(config.controlnet, dtype=dtype, local_files_only=local),
        )
    pipeline_class = PIPELINES[(config.mode, config.controlnet is not None)]
    pipe = _loading(
        "model",
        config.model,
        lambda: pipeline_class.from_pretrained(config.model, dtype=dtype, local_files_only=local, **parts),
    )
    if config.ip_adapter is not None:
        _loading(
            "ip_adapter",
            config.ip_adapter,
            lambda: pipe.load_ip_adapter(
                config.ip_adapter,
                subfolder=config.ip_adapter_subfolder,
                weight_name=config.ip_adapter_weight_name,
                local_files_only=local,
            ),
        )
        pipe.set_ip_adapter_scale(config.ip_adapter_scale)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    if config.compile:
        pipe.unet.compile()  # in place, so LoRA loading still sees the plain module tree
    return pipe


def _loading(field: str, value: str, load: Callable[[], T]) -> T:
    """Run `load`, turning any failure into `ModelUnavailable` naming the setting."""
    try:
        return load()
    except Exception as exc:
        raise ModelUnavailable(field, value, f"failed to load: {exc}") from exc


def _per_image(batch: list[RenderRequest], values: list[T]) -> list[T]:
    """Repeat each request's value once per seed, in batch order: the flat layout of the pipeline call."""
    return [value for request, value in zip(batch, values, strict=True) for _ in request.seeds]


def _render_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """Round a size down to what the VAE can encode (at least one latent pixel)."""
    width, height = (max(multiple, side - side % multiple) for side in size)
    return width, height


def _resolve_device(device: Device) -> Literal["cuda", "cpu"]:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{setting_name('device')}='cuda': CUDA is not available on this machine")
    return device


def _resolve_dtype(dtype: DType, device: str) -> torch.dtype:
    if dtype == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    return getattr(torch, dtype)
