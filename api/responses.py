"""The error answers routes declare in OpenAPI (their bodies are `ErrorDocument`, see `api.errors`)."""

from __future__ import annotations

from typing import Any

from worker.jobs.documents import ErrorDocument

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDocument, "description": "No such job, or another caller's"},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    422: {"model": ErrorDocument, "description": "Invalid: each problem names the field and what is allowed"},
}
