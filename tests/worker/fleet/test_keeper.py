"""The keeper restarts a child that exits, with growing pauses, and leaves running children alone."""

from __future__ import annotations

import sys
from pathlib import Path

from worker.fleet.keeper import Keeper
from worker.stack.processes import Child, ProcessGroup


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_exit(child: Child) -> None:
    child.process.wait(10)


def test_a_child_that_exits_is_started_again_with_growing_pauses(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path / "logs")
    clock = Clock()
    exits: list[tuple[str, int]] = []
    keeper = Keeper(
        group, clock=clock, cap_s=4.0, on_exit=lambda child, code: exits.append((child.name, code))
    )
    try:
        steady = group.start("steady", [sys.executable, "-c", "import time; time.sleep(60)"], {})
        flaky = group.start("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], {})
        _wait_exit(flaky)
        # When it is seen to have exited: its exit is reported, and it waits 1 s before starting again
        assert keeper.check() == [] and exits == [("flaky", 3)]
        clock.now = 0.9
        assert keeper.check() == []
        clock.now = 1.0
        assert keeper.check() == ["flaky"]
        again = group.get("flaky")
        assert again is not None and again.process.pid != flaky.process.pid
        # Then the next exit in the streak waits 2 s, the one after 4 s (the cap), and so on
        pauses = []
        for _ in range(3):
            child = group.get("flaky")
            assert child is not None
            _wait_exit(child)
            keeper.check()
            started = clock.now
            while keeper.check() != ["flaky"]:
                clock.now += 0.5
            pauses.append(clock.now - started)
        assert pauses == [2.0, 4.0, 4.0]
        assert keeper.restarts("flaky") == 4 and keeper.restarts("steady") == 0
        assert group.get("steady") is steady and steady.alive()
    finally:
        group.stop(timeout_s=5)
