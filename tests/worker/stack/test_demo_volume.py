"""The demo volume: every catalogue model as a valid file that matches its entry; seeding is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.registry.conftest import CountingHasher
from worker.registry.catalogue import load_catalogue
from worker.registry.lookup import Registry
from worker.registry.safetensors_check import validate_file
from worker.stack.demo_volume import seed_volume


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "volume"
    seed_volume(path)
    return path


def test_every_catalogue_model_is_seeded_valid_and_matched(volume: Path) -> None:
    catalogue = load_catalogue()
    snapshot = Registry(volume, catalogue, hasher=CountingHasher()).scan()

    assert sorted(e.name for e in snapshot.entries) == sorted(e.key for e in catalogue.models)
    for entry in snapshot.entries:
        model = catalogue.entry(entry.name)
        assert model is not None
        assert entry.usable and entry.catalogue_match == "filename"
        assert entry.detected_architecture is model.architecture


def test_loras_carry_kohya_metadata(volume: Path) -> None:
    metadata = validate_file(volume / "models/loras/pony_realism_slider.safetensors").metadata
    assert metadata["ss_output_name"] == "pony_realism_slider"
    assert metadata["ss_base_model_version"] == "sdxl_base_v1-0"
    assert metadata["ss_sd_model_name"].startswith("ponyDiffusionV6XL")


def test_seeding_again_leaves_files_alone_and_repairs_damage(volume: Path) -> None:
    files = sorted((volume / "models").rglob("*.safetensors"))
    before = {path: path.stat().st_mtime_ns for path in files}
    damaged = volume / "models/loras/detail_tweaker_xl.safetensors"
    damaged.write_bytes(b"junk")

    seed_volume(volume)

    assert {p: p.stat().st_mtime_ns for p in files if p != damaged} == {
        p: m for p, m in before.items() if p != damaged
    }
    validate_file(damaged)
    assert not list((volume / "models").rglob(".*.tmp*"))
