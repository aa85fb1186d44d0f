"""Several processes scanning and writing one registry at once: no torn read, no lost update."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.worker.registry import workers
from worker.registry.architecture import ModelKind
from worker.registry.cache_file import RegistryStore
from worker.registry.lookup import Registry

SPAWN = multiprocessing.get_context("spawn")
MARKED = ["detail_tweaker_xl", "real_skin_slider", "pony_realism_slider", "deliberate_v6"]


def test_concurrent_scanners_never_show_a_reader_a_torn_registry(volume: Path) -> None:
    # Given four "workers" rescanning and marking use, one replacing a file, and three readers
    start, stop = SPAWN.Event(), SPAWN.Event()
    results: multiprocessing.Queue[tuple[int, int, list[str]]] = SPAWN.Queue()
    writers = [
        SPAWN.Process(target=workers.scan_and_mark, args=(str(volume), 12, name, start)) for name in MARKED
    ] + [SPAWN.Process(target=workers.mutate, args=(str(volume), 12, start))]
    readers = [
        SPAWN.Process(target=workers.read_until, args=(str(volume), stop, start, results)) for _ in range(3)
    ]
    for process in writers + readers:
        process.start()

    # When they all run at once
    start.set()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    stop.set()
    reports = [results.get(timeout=30) for _ in readers]
    for process in readers:
        process.join(timeout=30)

    # Then every version a reader saw parsed, and readers saw the registry change under them
    assert [errors for _, _, errors in reports] == [[], [], []]
    assert all(parsed > 0 for parsed, _, _ in reports)
    assert max(versions for _, versions, _ in reports) > 3
    # and no update was lost: every worker's last-used mark survived the others' rescans
    final = RegistryStore(volume / "models").read()
    assert final is not None
    assert {e.name for e in final.entries if e.last_used_at is not None} == set(MARKED)
    assert final.find(ModelKind.LORA, "mutating") is not None
    assert not list((volume / "models").glob(".cache_registry.json.*"))


def test_the_lock_is_held_across_processes(volume: Path) -> None:
    held = SPAWN.Event()
    holder = SPAWN.Process(target=workers.hold_lock, args=(str(volume / "models"), 1.5, held))
    holder.start()
    try:
        assert held.wait(timeout=30)
        with pytest.raises(TimeoutError), RegistryStore(volume / "models").locked(timeout_s=0.2):
            pass
        Registry(volume, scan_lock_timeout_s=10).scan()  # waits for the holder, then scans
    finally:
        holder.join(timeout=30)
    assert holder.exitcode == 0


def test_the_readers_would_see_a_torn_registry_if_writes_were_not_atomic(volume: Path) -> None:
    # A control for the test above: the same readers do catch a writer that rewrites in place
    Registry(volume).scan()
    start, stop = SPAWN.Event(), SPAWN.Event()
    results: multiprocessing.Queue[tuple[int, int, list[str]]] = SPAWN.Queue()
    writer = SPAWN.Process(target=workers.write_in_place, args=(str(volume), 300, start))
    reader = SPAWN.Process(target=workers.read_until, args=(str(volume), stop, start, results))
    writer.start()
    reader.start()
    start.set()
    writer.join(timeout=60)
    stop.set()
    _, _, errors = results.get(timeout=30)
    reader.join(timeout=30)
    assert errors
