"""Header-only validation on real files of each layout and on corrupted variants of each."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from tests.worker.registry.files import CORRUPTIONS, LAYOUTS, Parts, pickle_payload
from worker.errors import ModelInvalid
from worker.registry.safetensors_check import DTYPE_BYTES, parse_header, validate_file

MODEL_LAYOUTS = ["sd15-checkpoint", "sdxl-checkpoint", "sd15-lora", "sdxl-lora"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_file_written_by_safetensors_is_valid(tmp_path: Path, layout: str) -> None:
    path = LAYOUTS[layout](tmp_path / "model.safetensors")

    header = validate_file(path)

    assert header.file_size == path.stat().st_size
    assert header.tensors and all(t.nbytes > 0 for t in header.tensors.values())
    assert sum(t.nbytes for t in header.tensors.values()) == header.data_size


def test_lora_metadata_is_kept(tmp_path: Path) -> None:
    header = validate_file(LAYOUTS["sdxl-lora"](tmp_path / "x.safetensors"))

    assert header.metadata["ss_base_model_version"] == "sdxl_base_v1-0"
    assert header.tensors["lora_te1_text_model_encoder_layers_0_self_attn_k_proj.alpha"].shape == ()


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("layout", MODEL_LAYOUTS)
def test_a_corrupted_file_is_model_invalid_saying_what_is_wrong(
    tmp_path: Path, layout: str, corruption: str
) -> None:
    # Given a real file of the layout, corrupted one way
    good = LAYOUTS[layout](tmp_path / "good.safetensors")
    corrupt, expected = CORRUPTIONS[corruption]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(corrupt(Parts.read(good)))

    # When it is validated, Then it is refused with a message saying what is wrong
    with pytest.raises(ModelInvalid) as raised:
        validate_file(bad)
    assert expected in raised.value.message
    assert raised.value.category == "model_invalid"


def test_exact_messages_for_the_documented_cases(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros((4, 4), np.float16), "b": np.zeros((2,), np.float32)}, str(path))
    parts = Parts.read(path)
    too_long = parts.to_bytes(length=9_999_999)
    path.write_bytes(too_long)
    with pytest.raises(ModelInvalid, match=f"^header length 9999999 exceeds file size {len(too_long)}$"):
        validate_file(path)

    parts.header["a"]["data_offsets"] = [0, 30]
    parts.header["b"]["data_offsets"] = [30, 38]
    path.write_bytes(parts.to_bytes())
    with pytest.raises(
        ModelInvalid, match=r"^tensor 'a' dtype F16 shape \[4, 4\] needs 32 bytes but its range is 30$"
    ):
        validate_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is 0 bytes: too short for a safetensors header length"),
        (b"\x05\x00\x00", "file is 3 bytes"),
        (struct.pack("<Q", 1) + b"{", "header length 1 is too short"),
    ],
)
def test_files_too_short_for_a_header(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelInvalid, match=message):
        validate_file(path)


def test_a_header_with_no_tensors_and_no_data_is_valid() -> None:
    assert parse_header(b"{}      ", file_size=16).tensors == {}


def _one_tensor(dtype: str, shape: list[int], size: int) -> bytes:
    return json.dumps({"t": {"dtype": dtype, "shape": shape, "data_offsets": [0, size]}}).encode()


@pytest.mark.parametrize("dtype", sorted(DTYPE_BYTES))
def test_every_safetensors_dtype_is_sized(dtype: str) -> None:
    size = DTYPE_BYTES[dtype] * 6
    header = _one_tensor(dtype, [2, 3], size)
    assert parse_header(header, file_size=8 + len(header) + size).tensors["t"].nbytes == size

    wrong = _one_tensor(dtype, [2, 3], size + 1)
    with pytest.raises(ModelInvalid, match=f"dtype {dtype} shape \\[2, 3\\] needs {size} bytes"):
        parse_header(wrong, file_size=8 + len(wrong) + size + 1)


def test_zero_sized_tensors_may_share_an_offset() -> None:
    header = json.dumps(
        {
            "empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [4, 4]},
            "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
        }
    ).encode()
    assert len(parse_header(header, file_size=8 + len(header) + 8).tensors) == 3


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth", ".CKPT"])
def test_pickle_formats_are_refused_without_being_unpickled(tmp_path: Path, suffix: str) -> None:
    # Given a malicious pickle that would create a sentinel file if it were ever loaded
    sentinel = tmp_path / "pwned"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle_payload(sentinel))

    with pytest.raises(ModelInvalid) as raised:
        validate_file(path)

    assert raised.value.message.startswith(f"pickle format {suffix.lower()!r} refused: A1111 runs with")
    assert "--disable-safe-unpickle" in raised.value.message
    assert not sentinel.exists()


@pytest.mark.parametrize("name", ["model.gguf", "model.onnx", "model", "model.safetensors.part"])
def test_other_file_types_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x" * 64)
    with pytest.raises(ModelInvalid, match="unsupported file type"):
        validate_file(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_real_file_is_model_invalid_or_still_consistent(
    tmp_path: Path, data: st.DataObject
) -> None:
    # Given a real LoRA with random bytes overwritten, truncated or appended
    path = tmp_path / "fuzz.safetensors"
    raw = bytearray((LAYOUTS["sdxl-lora"](path)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))] if data.draw(st.booleans()) else raw
    path.write_bytes(bytes(raw))

    # When validated, Then either it raises ModelInvalid, or every tensor range tiles the data exactly
    try:
        header = validate_file(path)
    except ModelInvalid:
        return
    assert sum(t.nbytes for t in header.tensors.values()) == header.data_size
