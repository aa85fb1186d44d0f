"""`sdfleet submit` and `sdfleet jobs list|show|cancel|retry|rate`: the HTTP client on the command line, with
rich for the progress bar and the tables. The API is `--api-url`, else SDFLEET_API_URL, else the running
local stack's, else http://127.0.0.1:8000; the key is `--api-key` or SDFLEET_API_KEY."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from worker.cli.quality_commands import add_quality_commands, add_rate_command, print_timeline, rate
from worker.client import JobEvent, SdfleetClient
from worker.errors import InvalidRequest
from worker.jobs.documents import JobDocument
from worker.settings import ClientSettings
from worker.stack.record import with_local_stack
from worker.vocabulary import FailureCategory, JobStatus

DEFAULT_API_URL = "http://127.0.0.1:8000"
PROMPT_SHOWN_CHARS = 48


def add_client_commands(sub: Any) -> None:
    """Add `submit` and `jobs` to the `sdfleet` parser's subcommands."""
    submit = sub.add_parser("submit", help="submit a job over HTTP; --wait shows its progress, saves images")
    submit.add_argument("prompt")
    submit.add_argument("--checkpoint")
    submit.add_argument("--lora", action="append", default=[], metavar="NAME[:WEIGHT]", help="repeatable")
    submit.add_argument("--preset")
    submit.add_argument("--seed", type=int)
    submit.add_argument("--steps", type=int)
    submit.add_argument("--cfg-scale", type=float)
    submit.add_argument("--sampler", dest="sampler_name")
    submit.add_argument("--width", type=int)
    submit.add_argument("--height", type=int)
    submit.add_argument("--batch-size", type=int)
    submit.add_argument("--negative-prompt")
    submit.add_argument("--output-format", choices=["png", "jpeg", "webp"])
    submit.add_argument("--callback-url")
    submit.add_argument("--wait", action="store_true", help="follow the job and save its images")
    submit.add_argument("--out", type=Path, default=Path("sdfleet-images"), help="folder for the images")
    jobs = sub.add_parser("jobs", help="list, show, cancel or retry jobs over HTTP")
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="your jobs, newest first")
    listing.add_argument("--status", action="append", choices=[s.value for s in JobStatus])
    listing.add_argument("--checkpoint")
    listing.add_argument("--category", choices=[c.value for c in FailureCategory])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--cursor", help="next_cursor printed under the previous page")
    commands = [submit, listing, add_rate_command(actions)]
    for name, text in (("show", "one job in full"), ("cancel", "cancel a job"), ("retry", "retry one")):
        action = actions.add_parser(name, help=text)
        action.add_argument("job_id")
        commands.append(action)
        if name == "show":
            action.add_argument("--timeline", action="store_true", help="also each attempt's generation log")
    for command in commands:
        client_options(command)
    submit.set_defaults(run=run_submit)
    jobs.set_defaults(run=run_jobs)
    add_quality_commands(sub, client_options, client_for)


def client_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--api-url", help="default: SDFLEET_API_URL, else the local stack's")
    command.add_argument("--api-key", help="default: SDFLEET_API_KEY")


def client_for(args: argparse.Namespace) -> SdfleetClient:
    settings = with_local_stack(ClientSettings())
    url = args.api_url or settings.api_url or DEFAULT_API_URL
    return SdfleetClient(url, args.api_key or settings.api_key)


def _loras(specs: list[str]) -> list[dict[str, Any]]:
    """'name:0.8' -> {"name": "name", "weight": 0.8}; raises InvalidRequest naming --lora."""
    loras: list[dict[str, Any]] = []
    for spec in specs:
        name, _, weight = spec.partition(":")
        entry: dict[str, Any] = {"name": name}
        if weight:
            try:
                entry["weight"] = float(weight)
            except ValueError:
                raise InvalidRequest(
                    f"--lora {spec!r}: the weight after ':' must be a number", field="--lora"
                ) from None
        loras.append(entry)
    return loras


def run_submit(args: argparse.Namespace, _: list[str]) -> int:
    fields = ("checkpoint", "preset", "seed", "steps", "cfg_scale", "sampler_name", "width", "height",
              "batch_size", "negative_prompt", "output_format", "callback_url")  # fmt: skip
    params = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    if args.lora:
        params["loras"] = _loras(args.lora)
    console = Console(stderr=True)
    with client_for(args) as client:
        job_id = client.submit(args.prompt, **params)
        print(job_id)
        if not args.wait:
            return 0
        job = _follow(client, job_id, console)
        if job.status != JobStatus.SUCCEEDED:
            console.print(f"[red]{job.status}[/red]: {job.failure_category}: {job.failure_message}")
            return 1
        for path in client.download_images(job, args.out):
            print(path)
    return 0


def _follow(client: SdfleetClient, job_id: str, console: Console) -> JobDocument:
    """Wait for the job with a progress bar fed by its event stream."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("submitted", total=1.0)
        return client.wait(job_id, on_event=lambda event: _show(bar, task, event, console))


def _show(bar: Progress, task: TaskID, event: JobEvent, console: Console) -> None:
    data = event.data
    if event.event == "queue":
        bar.update(task, description=f"queued, {data.get('position', '?')} ahead")
    elif event.event == "started":
        bar.update(task, description=f"running on {data.get('worker')} (attempt {data.get('attempt')})")
    elif event.event == "checkpoint":
        bar.update(task, description=f"loading {data.get('title')}")
    elif event.event == "progress":
        images, done = max(1, int(data.get("images", 1))), int(data.get("images_done", 0))
        overall = (done + float(data.get("fraction", 0.0)) * (images - done)) / images
        eta = data.get("eta_s")
        text = f"step {data.get('step')}/{data.get('steps')}, images {done}/{images}"
        bar.update(task, completed=overall, description=text + (f", ~{eta:.0f} s left" if eta else ""))
    elif event.event == "oom":
        console.print(
            f"out of memory at batch {data.get('batch_size')}; going on at {data.get('next_batch_size')}"
        )
    elif event.event in ("retry", "lost"):
        console.print(f"{event.event}: {data.get('category') or ''} {data.get('message') or ''}".strip())
    elif event.final:
        bar.update(task, completed=1.0 if event.event == "succeeded" else bar.tasks[0].completed,
                   description=event.event)  # fmt: skip


def run_jobs(args: argparse.Namespace, _: list[str]) -> int:
    console = Console()
    with client_for(args) as client:
        if args.action == "list":
            page = client.list_jobs(
                status=args.status, checkpoint=args.checkpoint, failure_category=args.category,
                limit=args.limit, cursor=args.cursor,
            )  # fmt: skip
            console.print(_jobs_table(page.jobs))
            if page.next_cursor:
                console.print(f"more: sdfleet jobs list --cursor {page.next_cursor}")
            return 0
        if args.action == "retry":
            print(client.retry(args.job_id))
            return 0
        if args.action == "rate":
            rate(client, args, console)
            return 0
        job = client.cancel(args.job_id) if args.action == "cancel" else client.get(args.job_id)
        _print_job(console, job)
        if getattr(args, "timeline", False):
            print_timeline(console, job)
    return 0


def _jobs_table(jobs: list[Any]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True)  # whole: it is what `jobs show` takes
    for name in ("status", "checkpoint", "prompt", "seed", "images", "failure", "created"):
        table.add_column(name, overflow="ellipsis")
    for job in jobs:
        prompt = str(job.params.get("prompt", ""))
        if len(prompt) > PROMPT_SHOWN_CHARS:
            prompt = prompt[: PROMPT_SHOWN_CHARS - 1] + "…"
        created = job.created_at.strftime("%Y-%m-%d %H:%M:%S") if job.created_at else ""
        table.add_row(job.id, _status(job.status), job.checkpoint, prompt, str(job.seed),
                      str(len(job.images)), job.failure_category or "", created)  # fmt: skip
    return table


def _status(status: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status


def _print_job(console: Console, job: JobDocument) -> None:
    facts = Table.grid(padding=(0, 2))
    rows: list[tuple[str, Any]] = [
        ("id", job.id), ("status", _status(job.status)), ("checkpoint", job.checkpoint),
        ("prompt", job.params.get("prompt")), ("seed", job.seed), ("batch size", job.batch_size),
        ("attempts", f"{job.attempts} of {job.max_attempts}"), ("worker", job.worker),
        ("failure", f"{job.failure_category}: {job.failure_message}" if job.failure_category else None),
        ("retry of", job.retry_of), ("created", job.created_at), ("finished", job.finished_at),
    ]  # fmt: skip
    if job.live is not None:
        rows.append(("queue position", job.live.queue_position))
        rows.append(("progress", job.live.progress))
    for name, value in rows:
        if value is not None:
            facts.add_row(f"[bold]{name}[/bold]", str(value))
    console.print(facts)
    if job.attempt_history:
        attempts = Table("attempt", "worker", "outcome", "category", "batch", "OOMs", title="attempts")
        for a in job.attempt_history:
            attempts.add_row(str(a.number), a.worker, a.outcome, a.category or "", str(a.batch_size),
                             str(a.oom_count))  # fmt: skip
        console.print(attempts)
    if job.images:
        images = Table("index", "seed", "size", "quality", "url", title="images")
        for image in job.images:
            score = "—" if image.quality_score is None else f"{image.quality_score:.2f}"
            score += " (low)" if image.low_quality else ""
            images.add_row(str(image.index), str(image.seed), f"{image.width}×{image.height}", score,
                           image.url or "")  # fmt: skip
        console.print(images)
    for hook in job.webhooks:
        console.print(f"webhook {hook.event} → {hook.url}: {hook.state} after {hook.tries} tries")
