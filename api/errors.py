"""Our exceptions as HTTP answers: a caller's fault is a 4xx naming the field, never a 500."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from worker.errors import JobNotFound, JobRejected, RecordUnavailable, SdfleetError

log = logging.getLogger(__name__)


def _json_safe(value: object) -> object:
    """The offending input as JSON can carry it: NaN, infinities and odd objects become their repr."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _loc(field: str) -> list[str | int]:
    """'loras[0].weight' -> ['loras', 0, 'weight'], FastAPI's style of error location."""
    parts: list[str | int] = []
    for piece in field.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        parts.append(name)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return parts


def rejected_body(exc: JobRejected) -> dict[str, object]:
    return {
        "error": exc.category.value,
        "message": str(exc),
        "detail": [
            {
                "loc": ["body", *_loc(p.field)],
                "msg": p.message,
                "type": exc.category.value,
                "input": _json_safe(p.value),
            }
            for p in exc.problems
        ],
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(JobRejected)
    async def _rejected(_: Request, exc: JobRejected) -> JSONResponse:
        return JSONResponse(rejected_body(exc), status_code=422)

    @app.exception_handler(JobNotFound)
    async def _not_found(_: Request, exc: JobNotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": list(e["loc"]), "msg": f"{'.'.join(map(str, e['loc']))}: {e['msg']}", "type": e["type"]}
            for e in exc.errors()
        ]
        message = "; ".join(str(p["msg"]) for p in problems)
        return JSONResponse({"error": "invalid_request", "message": message, "detail": problems}, 422)

    @app.exception_handler(RecordUnavailable)
    async def _record_unavailable(_: Request, exc: RecordUnavailable) -> JSONResponse:
        log.warning("request failed: %s", exc)
        body = {"error": "unavailable", "message": "the job record is unavailable; try again shortly"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(SdfleetError)
    async def _ours(_: Request, exc: SdfleetError) -> JSONResponse:
        log.error("request failed: %s", exc)
        return JSONResponse({"error": exc.category.value, "message": str(exc)}, status_code=503)
