"""Job statuses and failure categories: the vocabulary stored in Postgres and returned by the API."""

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
    CANCELLED = "cancelled"  # cancelled by the caller
    INTERNAL = "internal"  # our bug


STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in JobStatus)
CATEGORY_VALUES: tuple[str, ...] = tuple(c.value for c in FailureCategory)
