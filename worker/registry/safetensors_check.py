"""Safetensors validation from the header alone: no tensor is loaded; the header is read, the file stat'd.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON (one entry per tensor:
dtype, shape, data_offsets relative to the data section; plus an optional `__metadata__` of strings),
then the data section. A valid file's tensor ranges tile the data section exactly: no overlap, no gap,
nothing past its end and nothing left over. Anything else is `ModelInvalid`, with what is wrong.

Pickle formats are refused by their suffix before any byte is read: A1111 runs with
`--disable-safe-unpickle`, so loading one would run whatever code it carries.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.errors import ModelInvalid

MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors library itself enforces
SAFETENSORS_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"})

DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "U64": 8,
}
_TENSOR_FIELDS = frozenset({"dtype", "shape", "data_offsets"})


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it; `begin`/`end` are offsets into the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    """What validation learnt about a file: its tensors and metadata, and the sizes that were checked."""

    file_size: int
    header_length: int
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data_size(self) -> int:
        return self.file_size - 8 - self.header_length


def refuse_unsupported(path: Path) -> None:
    """Raises ModelInvalid when `path` is a pickle format or anything but `.safetensors`; reads nothing."""
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelInvalid(
            f"pickle format {suffix!r} refused: A1111 runs with --disable-safe-unpickle, "
            "so loading it would run whatever code it carries; convert it to .safetensors"
        )
    if suffix != SAFETENSORS_SUFFIX:
        raise ModelInvalid(f"unsupported file type {suffix or '(none)'!r}: only .safetensors is accepted")


def validate_file(path: Path) -> SafetensorsHeader:
    """Validate `path` from its header and size. Raises ModelInvalid saying what is wrong."""
    refuse_unsupported(path)
    try:
        with open(path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelInvalid(f"file is {file_size} bytes: too short for a safetensors header length")
            header_length = int.from_bytes(prefix, "little")
            _check_header_length(header_length, file_size)
            raw = handle.read(header_length)
    except OSError as exc:
        raise ModelInvalid(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if len(raw) < header_length:  # the file shrank between stat and read
        raise ModelInvalid(f"header length {header_length} exceeds the {len(raw)} bytes that could be read")
    return parse_header(raw, file_size=file_size)


def _check_header_length(header_length: int, file_size: int) -> None:
    if header_length > MAX_HEADER_BYTES:
        raise ModelInvalid(f"header length {header_length} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    if header_length > file_size - 8:
        raise ModelInvalid(f"header length {header_length} exceeds file size {file_size}")
    if header_length < 2:
        raise ModelInvalid(f"header length {header_length} is too short for a JSON object")


def parse_header(raw: bytes, *, file_size: int) -> SafetensorsHeader:
    """Check header bytes `raw` of a file of `file_size` bytes. Raises ModelInvalid."""
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise ModelInvalid(f"header is not UTF-8 text (byte {exc.start})") from exc
    except _DuplicateKey as exc:
        raise ModelInvalid(f"header names {exc.key!r} twice") from exc
    except ValueError as exc:
        raise ModelInvalid(f"header is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelInvalid(f"header is a JSON {_json_type(document)}, not an object")
    metadata = _metadata(document.pop("__metadata__", {}))
    data_size = file_size - 8 - len(raw)
    tensors = {name: _tensor(name, info) for name, info in document.items()}
    _check_layout(list(tensors.values()), data_size)
    return SafetensorsHeader(file_size, len(raw), tensors, metadata)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ModelInvalid(f"__metadata__ is a JSON {_json_type(value)}, not an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ModelInvalid(f"__metadata__ value of {key!r} is a JSON {_json_type(item)}, not a string")
    return dict(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor(name: str, info: object) -> TensorInfo:
    if not isinstance(info, dict):
        raise ModelInvalid(f"tensor {name!r} is described by a JSON {_json_type(info)}, not an object")
    missing = sorted(_TENSOR_FIELDS - info.keys())
    if missing:
        raise ModelInvalid(f"tensor {name!r} has no {', '.join(missing)}")
    extra = sorted(info.keys() - _TENSOR_FIELDS)
    if extra:
        raise ModelInvalid(f"tensor {name!r} has unexpected field {', '.join(map(repr, extra))}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise ModelInvalid(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise ModelInvalid(f"tensor {name!r} has shape {shape!r}: not a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets):
        raise ModelInvalid(f"tensor {name!r} has data_offsets {offsets!r}: not a pair of integers")
    begin, end = offsets
    if begin < 0 or end < 0:
        raise ModelInvalid(f"tensor {name!r} has a negative data offset {offsets}")
    if end < begin:
        raise ModelInvalid(f"tensor {name!r} has reversed data offsets {offsets}")
    needed = math.prod(shape) * DTYPE_BYTES[dtype]
    if needed != end - begin:
        raise ModelInvalid(
            f"tensor {name!r} dtype {dtype} shape {shape} needs {needed} bytes but its range is {end - begin}"
        )
    return TensorInfo(name, dtype, tuple(shape), begin, end)


def _check_layout(tensors: list[TensorInfo], data_size: int) -> None:
    """The non-empty ranges must lie inside the data section, not overlap, and cover it exactly."""
    for tensor in tensors:
        if tensor.end > data_size:
            raise ModelInvalid(
                f"tensor {tensor.name!r} range [{tensor.begin}, {tensor.end}] lies past the end of the "
                f"{data_size}-byte data section (truncated file?)"
            )
    covered = 0
    previous: TensorInfo | None = None
    for tensor in sorted((t for t in tensors if t.nbytes), key=lambda t: (t.begin, t.end)):
        if previous is not None and tensor.begin < previous.end:
            raise ModelInvalid(f"tensors {previous.name!r} and {tensor.name!r} overlap")
        if tensor.begin > covered:
            after = f"after tensor {previous.name!r}" if previous else "at its start"
            raise ModelInvalid(
                f"data section has a gap of {tensor.begin - covered} bytes {after} not covered by any tensor"
            )
        covered, previous = tensor.end, tensor
    if covered < data_size:
        raise ModelInvalid(f"data section has {data_size - covered} bytes not covered by any tensor")
