from __future__ import annotations

import pytest

from worker.a1111.watchdog import ProgressWatchdog, WatchState

OK, STALLED = WatchState.OK, WatchState.STALLED


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


# Each step: (seconds passed, mark observed or None for "no answer from /progress", expected state).
# Marks are A1111's (job_count, job_no, sampling_step).
@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([(5, (1, 0, 0), OK), (5, (1, 0, 1), OK), (9, (1, 0, 2), OK)], id="advancing"),
        pytest.param([(5, (1, 0, 3), OK), (9, (1, 0, 3), OK), (2, (1, 0, 3), STALLED)], id="stuck-step"),
        pytest.param([(10, None, OK), (0.5, None, STALLED)], id="nothing-observed"),
        pytest.param([(5, (1, 0, 3), OK), (11, None, STALLED), (0, (1, 0, 4), OK)], id="recovers"),
        pytest.param([(9, (1, 0, 3), OK), (9, (2, 1, 0), OK), (9, (2, 1, 0), OK)], id="next-batch"),
        pytest.param([(1, (1, 0, 0), OK), (10, (1, 0, 0), OK), (0.01, (1, 0, 0), STALLED)], id="at-limit"),
    ],
)
def test_progress_watchdog(steps: list[tuple[float, tuple[int, int, int] | None, WatchState]]) -> None:
    clock = FakeClock()
    watchdog = ProgressWatchdog(stall_after_s=10, clock=clock)
    for seconds, mark, expected in steps:
        clock.now += seconds
        state = watchdog.check() if mark is None else watchdog.observe(mark)
        assert state is expected, (seconds, mark)


def test_a_phase_without_steps_gets_its_own_allowance() -> None:
    clock = FakeClock()
    watchdog = ProgressWatchdog(stall_after_s=10, clock=clock)

    # Given a checkpoint switch inside the job (job_count == -1), allowed 300 s
    assert watchdog.observe((-1, 0, 0), allowed_s=300) is OK
    clock.now += 200
    assert watchdog.observe((-1, 0, 0)) is OK
    clock.now += 101
    assert watchdog.observe((-1, 0, 0)) is STALLED

    # When sampling starts, the per-step limit is back
    assert watchdog.observe((1, 0, 0)) is OK
    clock.now += 11
    assert watchdog.check() is STALLED
    assert watchdog.last_mark == (1, 0, 0) and watchdog.stalled_for_s == 11
