"""`sdfleet models scan | list | validate PATH`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.worker.registry.files import LAYOUTS, Parts, pickle_payload
from worker.registry.cli import main


def test_scan_of_a_clean_volume_exits_0(volume: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--volume", str(volume)]) == 0
    out = capsys.readouterr().out
    assert "scanned 11 model files" in out and "11 ok, 0 invalid, 0 refused, 0 duplicate" in out
    assert "sha256 computed for 11, reused for 0" in out


def test_scan_exits_1_and_says_why_when_a_file_is_refused_or_invalid(
    volume: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (volume / "models/embeddings/evil.pt").write_bytes(pickle_payload(tmp_path / "pwned"))
    lora = volume / "models/loras/real_skin_slider.safetensors"
    lora.write_bytes(lora.read_bytes() + b"\0\0")

    assert main(["scan", "--volume", str(volume)]) == 1

    out = capsys.readouterr().out
    assert "refused: models/embeddings/evil.pt: pickle format '.pt' refused" in out
    assert "invalid: models/loras/real_skin_slider.safetensors: data section has 2 bytes not covered" in out
    assert "remove them" in out
    assert not (tmp_path / "pwned").exists()


def test_scan_exits_1_for_a_link_out_of_the_volume(
    volume: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = LAYOUTS["sdxl-lora"](tmp_path / "outside.safetensors")
    (volume / "models/loras/outside.safetensors").symlink_to(target)

    assert main(["scan", "--volume", str(volume)]) == 1
    assert "skipped: models/loras/outside.safetensors: links out of the volume" in capsys.readouterr().out


def test_list_prints_a_table(volume: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--volume", str(volume)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "ARCH", "SIZE", "STATUS", "CATALOGUE", "PATH"]
    row = next(line for line in lines if line.startswith("deliberate_v6 "))
    assert row.split()[:3] == ["deliberate_v6", "checkpoint", "sd15"]
    assert "ok" in row.split() and "deliberate_v6 (filename)" in row
    assert len(lines) == 12


def test_list_json(volume: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json", "--volume", str(volume)]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in entries} >= {"deliberate_v6", "pony_realism_slider"}


def test_volume_may_come_after_the_subcommand_or_before_it(volume: Path) -> None:
    # `sdfleet models` appends --volume after whatever the operator typed
    assert main(["--volume", str(volume), "list"]) == 0
    assert main(["list", "--volume", str(volume)]) == 0


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_validate_a_valid_file(tmp_path: Path, layout: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = LAYOUTS[layout](tmp_path / "x.safetensors")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    architecture, kind = layout.split("-")  # outside the volume folders the tensor names tell the kind
    assert out.startswith(f"valid: {path}: {kind} layout, architecture {architecture}")


def test_validate_uses_the_volume_folder_for_the_kind(
    volume: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = volume / "models/loras/detail_tweaker_xl.safetensors"
    assert main(["validate", str(path), "--volume", str(volume)]) == 0
    assert "lora layout, architecture sdxl, dtype F16, 12 tensors" in capsys.readouterr().out


def test_validate_an_invalid_file_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = LAYOUTS["sd15-checkpoint"](tmp_path / "good.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(Parts.read(good).to_bytes(length=9_999_999))

    assert main(["validate", str(bad)]) == 1
    assert capsys.readouterr().err.startswith(f"invalid: {bad}: header length 9999999 exceeds file size")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_validate_a_pickle_exits_1_refused(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle_payload(tmp_path / "pwned"))

    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"refused: {path}: pickle format '{suffix}' refused")
    assert "--disable-safe-unpickle" in err
    assert not (tmp_path / "pwned").exists()


def test_validate_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["frobnicate"])
    assert raised.value.code == 2
