"""The registry on a real volume: scanning, hash reuse, naming, lookups and the volume boundary."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from tests.worker.registry.conftest import CountingHasher, FakeClock
from tests.worker.registry.files import Parts, pickle_payload
from worker.errors import InvalidRequest, LoraNotFound, ModelInvalid, ModelNotFound
from worker.registry.architecture import Architecture, ModelKind
from worker.registry.catalogue import Catalogue, parse_catalogue
from worker.registry.entries import EntryStatus, ModelEntry, RegistrySnapshot
from worker.registry.lookup import Registry
from worker.stack.samples import write_embedding, write_lora

LORAS = "models/loras"


def _rewrite(path: Path, rank: int) -> None:
    write_lora(path, Architecture.SDXL, rank=rank)


def test_scan_records_every_file_of_the_demo_volume(
    registry: Registry, volume: Path, clock: FakeClock
) -> None:
    snapshot = registry.scan()

    assert len(snapshot.entries) == 11
    assert all(entry.status is EntryStatus.OK for entry in snapshot.entries)
    deliberate = snapshot.find(ModelKind.CHECKPOINT, "deliberate_v6")
    assert deliberate is not None
    file = volume / "models/checkpoints/deliberate_v6.safetensors"
    assert deliberate.model_dump(
        include={"path", "filename", "a1111_name", "size_bytes", "architecture"}
    ) == {
        "path": "models/checkpoints/deliberate_v6.safetensors",
        "filename": "deliberate_v6.safetensors",
        "a1111_name": "deliberate_v6",
        "size_bytes": file.stat().st_size,
        "architecture": Architecture.SD15,
    }
    assert deliberate.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    assert deliberate.dtype == "F16"
    assert deliberate.validated_at == clock.now and deliberate.hashed_at == clock.now
    assert deliberate.catalogue_key == "deliberate_v6" and deliberate.catalogue_match == "filename"
    assert deliberate.source is not None and deliberate.source.hf_repo == "XpucT/Deliberate"
    pony = snapshot.find(ModelKind.LORA, "pony_realism_slider")
    assert pony is not None and pony.architecture is Architecture.SDXL and pony.alias == "pony_realism_slider"
    assert pony.source is not None and pony.source.civitai_version_id == 1253021
    assert (volume / "models/cache_registry.json").is_file()


def test_sha256_is_reused_while_size_mtime_and_ctime_are_unchanged(
    registry: Registry, volume: Path, hasher: CountingHasher, catalogue: Catalogue
) -> None:
    # Given a first scan that hashed every file
    first = registry.scan()
    assert len(hasher.calls) == 11 and first.stats is not None and first.stats.hashed == 11

    # When the volume is scanned again, by this registry and by another one (another worker)
    hasher.calls.clear()
    again = registry.scan()
    other = Registry(volume, catalogue, hasher=hasher).scan()

    # Then nothing is hashed again
    assert hasher.calls == []
    assert again.stats is not None and again.stats.reused == 11
    assert [(e.path, e.sha256, e.hashed_at) for e in other.entries] == [
        (e.path, e.sha256, e.hashed_at) for e in again.entries
    ]


def test_sha256_is_recomputed_for_a_modified_file_only(
    registry: Registry, volume: Path, hasher: CountingHasher
) -> None:
    registry.scan()
    hasher.calls.clear()
    lora = volume / LORAS / "detail_tweaker_xl.safetensors"

    _rewrite(lora, rank=6)
    snapshot = registry.scan()

    assert hasher.calls == [lora.resolve()]
    entry = snapshot.find(ModelKind.LORA, "detail_tweaker_xl")
    assert entry is not None and entry.sha256 == hashlib.sha256(lora.read_bytes()).hexdigest()


def test_sha256_is_recomputed_when_a_same_size_file_gets_its_old_mtime_back(
    registry: Registry, volume: Path, hasher: CountingHasher
) -> None:
    # Given a scanned file, replaced by different bytes of the same size with its mtime set back
    lora = volume / LORAS / "real_skin_slider.safetensors"
    before = registry.scan().find(ModelKind.LORA, "real_skin_slider")
    assert before is not None
    raw = bytearray(lora.read_bytes())
    raw[-1] ^= 0xFF
    lora.write_bytes(bytes(raw))
    os.utime(lora, ns=(before.mtime_ns, before.mtime_ns))
    hasher.calls.clear()

    # When rescanned, Then the ctime change makes it hashed again
    after = registry.scan().find(ModelKind.LORA, "real_skin_slider")
    assert hasher.calls == [lora.resolve()]
    assert after is not None and after.sha256 != before.sha256 and after.size_bytes == before.size_bytes


def test_a_corrupt_registry_is_rebuilt_by_a_rescan(
    registry: Registry, volume: Path, hasher: CountingHasher, caplog: pytest.LogCaptureFixture
) -> None:
    registry.scan()
    (volume / "models/cache_registry.json").write_text('{"version": 1, "entries": [{"name": "half')
    hasher.calls.clear()

    with caplog.at_level(logging.WARNING):
        entry = registry.checkpoint("deliberate_v6")

    assert entry.name == "deliberate_v6"
    assert "rebuilt by a rescan" in caplog.text
    assert len(hasher.calls) == 11  # nothing from an untrusted file is reused, not even hashes
    assert registry.store.read() is not None


def test_a_tampered_registry_path_is_not_trusted(registry: Registry, volume: Path) -> None:
    registry.scan()
    registry_file = volume / "models/cache_registry.json"
    registry_file.write_text(
        registry_file.read_text().replace(
            "models/checkpoints/deliberate_v6.safetensors", "models/checkpoints/../../../../etc/passwd"
        )
    )

    assert registry.store.read() is None
    assert registry.checkpoint("deliberate_v6").path == "models/checkpoints/deliberate_v6.safetensors"


@pytest.mark.parametrize(
    ("relpath", "suffix"),
    [("models/checkpoints/old.ckpt", ".ckpt"), (f"{LORAS}/evil.pt", ".pt"),
     ("models/embeddings/bad.bin", ".bin"), (f"{LORAS}/x.pth", ".pth")],
)  # fmt: skip
def test_pickles_are_listed_as_refused_and_never_unpickled(
    registry: Registry, volume: Path, tmp_path: Path, relpath: str, suffix: str
) -> None:
    sentinel = tmp_path / "pwned"
    path = volume / relpath
    path.write_bytes(pickle_payload(sentinel))

    entry = _at_path(registry.scan(), relpath)

    assert entry is not None and entry.status is EntryStatus.REFUSED
    assert entry.reason is not None and entry.reason.startswith(f"pickle format '{suffix}' refused")
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    lookup = registry.checkpoint if entry.kind is ModelKind.CHECKPOINT else registry.lora
    if entry.kind is not ModelKind.EMBEDDING:
        with pytest.raises(ModelInvalid, match="refused"):
            lookup(entry.name)
    assert not sentinel.exists()


def test_an_invalid_file_is_listed_with_the_reason_and_refused_on_lookup(
    registry: Registry, volume: Path
) -> None:
    lora = volume / LORAS / "hand_detail_flux_xl.safetensors"
    lora.write_bytes(lora.read_bytes()[:-7])

    entry = registry.scan().find(ModelKind.LORA, "hand_detail_flux_xl")

    assert entry is not None and entry.status is EntryStatus.INVALID
    with pytest.raises(ModelInvalid, match="is invalid: tensor .* past the end") as raised:
        registry.lora("hand_detail_flux_xl", field="loras[0].name")
    assert raised.value.field == "loras[0].name"


def test_a_pickle_beside_a_safetensors_of_the_same_name_makes_both_unusable(
    registry: Registry, volume: Path
) -> None:
    # A1111 resolves <lora:real_skin_slider:1> by basename: it could load the pickle instead
    (volume / LORAS / "real_skin_slider.pt").write_bytes(b"not even read")

    snapshot = registry.scan()

    entry = _at_path(snapshot, f"{LORAS}/real_skin_slider.safetensors")
    assert entry is not None and entry.status is EntryStatus.DUPLICATE
    assert entry.reason is not None and "models/loras/real_skin_slider.pt (refused)" in entry.reason


def test_same_basename_in_two_subfolders_is_ambiguous(registry: Registry, volume: Path) -> None:
    write_lora(volume / LORAS / "a" / "mine.safetensors", Architecture.SDXL)
    write_lora(volume / LORAS / "b" / "mine.safetensors", Architecture.SDXL, rank=2)

    entries = [e for e in registry.scan().entries if e.a1111_name == "mine"]

    assert [e.status for e in entries] == [EntryStatus.DUPLICATE, EntryStatus.DUPLICATE]
    with pytest.raises(ModelInvalid, match="duplicate"):
        registry.lora("mine")


def test_uncatalogued_files_work_with_detected_metadata(registry: Registry, volume: Path) -> None:
    write_lora(volume / LORAS / "styles" / "My Style v2.safetensors", Architecture.SD15)
    write_embedding(volume / "models/embeddings/easyneg.safetensors", Architecture.SD15)

    snapshot = registry.scan()

    lora = registry.lora("My Style v2")
    assert (lora.path, lora.architecture, lora.catalogue_key, lora.source) == (
        f"{LORAS}/styles/My Style v2.safetensors",
        Architecture.SD15,
        None,
        None,
    )
    embedding = snapshot.find(ModelKind.EMBEDDING, "easyneg")
    assert embedding is not None and embedding.architecture is Architecture.SD15 and embedding.dtype == "F32"


def _with_sha256(catalogue: Catalogue, key: str, digest: str) -> Catalogue:
    document = catalogue.model_dump(mode="json")
    for entry in document["models"]:
        if entry["key"] == key:
            entry["sha256"] = [digest]
    return parse_catalogue(json.dumps(document))


def test_a_catalogue_entry_goes_to_one_file_and_sha256_beats_the_name(
    volume: Path, hasher: CountingHasher, catalogue: Catalogue
) -> None:
    # Given a file under any name whose sha256 the catalogue lists, and another matching by name only
    odd = write_lora(volume / LORAS / "downloaded_12345.safetensors", Architecture.SDXL, rank=3)
    (volume / LORAS / "detail_tweaker_xl.safetensors").rename(volume / LORAS / "add-detail-xl.safetensors")
    with_digest = _with_sha256(catalogue, "detail_tweaker_xl", hashlib.sha256(odd.read_bytes()).hexdigest())

    snapshot = Registry(volume, with_digest, hasher=hasher).scan()

    # Then the sha256 match takes the catalogue name; the other keeps its own name and says why
    winner = snapshot.find(ModelKind.LORA, "detail_tweaker_xl")
    assert winner is not None and winner.usable
    assert (winner.path, winner.catalogue_match) == (f"{LORAS}/downloaded_12345.safetensors", "sha256")
    other = snapshot.find(ModelKind.LORA, "add-detail-xl")
    assert other is not None and other.usable and other.catalogue_key is None
    assert other.warnings == [
        f"also matches catalogue entry 'detail_tweaker_xl', taken by {LORAS}/downloaded_12345.safetensors"
    ]


def test_a_file_named_like_a_catalogue_key_it_does_not_get_is_a_duplicate_name(
    volume: Path, hasher: CountingHasher, catalogue: Catalogue
) -> None:
    odd = write_lora(volume / LORAS / "downloaded_12345.safetensors", Architecture.SDXL, rank=3)
    with_digest = _with_sha256(catalogue, "detail_tweaker_xl", hashlib.sha256(odd.read_bytes()).hexdigest())

    snapshot = Registry(volume, with_digest, hasher=hasher).scan()

    clashing = [e for e in snapshot.entries if e.name == "detail_tweaker_xl"]
    assert [e.status for e in clashing] == [EntryStatus.DUPLICATE, EntryStatus.DUPLICATE]
    assert all("registry name 'detail_tweaker_xl' is also used by" in (e.reason or "") for e in clashing)


def test_an_unnamed_architecture_is_taken_from_the_catalogue_and_a_contradiction_is_noted(
    registry: Registry, volume: Path
) -> None:
    path = volume / LORAS / "dramatic_lighting_slider.safetensors"
    parts = Parts.read(path)
    parts.header = {
        "__metadata__": {},
        **{k.replace("lora_te1_", "m1_").replace("lora_te2_", "m2_").replace("lora_unet_", "m_"): v
           for k, v in parts.header.items() if k != "__metadata__"},
    }  # fmt: skip
    path.write_bytes(parts.to_bytes())
    write_lora(volume / LORAS / "Pony Realism Slider.safetensors", Architecture.SD15)
    (volume / LORAS / "pony_realism_slider.safetensors").unlink()

    snapshot = registry.scan()

    dramatic = snapshot.find(ModelKind.LORA, "dramatic_lighting_slider")
    assert dramatic is not None
    assert (dramatic.detected_architecture, dramatic.architecture) == (
        Architecture.UNKNOWN,
        Architecture.SDXL,
    )
    pony = snapshot.find(ModelKind.LORA, "pony_realism_slider")
    assert pony is not None and pony.a1111_name == "Pony Realism Slider"
    assert pony.architecture is Architecture.SD15
    assert pony.warnings == ["catalogue says sdxl but the tensor names say sd15"]


@pytest.mark.parametrize("name", ["x:1", "x (1)", "naïve", "-x"])
def test_a_file_name_a1111_tags_cannot_carry_is_invalid(registry: Registry, volume: Path, name: str) -> None:
    write_lora(volume / LORAS / f"{name}.safetensors", Architecture.SDXL)

    entry = _at_path(registry.scan(), f"{LORAS}/{name}.safetensors")

    assert entry is not None and entry.status is EntryStatus.INVALID
    assert entry.reason is not None and entry.reason.endswith("; rename the file")


def test_non_model_files_and_dotfiles_are_ignored(registry: Registry, volume: Path) -> None:
    for name in ("preview.png", "notes.txt", "x.civitai.info", ".hidden.safetensors", "x.yaml"):
        (volume / LORAS / name).write_bytes(b"x")
    (volume / LORAS / ".trash").mkdir()
    write_lora(volume / LORAS / ".trash" / "old.safetensors", Architecture.SDXL)

    assert len(registry.scan().entries) == 11


def test_a_link_out_of_the_volume_is_rejected_and_never_listed(
    registry: Registry, volume: Path, tmp_path: Path
) -> None:
    # Given valid files outside the volume, linked in as a file and as a folder, and a broken link
    outside = tmp_path / "outside"
    target = write_lora(outside / "stolen.safetensors", Architecture.SDXL)
    (volume / LORAS / "stolen.safetensors").symlink_to(target)
    (volume / LORAS / "more").symlink_to(outside, target_is_directory=True)
    (volume / LORAS / "dangling.safetensors").symlink_to(volume / "missing.safetensors")

    snapshot = registry.scan()

    assert {e.path for e in snapshot.entries if "stolen" in e.path or "dangling" in e.path} == set()
    assert {(s.path, s.reason.split(" to ")[0]) for s in snapshot.skipped} == {
        (f"{LORAS}/stolen.safetensors", "links out of the volume"),
        (f"{LORAS}/more", "folder links out of the volume"),
        (f"{LORAS}/dangling.safetensors", "broken link or not a regular file"),
    }
    with pytest.raises(LoraNotFound):
        registry.lora("stolen")


def test_links_inside_the_volume_are_followed_and_loops_end(registry: Registry, volume: Path) -> None:
    write_lora(volume / "library" / "shared.safetensors", Architecture.SDXL)
    (volume / LORAS / "shared.safetensors").symlink_to(volume / "library" / "shared.safetensors")
    (volume / LORAS / "loop").symlink_to(volume / LORAS, target_is_directory=True)

    snapshot = registry.scan()

    shared = snapshot.find(ModelKind.LORA, "shared")
    assert shared is not None and shared.usable and shared.path == f"{LORAS}/shared.safetensors"
    assert registry.absolute_path(shared) == registry.volume / LORAS / "shared.safetensors"


def test_absolute_path_refuses_an_entry_that_leaves_the_volume(
    registry: Registry, volume: Path, tmp_path: Path
) -> None:
    entry = registry.lora("detail_tweaker_xl")
    link = volume / LORAS / "detail_tweaker_xl.safetensors"
    link.unlink()
    link.symlink_to(write_lora(tmp_path / "elsewhere.safetensors", Architecture.SDXL))

    with pytest.raises(ModelInvalid, match="resolves outside the model volume"):
        registry.absolute_path(entry)
    forged = ModelEntry.model_construct(**{**entry.model_dump(), "path": f"{LORAS}/../../../etc/passwd"})
    with pytest.raises(ModelInvalid, match="outside"):
        registry.absolute_path(forged)


@pytest.mark.parametrize(
    "name", ["../checkpoints/deliberate_v6", "/etc/passwd", "deliberate_v6\x00", "..", "a/b"]
)
def test_names_are_checked_before_any_lookup(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        registry.checkpoint(name)
    assert raised.value.field == "checkpoint"
    with pytest.raises(InvalidRequest):
        registry.lora(name, field="loras[1].name")


def test_not_found_lists_what_is_available(registry: Registry) -> None:
    with pytest.raises(ModelNotFound) as raised:
        registry.checkpoint("sd_xl_base_1.0")
    assert raised.value.message == (
        "checkpoint 'sd_xl_base_1.0' is not on the model volume; "
        "available: deliberate_v6, jib_mix_illustrious_realistic_v2"
    )
    assert (raised.value.field, raised.value.value, raised.value.category) == (
        "checkpoint",
        "sd_xl_base_1.0",
        "model_not_found",
    )
    with pytest.raises(
        LoraNotFound, match="'deliberate_v6' is not on the model volume; available: amateur_style"
    ):
        registry.lora("deliberate_v6")  # a checkpoint is not a LoRA


def test_a_file_added_after_the_scan_is_found_by_a_rescan_at_most_every_interval(
    registry: Registry, volume: Path, clock: FakeClock
) -> None:
    registry.scan()
    with pytest.raises(LoraNotFound):
        registry.lora("new_one")  # this miss rescans

    write_lora(volume / LORAS / "new_one.safetensors", Architecture.SDXL)
    clock.advance(10)
    with pytest.raises(LoraNotFound):
        registry.lora("new_one")  # within the interval: no rescan

    clock.advance(30)
    assert registry.lora("new_one").name == "new_one"


def test_a_file_changed_or_deleted_since_the_scan_is_checked_again(
    registry: Registry, volume: Path, clock: FakeClock
) -> None:
    registry.scan()
    checkpoint = volume / "models/checkpoints/jib_mix_illustrious_realistic_v2.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes() + b"\0" * 4)
    with pytest.raises(ModelInvalid, match="4 bytes not covered by any tensor"):
        registry.checkpoint("jib_mix_illustrious_realistic_v2")

    checkpoint.unlink()
    clock.advance(60)
    with pytest.raises(ModelNotFound):
        registry.checkpoint("jib_mix_illustrious_realistic_v2")


def test_mark_used_records_the_time_and_spares_needless_writes(
    registry: Registry, volume: Path, clock: FakeClock
) -> None:
    registry.scan()
    registry.mark_used("deliberate_v6", "detail_tweaker_xl", "not_a_model")
    used_at = clock.now
    stamp = registry.store.stamp()

    clock.advance(5)
    registry.mark_used("deliberate_v6")
    assert registry.store.stamp() == stamp  # marked within the interval: no write

    snapshot = registry.scan()  # a rescan keeps the times
    assert {e.name: e.last_used_at for e in snapshot.entries if e.last_used_at} == {
        "deliberate_v6": used_at,
        "detail_tweaker_xl": used_at,
    }
    clock.advance(120)
    registry.mark_used("deliberate_v6")
    entry = registry.store.read()
    assert entry is not None and entry.find(ModelKind.CHECKPOINT, "deliberate_v6") is not None
    assert registry.checkpoint("deliberate_v6").last_used_at == clock.now


def test_mark_used_never_raises_when_the_lock_is_busy(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.scan()
    blocked = Registry(registry.volume, registry.catalogue, use_lock_timeout_s=0.01)

    with registry.store.locked(timeout_s=1), caplog.at_level(logging.WARNING):
        blocked.mark_used("deliberate_v6")

    assert "could not record use of deliberate_v6" in caplog.text
    entry = registry.store.read()
    assert entry is not None and all(e.last_used_at is None for e in entry.entries)


def test_an_empty_volume_scans_to_an_empty_registry(tmp_path: Path, catalogue: Catalogue) -> None:
    snapshot = Registry(tmp_path / "empty", catalogue).scan()
    assert snapshot.entries == [] and (tmp_path / "empty/models/cache_registry.json").is_file()


def test_a_file_that_keeps_changing_is_refused_until_it_settles(
    registry: Registry, volume: Path, clock: FakeClock
) -> None:
    registry.scan()
    lora = volume / LORAS / "amateur_style_slider_pony.safetensors"
    _rewrite(lora, rank=2)
    assert registry.lora("amateur_style_slider_pony").usable  # changed: rescanned, valid

    _rewrite(lora, rank=3)
    with pytest.raises(ModelInvalid, match="is changing on disk; try again when it is complete"):
        registry.lora("amateur_style_slider_pony")  # changed again within the interval

    clock.advance(31)
    assert registry.lora("amateur_style_slider_pony").usable


def _at_path(snapshot: RegistrySnapshot, path: str) -> ModelEntry | None:
    return next((e for e in snapshot.entries if e.path == path), None)
