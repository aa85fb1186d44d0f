"""Fixtures: a demo model volume on tmp_path, a hasher that counts its calls, a registry over both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from worker.registry.catalogue import Catalogue, load_catalogue
from worker.registry.lookup import Registry
from worker.registry.scanner import sha256_file
from worker.stack.demo_volume import seed_volume


class CountingHasher:
    """sha256_file that records which files it hashed."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path) -> str:
        self.calls.append(path)
        return sha256_file(path)


class FakeClock:
    """Wall clock and monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
        self.mono = 1000.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """A model volume with the catalogue's checkpoints and LoRAs as small, valid files."""
    path = tmp_path / "volume"
    seed_volume(path)
    return path


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(volume: Path, catalogue: Catalogue, hasher: CountingHasher, clock: FakeClock) -> Registry:
    return Registry(volume, catalogue, hasher=hasher, clock=clock.wall, monotonic=clock.monotonic)
