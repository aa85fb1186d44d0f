from __future__ import annotations

import pytest

from worker.a1111.crashloop import CrashLoopGuard, GuardState, restart_delay_s


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Each event: "c" crash, "s" success, "+N" N seconds pass.
@pytest.mark.parametrize(
    ("events", "state", "streak"),
    [
        ("", GuardState.HEALTHY, 0),
        ("c", GuardState.HEALTHY, 1),
        ("c c", GuardState.HEALTHY, 2),
        ("c c c", GuardState.UNHEALTHY, 3),
        ("c c s c", GuardState.HEALTHY, 1),
        ("c s c s c", GuardState.HEALTHY, 1),
        ("c +700 c c", GuardState.HEALTHY, 2),
        ("c +300 c +299 c", GuardState.UNHEALTHY, 3),
        ("c c c s", GuardState.UNHEALTHY, 0),
        ("c c c +5000", GuardState.UNHEALTHY, 0),
    ],
)
def test_crash_loop_guard(events: str, state: GuardState, streak: int) -> None:
    clock = FakeClock()
    guard = CrashLoopGuard(max_crashes=3, window_s=600, clock=clock)
    for event in events.split():
        if event == "c":
            guard.record_crash()
        elif event == "s":
            guard.record_success()
        else:
            clock.now += float(event)

    assert (guard.state, guard.streak) == (state, streak)
    assert guard.healthy is (state is GuardState.HEALTHY)


def test_record_crash_says_when_it_trips() -> None:
    guard = CrashLoopGuard(max_crashes=2, clock=FakeClock())

    assert guard.record_crash() is GuardState.HEALTHY
    assert guard.record_crash() is GuardState.UNHEALTHY
    assert guard.describe() == "2 crashes in a row within 600 s"


@pytest.mark.parametrize(
    ("streak", "delay_s"), [(-1, 0.0), (0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (50, 4.0)]
)
def test_restart_delay(streak: int, delay_s: float) -> None:
    assert restart_delay_s(streak) == delay_s


def test_restart_delay_is_configurable() -> None:
    assert [restart_delay_s(n, base_s=0.5, cap_s=10) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 10]
