"""The demo model volume: the catalogue's two checkpoints and nine LoRAs as small, valid safetensors files.

File names are the catalogue keys, so every file matches its entry; LoRAs carry kohya-style metadata
(`ss_output_name`, `ss_base_model_version`, ...). Seeding is idempotent: a file whose bytes would not
change is left alone, so its mtime, and with it the registry's sha256, stay valid.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from worker.errors import ModelInvalid
from worker.registry.architecture import ModelKind
from worker.registry.catalogue import Catalogue, CatalogueEntry, load_catalogue
from worker.registry.entries import KIND_DIRS
from worker.registry.safetensors_check import validate_file
from worker.stack.samples import write_checkpoint, write_lora

_TRAINED_ON = {  # ss_sd_model_name: the base a kohya LoRA says it was trained on
    "sdxl": "sd_xl_base_1.0.safetensors",
    "pony": "ponyDiffusionV6XL_v6StartWithThisOne.safetensors",
    "illustrious": "Illustrious-XL-v0.1.safetensors",
    "sd15": "v1-5-pruned-emaonly.safetensors",
}


def seed_volume(volume: Path, catalogue: Catalogue | None = None) -> None:
    """Write the demo model files under `volume/models`, leaving files that are already right alone."""
    catalogue = catalogue or load_catalogue()
    for folder in KIND_DIRS.values():
        (volume / folder).mkdir(parents=True, exist_ok=True)
    for entry in catalogue.models:
        target = volume / KIND_DIRS[entry.kind] / f"{entry.key}.safetensors"
        _write_if_changed(target, _writer(entry))


def _writer(entry: CatalogueEntry) -> Callable[[Path], object]:
    source = entry.source
    if entry.kind is ModelKind.CHECKPOINT:
        metadata = {"modelspec.title": entry.display_name}
        return lambda path: write_checkpoint(path, entry.architecture, metadata=metadata)
    metadata = {
        "ss_sd_model_name": _TRAINED_ON.get(entry.base_family, _TRAINED_ON["sdxl"]),
        "ss_training_comment": f"sdfleet demo stand-in for {entry.display_name}",
    }
    if source.civitai_version_id:
        metadata["sdfleet_civitai_version_id"] = str(source.civitai_version_id)
    rank = 4 if entry.role == "slider" else 8
    return lambda path: write_lora(
        path, entry.architecture, rank=rank, output_name=entry.key, metadata=metadata
    )


def _write_if_changed(target: Path, write: Callable[[Path], object]) -> None:
    temp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        write(temp)
        if not _same_content(target, temp):
            os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _same_content(existing: Path, fresh: Path) -> bool:
    """Equal tensors, data and metadata; the safetensors writer orders metadata keys differently each run."""
    try:
        old, new = validate_file(existing), validate_file(fresh)
    except ModelInvalid:
        return False
    if (old.tensors, old.metadata) != (new.tensors, new.metadata):
        return False
    with open(existing, "rb") as a, open(fresh, "rb") as b:
        a.seek(8 + old.header_length)
        b.seek(8 + new.header_length)
        return a.read() == b.read()
