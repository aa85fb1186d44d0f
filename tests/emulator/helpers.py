"""Small helpers shared by the emulator tests: decoding images and reading their infotext."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from PIL import Image
from starlette.types import ASGIApp

SMALL = {"width": 64, "height": 64, "steps": 4}  # cheap to render and encode


def decode_png(item: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(item, validate=True)))
    image.load()
    return image


def png_parameters(item: str) -> str:
    text = decode_png(item).info.get("parameters")
    assert isinstance(text, str)
    return text


def info_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body["info"], str)  # a JSON string, not an object (§4)
    info: dict[str, Any] = json.loads(body["info"])
    return info


def poll_until(check: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.005) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(interval_s)


class FakeClock:
    """A clock whose time moves only when told to or when something sleeps on it (the emulator's
    `Clock` protocol): simulated durations become exact and nothing waits."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.t = start_s
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, simulated_s: float) -> None:
        if simulated_s > 0:
            self.t += simulated_s
            self.slept += simulated_s

    def slept_s(self) -> float:
        return self.slept

    def advance(self, seconds: float) -> None:
        self.t += seconds


class InProcess:
    """Calls an emulator app in this process through httpx's ASGI transport: no server, no port."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


class Background:
    """Run a blocking HTTP call in a thread; `result()` joins it."""

    def __init__(self, call: Callable[[], httpx.Response]) -> None:
        self._response: httpx.Response | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], httpx.Response]) -> None:
        try:
            self._response = call()
        except BaseException as exc:  # re-raised in result()
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout_s: float = 30.0) -> httpx.Response:
        self._thread.join(timeout_s)
        if self._error is not None:
            raise self._error
        assert self._response is not None, "call did not finish"
        return self._response
