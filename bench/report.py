"""A benchmark's figures: each with its baseline measured in the same run, the ratio, the target and
whether it was met; printed as one table and written to `bench/results/<id>.json`."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure. `met` is None where the figure has no target (shown for context)."""

    measure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


@dataclass
class Report:
    """All figures of one benchmark run; the first is its headline."""

    id: str
    title: str
    figures: list[Figure]
    notes: list[str] = field(default_factory=list)
    command: str = field(default_factory=lambda: "python -m bench " + shlex.join(sys.argv[1:]))
    machine: str = field(default_factory=lambda: describe_machine())
    date: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_json(self) -> dict[str, Any]:
        head = self.figures[0]
        return {
            "id": self.id,
            "measure": head.measure,
            "value": head.value,
            "unit": head.unit,
            "baseline": head.baseline,
            "ratio": head.ratio,
            "target": head.target,
            "met": head.met,
            "command": self.command,
            "machine": self.machine,
            "date": self.date,
            "title": self.title,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
            "notes": self.notes,
        }

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.id}.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")
        return path

    def print(self, console: Console | None = None) -> None:
        table = Table(title=f"{self.id}: {self.title}", title_justify="left")
        for column in ("figure", "value", "baseline (same run)", "ratio", "target", "met"):
            table.add_column(column, justify="left" if column in ("figure", "target") else "right")
        for f in self.figures:
            baseline = "—" if f.baseline is None else f"{_number(f.baseline)} {f.unit} {f.baseline_label}"
            ratio = "—" if f.ratio is None else f"{f.ratio:.2f}×"
            met = "—" if f.met is None else ("yes" if f.met else "NO")
            table.add_row(f.measure, f"{_number(f.value)} {f.unit}", baseline.strip(), ratio, f.target, met)
        out = console or Console(width=120)
        out.print(table)
        for note in self.notes:
            out.print(f"  {note}")


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def describe_machine() -> str:
    """`Linux x86_64, 2 cores (<model>), 24 GiB, Python 3.11.7` — as the bench docs quote it."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = ""
    cores = os.cpu_count() or 0
    return (
        f"{platform.system()} {platform.machine()}, {cores} cores"
        f"{f' ({model})' if model else ''}{memory}, Python {platform.python_version()}"
    )


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile by the nearest-rank method (p99 of 100 samples is the 99th smallest)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]
