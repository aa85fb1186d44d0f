"""Architecture from tensor names (and LoRA metadata when names say nothing), and the main dtype."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.worker.registry.files import LAYOUTS
from worker.registry.architecture import Architecture, ModelKind, detect, main_dtype
from worker.registry.safetensors_check import SafetensorsHeader, parse_header, validate_file
from worker.stack.samples import write_checkpoint, write_embedding


@pytest.mark.parametrize(
    ("layout", "kind", "expected"),
    [
        ("sd15-checkpoint", ModelKind.CHECKPOINT, Architecture.SD15),
        ("sdxl-checkpoint", ModelKind.CHECKPOINT, Architecture.SDXL),
        ("sd15-lora", ModelKind.LORA, Architecture.SD15),
        ("sdxl-lora", ModelKind.LORA, Architecture.SDXL),
        ("sd15-embedding", ModelKind.EMBEDDING, Architecture.SD15),
    ],
)
def test_real_layouts(tmp_path: Path, layout: str, kind: ModelKind, expected: Architecture) -> None:
    assert detect(kind, validate_file(LAYOUTS[layout](tmp_path / "x.safetensors"))) is expected


def test_sdxl_embedding(tmp_path: Path) -> None:
    header = validate_file(write_embedding(tmp_path / "x.safetensors", Architecture.SDXL))
    assert detect(ModelKind.EMBEDDING, header) is Architecture.SDXL


def _header(names: list[str], metadata: dict[str, str] | None = None, width: int = 4) -> SafetensorsHeader:
    tensors = {n: {"dtype": "F16", "shape": [width], "data_offsets": [i * 2 * width, (i + 1) * 2 * width]}
               for i, n in enumerate(names)}  # fmt: skip
    document = {**({"__metadata__": metadata} if metadata else {}), **tensors}
    raw = json.dumps(document).encode()
    return parse_header(raw, file_size=8 + len(raw) + 2 * width * len(names))


@pytest.mark.parametrize(
    ("names", "metadata", "expected"),
    [
        (["lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"], None, Architecture.SDXL),
        (["lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"], None, Architecture.SDXL),
        (["lora_unet_input_blocks_4_1_proj_in.lora_down.weight"], None, Architecture.SDXL),
        (["lora_unet_output_blocks_2_1_proj_out.lora_down.weight"], None, Architecture.SDXL),
        (["lora_unet_middle_block_1_proj_in.lora_down.weight"], None, Architecture.SDXL),
        # diffusers block names with a second transformer block: only SDXL has more than one
        (
            ["lora_unet_down_blocks_2_attentions_1_transformer_blocks_9_attn1_to_k.lora_up.weight"],
            None,
            "sdxl",
        ),
        (["lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"], None, Architecture.SD15),
        (["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"], None, Architecture.SD15),
        (
            ["lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn1_to_k.alpha"],
            None,
            Architecture.SD15,
        ),
        # names say nothing: the training metadata decides
        (["some_module.weight"], {"ss_base_model_version": "sdxl_base_v1-0"}, Architecture.SDXL),
        (["some_module.weight"], {"ss_base_model_version": "sd_v1"}, Architecture.SD15),
        (["some_module.weight"], {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}, "sdxl"),
        (["some_module.weight"], {"ss_base_model_version": "sd_v2_768_v"}, Architecture.UNKNOWN),
        # diffusers UNet names and SDXL metadata: metadata beats the weak name evidence
        (
            ["lora_unet_down_blocks_1_attentions_0_proj_in.alpha"],
            {"ss_base_model_version": "sdxl_base_v1-0"},
            "sdxl",
        ),
        # names beat metadata when they are conclusive
        (
            ["lora_te_text_model_encoder_layers_0_mlp_fc1.alpha"],
            {"ss_base_model_version": "sdxl_base_v1-0"},
            "sd15",
        ),
        # Flux
        (
            ["lora_unet_double_blocks_0_img_attn_proj.lora_down.weight"],
            {"ss_base_model_version": "flux1"},
            "unknown",
        ),
        (["transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight"], None, Architecture.UNKNOWN),
    ],
)
def test_lora_rules(names: list[str], metadata: dict[str, str] | None, expected: str) -> None:
    assert detect(ModelKind.LORA, _header(names, metadata)) == expected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["conditioner.embedders.1.model.text_projection", "model.diffusion_model.out.2.weight"], "sdxl"),
        (["cond_stage_model.transformer.text_model.final_layer_norm.weight"], "sd15"),
        (["cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"], "unknown"),  # SD2 OpenCLIP
        (["conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight"], "unknown"),  # refiner
        (["double_blocks.0.img_attn.proj.weight"], "unknown"),  # Flux
    ],
)
def test_checkpoint_rules(names: list[str], expected: str) -> None:
    assert detect(ModelKind.CHECKPOINT, _header(names)) == expected


@pytest.mark.parametrize(("width", "expected"), [(768, "sd15"), (1024, "unknown")])
def test_embedding_width(width: int, expected: str) -> None:
    assert detect(ModelKind.EMBEDDING, _header(["emb_params"], width=width)) == expected


def test_main_dtype_is_the_one_with_most_bytes(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "x.safetensors", Architecture.SD15, dtype=np.float32)
    assert main_dtype(validate_file(path)) == "F32"
    assert main_dtype(validate_file(LAYOUTS["sdxl-lora"](tmp_path / "l.safetensors"))) == "F16"
    assert main_dtype(parse_header(b"{}", file_size=10)) is None
