"""Checkpoints on disk, named and aliased the way A1111's `CheckpointInfo` does (sd_models.py)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from emulator.models.arch import Arch, checkpoint_arch
from emulator.models.files import walk_files
from emulator.models.hashes import file_sha256, legacy_model_hash
from emulator.models.safetensors_header import HeaderError, read_header

EXTENSIONS = (".ckpt", ".safetensors")
_VAE_SUFFIXES = (".vae.ckpt", ".vae.safetensors")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file, with every name A1111 accepts for it."""

    filename: str  # absolute path
    name: str  # path relative to --ckpt-dir, or the basename outside it
    name_for_extra: str  # basename without extension: `Model:` in infotexts, info.sd_model_name
    model_name: str
    sha256: str | None  # None under --no-hashing
    arch: Arch
    ids: tuple[str, ...] = field(default=())

    @property
    def shorthash(self) -> str | None:
        return self.sha256[:10] if self.sha256 else None

    @property
    def title(self) -> str:
        return self.name if self.shorthash is None else f"{self.name} [{self.shorthash}]"

    def api_item(self) -> dict[str, object]:
        """The `/sdapi/v1/sd-models` entry."""
        return {
            "title": self.title,
            "model_name": self.model_name,
            "hash": self.shorthash,
            "sha256": self.sha256,
            "filename": self.filename,
            "config": None,
        }


def describe(path: Path, ckpt_dir: Path | None, *, hashing: bool) -> Checkpoint:
    """A Checkpoint for `path`; a file that is not safetensors is listed with an unknown architecture."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(ckpt_dir) if ckpt_dir is not None else None
    name = absolute[len(base) :].lstrip("/\\") if base and absolute.startswith(base) else path.name
    try:
        arch = checkpoint_arch(read_header(path))
    except HeaderError:
        arch = Arch.UNKNOWN
    sha256 = file_sha256(path) if hashing else None
    stem = os.path.splitext(os.path.basename(absolute))[0]
    model_name = os.path.splitext(name.replace("/", "_").replace("\\", "_"))[0]
    legacy = legacy_model_hash(path)
    info = Checkpoint(absolute, name, stem, model_name, sha256, arch)
    ids = [legacy, model_name, info.title, name, stem, f"{name} [{legacy}]"]
    if sha256:
        ids += [sha256[:10], sha256, f"{name} [{sha256[:10]}]", f"{stem} [{sha256[:10]}]"]
    return Checkpoint(**{**info.__dict__, "ids": tuple(ids)})


class CheckpointList:
    """`checkpoints_list` + `checkpoint_aliases`, rebuilt by `refresh()` (thread-safe)."""

    def __init__(self, ckpt_dir: Path | None, ckpt: Path | None, *, hashing: bool) -> None:
        self.ckpt_dir = ckpt_dir
        self.ckpt = ckpt
        self.hashing = hashing
        self._lock = threading.Lock()
        self._by_title: dict[str, Checkpoint] = {}
        self._aliases: dict[str, Checkpoint] = {}

    def refresh(self) -> Checkpoint | None:
        """Rescan the disk; returns the `--ckpt` checkpoint when that file exists."""
        by_title: dict[str, Checkpoint] = {}
        aliases: dict[str, Checkpoint] = {}
        cmd_ckpt: Checkpoint | None = None
        paths = [
            p for p in walk_files(self.ckpt_dir, EXTENSIONS) if not p.name.lower().endswith(_VAE_SUFFIXES)
        ]
        if self.ckpt is not None and self.ckpt.is_file():
            paths.insert(0, self.ckpt)
        for index, path in enumerate(paths):
            info = describe(path, self.ckpt_dir, hashing=self.hashing)
            if index == 0 and path == self.ckpt:
                cmd_ckpt = info
            by_title.setdefault(info.title, info)
            for alias in info.ids:
                aliases[alias] = info
        with self._lock:
            self._by_title, self._aliases = by_title, aliases
        return cmd_ckpt

    def all(self) -> list[Checkpoint]:
        with self._lock:
            return list(self._by_title.values())

    def by_alias(self, name: object) -> Checkpoint | None:
        """Exact alias lookup (A1111's `checkpoint_aliases.get`)."""
        if not isinstance(name, str):
            return None
        with self._lock:
            return self._aliases.get(name)

    def first(self) -> Checkpoint | None:
        with self._lock:
            return next(iter(self._by_title.values()), None)
