"""A route's JSON body, read the way fastapi 0.94 reads it for a route with a body parameter and a
route-level dependency (`fastapi/routing.py:190-235`, `get_request_handler`):

1. a non-empty body is decoded first: bad JSON is a 422 `value_error.jsondecode`, bytes that are not
   text a 400 "There was an error parsing the body", and a non-JSON content type leaves the raw bytes;
2. then the route's dependencies run, i.e. `--api-auth` (401);
3. then the body is validated, so an empty one is a 422 `field required`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from emulator.routes.auth import ApiAuth

FIELD_REQUIRED = {"loc": ["body"], "msg": "field required", "type": "value_error.missing"}
NOT_A_DICT = {"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}


class RequestInvalid(Exception):
    """Raised when a body fails validation; `detail` is the pydantic v1 422 `detail` list."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("request validation failed")
        self.detail = detail


def invalid_response(detail: list[dict[str, Any]]) -> JSONResponse:
    """FastAPI's own 422 (A1111 does not wrap it in its envelope)."""
    return JSONResponse(status_code=422, content={"detail": detail})


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = main.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def decode(raw: bytes, content_type: str | None) -> Any:
    """The JSON value of `raw`, the bytes themselves under a non-JSON content type, None when empty.

    Raises RequestInvalid for bad JSON and HTTPException 400 for bytes json.loads cannot read as text.
    """
    if not raw:
        return None
    if content_type and not _is_json(content_type):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        ctx = {"msg": exc.msg, "doc": exc.doc, "pos": exc.pos, "lineno": exc.lineno, "colno": exc.colno}
        entry = {"loc": ["body", exc.pos], "msg": str(exc), "type": "value_error.jsondecode", "ctx": ctx}
        raise RequestInvalid([entry]) from exc
    except ValueError as exc:  # UnicodeDecodeError: starlette's request.json() fails the same way
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


async def read_body(request: Request, auth: ApiAuth) -> Any:
    """The decoded body of a required body parameter, after the auth check.

    Raises RequestInvalid (bad JSON, or no body), HTTPException 400 (unreadable) and 401 (auth).
    """
    body = decode(await request.body(), request.headers.get("content-type"))
    auth.check(request)
    if body is None:
        raise RequestInvalid([FIELD_REQUIRED])
    return body
