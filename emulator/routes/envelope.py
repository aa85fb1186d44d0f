"""A1111's error envelope (api.py `api_middleware`), a1111-api.md §9.

`{"error": type name, "detail": e.detail or "", "body": e.body or "", "errors": str(e)}` with the
exception's status code or 500. An HTTPException's `errors` is "" (starlette 0.26's str()).
Starlette's own 404/405 are not wrapped: they keep `{"detail": "Not Found"}`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("emulator")


def envelope(exc: BaseException) -> tuple[int, dict[str, Any]]:
    if isinstance(exc, HTTPException):
        return exc.status_code, {"error": "HTTPException", "detail": exc.detail, "body": "", "errors": ""}
    attrs = vars(exc) if hasattr(exc, "__dict__") else {}
    status = attrs.get("status_code", 500)
    body = {
        "error": type(exc).__name__,
        "detail": attrs.get("detail", ""),
        "body": attrs.get("body", ""),
        "errors": str(exc),
    }
    return status if isinstance(status, int) else 500, body


def envelope_response(request: Request, exc: BaseException) -> JSONResponse:
    status, body = envelope(exc)
    if not isinstance(exc, HTTPException):
        log.error("API error: %s: %s %s", request.method, request.url, body, exc_info=exc)
    # api.py:186 builds a new response from the envelope alone: an HTTPException's headers (the
    # `WWW-Authenticate` of a 401) are dropped
    return JSONResponse(status_code=status, content=body)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Registered for fastapi.HTTPException only, like A1111 (starlette's 404/405 stay plain)."""
    return envelope_response(request, exc)


class EnvelopeMiddleware:
    """Turns any exception a route raises into the envelope, so the server keeps serving."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = envelope_response(Request(scope), exc)
            await response(scope, receive, send)
