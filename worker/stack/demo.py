"""`sdfleet demo`: start the local stack, submit sample jobs over HTTP and with `txt2img.delay`, wait,
print a table, and exit 0 only if every job succeeded with its images on disk and its rows in Postgres."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from worker.stack.stack import LocalStack
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_engine, make_session_factory
from worker.store.jobs import JobStore
from worker.vocabulary import JobStatus

HTTP_JOBS: list[dict[str, Any]] = [
    {"prompt": "a lighthouse on a cliff at dusk, oil painting", "checkpoint": "deliberate_v6",
     "steps": 20, "batch_size": 2, "seed": 1234, "sampler": "DPM++ 2M Karras"},
    # Four SDXL images at 1024² on the 16 GB card: the batch runs out of memory and is split.
    {"prompt": "portrait photo of an old fisherman, natural light",
     "checkpoint": "jib_mix_illustrious_realistic_v2", "steps": 20, "sampler": "DPM++ SDE Karras",
     "batch_size": 4, "seed": 77, "preset": "realism"},
]  # fmt: skip
DELAY_JOBS: list[dict[str, Any]] = [
    {"prompt": "a red fox in fresh snow", "checkpoint": "deliberate_v6", "steps": 15, "sampler": "Euler a",
     "clip_skip": 2},
    {"prompt": "a city street at night in the rain <lora:dramatic_lighting_slider:1.5>",
     "checkpoint": "jib_mix_illustrious_realistic_v2", "steps": 20, "width": 896, "height": 1152,
     "sampler": "UniPC", "loras": [{"name": "detail_tweaker_xl", "weight": 0.8}]},
]  # fmt: skip


@dataclass
class Row:
    job_id: str
    via: str
    checkpoint: str
    status: str = "queued"
    seconds: float = 0.0
    ooms: int = 0
    images: tuple[str, ...] = ()
    problem: str = ""


def run_demo(stack: LocalStack, *, timeout_s: float = 300.0) -> int:
    from worker.tasks import txt2img

    assert stack.database_url is not None
    engine = make_engine(stack.database_url)
    sessions = make_session_factory(engine)
    key = ApiKeys(sessions).create(f"demo-{uuid.uuid4().hex[:8]}")
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    rows: list[Row] = []
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
        for body in HTTP_JOBS:
            response = http.post("/v1/jobs", json=body)
            response.raise_for_status()
            rows.append(Row(response.json()["id"], "HTTP", body["checkpoint"]))
        results = []
        for kwargs in DELAY_JOBS:
            result = txt2img.delay(**kwargs)
            results.append(result)
            rows.append(Row(result.id, "delay()", kwargs["checkpoint"]))
        for result in results:
            result.get(timeout=timeout_s)
        deadline = started + timeout_s
        for row in rows:
            while True:
                job = http.get(f"/v1/jobs/{row.job_id}").json()
                if JobStatus(job["status"]).is_terminal or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            row.status = job["status"]
            row.problem = job.get("failure_message") or ""
            if job["finished_at"] and job["created_at"]:
                row.seconds = _seconds(job["created_at"], job["finished_at"])
            row.images = tuple(image["path"] for image in job["images"])
            row.ooms = sum(attempt["oom_count"] for attempt in job["attempt_history"])
    _verify(rows, JobStore(engine), stack.config.settings.result_dir.resolve())
    engine.dispose()
    _print_table(rows, stack.config.settings.result_dir.resolve())
    return 0 if all(row.status == "succeeded" and not row.problem for row in rows) else 1


def _verify(rows: list[Row], store: JobStore, result_dir: Path) -> None:
    """Check the record itself: image rows in Postgres, and files with those bytes on disk."""
    for row in rows:
        if row.status != "succeeded":
            continue
        job = store.get(uuid.UUID(row.job_id))
        if len(job.images) != job.batch_size:
            row.problem = f"{len(job.images)} image rows for batch {job.batch_size}"
        for image in job.images:
            if not (result_dir / image.storage_path).is_file():
                row.problem = f"missing file {image.storage_path}"


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _print_table(rows: list[Row], result_dir: Path) -> None:
    print(f"\n{'job':36}  {'via':7}  {'checkpoint':32}  {'status':9}  {'seconds':>7}  {'OOMs':>4}  images")
    for row in rows:
        print(
            f"{row.job_id:36}  {row.via:7}  {row.checkpoint:32}  {row.status:9}  {row.seconds:7.1f}  "
            f"{row.ooms:4}  {_paths(row.images) or row.problem}"
        )
        if row.problem and row.images:
            print(f"{'':36}  problem: {row.problem}")
    ok = sum(1 for row in rows if row.status == "succeeded" and not row.problem)
    print(f"\n{ok} of {len(rows)} jobs succeeded; images are under {result_dir}")


def _paths(images: tuple[str, ...]) -> str:
    """`job/attempt-1/000.png 001.png …`: the first path in full, then the other file names."""
    if not images:
        return ""
    return " ".join([images[0], *(Path(path).name for path in images[1:])])
