"""The job logic a task calls: claim, generate as a plan of sub-batches, check, store, commit.

It knows nothing of Celery: it returns an `Outcome` and the task turns that into an ack, a retry or a
result. Every write after the claim is fenced by the attempt number. Each attempt keeps a journal
(`worker.run.journal`): its timeline is stored with the attempt, and its events go to the job's stream;
an outcome's event is sent only after the row that records it is committed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.a1111.backend import Backend, Watch
from worker.a1111.client import Progress
from worker.a1111.payload import build_txt2img
from worker.errors import (
    BackendOutOfMemory,
    JobCancelled,
    JobRejected,
    OutputLowQuality,
    RecordUnavailable,
    SdfleetError,
)
from worker.events.stream import JobEvents
from worker.output.checks import check_images
from worker.output.files import ResultStore
from worker.output.quality import QualityScore
from worker.policy.capacity import CapacityMemory
from worker.policy.deadlines import generation_deadline_s
from worker.policy.oom import Cleanup, emergency_cleanup, next_chunk
from worker.policy.quality import QualityPolicy, retry_for_low_quality
from worker.policy.retry import GpuKnowledge, RetryDecision, decide_retry
from worker.registry.resolver import CheckpointFile
from worker.run.journal import AttemptJournal
from worker.run.outputs import low_quality_message, score_images, store_images
from worker.settings import RunLimits
from worker.store.jobs import JobStore
from worker.store.records import AttemptReport, Claim, StoredImage
from worker.vocabulary import EventKind, FailureCategory, RunOutcome

log = logging.getLogger(__name__)
RENEW_EVERY_S = 2.0  # how often a running job renews its lease and looks for a cancel
PERSIST_FIRST_RETRY_S, PERSIST_MAX_RETRY_S = 0.5, 5.0  # recording an outcome while Postgres is away


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery of a job."""

    kind: RunOutcome
    queue: str = ""  # where to publish the job again (RETRY)
    retry_in_s: float = 0.0
    reason: str = ""


@dataclass
class _Progress:
    journal: AttemptJournal
    images: list[StoredImage] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    report: AttemptReport = field(default_factory=lambda: AttemptReport(batch_size=0))
    shape: tuple[str, str, int] | None = None  # (GPU, architecture, pixels) once the checkpoint is known
    held: bool = False  # this GPU is known to have completed this shape (before or during this attempt)
    renewed_at: float = float("-inf")  # when the lease was last renewed (the claim counts)

    def note(self, size: int, first_index: int, outcome: str, seconds: float) -> None:
        """One A1111 call of this attempt, for the attempt's timings."""
        calls = self.report.timings.setdefault("sub_batches", [])
        calls.append({"size": size, "first_index": first_index, "outcome": outcome, "s": round(seconds, 3)})


class JobRunner:
    """Runs jobs on one GPU's A1111 for one worker."""

    def __init__(
        self,
        *,
        store: JobStore,
        backend: Backend,
        results: ResultStore,
        capacity: CapacityMemory,
        checkpoint_file: Callable[[str], CheckpointFile],
        mark_used: Callable[..., None] = lambda *names: None,
        worker_name: str,
        gpu_key: str,
        limits: RunLimits,
        events: JobEvents | None,
        quality: QualityPolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.backend = backend
        self.results = results
        self.capacity = capacity
        self._checkpoint_file = checkpoint_file
        self._mark_used = mark_used  # the registry's last-used times (best effort, throttled)
        self.worker_name = worker_name
        self.gpu_key = gpu_key
        self.limits = limits
        self.events = events
        self.quality = quality
        self._clock = clock
        self._sleep = sleep
        self._draining = draining  # True once a shutting-down worker's grace has run out
        self._handing_back = False

    def run(self, job_id: uuid.UUID) -> Outcome:
        """Run one delivery of `job_id`; never raises for a job's own failure (it is recorded)."""
        claim = self.store.claim(job_id, self.worker_name, self.limits.lease_s)
        if claim is None:
            return Outcome(RunOutcome.DUPLICATE, reason="finished, cancelled or held by a live lease")
        journal = AttemptJournal(claim.job_id, claim.attempt, self.events, clock=self._clock)
        progress = _Progress(journal, report=AttemptReport(batch_size=claim.batch_size))
        progress.renewed_at = self._clock()  # the claim set a fresh lease
        if claim.attempt > claim.max_attempts:
            # Deliveries that never recorded an outcome (e.g. the worker process was killed each time).
            last = claim.previous_categories[-1] if claim.previous_categories else "backend_crashed"
            message = f"gave up: {claim.attempt - 1} attempts were used without a result"
            category = FailureCategory(last)
            if self._persist(progress, self.store.fail, claim, category, message, progress.report):
                journal.announce(EventKind.FAILED, category=last, message=message)
            return Outcome(RunOutcome.FINISHED, reason="attempts exhausted")
        journal.record(
            EventKind.STARTED,
            worker=self.worker_name,
            gpu=self.gpu_key,
            checkpoint=claim.checkpoint,
            width=claim.params["width"],
            height=claim.params["height"],
        )
        started = self._clock()
        self._handing_back = False
        try:
            self._generate(claim, progress)
        except SdfleetError as exc:
            self._close_report(progress, started)
            if self._handing_back:
                return self._hand_back_on_drain(claim, progress)
            return self._after_failure(claim, exc, progress)
        self._close_report(progress, started)
        self.results.make_durable(claim.job_id, claim.attempt)
        if not self._persist(
            progress, self.store.complete, claim, progress.images, progress.info, progress.report
        ):
            log.warning("job %s attempt %s was fenced off; its images are discarded", job_id, claim.attempt)
        else:
            journal.announce(EventKind.SUCCEEDED, images=len(progress.images))
            self._mark_used(claim.checkpoint, *(lora["name"] for lora in claim.params.get("loras", [])))
        return Outcome(RunOutcome.FINISHED)

    def _persist(self, progress: _Progress, write: Callable[..., bool], claim: Claim, *args: Any) -> bool:
        """Record an attempt's outcome, waiting out a Postgres outage for as long as the lease lasts
        (from its last renewal). False if fenced off, or if Postgres did not come back in time: then
        the lease runs out and the sweeper hands the job back, so nothing is lost."""
        deadline = progress.renewed_at + self.limits.lease_s
        delay = PERSIST_FIRST_RETRY_S
        while True:
            try:
                return write(claim.job_id, claim.attempt, *args)
            except RecordUnavailable as exc:
                if self._clock() + delay >= deadline:
                    log.error(
                        "job %s attempt %s: outcome not recorded (%s)", claim.job_id, claim.attempt, exc
                    )
                    return False
                log.warning("job %s: %s; recording its outcome again in %.1f s", claim.job_id, exc, delay)
                self._sleep(delay)
                delay = min(PERSIST_MAX_RETRY_S, delay * 2)

    def _close_report(self, progress: _Progress, started: float) -> None:
        progress.report.timings["total_s"] = round(self._clock() - started, 3)
        progress.report.timings["timeline"] = progress.journal.timeline

    def _generate(self, claim: Claim, progress: _Progress) -> None:
        params = claim.params
        checkpoint = self._checkpoint_file(claim.checkpoint)
        t0 = self._clock()
        self.backend.ensure_ready()
        switch = self.backend.ensure_checkpoint(checkpoint.filename)
        if switch is not None:
            progress.journal.record(
                EventKind.CHECKPOINT, previous=switch.previous, title=switch.title, seconds=switch.seconds
            )
        progress.report.timings["prepare_s"] = round(self._clock() - t0, 3)
        shape = (self.gpu_key, checkpoint.architecture, params["width"] * params["height"])
        progress.shape = shape
        progress.held = self.capacity.known(*shape).largest_ok is not None
        cleanups: list[Cleanup] = []
        total = claim.batch_size
        while len(progress.images) < total:
            remaining = total - len(progress.images)
            chunk = next_chunk(remaining, self.capacity.known_max(*shape))
            progress.report.batch_size = chunk
            done = len(progress.images)
            payload = build_txt2img(params, seed=claim.seed + done, batch_size=chunk)
            first_call = "sub_batches" not in progress.report.timings
            t1 = self._clock()
            try:
                result = self.backend.generate(payload, self._watch(claim, params, chunk, progress, total))
            except BackendOutOfMemory as exc:
                progress.note(chunk, done, "oom", self._clock() - t1)
                if first_call:
                    self._note_loras(progress, params, self._clock() - t1)
                progress.report.oom_count += 1
                self.capacity.record_oom(*shape, batch_size=chunk)
                retry_at = next_chunk(remaining, self.capacity.known_max(*shape)) if chunk > 1 else 1
                progress.journal.record(EventKind.OOM, batch_size=chunk, next_batch_size=retry_at)
                if chunk > 1:
                    log.info("OOM at batch %s for job %s; splitting", chunk, claim.job_id)
                    continue
                step = emergency_cleanup(
                    cleanups, held_before=progress.held, can_restart=self.backend.process.restartable
                )
                if step is Cleanup.GIVE_UP:
                    tried = ", ".join(c.value for c in cleanups)
                    raise BackendOutOfMemory(f"out of memory even at batch 1 after {tried}: {exc}") from exc
                progress.journal.record("cleanup", step=step.value)
                self._cleanup(step, checkpoint.filename)
                cleanups.append(step)
                progress.report.timings["cleanups"] = [c.value for c in cleanups]
                continue
            except SdfleetError as exc:
                progress.note(chunk, done, exc.category.value, self._clock() - t1)
                raise
            seconds = self._clock() - t1
            progress.note(chunk, done, "ok", seconds)
            if first_call:
                self._note_loras(progress, params, seconds)
            progress.journal.record(
                "generated", batch_size=chunk, first_index=done, seconds=round(seconds, 3)
            )
            progress.held = True
            self.capacity.record_success(*shape, batch_size=chunk)
            checked = check_images(
                result.images, expected_count=chunk, width=params["width"], height=params["height"]
            )
            journal = progress.journal
            scores = score_images(checked, self.quality, journal, first_index=done, clock=self._clock)
            self._judge(claim, scores, first_index=done)
            if not progress.info:
                progress.info = result.info
            progress.images += store_images(
                checked,
                scores,
                claim,
                self.results,
                self.quality,
                journal,
                first_index=done,
                clock=self._clock,
            )

    def _note_loras(self, progress: _Progress, params: dict[str, Any], seconds: float) -> None:
        """A1111 loads a LoRA when a prompt first uses it, inside the generation call: the job's first
        call carries that load, so its time is kept beside the LoRAs the payload asked for."""
        loras = [{"name": lora["name"], "weight": lora.get("weight")} for lora in params.get("loras", [])]
        if loras:
            progress.journal.record("loras", loras=loras, first_call_s=round(seconds, 3))

    def _judge(self, claim: Claim, scores: list[QualityScore], *, first_index: int) -> None:
        """Raises OutputLowQuality when an image is below the floor and the operator retries such jobs
        (and the retry policy grants it); otherwise low images are kept, flagged, and logged."""
        message = low_quality_message(scores, self.quality, first_index=first_index)
        if message is None:
            return
        if retry_for_low_quality(
            self.quality,
            [score.score for score in scores],
            attempt=claim.attempt,
            max_attempts=claim.max_attempts,
            previous=[FailureCategory(c) for c in claim.previous_categories],
        ):
            raise OutputLowQuality(message)
        log.warning("job %s: %s; kept and flagged low_quality", claim.job_id, message)

    def _watch(
        self, claim: Claim, params: dict[str, Any], chunk: int, progress: _Progress, total: int
    ) -> Watch:
        deadline = generation_deadline_s(
            steps=params["steps"],
            width=params["width"],
            height=params["height"],
            batch_size=chunk,
            factor=self.limits.deadline_factor,
        )

        lease_s = self.limits.lease_s
        every_s = min(lease_s / 6, RENEW_EVERY_S)

        def tick() -> bool:
            """Renew the lease (which also reports a cancel) at most every `every_s`, not every poll."""
            now = self._clock()
            if now - progress.renewed_at < every_s:
                return False
            progress.renewed_at = now
            try:
                cancel = self.store.renew_lease(claim.job_id, claim.attempt, lease_s)
            except RecordUnavailable as exc:  # Postgres is away: the lease still runs; try next poll
                log.warning("job %s: lease not renewed (%s)", claim.job_id, exc)
                return False
            if cancel is None:
                raise JobCancelled("the claim on this job was lost (lease expired and taken over)")
            if not cancel and self._draining():
                self._handing_back = True  # the backend interrupts A1111 as for a cancel
                return True
            return cancel

        def on_progress(sample: Progress) -> None:
            progress.journal.progress(sample, images_done=len(progress.images), images=total)

        stall_s = self.limits.stall_s if self.limits.stall_s is not None else max(60.0, deadline / 4)
        return Watch(
            deadline_s=deadline,
            stall_s=stall_s,
            tick=tick,
            interrupt_grace_s=self.limits.interrupt_grace_s,
            on_progress=on_progress,
        )

    def _cleanup(self, step: Cleanup, checkpoint_file: str) -> None:
        """Before another try at batch 1: free VRAM by reloading the checkpoint, or restart A1111."""
        if step is Cleanup.RELOAD:
            log.warning("OOM at batch 1: unloading and reloading the checkpoint before one more try")
            self.backend.reload_checkpoint()
        else:
            log.warning("OOM at batch 1 on a shape this GPU has held: restarting A1111 before one more try")
            self.backend.restart("CUDA out of memory at batch 1 on a shape it has held", checkpoint_file)

    def _hand_back_on_drain(self, claim: Claim, progress: _Progress) -> Outcome:
        """The worker is shutting down and its grace ran out: the interrupted job goes back to its queue
        at once (not failed, not left for its lease to expire)."""
        message = f"handed back: {self.worker_name} shut down and its drain grace ran out"
        if not self.store.hand_back(
            claim.job_id, claim.attempt, FailureCategory.BACKEND_UNAVAILABLE, message, progress.report
        ):
            return Outcome(RunOutcome.DUPLICATE, reason="fenced off")
        log.warning("job %s attempt %s: %s", claim.job_id, claim.attempt, message)
        progress.journal.announce(
            EventKind.RETRY, category=FailureCategory.BACKEND_UNAVAILABLE.value, message=message, delay_s=0.0
        )
        return Outcome(RunOutcome.RETRY, queue=claim.queue, retry_in_s=0.0, reason="drained")

    def _after_failure(self, claim: Claim, exc: SdfleetError, progress: _Progress) -> Outcome:
        category = exc.category
        message = str(exc)
        journal = progress.journal
        if isinstance(exc, JobRejected | JobCancelled):
            if self._persist(progress, self.store.fail, claim, category, message, progress.report):
                journal.announce_failure(category, message)
            return Outcome(RunOutcome.FINISHED, reason=category.value)
        previous = [FailureCategory(c) for c in claim.previous_categories]
        decision: RetryDecision = decide_retry(
            category, claim.attempt, claim.max_attempts, previous, self._gpu_knowledge(category, progress)
        )
        if decision.retry:
            if self._persist(progress, self.store.hand_back, claim, category, message, progress.report):
                log.info(
                    "job %s attempt %s: %s; retrying in %ss",
                    claim.job_id,
                    claim.attempt,
                    message,
                    decision.delay_s,
                )
                journal.announce(
                    EventKind.RETRY, category=category.value, message=message, delay_s=decision.delay_s
                )
                return Outcome(
                    RunOutcome.RETRY, queue=claim.queue, retry_in_s=decision.delay_s, reason=category.value
                )
            return Outcome(RunOutcome.DUPLICATE, reason="fenced off")
        final = f"{message} ({decision.reason})"
        if self._persist(progress, self.store.fail, claim, category, final, progress.report):
            journal.announce_failure(category, final)
        return Outcome(RunOutcome.FINISHED, reason=category.value)

    def _gpu_knowledge(self, category: FailureCategory, progress: _Progress) -> GpuKnowledge | None:
        """For an OOM: whether this GPU held the shape before, and the most another GPU is known to hold."""
        if category is not FailureCategory.OOM or progress.shape is None:
            return None
        elsewhere = self.capacity.held_elsewhere(*progress.shape)
        return GpuKnowledge(held_here=1 if progress.held else None, held_elsewhere=elsewhere)
