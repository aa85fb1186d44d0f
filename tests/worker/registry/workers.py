"""Child-process bodies for the concurrency tests (importable, so `spawn` can start them)."""

from __future__ import annotations

import hashlib
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from pydantic import ValidationError

from worker.registry.cache_file import RegistryStore
from worker.registry.entries import RegistrySnapshot
from worker.registry.lookup import Registry
from worker.stack.samples import Architecture, write_lora


def scan_and_mark(volume: str, rounds: int, name: str, start: Event) -> None:
    """Rescan the volume and record use of `name`, `rounds` times, as a worker would."""
    registry = Registry(Path(volume), used_write_interval_s=0.0)
    start.wait()
    for _ in range(rounds):
        registry.scan()
        registry.mark_used(name)


def mutate(volume: str, rounds: int, start: Event) -> None:
    """Replace a LoRA with different bytes and rescan, so the registry's content keeps changing."""
    registry = Registry(Path(volume))
    lora = Path(volume) / "models/loras/mutating.safetensors"
    start.wait()
    for i in range(rounds):
        temp = lora.with_name(".mutating.tmp.safetensors")
        write_lora(temp, Architecture.SDXL, rank=2 + i % 3)
        temp.replace(lora)
        registry.scan()


def read_until(volume: str, stop: Event, start: Event, results: Queue[tuple[int, int, list[str]]]) -> None:
    """Parse every version of the registry seen until `stop`; report (parsed, distinct versions, errors)."""
    path = Path(volume) / "models/cache_registry.json"
    parsed, seen, errors = 0, set(), []
    start.wait()
    while not stop.is_set():
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        try:
            RegistrySnapshot.model_validate_json(raw)
        except ValidationError as exc:
            errors.append(f"{len(raw)} bytes: {str(exc)[:200]}")
            continue
        parsed += 1
        seen.add(hashlib.sha256(raw).digest())
    results.put((parsed, len(seen), errors[:5]))


def hold_lock(models_dir: str, seconds: float, held: Event) -> None:
    with RegistryStore(Path(models_dir)).locked(timeout_s=5):
        held.set()
        time.sleep(seconds)


def write_in_place(volume: str, rounds: int, start: Event) -> None:
    """A naive writer (truncate, write half, pause, write the rest): what the store must never do."""
    path = Path(volume) / "models/cache_registry.json"
    good = path.read_bytes()
    start.wait()
    for _ in range(rounds):
        with open(path, "wb") as handle:
            handle.write(good[: len(good) // 2])
            handle.flush()
            time.sleep(0.002)
            handle.write(good[len(good) // 2 :])
