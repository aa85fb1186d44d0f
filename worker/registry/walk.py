"""Finding model files on the volume without ever leaving it.

Walks `models/checkpoints`, `models/loras` and `models/embeddings` following links the way A1111 does,
but a file or folder whose real path lies outside the volume is skipped (and reported), never listed.
Only `.safetensors` and pickle-format files are model files; previews, notes and dotfiles are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from worker.registry.architecture import ModelKind
from worker.registry.entries import KIND_DIRS, SkippedPath
from worker.registry.safetensors_check import PICKLE_SUFFIXES, SAFETENSORS_SUFFIX

MODEL_SUFFIXES = PICKLE_SUFFIXES | {SAFETENSORS_SUFFIX}


@dataclass(frozen=True)
class FoundFile:
    """A model file: its kind, its path relative to the volume (as A1111 sees it) and its real path."""

    kind: ModelKind
    relpath: str
    real: Path


def inside(path: Path, root: Path) -> bool:
    """Whether resolved `path` is `root` or below it."""
    return path == root or path.is_relative_to(root)


def walk_volume(volume: Path) -> tuple[list[FoundFile], list[SkippedPath]]:
    """The model files under the volume's three model folders, and the paths skipped with reasons."""
    root = volume.resolve()
    found: list[FoundFile] = []
    skipped: list[SkippedPath] = []
    for kind, folder in KIND_DIRS.items():
        top = root / folder
        if not top.is_dir():
            continue
        real = top.resolve()
        if not inside(real, root):
            skipped.append(SkippedPath(path=folder, reason=f"folder links out of the volume to {real}"))
            continue
        _walk(kind, top, root, found, skipped)
    found.sort(key=lambda f: f.relpath)
    return found, skipped


def _walk(kind: ModelKind, top: Path, root: Path, found: list[FoundFile], skipped: list[SkippedPath]) -> None:
    visited = {top.resolve()}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        here = Path(dirpath)
        for name in sorted(dirnames):
            real = (here / name).resolve()
            rel = (here / name).relative_to(root).as_posix()
            if name.startswith("."):
                dirnames.remove(name)
            elif not inside(real, root):
                skipped.append(SkippedPath(path=rel, reason=f"folder links out of the volume to {real}"))
                dirnames.remove(name)
            elif real in visited:  # a link loop, or a second way into a folder already walked
                dirnames.remove(name)
            else:
                visited.add(real)
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in MODEL_SUFFIXES:
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            real = path.resolve()
            if not inside(real, root):
                skipped.append(SkippedPath(path=rel, reason=f"links out of the volume to {real}"))
            elif not real.is_file():
                skipped.append(SkippedPath(path=rel, reason="broken link or not a regular file"))
            else:
                found.append(FoundFile(kind, rel, real))
