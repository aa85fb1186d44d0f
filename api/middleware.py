"""Every API request's latency and status, by route template (`/v1/jobs/{job_id}`, never the raw path,
so the labels stay few): a pure ASGI middleware, so streamed answers (images, event streams) pass
through untouched and are timed to their headers."""

from __future__ import annotations

import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.monitoring.api_metrics import UNMATCHED_ROUTE, ApiMetrics


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            if not observed:
                observed = True
                self.metrics.observe(scope["method"], _route(scope), status, time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            observe(500)  # what the server answers for an exception that reaches it
            raise


def _route(scope: Scope) -> str:
    """The template of the route that answered (the router leaves it in the scope), else of the first
    route whose path matches (a 405), else UNMATCHED_ROUTE."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", []):
        match, _ = candidate.matches(scope)
        if match is not Match.NONE:
            return str(getattr(candidate, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE
