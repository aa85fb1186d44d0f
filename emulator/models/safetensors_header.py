"""Reading a safetensors file's JSON header without loading any tensor.

The format is an 8-byte little-endian header length, then that many bytes of JSON: one entry per
tensor (dtype, shape, data_offsets) plus an optional `__metadata__` dict of strings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit safetensors itself enforces


class HeaderError(ValueError):
    """Raised when a file is not a readable safetensors file."""


def read_header(path: Path) -> dict[str, Any]:
    """The parsed header of `path`. Raises HeaderError for anything that is not safetensors."""
    try:
        with path.open("rb") as file:
            length = int.from_bytes(file.read(8), "little")
            if length < 2 or length > MAX_HEADER_BYTES:
                raise HeaderError(f"{path} is not a safetensors file (header length {length})")
            raw = file.read(length)
    except OSError as exc:
        raise HeaderError(f"{path}: {exc}") from exc
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise HeaderError(f"{path} has an unreadable safetensors header: {exc}") from exc
    if not isinstance(header, dict):
        raise HeaderError(f"{path} has a safetensors header that is not an object")
    return header


def tensor_keys(header: dict[str, Any]) -> list[str]:
    return [key for key in header if key != "__metadata__"]


def metadata(header: dict[str, Any]) -> dict[str, Any]:
    """`__metadata__` the way A1111 reads it: string values that look like JSON objects are decoded."""
    raw = header.get("__metadata__") or {}
    result: dict[str, Any] = {}
    for key, value in raw.items():
        result[key] = value
        if isinstance(value, str) and value[:1] == "{":
            try:
                result[key] = json.loads(value)
            except ValueError:
                pass
    return result


def tensor_shape(header: dict[str, Any], key: str) -> list[int]:
    entry = header.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("shape"), list):
        return [int(x) for x in entry["shape"]]
    return []
