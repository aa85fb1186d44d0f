"""`sdfleet submit` and `sdfleet jobs` as a user runs them (real processes: the CLI, the API, a GPU
worker), and commands that find a running local stack's services from its record, without URLs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.fleet import Fleet, running_fleet
from worker.stack.record import StackRecord, write_record

UNSERVED = "jib_mix_illustrious_realistic_v2"


@pytest.fixture(scope="module")
def fleet(
    sdfleet_env: dict[str, str],
    models_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pg_sessions: sessionmaker[Session],
) -> Iterator[Fleet]:
    with running_fleet(
        sdfleet_env, models_volume, tmp_path_factory.mktemp("cli-fleet"), pg_sessions, time_scale=0.5
    ) as found:
        yield found


def sdfleet(*args: str, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli.main", *args],
        env={**env, "COLUMNS": "160"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(sdfleet_env: dict[str, str], fleet: Fleet) -> dict[str, str]:
    return {**os.environ, **sdfleet_env, "SDFLEET_API_URL": fleet.api_url, "SDFLEET_API_KEY": fleet.key}


def test_submit_waits_with_a_progress_bar_and_saves_the_images(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "images"
    args = ["a lighthouse", "--checkpoint", "deliberate_v6", "--seed", "42", "--steps", "30",
            "--batch-size", "2", "--sampler", "Euler a", "--wait", "--out", str(out)]  # fmt: skip
    done = sdfleet("submit", *args, env=env)
    assert done.returncode == 0, done.stderr
    job_id, *paths = done.stdout.split()
    assert [Path(p).name for p in paths] == [f"{job_id}-0.png", f"{job_id}-1.png"]
    assert all(Path(p).stat().st_size > 0 for p in paths)
    assert "succeeded" in done.stderr and "100%" in done.stderr  # the bar's last state


def test_a_refused_submission_names_the_field(env: dict[str, str]) -> None:
    refused = sdfleet("submit", "x", "--lora", "detail_tweaker_xl:0.8", env=env)
    assert refused.returncode == 2 and "detail_tweaker_xl" in refused.stderr
    bad = sdfleet("submit", "x", "--lora", "detail_tweaker_xl:lots", env=env)
    assert bad.returncode == 2 and "--lora" in bad.stderr


def test_jobs_list_show_cancel(env: dict[str, str]) -> None:
    job_id = sdfleet("submit", "a queued fox", "--checkpoint", UNSERVED, env=env).stdout.strip()
    listed = sdfleet("jobs", "list", "--status", "queued", env=env)
    assert listed.returncode == 0 and job_id in listed.stdout and "a queued fox" in listed.stdout
    shown = sdfleet("jobs", "show", job_id, env=env)
    assert "queue position" in shown.stdout and UNSERVED in shown.stdout
    cancelled = sdfleet("jobs", "cancel", job_id, env=env)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    retried = sdfleet("jobs", "retry", job_id, env=env)
    assert retried.returncode == 0
    sdfleet("jobs", "cancel", retried.stdout.strip(), env=env)
    assert sdfleet("jobs", "show", str(uuid.uuid4()), env=env).returncode == 2


def test_commands_find_the_local_stack_without_urls(
    sdfleet_env: dict[str, str], fleet: Fleet, tmp_path: Path
) -> None:
    # Given a running stack's record in the state directory, and no URL in the environment
    write_record(
        tmp_path,
        StackRecord(os.getpid(), sdfleet_env["SDFLEET_REDIS_URL"], sdfleet_env["SDFLEET_DATABASE_URL"],
                    fleet.api_url, "http://127.0.0.1:1"),
    )  # fmt: skip
    assert oct((tmp_path / "stack.json").stat().st_mode & 0o777) == "0o600"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDFLEET_")}
    env |= {"SDFLEET_STATE_DIR": str(tmp_path)}
    # When a key is created and used as the README says
    created = sdfleet("keys", "create", f"readme-{uuid.uuid4().hex[:6]}", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert "webhook secret" in created.stderr and "whsec_" in created.stderr
    # Then the key works, and the client commands find the API too
    listed = sdfleet("jobs", "list", env={**env, "SDFLEET_API_KEY": key})
    assert listed.returncode == 0, listed.stderr
    assert (
        httpx.get(fleet.api_url + "/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )


def test_a_dead_stacks_record_is_ignored(sdfleet_env: dict[str, str], tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    write_record(
        tmp_path, StackRecord(int(gone.stdout), "redis://x", "postgresql://x/y", "http://x", "http://x")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDFLEET_")}
    refused = sdfleet("keys", "list", env={**env, "SDFLEET_STATE_DIR": str(tmp_path)})
    assert refused.returncode == 2 and "no database URL" in refused.stderr


def test_the_generation_log_ratings_and_quality_statistics_from_the_command_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Given a job that ran
    done = sdfleet("submit", "a lighthouse log", "--checkpoint", "deliberate_v6", "--steps", "8", "--wait",
                   "--out", str(tmp_path), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split()[0]
    # When its generation log is shown
    shown = sdfleet("jobs", "show", job_id, "--timeline", env=env)
    # Then each step of its attempt is there, timed, in words, and the image's score beside it
    assert shown.returncode == 0, shown.stderr
    log = shown.stdout
    assert "attempt 1 on " in log and "claimed" in log and "after the job was queued" in log
    for words in ("started", "claimed by", "generated", "scored", "quality ", "encoded", "as png", "stored",
                  "written"):  # fmt: skip
        assert words in log, words
    assert log.index("generated") < log.index("scored") < log.index("encoded") < log.index("written")
    # And a rating is recorded, and the statistics count the job with its score and its rating
    rated = sdfleet("jobs", "rate", job_id, "0", "4", "--reason", "nice", env=env)
    assert rated.returncode == 0 and "satisfaction 0.75" in rated.stdout, rated.stderr
    assert sdfleet("jobs", "rate", job_id, "0", "lots", env=env).returncode == 2
    stats = sdfleet("stats", "--by", "checkpoint", "--by", "sampler", env=env)
    assert stats.returncode == 0, stats.stderr
    row = next(line for line in stats.stdout.splitlines() if "deliberate_v6" in line)
    assert "DPM++ 2M Karras" in row and "100%" in row
