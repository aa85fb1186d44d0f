"""Model families, told apart by the tensor names in a safetensors header (no tensor is loaded)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from emulator.models.safetensors_header import tensor_keys


class Arch(StrEnum):
    """The base model family of a checkpoint or LoRA."""

    SD15 = "sd15"  # one CLIP-L text encoder under cond_stage_model.transformer
    SDXL = "sdxl"  # two text encoders under conditioner.embedders.{0,1}
    UNKNOWN = "unknown"  # SD2, Flux, a pickle we will not open...: simulated as SD1.5-sized


def checkpoint_arch(header: dict[str, Any]) -> Arch:
    keys = tensor_keys(header)
    if any(k.startswith("conditioner.embedders.1") for k in keys):
        return Arch.SDXL
    if any(k.startswith("cond_stage_model.transformer") for k in keys):
        return Arch.SD15
    return Arch.UNKNOWN


def lora_arch(header: dict[str, Any], metadata: dict[str, Any]) -> Arch:
    base = str(metadata.get("ss_base_model_version") or "")
    if base.startswith("sdxl") or any(k.startswith("lora_te2_") for k in tensor_keys(header)):
        return Arch.SDXL
    return Arch.SD15
