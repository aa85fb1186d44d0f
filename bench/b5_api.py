"""B5 — how many submissions the API takes: 32 concurrent clients POSTing jobs (no workers), against
`GET /healthz` under the same load (same run, same API processes).

The load comes from `wrk` (a C load generator, Debian's package) in its own process, so the client
costs the two cores little. Each accepted submission is a validated job, a committed row, a Celery
message and a `queued` event: the same work as any submission.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.harness import world
from bench.report import Figure, Report
from worker.context import producer_context
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_session_factory

ID = "B5"
TITLE = "API submissions, 32 concurrent clients, no workers"
CLIENTS = 32
JOB = ('{"prompt": "a lighthouse at dusk", "checkpoint": "deliberate_v6", "steps": 20, '
       '"width": 512, "height": 512, "seed": 7}')  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b5-seconds", type=int, default=20, help="B5: load duration per arm")
    parser.add_argument("--b5-api-processes", type=int, default=2, help="B5: API processes")


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int
    requests: int


def run(args: argparse.Namespace) -> Report:
    if shutil.which("wrk") is None:
        raise SystemExit("B5 needs wrk (Debian: apt-get install wrk)")
    seconds, clients = (1, 4) if args.smoke else (args.b5_seconds, CLIENTS)
    with world({"SDFLEET_API_PROCESSES": str(args.b5_api_processes)}) as w:
        url = w.procs.api()
        key = ApiKeys(make_session_factory(producer_context().engine)).create(f"bench-{uuid.uuid4().hex[:8]}")
        script = Path(tempfile.mkdtemp()) / "submit.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = '{JOB}'\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        )
        _wrk(url + "/healthz", 1, clients)  # warm the processes and their pools
        _wrk(url + "/v1/jobs", 1, clients, script)
        health = _wrk(url + "/healthz", seconds, clients)
        submits = _wrk(url + "/v1/jobs", seconds, clients, script)
    accepted = submits.requests_per_s * (1 - submits.failed / max(1, submits.requests))
    return Report(
        ID,
        TITLE,
        [
            Figure(
                "accepted submissions",
                accepted,
                "/s",
                health.requests_per_s,
                "GET /healthz",
                "≥ 500 /s",
                accepted >= 500,
            ),
            Figure(
                "submission latency, p99",
                submits.p99_ms,
                "ms",
                health.p99_ms,
                "GET /healthz",
                "≤ 100 ms",
                submits.p99_ms <= 100,
            ),
            Figure("submission latency, p50", submits.p50_ms, "ms", health.p50_ms, "GET /healthz"),
            Figure("refused or failed submissions", submits.failed, "", 0, "expected"),
        ],  # fmt: skip
        notes=[f"wrk, {clients} connections, {seconds} s per arm, {args.b5_api_processes} API processes"],
    )


def _wrk(url: str, seconds: int, clients: int, script: Path | None = None) -> Load:
    command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return Load(
        requests_per_s=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_duration_ms(_find(r"\n\s+50%\s+(\S+)", out)),
        p99_ms=_duration_ms(_find(r"\n\s+99%\s+(\S+)", out)),
        failed=int(_find(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0"))
        + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
        requests=int(_find(r"(\d+) requests in", out)),
    )


def _find(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise ValueError(f"wrk's output has no {pattern!r}:\n{text}")
        return default
    return match.group(1)


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
