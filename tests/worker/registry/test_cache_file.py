"""The registry file: atomic replacement under the lock; anything that does not fit is not trusted."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.registry.cache_file import RegistryStore
from worker.registry.entries import RegistrySnapshot

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _entry(path: str = "models/loras/x.safetensors", **changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": "x",
        "kind": "lora",
        "path": path,
        "filename": path.rsplit("/", 1)[-1],
        "a1111_name": "x",
        "size_bytes": 10,
        "mtime_ns": 1,
        "ctime_ns": 1,
        "sha256": "0" * 64,
        "architecture": "sdxl",
        "detected_architecture": "sdxl",
        "status": "ok",
        "validated_at": NOW.isoformat(),
    }
    return {**entry, **changes}


def _document(*entries: dict[str, object], version: int = 1) -> str:
    return json.dumps({"version": version, "scanned_at": NOW.isoformat(), "entries": list(entries)})


def test_write_then_read(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path / "models")
    snapshot = RegistrySnapshot.model_validate_json(_document(_entry()))
    with store.locked(timeout_s=1):
        store.write(snapshot)

    assert store.read() == snapshot
    assert json.loads(store.path.read_text())["version"] == 1
    assert store.lock_path.exists()
    assert sorted(p.name for p in store.models_dir.iterdir()) == [
        ".cache_registry.lock",
        "cache_registry.json",
    ]


def test_missing_registry_reads_as_none(tmp_path: Path) -> None:
    assert RegistryStore(tmp_path).read() is None
    assert RegistryStore(tmp_path).stamp() is None


def test_write_outside_the_lock_is_a_bug(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path)
    with pytest.raises(RuntimeError):
        store.write(RegistrySnapshot(version=1, scanned_at=NOW, entries=[]))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "document"),
        ('{"version": 1, "scanned_at": "2025-01-01T00:00:00Z", "entries": [', "document"),
        ("\x00\x01garbage", "document"),
        (_document(_entry(), version=2), "version"),
        (_document(_entry(path="models/loras/../../../etc/passwd")), "entries"),
        (_document(_entry(path="/etc/passwd")), "entries"),
        (_document(_entry(path="models/checkpoints/x.safetensors")), "entries"),  # lora outside loras/
        (_document(_entry(sha256="not-a-digest")), "sha256"),
        (_document(_entry(colour="blue")), "colour"),
        (_document(_entry(), _entry()), "listed twice"),
        (_document(_entry(status="trusted")), "status"),
        (json.dumps({"scanned_at": NOW.isoformat(), "entries": []}), "version"),
    ],
)
def test_a_corrupt_or_foreign_registry_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, problem: str
) -> None:
    store = RegistryStore(tmp_path)
    store.path.write_text(content)

    with caplog.at_level(logging.WARNING):
        assert store.read() is None
    assert "rebuilt by a rescan" in caplog.text
    assert problem in caplog.text


def test_a_failed_write_leaves_the_old_registry_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RegistryStore(tmp_path)
    old = RegistrySnapshot.model_validate_json(_document(_entry()))
    with store.locked(timeout_s=1):
        store.write(old)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with store.locked(timeout_s=1), pytest.raises(OSError, match="disk full"):
        store.write(RegistrySnapshot(version=1, scanned_at=NOW, entries=[]))

    assert store.read() == old
    assert not list(tmp_path.glob("*.tmp"))


def test_the_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    first, second = RegistryStore(tmp_path), RegistryStore(tmp_path)
    with first.locked(timeout_s=1):
        with pytest.raises(TimeoutError, match="not acquired within 0.05 s"), second.locked(timeout_s=0.05):
            pass
    with second.locked(timeout_s=0.05):
        pass


def test_the_stamp_changes_when_the_file_is_replaced(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path)
    with store.locked(timeout_s=1):
        store.write(RegistrySnapshot(version=1, scanned_at=NOW, entries=[]))
        before = store.stamp()
        store.write(RegistrySnapshot(version=1, scanned_at=NOW, entries=[]))
    assert store.stamp() != before
