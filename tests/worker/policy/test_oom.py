"""The OOM policy as a table: what to try next after an OOM or a success."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.policy.oom import Cleanup, ShapeCapacity, emergency_cleanup, next_chunk


@pytest.mark.parametrize(
    ("known", "event", "size", "limit"),
    [
        (ShapeCapacity(), "oom", 8, 4),  # nothing known: halve
        (ShapeCapacity(), "oom", 1, 1),  # never below 1
        (ShapeCapacity(largest_ok=3), "oom", 8, 4),  # halve: a success at 3 says nothing about 4
        (ShapeCapacity(largest_ok=1), "oom", 8, 4),  # not down to 1: the rest would run in ones
        (ShapeCapacity(largest_ok=6), "oom", 8, 6),  # never below a known success
        (ShapeCapacity(largest_ok=3, limit=3), "oom", 3, 1),  # a known success that now fails: halve
        (ShapeCapacity(limit=4, smallest_oom=8), "oom", 4, 2),
        (ShapeCapacity(), "ok", 4, None),  # a success alone sets no cap
        (ShapeCapacity(limit=2, smallest_oom=4), "ok", 2, 3),  # probe halfway to the smallest OOM
        (ShapeCapacity(largest_ok=2, limit=3, smallest_oom=4), "ok", 3, 3),  # converged: 3 holds, 4 does not
        (ShapeCapacity(largest_ok=2, limit=2, smallest_oom=3), "ok", 2, 2),  # converged
        (ShapeCapacity(limit=2, smallest_oom=8), "ok", 5, 6),  # a larger success raises the bound
        (ShapeCapacity(largest_ok=3, limit=3, smallest_oom=4), "ok", 4, None),  # that OOM was transient
    ],
)
def test_capacity_after_events(known: ShapeCapacity, event: str, size: int, limit: int | None) -> None:
    after = known.after_oom(size) if event == "oom" else known.after_success(size)
    assert after.limit == limit


def test_oom_at_8_on_a_card_holding_3_converges_within_the_job() -> None:
    capacity = ShapeCapacity()
    capacity = capacity.after_oom(8)  # 8 fails -> try 4
    assert capacity.limit == 4
    capacity = capacity.after_oom(4)  # 4 fails -> try 2
    assert capacity.limit == 2
    capacity = capacity.after_success(2)  # 2 holds, 4 does not -> probe 3
    assert capacity.limit == 3
    capacity = capacity.after_success(3)  # 3 holds: known exactly
    assert (capacity.largest_ok, capacity.smallest_oom, capacity.limit) == (3, 4, 3)
    assert [next_chunk(n, capacity.limit) for n in (8, 5, 2)] == [3, 3, 2]


def _run_job(capacity: ShapeCapacity, images: int, holds: int) -> tuple[ShapeCapacity, list[int], int]:
    """One job on a card that holds `holds` images: (what is remembered after, sizes made, OOMs)."""
    made: list[int] = []
    ooms = 0
    while sum(made) < images:
        size = next_chunk(images - sum(made), capacity.limit)
        if size > holds:
            ooms += 1
            capacity = capacity.after_oom(size)
        else:
            made.append(size)
            capacity = capacity.after_success(size)
    return capacity, made, ooms


@given(holds=st.integers(1, 32), images=st.integers(1, 32))
def test_the_memory_converges_with_few_ooms_and_every_job_makes_all_its_images(
    holds: int, images: int
) -> None:
    # A stream of identical jobs on a card that holds `holds` images of the shape
    capacity, per_job = ShapeCapacity(), []
    for _ in range(8):
        capacity, made, ooms = _run_job(capacity, images, holds)
        assert sum(made) == images and max(made) <= holds
        per_job.append(ooms)
    # At most one OOM per halving in all, and none once the bound has converged
    assert sum(per_job) <= images.bit_length()
    assert per_job[5:] == [0, 0, 0]


@pytest.mark.parametrize(
    ("done", "held_before", "can_restart", "step"),
    [
        ([], False, True, Cleanup.RELOAD),  # always the cheap cleanup first
        ([], True, True, Cleanup.RELOAD),
        ([Cleanup.RELOAD], True, True, Cleanup.RESTART),  # a shape it held: the process is what is wrong
        ([Cleanup.RELOAD], True, False, Cleanup.GIVE_UP),  # an attached A1111 is not ours to restart
        ([Cleanup.RELOAD], False, True, Cleanup.GIVE_UP),  # never held: the shape is too big for this card
        ([Cleanup.RELOAD, Cleanup.RESTART], True, True, Cleanup.GIVE_UP),  # bounded: one of each at most
    ],
)
def test_emergency_cleanup_at_batch_1(
    done: list[Cleanup], held_before: bool, can_restart: bool, step: Cleanup
) -> None:
    assert emergency_cleanup(done, held_before=held_before, can_restart=can_restart) is step
