"""Small helpers shared by the emulator tests: decoding images and reading their infotext."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from PIL import Image

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
