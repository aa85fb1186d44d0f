"""Model names → what submission and the worker need, looked up in the volume's registry.

Names are only ever looked up (never joined into paths); a LoRA may be named by its registry name or by
the name A1111 knows it by (file stem or `ss_output_name` alias), as users write in `<lora:…>` tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.registry.architecture import Architecture
from worker.registry.lookup import Registry
from worker.registry.loras import LoraRequest, ResolvedLora, resolve_loras


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """A checkpoint name as submission resolved it."""

    name: str
    architecture: str


@dataclass(frozen=True)
class CheckpointFile:
    """Where the worker finds a checkpoint: the file A1111 lists, and its architecture."""

    filename: str
    architecture: str


class RegistryResolver:
    """The `ModelResolver` of submission and the checkpoint lookup of the worker, over one Registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @classmethod
    def for_volume(cls, volume: Path) -> RegistryResolver:
        return cls(Registry(volume))

    def checkpoint_names(self) -> list[str]:
        return [entry.name for entry in self.registry.checkpoints() if entry.usable]

    def resolve_checkpoint(self, name: str) -> ResolvedCheckpoint:
        entry = self.registry.checkpoint(name)
        return ResolvedCheckpoint(entry.name, entry.architecture.value)

    def resolve_loras(
        self, checkpoint: ResolvedCheckpoint, requested: list[dict[str, Any]], preset: str | None
    ) -> list[ResolvedLora]:
        available = self.registry.loras_by_name()
        aliases = {}
        for entry in available.values():
            for other in (entry.a1111_name, entry.alias):
                if other and other not in available:
                    aliases[other] = entry.name
        wanted = [LoraRequest(aliases.get(r["name"], r["name"]), r.get("weight")) for r in requested]
        return resolve_loras(
            Architecture(checkpoint.architecture),
            wanted,
            preset,
            available=available,
            catalogue=self.registry.catalogue,
        )

    def checkpoint_file(self, name: str) -> CheckpointFile:
        """The file A1111 lists for checkpoint `name`. Raises ModelNotFound or ModelInvalid."""
        entry = self.registry.checkpoint(name)
        return CheckpointFile(filename=entry.filename, architecture=entry.architecture.value)

    def mark_used(self, *names: str) -> None:
        self.registry.mark_used(*names)
