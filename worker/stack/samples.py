"""Small but valid safetensors files in the real key layouts of SD1.5 and SDXL checkpoints and LoRAs.

Used by `sdfleet up`/`demo` to seed a local model volume, and by tests. The tensors are tiny, but the
key names are the ones real files carry, so architecture detection and A1111-style loaders treat them
as the real thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from worker.registry.architecture import Architecture

__all__ = ["Architecture", "write_checkpoint", "write_embedding", "write_lora"]

_VAE_KEYS = (
    "first_stage_model.decoder.conv_in.weight",
    "first_stage_model.decoder.conv_out.weight",
    "first_stage_model.encoder.conv_in.weight",
    "first_stage_model.quant_conv.weight",
)
_UNET_KEYS = (
    "model.diffusion_model.input_blocks.0.0.weight",
    "model.diffusion_model.input_blocks.1.1.proj_in.weight",
    "model.diffusion_model.middle_block.1.proj_in.weight",
    "model.diffusion_model.out.2.weight",
    "model.diffusion_model.time_embed.0.weight",
)
_CHECKPOINT_KEYS: dict[Architecture, tuple[str, ...]] = {
    Architecture.SD15: _UNET_KEYS
    + _VAE_KEYS
    + (
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
        "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.k_proj.weight",
        "cond_stage_model.transformer.text_model.final_layer_norm.weight",
    ),
    Architecture.SDXL: _UNET_KEYS
    + _VAE_KEYS
    + (
        "model.diffusion_model.label_emb.0.0.weight",
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
        "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.k_proj.weight",
        "conditioner.embedders.1.model.token_embedding.weight",
        "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight",
        "conditioner.embedders.1.model.text_projection",
    ),
}
_LORA_MODULES: dict[Architecture, tuple[str, ...]] = {
    Architecture.SD15: (
        "lora_unet_down_blocks_0_attentions_0_proj_in",
        "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_k",
        "lora_te_text_model_encoder_layers_0_self_attn_k_proj",
    ),
    Architecture.SDXL: (
        "lora_unet_input_blocks_4_1_proj_in",
        "lora_unet_middle_block_1_transformer_blocks_0_attn1_to_k",
        "lora_te1_text_model_encoder_layers_0_self_attn_k_proj",
        "lora_te2_text_model_encoder_layers_0_self_attn_k_proj",
    ),
}
_LORA_BASE_VERSION = {Architecture.SD15: "sd_v1", Architecture.SDXL: "sdxl_base_v1-0"}


def _tensor(key: str, dtype: type[np.generic], size: int) -> np.ndarray:
    """A deterministic tensor per key, so equal calls write byte-identical files."""
    seed = sum(key.encode()) % 997
    return (np.arange(size * size, dtype=np.float32).reshape(size, size) / (seed + 1)).astype(dtype)


def write_checkpoint(
    path: Path,
    architecture: Architecture,
    *,
    dtype: type[np.generic] = np.float16,
    size: int = 4,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a checkpoint with `architecture`'s key layout to `path` and return the path."""
    if architecture is Architecture.UNKNOWN:
        raise ValueError("no sample layout for an unknown architecture")
    tensors = {key: _tensor(key, dtype, size) for key in _CHECKPOINT_KEYS[architecture]}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt", **(metadata or {})})
    return path


def write_lora(
    path: Path,
    architecture: Architecture,
    *,
    rank: int = 4,
    output_name: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a kohya-style LoRA for `architecture` to `path` and return the path."""
    if architecture is Architecture.UNKNOWN:
        raise ValueError("no sample layout for an unknown architecture")
    tensors: dict[str, np.ndarray] = {}
    for module in _LORA_MODULES[architecture]:
        tensors[f"{module}.lora_down.weight"] = _tensor(module + "d", np.float16, rank)
        tensors[f"{module}.lora_up.weight"] = _tensor(module + "u", np.float16, rank)
        tensors[f"{module}.alpha"] = np.array(float(rank), dtype=np.float16)
    meta = {
        "ss_base_model_version": _LORA_BASE_VERSION[architecture],
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_output_name": output_name or path.stem,
        **(metadata or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    return path


def write_embedding(path: Path, architecture: Architecture, *, vectors: int = 2) -> Path:
    """Write a textual-inversion embedding for `architecture` to `path` and return the path."""
    if architecture is Architecture.SD15:
        tensors = {"emb_params": np.ones((vectors, 768), dtype=np.float32)}
    elif architecture is Architecture.SDXL:
        tensors = {
            "clip_l": np.ones((vectors, 768), dtype=np.float16),
            "clip_g": np.ones((vectors, 1280), dtype=np.float16),
        }
    else:
        raise ValueError("no sample layout for an unknown architecture")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path
