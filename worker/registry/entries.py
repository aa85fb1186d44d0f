"""The schema of `models/cache_registry.json`: one entry per model file on the volume.

Validation is strict on purpose: a registry that does not fit (unknown version, a path that leaves the
volume, a malformed digest) is not trusted; it is discarded and rebuilt by a rescan.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from worker.registry.architecture import Architecture, ModelKind
from worker.registry.catalogue import Source

REGISTRY_VERSION: Final = 1
KIND_DIRS: dict[ModelKind, str] = {
    ModelKind.CHECKPOINT: "models/checkpoints",
    ModelKind.LORA: "models/loras",
    ModelKind.EMBEDDING: "models/embeddings",
}


class EntryStatus(StrEnum):
    """Whether a file may be used."""

    OK = "ok"  # valid safetensors with an acceptable, unambiguous name
    INVALID = "invalid"  # fails safetensors validation, or its file name is not acceptable
    REFUSED = "refused"  # a pickle format: never opened, never usable
    DUPLICATE = "duplicate"  # another file has the same registry or A1111 name; A1111 could load either


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Record):
    """One model file as last scanned."""

    name: str  # the registry name: the catalogue key when matched, else the file stem
    kind: ModelKind
    path: str  # relative to the volume, POSIX separators, e.g. models/loras/x.safetensors
    filename: str  # the basename; A1111's sd-models `filename` ends with it
    a1111_name: str  # the basename without extension: `<lora:NAME:w>`, sd_model_name
    size_bytes: int = Field(ge=0)
    mtime_ns: int
    ctime_ns: int
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    architecture: Architecture  # detected, or the catalogue's when detection says unknown
    detected_architecture: Architecture
    dtype: str | None = None  # the dtype holding the most bytes
    tensor_count: int = Field(default=0, ge=0)
    alias: str | None = None  # a LoRA's ss_output_name
    status: EntryStatus
    reason: str | None = None  # why the status is not ok
    catalogue_key: str | None = None
    catalogue_match: Literal["sha256", "filename"] | None = None
    source: Source | None = None
    warnings: list[str] = Field(default_factory=list)
    hashed_at: datetime | None = None
    validated_at: datetime
    last_used_at: datetime | None = None

    @property
    def usable(self) -> bool:
        return self.status is EntryStatus.OK

    @model_validator(mode="after")
    def _inside_kind_dir(self) -> ModelEntry:
        path = PurePosixPath(self.path)
        if path.is_absolute() or ".." in path.parts or "\\" in self.path or "\x00" in self.path:
            raise ValueError(f"path {self.path!r} is not a plain relative path")
        if not path.is_relative_to(KIND_DIRS[self.kind]) or path.name != self.filename:
            raise ValueError(f"path {self.path!r} is not a {self.kind} file under {KIND_DIRS[self.kind]}")
        return self


class SkippedPath(_Record):
    """A path seen but not recorded as a model, and why (e.g. a link out of the volume)."""

    path: str
    reason: str


class ScanStats(_Record):
    """What one scan did; not stored."""

    files: int = 0
    hashed: int = 0  # sha256 computed
    reused: int = 0  # sha256 taken from the previous registry: size, mtime and ctime unchanged


class RegistrySnapshot(_Record):
    """The registry file."""

    version: Literal[1]  # REGISTRY_VERSION; a missing or other number is another schema: rebuilt by a rescan
    scanned_at: datetime
    entries: list[ModelEntry]
    skipped: list[SkippedPath] = Field(default_factory=list)
    stats: ScanStats | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_paths(self) -> RegistrySnapshot:
        paths = [entry.path for entry in self.entries]
        if len(paths) != len(set(paths)):
            raise ValueError("a path is listed twice")
        return self

    def of_kind(self, kind: ModelKind) -> list[ModelEntry]:
        return [entry for entry in self.entries if entry.kind is kind]

    def find(self, kind: ModelKind, name: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.kind is kind and e.name == name), None)

    def replace(self, entry: ModelEntry) -> RegistrySnapshot:
        """A copy with the entry at `entry.path` replaced."""
        entries = [entry if e.path == entry.path else e for e in self.entries]
        return self.model_copy(update={"entries": entries})
