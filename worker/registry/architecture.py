"""Which base model a checkpoint, LoRA or embedding belongs to, told from its header's tensor names.

Tensor names are the ground truth (they decide what A1111 can apply); a LoRA's training metadata is
consulted only when the names are not conclusive. Anything else (SD2, Flux, a refiner) is `unknown`.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum

from worker.registry.safetensors_check import SafetensorsHeader


class Architecture(StrEnum):
    """The base model family of a checkpoint or LoRA."""

    SD15 = "sd15"  # Stable Diffusion 1.x: one CLIP-L text encoder under cond_stage_model
    SDXL = "sdxl"  # SDXL (and Pony, Illustrious): two text encoders under conditioner.embedders.{0,1}
    UNKNOWN = "unknown"  # anything else (SD2, Flux, ...): listed, but matched to no LoRA


class ModelKind(StrEnum):
    """Which folder of the volume a file lives in, and so what A1111 uses it as."""

    CHECKPOINT = "checkpoint"  # models/checkpoints (--ckpt-dir)
    LORA = "lora"  # models/loras (--lora-dir)
    EMBEDDING = "embedding"  # models/embeddings (--embeddings-dir)


# kohya names: SDXL has two text encoders (te1/te2) and sgm UNet block names (input/middle/output);
# SD1.5 has one text encoder (te) and diffusers block names (down/mid/up) with one transformer block each.
_SDXL_LORA = re.compile(
    r"^(lora_te[12]_|text_encoder_2\.|lora_unet_(input_blocks|middle_block|output_blocks)_)"
    r"|^lora_unet_.*_transformer_blocks_[1-9]"
)
_SD15_LORA_STRONG = re.compile(r"^lora_te_")
_SD15_LORA_WEAK = re.compile(r"^lora_unet_(down_blocks|mid_block|up_blocks)_")


def detect(kind: ModelKind, header: SafetensorsHeader) -> Architecture:
    """The architecture of a validated file used as `kind`."""
    if kind is ModelKind.CHECKPOINT:
        return checkpoint_architecture(header)
    if kind is ModelKind.LORA:
        return lora_architecture(header)
    return embedding_architecture(header)


def checkpoint_architecture(header: SafetensorsHeader) -> Architecture:
    names = header.tensors.keys()
    if any(name.startswith("conditioner.embedders.1") for name in names):
        return Architecture.SDXL
    if any(name.startswith("cond_stage_model.transformer") for name in names):
        return Architecture.SD15
    return Architecture.UNKNOWN


def lora_architecture(header: SafetensorsHeader) -> Architecture:
    names = header.tensors.keys()
    if any(_SDXL_LORA.search(name) for name in names):
        return Architecture.SDXL
    if any(_SD15_LORA_STRONG.search(name) for name in names):
        return Architecture.SD15
    metadata = header.metadata
    base = metadata.get("ss_base_model_version", "") or metadata.get("modelspec.architecture", "")
    if base.startswith(("sdxl", "stable-diffusion-xl")):
        return Architecture.SDXL
    if base.startswith(("sd_v1", "stable-diffusion-v1")):
        return Architecture.SD15
    if any(_SD15_LORA_WEAK.search(name) for name in names):
        return Architecture.SD15
    return Architecture.UNKNOWN


def embedding_architecture(header: SafetensorsHeader) -> Architecture:
    """SDXL embeddings carry `clip_l` and `clip_g`; SD1.5 ones one 768-wide vector table."""
    tensors = header.tensors
    if "clip_g" in tensors and "clip_l" in tensors:
        return Architecture.SDXL
    widths = {t.shape[-1] for t in tensors.values() if t.shape}
    return Architecture.SD15 if widths == {768} else Architecture.UNKNOWN


def main_dtype(header: SafetensorsHeader) -> str | None:
    """The dtype holding the most bytes (ties: the first name in sorted order); None without tensors."""
    weights: Counter[str] = Counter()
    for tensor in header.tensors.values():
        weights[tensor.dtype] += tensor.nbytes
    if not weights:
        return None
    return min(weights, key=lambda dtype: (-weights[dtype], dtype))
