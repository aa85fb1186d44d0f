"""The one boundary where the API's error answers and httpx's errors become sdfleet's exceptions."""

from __future__ import annotations

from typing import Any

import httpx

from worker.errors import (
    AccessDenied,
    ApiUnavailable,
    ContentBlocked,
    InvalidRequest,
    JobNotFound,
    JobRejected,
    LoraIncompatible,
    LoraNotFound,
    ModelInvalid,
    ModelNotFound,
    Problem,
    SdfleetError,
)

REJECTIONS: dict[str, type[JobRejected]] = {
    cls.category.value: cls
    for cls in (InvalidRequest, ModelNotFound, LoraNotFound, LoraIncompatible, ModelInvalid, ContentBlocked)
}


def field_name(loc: list[Any]) -> str:
    """['body', 'loras', 0, 'weight'] -> 'loras[0].weight' (the first element says where: body, query)."""
    name = ""
    for part in loc[1:] if len(loc) > 1 else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def error_for(response: httpx.Response) -> SdfleetError:
    """The exception an error answer (4xx, 5xx) stands for; call after `response.read()`."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or body.get("detail") or response.text or response.reason_phrase)
    status = response.status_code
    if status == 422 or (status in (400, 409) and body.get("error") in REJECTIONS):
        problems = [
            Problem(field_name(list(p.get("loc", []))), p.get("input"), str(p.get("msg", "")))
            for p in body.get("detail") or []
            if isinstance(p, dict)
        ]
        cls = REJECTIONS.get(str(body.get("error")), InvalidRequest)
        first = problems[0] if problems else None
        return cls(
            message,
            field=first.field if first else None,
            value=first.value if first else None,
            problems=problems or None,
        )
    if status == 404:
        return JobNotFound(message)
    if status in (401, 403):
        return AccessDenied(message, status_code=status)
    if status in (429, 502, 503, 504):
        retry_after = response.headers.get("Retry-After", "")
        return ApiUnavailable(
            f"the sdfleet API answered {status}: {message}",
            status_code=status,
            retry_after_s=float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None,
        )
    return SdfleetError(f"the sdfleet API answered {status}: {message}")


def unreachable(url: str, exc: httpx.HTTPError) -> ApiUnavailable:
    return ApiUnavailable(f"the sdfleet API at {url} cannot be reached: {exc}")
