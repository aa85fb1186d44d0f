"""The OOM policy as a table: what to try next after an OOM or a success."""

from __future__ import annotations

import pytest

from worker.policy.oom import Cleanup, ShapeCapacity, emergency_cleanup, next_chunk, plan


@pytest.mark.parametrize(
    ("known", "event", "size", "limit"),
    [
        (ShapeCapacity(), "oom", 8, 4),  # nothing known: halve
        (ShapeCapacity(), "oom", 1, 1),  # never below 1
        (ShapeCapacity(largest_ok=3), "oom", 8, 3),  # straight to the known capacity
        (ShapeCapacity(largest_ok=3, limit=3), "oom", 3, 1),  # a known success that now fails: halve
        (ShapeCapacity(limit=4, smallest_oom=8), "oom", 4, 2),
        (ShapeCapacity(), "ok", 4, None),  # a success alone sets no cap
        (ShapeCapacity(limit=2, smallest_oom=4), "ok", 2, 2),
        (ShapeCapacity(limit=2, smallest_oom=8), "ok", 5, 5),  # a larger success raises the bound
    ],
)
def test_capacity_after_events(known: ShapeCapacity, event: str, size: int, limit: int | None) -> None:
    after = known.after_oom(size) if event == "oom" else known.after_success(size)
    assert after.limit == limit


def test_oom_at_8_on_a_card_holding_3_converges_in_two_steps() -> None:
    capacity = ShapeCapacity()
    capacity = capacity.after_oom(8)  # 8 fails -> try 4
    assert capacity.limit == 4
    capacity = capacity.after_oom(4)  # 4 fails -> try 2
    assert capacity.limit == 2
    capacity = capacity.after_success(2)
    assert plan(8, capacity.limit) == [2, 2, 2, 2]


@pytest.mark.parametrize(("remaining", "limit", "chunk"), [(8, None, 8), (8, 3, 3), (2, 3, 2), (1, 1, 1)])
def test_next_chunk(remaining: int, limit: int | None, chunk: int) -> None:
    assert next_chunk(remaining, limit) == chunk


def test_next_chunk_refuses_nothing_remaining() -> None:
    with pytest.raises(ValueError):
        next_chunk(0, None)


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
