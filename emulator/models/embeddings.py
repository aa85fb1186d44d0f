"""Textual-inversion embeddings (`--embeddings-dir`): loaded when their width fits the loaded model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emulator.models.arch import Arch
from emulator.models.files import walk_files
from emulator.models.safetensors_header import HeaderError, read_header, tensor_keys, tensor_shape

_EXPECTED_SHAPE = {Arch.SD15: 768, Arch.SDXL: 2048, Arch.UNKNOWN: 768}  # CLIP-L; CLIP-G + CLIP-L


def _describe(path: Path) -> dict[str, Any]:
    shape: int | None = None
    vectors: int | None = None
    if path.suffix.lower() == ".safetensors":
        try:
            header = read_header(path)
        except HeaderError:
            header = {}
        keys = tensor_keys(header)
        if "clip_g" in keys and "clip_l" in keys:
            g, clip_l = tensor_shape(header, "clip_g"), tensor_shape(header, "clip_l")
            shape, vectors = g[-1] + clip_l[-1], g[0]
        elif len(keys) == 1:
            dims = tensor_shape(header, keys[0])
            shape, vectors = dims[-1], (dims[0] if len(dims) > 1 else 1)
    return {
        "step": None,
        "sd_checkpoint": None,
        "sd_checkpoint_name": None,
        "shape": shape,
        "vectors": vectors,
    }


def embeddings_api(folder: Path | None, arch: Arch | None) -> dict[str, dict[str, Any]]:
    """`/sdapi/v1/embeddings`: `loaded` (fits the model) and `skipped`, by file stem."""
    loaded: dict[str, Any] = {}
    skipped: dict[str, Any] = {}
    for path in walk_files(folder, (".pt", ".bin", ".safetensors")):
        entry = _describe(path)
        name = os.path.splitext(path.name)[0]
        fits = arch is not None and entry["shape"] == _EXPECTED_SHAPE[arch]
        (loaded if fits else skipped)[name] = entry
    return {"loaded": loaded, "skipped": skipped}
