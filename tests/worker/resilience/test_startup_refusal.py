"""A worker refuses to start with a visibility timeout shorter than the hard time limit plus the longest
retry delay: Redis would hand a long job to a second worker while the first still runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.processes import base_env
from worker.cli.commands import worker_command

UNSAFE = {
    "SDFLEET_VISIBILITY_TIMEOUT_S": "600",
    "SDFLEET_TASK_TIME_LIMIT_S": "900",
    "SDFLEET_MAX_RETRY_DELAY_S": "30",
}
MESSAGE = "SDFLEET_VISIBILITY_TIMEOUT_S=600 must exceed the hard time limit plus the longest retry delay"


@pytest.mark.parametrize(
    "command",
    [
        worker_command("gpu-unsafe", ["deliberate_v6"]),  # `celery worker` as operators may run it
        [sys.executable, "-m", "worker.cli.main", "worker"],  # `sdfleet worker`
    ],
    ids=["celery-worker", "sdfleet-worker"],
)
def test_a_worker_with_a_visibility_timeout_too_short_refuses_to_start(
    command: list[str], sdfleet_env: dict[str, str]
) -> None:
    env = {**base_env(), **sdfleet_env, **UNSAFE, "SDFLEET_WORKER_NAME": "gpu-unsafe"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=45, stdin=subprocess.DEVNULL
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert MESSAGE in output and "(900 + 30 = 930 s)" in output
    assert "celery@" not in output and "ready." not in output  # it never started consuming
