"""`X-Process-Time` on every response and, with `--api-log`, one printed line per /sdapi request
(api.py `log_and_time`)."""

from __future__ import annotations

import time
from datetime import datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _log_request(scope: Scope, status: int, duration: str) -> None:
    client = (scope.get("client") or ("0:0.0.0", 0))[0]
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    print(
        f"API {stamp} {status} {scope.get('scheme', 'err')}/{scope.get('http_version', '0.0')} "
        f"{scope.get('method', 'err')} {scope.get('path', 'err')} {client} {duration}",
        flush=True,
    )


class ProcessTimeMiddleware:
    """Adds `X-Process-Time` (seconds, 4 decimals) to every response and, with `--api-log`, prints one
    line per /sdapi request, as A1111 does."""

    def __init__(self, app: ASGIApp, *, api_log: bool = False) -> None:
        self.app = app
        self.api_log = api_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.time()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                duration = str(round(time.time() - start, 4))
                headers = list(message.get("headers", []))
                headers.append((b"x-process-time", duration.encode()))
                message = {**message, "headers": headers}
                if self.api_log and scope.get("path", "").startswith("/sdapi"):
                    _log_request(scope, message["status"], duration)
            await send(message)

        await self.app(scope, receive, timed_send)
