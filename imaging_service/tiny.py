"""Write random Stable Diffusion 1.5-architecture pipelines, ControlNets, LoRAs and IP-Adapters to local folders.

Everything is built offline from configs and `torch.manual_seed(seed)`: no hub download, ever. `size="tiny"` gives
models small enough for CPU unit tests; `size="sd15"` gives the real SD1.5 dimensions with random weights, for
benchmarks (speed does not depend on the weights).

    model = build_tiny_sd(tmp / "sd", controlnet=True)   # tmp/sd, with tmp/sd/controlnet
    lora = build_tiny_lora(tmp / "lora", model=model)    # tmp/lora/pytorch_lora_weights.safetensors
    ip = build_tiny_ip_adapter(tmp / "ip", model=model)  # tmp/ip/models/{ip-adapter_sd15.safetensors,image_encoder}
"""

# diffusers exports its public names through a lazy import structure that pyright reads as private imports.
# pyright: reportPrivateImportUsage=false
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    PNDMScheduler,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import save_file
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from imaging_service.pipelines import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME

Size = Literal["tiny", "sd15"]

_WORDS = ("a", "photo", "of", "the", "product", "on", "white", "studio", "background", "soft", "light", "shadow")
"""Words the tiny tokenizer merges whole; anything else still encodes, byte by byte."""


@dataclass(frozen=True)
class Dims:
    """The sizes that tell a tiny test model from a full SD1.5-sized one."""

    unet_channels: tuple[int, ...]
    unet_down: tuple[str, ...]
    unet_up: tuple[str, ...]
    unet_layers: int
    attention_head_dim: int
    cross_attention_dim: int
    vae_channels: tuple[int, ...]
    vae_layers: int
    vae_groups: int
    control_embedding: tuple[int, ...]
    """ControlNet conditioning channels: one entry per VAE block, so edges land on the latent grid."""
    text_layers: int
    text_heads: int
    text_intermediate: int
    text_vocab: int
    vision_hidden: int
    vision_layers: int
    vision_heads: int
    vision_intermediate: int
    vision_image: int
    vision_patch: int
    vision_projection: int


DIMS: dict[Size, Dims] = {
    "tiny": Dims(
        unet_channels=(32, 64),
        unet_down=("DownBlock2D", "CrossAttnDownBlock2D"),
        unet_up=("CrossAttnUpBlock2D", "UpBlock2D"),
        unet_layers=1,
        attention_head_dim=8,
        cross_attention_dim=32,
        vae_channels=(8, 8, 16, 16),
        vae_layers=1,
        vae_groups=8,
        control_embedding=(8, 8, 16, 16),
        text_layers=2,
        text_heads=4,
        text_intermediate=37,
        text_vocab=1000,
        vision_hidden=32,
        vision_layers=2,
        vision_heads=4,
        vision_intermediate=37,
        vision_image=32,
        vision_patch=8,
        vision_projection=32,
    ),
    "sd15": Dims(
        unet_channels=(320, 640, 1280, 1280),
        unet_down=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        unet_up=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        unet_layers=2,
        attention_head_dim=8,
        cross_attention_dim=768,
        vae_channels=(128, 256, 512, 512),
        vae_layers=2,
        vae_groups=32,
        control_embedding=(16, 32, 96, 256),
        text_layers=12,
        text_heads=12,
        text_intermediate=3072,
        text_vocab=49408,
        vision_hidden=1280,
        vision_layers=32,
        vision_heads=16,
        vision_intermediate=5120,
        vision_image=224,
        vision_patch=14,
        vision_projection=1024,
    ),
}


def build_tiny_sd(
    path: Path, *, size: Size = "tiny", in_channels: Literal[4, 9] = 9, controlnet: bool = False, seed: int = 0
) -> Path:
    """Save a random SD1.5-architecture pipeline to `path` (an inpainting one when `in_channels` is 9) and return it.

    With `controlnet`, a matching random ControlNet is saved under `path / "controlnet"`.
    """
    dims = DIMS[size]
    torch.manual_seed(seed)
    pipeline_class = StableDiffusionInpaintPipeline if in_channels == 9 else StableDiffusionPipeline
    pipe = pipeline_class(
        vae=_vae(dims),
        text_encoder=_text_encoder(dims),
        tokenizer=_tokenizer(),
        unet=_unet(dims, in_channels),
        scheduler=_scheduler(),  # pyright: ignore[reportArgumentType]  # diffusers annotates an enum of scheduler names
        safety_checker=None,  # pyright: ignore[reportArgumentType]  # optional in fact (requires_safety_checker=False)
        feature_extractor=None,  # pyright: ignore[reportArgumentType]  # optional in fact, as above
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    if controlnet:
        _controlnet(dims).save_pretrained(path / "controlnet")
    return path


def build_tiny_lora(path: Path, *, model: Path, rank: int = 4, seed: int = 0) -> Path:
    """Save a random UNet LoRA for the pipeline at `model` to `path` (as `pytorch_lora_weights.safetensors`)."""
    unet = UNet2DConditionModel.from_pretrained(model, subfolder="unet", local_files_only=True)
    torch.manual_seed(seed)
    # init_lora_weights=False keeps both LoRA matrices random; the default zeroes one, making the LoRA a no-op.
    config = LoraConfig(
        r=rank, lora_alpha=rank, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
    )
    unet.add_adapter(config)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(path, unet_lora_layers=layers, safe_serialization=True)
    return path


def build_tiny_ip_adapter(path: Path, *, model: Path, size: Size = "tiny", seed: int = 0) -> Path:
    """Save a random IP-Adapter (image projection, attention weights, CLIP image encoder) for the pipeline at `model`.

    The layout is `h94/IP-Adapter`'s, what `DiffusionConfig`'s IP-Adapter defaults expect.
    """
    dims = DIMS[size]
    with torch.device("meta"):  # only the attention layout is needed, not the weights
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(model, subfolder="unet"))  # pyright: ignore[reportArgumentType]  # a dict without return_unused_kwargs
    torch.manual_seed(seed)
    folder = path / IP_ADAPTER_SUBFOLDER
    _image_encoder(dims).save_pretrained(folder / "image_encoder")
    save_file(_ip_adapter_state_dict(unet, dims.vision_projection), folder / IP_ADAPTER_WEIGHT_NAME)  # pyright: ignore[reportArgumentType]  # a model without return_unused_kwargs
    return path


def _unet(dims: Dims, in_channels: int) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=dims.unet_channels,
        down_block_types=dims.unet_down,
        up_block_types=dims.unet_up,
        layers_per_block=dims.unet_layers,
        attention_head_dim=dims.attention_head_dim,
        cross_attention_dim=dims.cross_attention_dim,
    )


def _controlnet(dims: Dims) -> ControlNetModel:
    # The ControlNet sees the 4 noisy latent channels even beside a 9-channel inpainting UNet.
    return ControlNetModel(
        in_channels=4,
        block_out_channels=dims.unet_channels,
        down_block_types=dims.unet_down,
        layers_per_block=dims.unet_layers,
        attention_head_dim=dims.attention_head_dim,
        cross_attention_dim=dims.cross_attention_dim,
        conditioning_embedding_out_channels=dims.control_embedding,
    )


def _vae(dims: Dims) -> AutoencoderKL:
    blocks = len(dims.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=dims.vae_channels,  # pyright: ignore[reportArgumentType]  # diffusers writes tuple[int] for a tuple of ints
        down_block_types=("DownEncoderBlock2D",) * blocks,  # pyright: ignore[reportArgumentType]  # as above
        up_block_types=("UpDecoderBlock2D",) * blocks,  # pyright: ignore[reportArgumentType]  # as above
        layers_per_block=dims.vae_layers,
        norm_num_groups=dims.vae_groups,
        sample_size=512,
    )


def _text_encoder(dims: Dims) -> CLIPTextModel:
    hidden = dims.cross_attention_dim
    tokenizer = _tokenizer()
    config = CLIPTextConfig(
        vocab_size=dims.text_vocab,
        hidden_size=hidden,
        intermediate_size=dims.text_intermediate,
        num_hidden_layers=dims.text_layers,
        num_attention_heads=dims.text_heads,
        max_position_embeddings=tokenizer.model_max_length,
        projection_dim=hidden,
        hidden_act="quick_gelu",
        bos_token_id=tokenizer.bos_token_id,  # pyright: ignore[reportArgumentType]  # transformers types token ids loosely: ints here
        eos_token_id=tokenizer.eos_token_id,  # pyright: ignore[reportArgumentType]  # as above
        pad_token_id=tokenizer.pad_token_id,  # pyright: ignore[reportArgumentType]  # as above
    )
    return CLIPTextModel(config)


def _tokenizer() -> CLIPTokenizer:
    """Build a CLIP byte-level BPE tokenizer from an in-memory vocabulary: bytes, bytes ending a word, a few words."""
    alphabet = sorted(ByteLevel.alphabet())
    vocab = [*alphabet, *(f"{c}</w>" for c in alphabet)]
    merges: list[tuple[str, str]] = []
    for word in _WORDS:
        symbols = [*word[:-1], f"{word[-1]}</w>"]
        while len(symbols) > 1:
            pair = (symbols[0], symbols[1])
            if pair not in merges:
                merges.append(pair)
                vocab.append("".join(pair))
            symbols = ["".join(pair), *symbols[2:]]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(vocab)}, merges=merges, model_max_length=77)  # pyright: ignore[reportArgumentType]  # it takes merge pairs too


def _scheduler() -> PNDMScheduler:
    """SD1.5's own scheduler config."""
    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )


def _image_encoder(dims: Dims) -> CLIPVisionModelWithProjection:
    config = CLIPVisionConfig(
        hidden_size=dims.vision_hidden,
        intermediate_size=dims.vision_intermediate,
        num_hidden_layers=dims.vision_layers,
        num_attention_heads=dims.vision_heads,
        image_size=dims.vision_image,
        patch_size=dims.vision_patch,
        projection_dim=dims.vision_projection,
        hidden_act="gelu",
    )
    return CLIPVisionModelWithProjection(config)


def _ip_adapter_state_dict(unet: UNet2DConditionModel, image_embed_dim: int) -> dict[str, torch.Tensor]:
    """Random weights in the original IP-Adapter checkpoint layout (4 image tokens; keys 1, 3, 5, ... per cross-attention)."""
    cross = unet.config["cross_attention_dim"]
    tokens = 4
    state = {
        "image_proj.proj.weight": torch.randn(tokens * cross, image_embed_dim) * 0.02,
        "image_proj.proj.bias": torch.zeros(tokens * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    cross_attentions = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for index, name in enumerate(cross_attentions):
        hidden = _hidden_size(unet, name)
        for projection in ("to_k_ip", "to_v_ip"):
            state[f"ip_adapter.{2 * index + 1}.{projection}.weight"] = torch.randn(hidden, cross) / cross**0.5
    return state


def _hidden_size(unet: UNet2DConditionModel, processor: str) -> int:
    """Channels of the block an attention processor sits in, the way diffusers' IP-Adapter loader computes them."""
    channels = list(unet.config["block_out_channels"])
    if processor.startswith("mid_block"):
        return channels[-1]
    block = int(processor.split(".")[1])
    return channels[::-1][block] if processor.startswith("up_blocks") else channels[block]
