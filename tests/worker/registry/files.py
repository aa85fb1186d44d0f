"""Real safetensors files in the SD1.5, SDXL and LoRA layouts, and corrupted variants of each.

Corruptions rewrite the bytes of a file the `safetensors` package wrote, so every variant starts from
something real. A malicious pickle is written as raw opcodes; nothing here ever unpickles it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.stack.samples import Architecture, write_checkpoint, write_embedding, write_lora

Writer = Callable[[Path], Path]

LAYOUTS: dict[str, Writer] = {
    "sd15-checkpoint": lambda p: write_checkpoint(p, Architecture.SD15),
    "sdxl-checkpoint": lambda p: write_checkpoint(p, Architecture.SDXL),
    "sd15-lora": lambda p: write_lora(p, Architecture.SD15),
    "sdxl-lora": lambda p: write_lora(p, Architecture.SDXL),
    "sd15-embedding": lambda p: write_embedding(p, Architecture.SD15),
}


@dataclass
class Parts:
    """A safetensors file taken apart: the header as a dict (tensors in data order) and the data bytes."""

    header: dict[str, Any]
    data: bytes

    @classmethod
    def read(cls, path: Path) -> Parts:
        raw = path.read_bytes()
        (length,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + length])
        tensors = sorted(
            ((k, v) for k, v in header.items() if k != "__metadata__"),
            key=lambda kv: kv[1]["data_offsets"][0],
        )
        ordered = {k: v for k, v in tensors}
        if "__metadata__" in header:
            ordered = {"__metadata__": header["__metadata__"], **ordered}
        return cls(ordered, raw[8 + length :])

    def tensor_names(self) -> list[str]:
        return [k for k in self.header if k != "__metadata__"]

    def to_bytes(self, *, header_text: bytes | None = None, length: int | None = None) -> bytes:
        text = header_text if header_text is not None else json.dumps(self.header).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text) if length is None else length) + text + self.data


def pickle_payload(sentinel: Path) -> bytes:
    """Protocol-0 pickle that, if ever unpickled, creates `sentinel` (open(sentinel, 'w'))."""
    return f"cbuiltins\nopen\n(V{sentinel}\nVw\ntR.".encode()


def _shape_mismatch(p: Parts) -> bytes:
    first = p.tensor_names()[0]
    p.header[first]["shape"] = [*p.header[first]["shape"], 3]
    return p.to_bytes()


def _overlap(p: Parts) -> bytes:
    second = p.header[p.tensor_names()[1]]
    begin, end = second["data_offsets"]
    second["data_offsets"] = [begin - 2, end - 2]
    return p.to_bytes()


def _gap(p: Parts) -> bytes:
    names = p.tensor_names()
    cut = p.header[names[0]]["data_offsets"][1]
    for name in names[1:]:
        begin, end = p.header[name]["data_offsets"]
        p.header[name]["data_offsets"] = [begin + 8, end + 8]
    p.data = p.data[:cut] + b"\0" * 8 + p.data[cut:]
    return p.to_bytes()


def _past_end(p: Parts) -> bytes:
    last = p.header[p.tensor_names()[-1]]
    begin, end = last["data_offsets"]
    shift = len(p.data) + 100
    last["data_offsets"] = [begin + shift, end + shift]
    return p.to_bytes()


def _set_offsets(offsets: list[int]) -> Callable[[Parts], bytes]:
    def corrupt(p: Parts) -> bytes:
        p.header[p.tensor_names()[0]]["data_offsets"] = offsets
        return p.to_bytes()

    return corrupt


def _set_field(field: str, value: Any) -> Callable[[Parts], bytes]:
    def corrupt(p: Parts) -> bytes:
        p.header[p.tensor_names()[0]][field] = value
        return p.to_bytes()

    return corrupt


def _duplicate_key(p: Parts) -> bytes:
    name = p.tensor_names()[0]
    text = json.dumps(p.header)
    entry = json.dumps({name: p.header[name]})[1:-1]
    return p.to_bytes(header_text=("{" + entry + ", " + text[1:]).encode())


def _metadata_not_string(p: Parts) -> bytes:
    p.header = {
        "__metadata__": {"ss_network_dim": 4},
        **{k: v for k, v in p.header.items() if k != "__metadata__"},
    }
    return p.to_bytes()


# name → (corrupt the parts into file bytes, a fragment the ModelInvalid message must contain)
CORRUPTIONS: dict[str, tuple[Callable[[Parts], bytes], str]] = {
    "truncated": (lambda p: p.to_bytes()[:-10], "past the end of the"),
    "padded": (lambda p: p.to_bytes() + b"\0" * 12, "data section has 12 bytes not covered by any tensor"),
    "header-length-too-big": (
        lambda p: p.to_bytes(length=9_999_999),
        "header length 9999999 exceeds file size",
    ),
    "header-over-100mb": (lambda p: p.to_bytes(length=200_000_000), "exceeds the limit of 100000000 bytes"),
    "header-length-zero": (lambda p: p.to_bytes(length=0), "header length 0 is too short"),
    "not-json": (lambda p: p.to_bytes(header_text=b"{'a': not json}"), "header is not JSON"),
    "not-utf8": (lambda p: p.to_bytes(header_text=b'{"\xff\xfe": 1}'), "header is not UTF-8"),
    "not-an-object": (
        lambda p: p.to_bytes(header_text=b"[1, 2, 3]"),
        "header is a JSON array, not an object",
    ),
    "shape-mismatch": (_shape_mismatch, "bytes but its range is"),
    "overlap": (_overlap, "overlap"),
    "gap": (_gap, "gap of 8 bytes after tensor"),
    "offsets-past-end": (_past_end, "past the end of the"),
    "negative-offset": (_set_offsets([-4, 28]), "negative data offset"),
    "reversed-offsets": (_set_offsets([32, 0]), "reversed data offsets"),
    "offsets-not-pair": (_set_offsets([0]), "not a pair of integers"),
    "unknown-dtype": (_set_field("dtype", "F12"), "unknown dtype 'F12'"),
    "shape-not-ints": (_set_field("shape", [4, "4"]), "not a list of non-negative integers"),
    "shape-bool": (_set_field("shape", [True, 4]), "not a list of non-negative integers"),
    "extra-field": (_set_field("device", "cuda"), "unexpected field 'device'"),
    "duplicate-key": (_duplicate_key, "twice"),
    "metadata-not-string": (_metadata_not_string, "__metadata__ value of 'ss_network_dim' is a JSON number"),
}
