"""Model names → what submission and the worker need, looked up in the volume's registry."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from worker.errors import LoraNotFound, ModelNotFound
from worker.jobs.runner import CheckpointFile
from worker.jobs.submit import ResolvedCheckpoint, ResolvedLora


class RegistryResolver:
    """Provisional: scans `models/checkpoints` directly until the registry lands (issue 4)."""

    def __init__(self, volume: Path) -> None:
        self.volume = volume

    @classmethod
    def for_volume(cls, volume: Path) -> RegistryResolver:
        return cls(volume)

    def _checkpoints(self) -> dict[str, Path]:
        folder = self.volume / "models" / "checkpoints"
        return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}

    def checkpoint_names(self) -> list[str]:
        return list(self._checkpoints())

    def resolve_checkpoint(self, name: str) -> ResolvedCheckpoint:
        found = self._checkpoints().get(name)
        if found is None:
            available = ", ".join(self._checkpoints()) or "none"
            raise ModelNotFound(
                f"checkpoint {name!r} is not on the volume; available: {available}",
                field="checkpoint",
                value=name,
            )
        return ResolvedCheckpoint(name, _architecture(found))

    def resolve_loras(
        self, checkpoint: ResolvedCheckpoint, requested: list[dict[str, Any]], preset: str | None
    ) -> list[ResolvedLora]:
        if requested or preset:
            raise LoraNotFound("LoRAs are not available yet", field="loras")
        return []

    def checkpoint_file(self, name: str) -> CheckpointFile:
        found = self._checkpoints().get(name)
        if found is None:
            raise ModelNotFound(f"checkpoint {name!r} is not on the volume", field="checkpoint")
        return CheckpointFile(filename=found.name, architecture=_architecture(found))


def _architecture(path: Path) -> str:
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return "sdxl" if any(k.startswith("conditioner.embedders.1") for k in header) else "sd15"
