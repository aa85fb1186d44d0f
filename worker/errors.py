"""The one exception tree of sdfleet.

Split first by who is at fault; every leaf maps to one failure category::

    SdfleetError
    ├── JobRejected               the caller's fault: never retried, 422 at submit
    │   ├── InvalidRequest        invalid_request
    │   ├── ModelNotFound         model_not_found
    │   ├── LoraNotFound          lora_not_found
    │   ├── LoraIncompatible      lora_incompatible
    │   ├── ModelInvalid          model_invalid
    │   └── ContentBlocked        content_blocked
    ├── BackendError              A1111's or the GPU's fault: the retry policy decides
    │   ├── BackendUnavailable    backend_unavailable
    │   ├── BackendCrashed        backend_crashed
    │   ├── BackendTimeout        timeout
    │   ├── BackendOutOfMemory    oom
    │   ├── OutputInvalid         output_invalid
    │   └── OutputLowQuality      low_quality (raised only when the operator retries low scores)
    ├── JobCancelled              cancelled
    ├── JobNotFound               (lookup of an unknown job id; not a job outcome)
    ├── RecordUnavailable         (Postgres cannot be reached; try again: HTTP 503, a worker retries)
    ├── ApiUnavailable            (the HTTP client: the API answered 429/503 or cannot be reached)
    ├── AccessDenied              (the HTTP client: the API answered 401/403)
    ├── ConfigurationError        (a process refuses to start; not a job outcome)
    └── InternalError             internal

Foreign errors (httpx, psycopg/SQLAlchemy, OS process exits) are translated into these at one boundary
each: the A1111 client, the job store, the supervisor, and the HTTP client of the API (`worker.client`),
which raises this tree from the API's answers: a 422 is the `JobRejected` child its `error` names, with
`.problems`; a 404 is `JobNotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from worker.vocabulary import FailureCategory


class SdfleetError(Exception):
    """Raised for anything sdfleet itself reports; the root of the tree."""

    category: ClassVar[FailureCategory] = FailureCategory.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One reason a request was refused: the field, the value given, and what is allowed."""

    field: str
    value: Any
    message: str


class JobRejected(SdfleetError):
    """Raised when a request is refused because of what the caller asked for."""

    category = FailureCategory.INVALID_REQUEST

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.problems = problems if problems is not None else [Problem(field or "body", value, message)]


class InvalidRequest(JobRejected):
    """Raised when a parameter is out of range, of the wrong type, or inconsistent with another."""

    category = FailureCategory.INVALID_REQUEST


class ModelNotFound(JobRejected):
    """Raised when a checkpoint name is not in the registry or its file is not on the volume."""

    category = FailureCategory.MODEL_NOT_FOUND


class LoraNotFound(JobRejected):
    """Raised when a LoRA name is not in the registry or its file is not on the volume."""

    category = FailureCategory.LORA_NOT_FOUND


class LoraIncompatible(JobRejected):
    """Raised when a LoRA's base architecture (SD1.5/SDXL) differs from the checkpoint's."""

    category = FailureCategory.LORA_INCOMPATIBLE


class ModelInvalid(JobRejected):
    """Raised when a model file fails safetensors validation or is a pickle format."""

    category = FailureCategory.MODEL_INVALID


class ContentBlocked(JobRejected):
    """Raised when a prompt matches the content policy."""

    category = FailureCategory.CONTENT_BLOCKED


class BackendError(SdfleetError):
    """Raised when A1111 or its GPU fails to do what it was asked."""

    category = FailureCategory.BACKEND_UNAVAILABLE


class BackendUnavailable(BackendError):
    """Raised when A1111 does not answer, is not ready, or answers with an unexpected error."""

    category = FailureCategory.BACKEND_UNAVAILABLE


class BackendCrashed(BackendError):
    """Raised when the A1111 process died while it held our job."""

    category = FailureCategory.BACKEND_CRASHED

    def __init__(self, message: str, *, exit_code: int | None = None, signal: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal = signal


class BackendTimeout(BackendError):
    """Raised when a generation exceeded its deadline or stopped making progress."""

    category = FailureCategory.TIMEOUT


class BackendOutOfMemory(BackendError):
    """Raised when A1111 answers a request with a CUDA out-of-memory error."""

    category = FailureCategory.OOM

    def __init__(self, message: str, *, batch_size: int | None = None) -> None:
        super().__init__(message)
        self.batch_size = batch_size


class OutputInvalid(BackendError):
    """Raised when the images A1111 returned are undecodable, of the wrong size or count, or blank."""

    category = FailureCategory.OUTPUT_INVALID


class OutputLowQuality(BackendError):
    """Raised when an image scored below the quality floor and the operator asked for such jobs to be
    retried (`quality_retry`); never when the retry would not be granted: then the image is kept."""

    category = FailureCategory.LOW_QUALITY


class JobCancelled(SdfleetError):
    """Raised inside a running job when its caller asked for it to be cancelled."""

    category = FailureCategory.CANCELLED


class JobNotFound(SdfleetError):
    """Raised when a job id names no job."""


class RecordUnavailable(SdfleetError):
    """Raised when Postgres cannot be reached or drops the connection; the same call may succeed later."""

    category = FailureCategory.BACKEND_UNAVAILABLE


class ApiUnavailable(SdfleetError):
    """Raised by the HTTP client when the sdfleet API cannot be reached or answers 429 or 503 (come back
    later: `retry_after_s` says when, if the API said)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class AccessDenied(SdfleetError):
    """Raised by the HTTP client when the API refuses the key: missing, unknown, revoked (401), or not
    allowed to do this (403)."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ConfigurationError(SdfleetError):
    """Raised at start-up when settings are unsafe or inconsistent; the process refuses to start."""


class InternalError(SdfleetError):
    """Raised when sdfleet itself is wrong; the job fails as `internal` and an operator is alerted."""

    category = FailureCategory.INTERNAL
