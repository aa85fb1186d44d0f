"""The hashes A1111 shows: sha256 of a checkpoint file, the LoRA "addnet" hash, the legacy 8-char hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def addnet_sha256(path: Path) -> str:
    """sha256 of a safetensors file's tensor data, i.e. everything after the header.

    A1111 uses this for LoRA hashes so that editing metadata does not change the hash.
    """
    digest = hashlib.sha256()
    with path.open("rb") as file:
        length = int.from_bytes(file.read(8), "little")
        file.seek(length + 8)
        for chunk in iter(lambda: file.read(_BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def legacy_model_hash(path: Path) -> str:
    """The pre-2023 8-char "model hash": 64 KiB read at offset 1 MiB. Still one of a checkpoint's aliases."""
    try:
        with path.open("rb") as file:
            file.seek(0x100000)
            return hashlib.sha256(file.read(0x10000)).hexdigest()[:8]
    except FileNotFoundError:
        return "NOFILE"
