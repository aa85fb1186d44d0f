"""LoRAs on disk (`--lora-dir`), listed and hashed the way A1111's built-in Lora extension does."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.models.arch import Arch, lora_arch
from emulator.models.files import walk_files
from emulator.models.hashes import addnet_sha256, file_sha256
from emulator.models.safetensors_header import HeaderError, metadata, read_header

EXTENSIONS = (".pt", ".ckpt", ".safetensors")
# A1111 lists these metadata keys first (network.py `metadata_tags_order`); the rest keep file order.
_METADATA_ORDER = {"ss_sd_model_name": 1, "ss_resolution": 2, "ss_clip_skip": 3, "ss_num_train_images": 10}
_METADATA_ORDER["ss_tag_frequency"] = 20
_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
_DEFAULT_RANK = 32


@dataclass
class Lora:
    """One LoRA file. `sha256` is filled lazily, on first use, unless hashing is off."""

    name: str
    alias: str
    path: str
    metadata: dict[str, Any]
    arch: Arch
    rank: int
    sha256: str | None

    @property
    def shorthash(self) -> str | None:
        return self.sha256[:12] if self.sha256 else None

    def api_item(self) -> dict[str, Any]:
        return {"name": self.name, "alias": self.alias, "path": self.path, "metadata": self.metadata}


def describe(path: Path) -> Lora:
    name = os.path.splitext(path.name)[0]
    meta: dict[str, Any] = {}
    header: dict[str, Any] = {}
    if path.suffix.lower() == ".safetensors":
        try:
            header = read_header(path)
            meta = metadata(header)
        except HeaderError:
            pass
    ordered = dict(sorted(meta.items(), key=lambda item: _METADATA_ORDER.get(item[0], 999)))
    try:
        rank = int(str(ordered.get("ss_network_dim", _DEFAULT_RANK)))
    except ValueError:
        rank = _DEFAULT_RANK
    cached = ordered.get("sshs_model_hash")
    return Lora(
        name=name,
        alias=str(ordered.get("ss_output_name", name)),
        path=str(path),
        metadata=ordered,
        arch=lora_arch(header, ordered),
        rank=rank,
        sha256=str(cached) if cached else None,
    )


class LoraList:
    """`available_networks` + `available_network_aliases`, rebuilt by `refresh()`."""

    def __init__(self, lora_dir: Path | None, *, hashing: bool) -> None:
        self.lora_dir = lora_dir
        self.hashing = hashing
        self._lock = threading.Lock()
        self._by_name: dict[str, Lora] = {}
        self._aliases: dict[str, Lora] = {}

    def refresh(self) -> None:
        by_name: dict[str, Lora] = {}
        aliases: dict[str, Lora] = {}
        for path in walk_files(self.lora_dir, EXTENSIONS):
            lora = describe(path)
            by_name[lora.name] = lora
            aliases[lora.name] = lora
            aliases[lora.alias] = lora
        with self._lock:
            self._by_name, self._aliases = by_name, aliases

    def all(self) -> list[Lora]:
        with self._lock:
            return list(self._by_name.values())

    def find(self, name: str) -> Lora | None:
        """The LoRA a prompt names; a miss triggers a rescan, as A1111 does, then gives None."""
        with self._lock:
            found = self._aliases.get(name)
        if found is None:
            self.refresh()
            with self._lock:
                found = self._aliases.get(name)
        if found is not None and found.sha256 is None and self.hashing:
            is_safetensors = found.path.lower().endswith(".safetensors")
            found.sha256 = (
                addnet_sha256(Path(found.path)) if is_safetensors else file_sha256(Path(found.path))
            )
        return found


def prompt_loras(prompt: str) -> list[tuple[str, float]]:
    """`<lora:NAME:WEIGHT...>` (and the `lyco` alias) in `prompt`, in order, weight defaulting to 1.0."""
    found: list[tuple[str, float]] = []
    for kind, args in _EXTRA_NETWORK.findall(prompt):
        if kind not in ("lora", "lyco"):
            continue
        parts = args.split(":")
        weight = 1.0
        if len(parts) > 1 and "=" not in parts[1]:
            try:
                weight = float(parts[1])
            except ValueError:
                weight = 1.0
        found.append((parts[0], weight))
    return found
