from __future__ import annotations

import pytest

from worker.policy.deadlines import Deadlines, generation_deadline_s
from worker.settings import RunLimits


@pytest.mark.parametrize(
    ("steps", "width", "height", "batch_size", "deadline_s"),
    [
        (20, 512, 512, 1, 120.0),  # a small job gets the minimum
        (30, 1024, 1024, 1, 120.0),  # 60 + 30 × 2
        (50, 1024, 1024, 1, 160.0),  # 60 + 50 × 2
        (50, 1024, 1024, 4, 460.0),  # batch factor: 60 + 50 × 2 × 4
        (50, 2048, 1024, 1, 260.0),  # pixel factor 2: 60 + 50 × 2 × 2
        (50, 512, 512, 1, 160.0),  # below 1024² the per-step allowance is not scaled down
        (150, 2048, 2048, 16, 60.0 + 150 * 2 * 4 * 16),  # the largest job the ranges allow
    ],
)
def test_generation_deadline(steps: int, width: int, height: int, batch_size: int, deadline_s: float) -> None:
    assert generation_deadline_s(steps=steps, width=width, height=height, batch_size=batch_size) == deadline_s


def test_the_table_is_data_a_deployment_can_change() -> None:
    fast = Deadlines(per_step_s=0.5, overhead_s=10.0, minimum_s=0.0)

    assert generation_deadline_s(steps=40, width=1024, height=1024, batch_size=2, deadlines=fast) == 50.0


def test_a_factor_stretches_the_whole_deadline_for_slow_hardware() -> None:
    assert generation_deadline_s(steps=3, width=64, height=64, batch_size=1, factor=20) == 2400.0
    assert generation_deadline_s(steps=50, width=1024, height=1024, batch_size=1, factor=0.5) == 80.0


def test_more_work_never_gets_less_time() -> None:
    shapes = [(s, w, b) for s in (1, 20, 150) for w in (64, 1024, 2048) for b in (1, 8)]
    for steps, width, batch in shapes:
        base = generation_deadline_s(steps=steps, width=width, height=width, batch_size=batch)
        assert generation_deadline_s(steps=steps + 1, width=width, height=width, batch_size=batch) >= base
        assert generation_deadline_s(steps=steps, width=width, height=width, batch_size=batch + 1) >= base


def test_phase_deadlines_are_generous() -> None:
    limits = RunLimits.defaults()

    # cold SDXL loads take minutes
    assert limits.startup_deadline_s >= 120 and limits.checkpoint_load_deadline_s >= 120
