"""The job vocabulary: statuses, failure categories, and what one delivery or one attempt came to.

These values are stored in Postgres (guarded by CHECK constraints built from them) and returned by the
API; everything else names them through these enums, never as bare strings.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life; see DESIGN.md "Job statuses"."""

    QUEUED = "queued"  # row written, message published (or about to be re-published by the sweeper)
    RUNNING = "running"  # claimed by a worker under an attempt number; the lease says until when
    SUCCEEDED = "succeeded"  # images stored and committed with the row
    FAILED = "failed"  # ended with a failure category that is not retried any more
    CANCELLED = "cancelled"  # the caller asked; a running job was interrupted in A1111

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class FailureCategory(StrEnum):
    """Why an attempt or a job failed; decides whether it is retried (DESIGN.md "Failure taxonomy")."""

    INVALID_REQUEST = "invalid_request"  # caller's parameters out of range or inconsistent
    MODEL_NOT_FOUND = "model_not_found"  # checkpoint not in the registry or not on the volume
    LORA_NOT_FOUND = "lora_not_found"  # LoRA not in the registry or not on the volume
    LORA_INCOMPATIBLE = "lora_incompatible"  # LoRA base (SD1.5/SDXL) differs from the checkpoint's
    MODEL_INVALID = "model_invalid"  # fails safetensors validation, or is a pickle
    CONTENT_BLOCKED = "content_blocked"  # prompt refused by the content policy
    OOM = "oom"  # CUDA OOM even at batch 1 after cleanup
    BACKEND_UNAVAILABLE = "backend_unavailable"  # A1111 not answering, not started, or erroring
    BACKEND_CRASHED = "backend_crashed"  # A1111 process died during the job
    TIMEOUT = "timeout"  # generation exceeded its deadline; A1111 was interrupted
    OUTPUT_INVALID = "output_invalid"  # undecodable, wrong size or count, blank image
    LOW_QUALITY = "low_quality"  # an image scored below the quality floor (an attempt's only: retried
    # once when the operator asks for it, and then kept and flagged; a job never fails for it)
    CANCELLED = "cancelled"  # cancelled by the caller
    INTERNAL = "internal"  # our bug


class AttemptOutcome(StrEnum):
    """How one attempt (one claim of a job by one worker) ended."""

    RUNNING = "running"  # not ended yet: the worker holds the lease
    SUCCEEDED = "succeeded"  # its images were committed with the job
    FAILED = "failed"  # it ended the job as failed
    RETRIED = "retried"  # it failed in a way the retry policy retries: the job was queued again
    LOST = "lost"  # its worker stopped renewing the lease; the sweeper or the next claim ended it
    CANCELLED = "cancelled"  # the caller cancelled the job while it ran


class RunOutcome(StrEnum):
    """What one delivery of a job's message came to, as the runner tells the task."""

    FINISHED = "finished"  # the job reached a terminal status (or was already there): ack the message
    DUPLICATE = "duplicate"  # another delivery holds the job, or this attempt was fenced off: drop it
    RETRY = "retry"  # the attempt was handed back: publish the job again after a delay


class DeliveryState(StrEnum):
    """Where one webhook delivery (a finished job POSTed to its callback URL) is."""

    PENDING = "pending"  # due at its next_attempt_at (a first try, or a retry after backoff)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every try failed, or the URL is refused; the log says why


class EventKind(StrEnum):
    """What a job's event stream reports (`worker.events`): its life as it happens, for live progress,
    waiting callers and the attempt's timeline."""

    QUEUED = "queued"  # waiting for a worker: reported by the API from the row (no stream entry is written)
    STARTED = "started"  # claimed by a worker: {"worker", "attempt"}
    CHECKPOINT = "checkpoint"  # the worker's A1111 switched checkpoints: {"from", "to", "seconds"}
    PROGRESS = "progress"  # sampling: {"step", "steps", "fraction", "eta_s", "images_done", "images"}
    OOM = "oom"  # out of memory at a batch size: {"batch_size", "next_batch_size"}
    SCORED = "scored"  # a sub-batch's images scored: {"first_index", "scores", "low_quality", "seconds"}
    RETRY = "retry"  # the attempt failed and the job is queued again: {"category", "message", "delay_s"}
    LOST = "lost"  # its worker stopped renewing the lease; the sweeper queued it again: {"attempt"}
    SUCCEEDED = "succeeded"  # terminal: {"images"}
    FAILED = "failed"  # terminal: {"category", "message"}
    CANCELLED = "cancelled"  # terminal: {"message"}

    @property
    def is_terminal(self) -> bool:
        return self in (EventKind.SUCCEEDED, EventKind.FAILED, EventKind.CANCELLED)


class Lane(StrEnum):
    """A job's priority: which of its checkpoint's two queues it waits in (docs/operations.md, "Lanes")."""

    INTERACTIVE = "interactive"  # someone waits for it (the A1111-compatible routes): taken first
    BATCH = "batch"  # submitted to be collected later: taken when no interactive job waits, or once aged
