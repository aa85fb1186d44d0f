from __future__ import annotations

from collections.abc import Callable

import pytest

from worker.a1111.attached import AttachedA1111
from worker.a1111.readiness import wait_until_ready
from worker.errors import BackendCrashed, BackendUnavailable


class FakeTime:
    """A clock whose sleep moves it forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def answers(*results: bool | Exception) -> Callable[[], bool]:
    pending = list(results)

    def probe() -> bool:
        result = pending.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    return probe


def test_ready_after_a_few_polls_and_errors_count_as_not_ready() -> None:
    t = FakeTime()
    probe = answers(BackendUnavailable("connection refused"), False, True)

    wait_until_ready(probe, 10, clock=t.clock, sleep=t.sleep, poll_interval_s=1)

    assert (t.now, t.sleeps) == (2.0, 2)


def test_the_deadline_raises_with_the_description() -> None:
    t = FakeTime()

    with pytest.raises(BackendUnavailable) as raised:
        wait_until_ready(
            lambda: False,
            120,
            clock=t.clock,
            sleep=t.sleep,
            poll_interval_s=0.5,
            describe_failure=lambda: "; last log lines:\nLoading weights",
        )

    assert str(raised.value) == "A1111 did not become ready within 120 s; last log lines:\nLoading weights"
    assert t.now == 120.0


def test_a_dead_process_ends_the_wait_at_once() -> None:
    t = FakeTime()

    def check_alive() -> None:
        if t.now >= 3:
            raise BackendCrashed("A1111 exited with code 1", exit_code=1)

    with pytest.raises(BackendCrashed):
        wait_until_ready(
            lambda: False, 300, clock=t.clock, sleep=t.sleep, poll_interval_s=1, check_alive=check_alive
        )
    assert t.now == 3.0


def test_a_bug_in_the_probe_is_not_swallowed() -> None:
    t = FakeTime()

    with pytest.raises(KeyError):
        wait_until_ready(
            answers(KeyError("sd_model_checkpoint")), 5, clock=t.clock, sleep=t.sleep, poll_interval_s=1
        )


def test_attached_a1111_cannot_be_restarted_only_waited_for() -> None:
    t = FakeTime()
    attached = AttachedA1111(
        "http://gpu-box:7861",
        probe=answers(False, False, True),
        clock=t.clock,
        sleep=t.sleep,
        come_back_deadline_s=300.0,
        poll_interval_s=0.5,
    )

    attached.ensure_running()
    attached.raise_if_dead()
    attached.kill_hung("stuck at step 7")  # logged, not raised: the job fails as a timeout
    attached.restart("it stopped answering")

    assert t.now == 1.0 and attached.healthy and attached.pid is None


def test_attached_a1111_that_does_not_come_back_is_unavailable() -> None:
    t = FakeTime()
    attached = AttachedA1111(
        "http://gpu-box:7861",
        probe=lambda: False,
        clock=t.clock,
        sleep=t.sleep,
        come_back_deadline_s=300.0,
        poll_interval_s=0.5,
    )

    with pytest.raises(
        BackendUnavailable, match="within 300 s .attached at http://gpu-box:7861; it is not ours"
    ):
        attached.restart("connection refused")
