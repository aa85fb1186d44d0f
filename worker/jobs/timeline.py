"""A job's generation log as rows to print: for each attempt, its timeline (`attempt.timings["timeline"]`,
written by `worker.run.journal`), each step timed from the attempt's claim and described in words.
`sdfleet jobs show ID --timeline` prints it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.jobs.documents import AttemptRecord, JobDocument


@dataclass(frozen=True)
class Step:
    """One line of the log: seconds since the attempt's claim (None: a heading), what, and its details."""

    t_s: float | None
    event: str
    details: str


def timeline(job: JobDocument) -> list[tuple[str, list[Step]]]:
    """(heading, steps) per attempt, oldest first; the heading says when the attempt was claimed."""
    return [(_heading(job, attempt), _steps(attempt)) for attempt in job.attempt_history]


def _heading(job: JobDocument, attempt: AttemptRecord) -> str:
    parts = [f"attempt {attempt.number} on {attempt.worker}: {attempt.outcome}"]
    if attempt.category:
        parts.append(f"{attempt.category} ({attempt.message})" if attempt.message else attempt.category)
    waited = _seconds_between(job.created_at, attempt.started_at)
    if waited is not None:
        parts.append(f"claimed {waited:.2f} s after the job was queued")
    total = attempt.timings.get("total_s")
    if total is not None:
        parts.append(f"{float(total):.2f} s in all")
    return ", ".join(parts)


def _steps(attempt: AttemptRecord) -> list[Step]:
    entries = attempt.timings.get("timeline") or []
    return [
        Step(float(entry.get("t", 0.0)), str(entry.get("event", "?")), describe(entry))
        for entry in entries
        if isinstance(entry, dict)
    ]


def describe(entry: dict[str, Any]) -> str:
    """One timeline entry's details in words; an entry of a kind not known here shows its fields."""
    data = {k: v for k, v in entry.items() if k not in ("t", "event")}
    words = _DESCRIPTIONS.get(str(entry.get("event")))
    if words is not None:
        try:
            return words(data)
        except (KeyError, TypeError, ValueError):
            pass  # an entry of an older or newer shape: show it as it is
    return ", ".join(f"{key}={value}" for key, value in data.items())


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _in(data: dict[str, Any]) -> str:
    return f" in {float(data['seconds']):.3f} s" if "seconds" in data else ""


def _progress(d: dict[str, Any]) -> str:
    eta = f", about {float(d['eta_s']):.1f} s left" if d.get("eta_s") else ""
    return (
        f"step {d['step']}/{d['steps']} ({float(d['fraction']):.0%}), images {d['images_done']}/{d['images']}"
        f"{eta}"
    )


def _low(d: dict[str, Any]) -> str:
    low = d.get("low_quality") or []
    return f"; below the floor: image {', '.join(map(str, low))}" if low else ""


def _loras(d: dict[str, Any]) -> str:
    names = ", ".join(f"{lora['name']}:{lora.get('weight')}" for lora in d["loras"])
    return f"{names}; the first call (which loads them) took {float(d['first_call_s']):.2f} s"


_DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "started": lambda d: f"claimed by {d.get('worker')} (GPU {d.get('gpu')})",
    "checkpoint": lambda d: f"switched from {d.get('previous')} to {d['title']}{_in(d)}",
    "loras": _loras,
    "progress": _progress,
    "oom": lambda d: f"CUDA out of memory at batch {d['batch_size']}; next batch {d['next_batch_size']}",
    "cleanup": lambda d: f"emergency cleanup before one more try at batch 1: {d['step']}",
    "generated": lambda d: f"batch of {d['batch_size']} from image {d['first_index']}{_in(d)}",
    "scored": lambda d: "quality " + ", ".join(f"{float(s):.2f}" for s in d["scores"]) + _low(d) + _in(d),
    "encoded": lambda d: f"{d['images']} image(s) as {d['output_format']}{_in(d)}",
    "stored": lambda d: f"{d['images']} image(s) from index {d['first_index']} written{_in(d)}",
}
