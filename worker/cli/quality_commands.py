"""`sdfleet stats` (where quality comes from, `GET /v1/stats/quality`), `sdfleet jobs rate`, and the
generation log `sdfleet jobs show ID --timeline` prints: rich tables over the HTTP client."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from worker.client import SdfleetClient
from worker.jobs.documents import JobDocument
from worker.jobs.quality_documents import FiguresDocument, QualityStatsDocument
from worker.jobs.timeline import timeline
from worker.store.quality_stats import DIMENSIONS


def add_quality_commands(
    sub: Any,
    client_options: Callable[[argparse.ArgumentParser], None],
    client_for: Callable[[argparse.Namespace], SdfleetClient],
) -> None:
    """Add `stats` to the `sdfleet` parser's subcommands."""
    stats = sub.add_parser(
        "stats", help="success rate, failures, OOMs, quality score and feedback by what ran"
    )
    stats.add_argument("--hours", type=int, default=24, help="the window, the current hour included")
    stats.add_argument("--by", action="append", choices=DIMENSIONS, help="group by (repeatable); default all")
    stats.add_argument("--limit", type=int, default=20, help="at most this many groups, largest first")
    client_options(stats)
    stats.set_defaults(run=run_stats, client_for=client_for)


def add_rate_command(actions: Any) -> argparse.ArgumentParser:
    """Add `rate` to `sdfleet jobs`."""
    rate = actions.add_parser("rate", help="rate one image of a job: up, down or 1-5 stars")
    rate.add_argument("job_id")
    rate.add_argument("index", type=int)
    rate.add_argument("rating", help="up, down, or 1 to 5")
    rate.add_argument("--reason")
    parser: argparse.ArgumentParser = rate
    return parser


def rate(client: SdfleetClient, args: argparse.Namespace, console: Console) -> None:
    rating: str | int = int(args.rating) if args.rating.isdigit() else args.rating
    done = client.rate_image(args.job_id, args.index, rating, args.reason)
    console.print(
        f"image {done.index} of {done.job_id}: {done.rating} (satisfaction {done.satisfaction:.2f})"
    )


def run_stats(args: argparse.Namespace, _: list[str]) -> int:
    with args.client_for(args) as client:
        stats = client.quality_stats(args.hours, by=args.by, limit=args.limit)
    Console().print(stats_table(stats))
    return 0


def stats_table(stats: QualityStatsDocument) -> Table:
    """One row per group (largest first), then the totals."""
    title = f"jobs that ended since {stats.since:%Y-%m-%d %H:00} UTC ({stats.hours} h)"
    if stats.group_count > len(stats.groups):
        title += f"; the {len(stats.groups)} largest of {stats.group_count} groups"
    table = Table(title=title)
    for name in stats.by:
        table.add_column(name, overflow="fold")
    for name in ("jobs", "success", "failures", "OOMs", "quality", "low", "rated", "satisfied", "downloads"):
        table.add_column(name, justify="right" if name != "failures" else "left")
    for group in stats.groups:
        table.add_row(*(group.key.get(name) or "—" for name in stats.by), *_figures(group.figures))
    table.add_section()
    table.add_row(*(["all"] + [""] * (len(stats.by) - 1) if stats.by else []), *_figures(stats.totals))
    return table


def _figures(f: FiguresDocument) -> list[str]:
    failures = ", ".join(f"{name} {count}" for name, count in f.failure_categories.items())
    return [
        str(f.jobs),
        _share(f.success_rate),
        failures,
        str(f.oom_events),
        "—" if f.mean_quality_score is None else f"{f.mean_quality_score:.2f}",
        _share(f.low_quality_share),
        str(f.feedback.ratings),
        _share(f.feedback.mean_satisfaction),
        str(f.feedback.downloads),
    ]


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def print_timeline(console: Console, job: JobDocument) -> None:
    """The generation log: each attempt's steps, timed from its claim."""
    if not job.attempt_history:
        console.print("no attempt yet: the job has not been claimed")
    for heading, steps in timeline(job):
        console.print(f"[bold]{heading}[/bold]", soft_wrap=True)
        table = Table("t (s)", "step", "details")
        for step in steps:
            table.add_row("" if step.t_s is None else f"{step.t_s:.3f}", step.event, step.details)
        console.print(table)
