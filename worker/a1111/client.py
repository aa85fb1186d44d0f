"""HTTP calls to one A1111 webui (`--api --nowebui`), and nothing else.

This is the one boundary where httpx errors and A1111's error envelope
(`{"error", "detail", "body", "errors"}`, a1111-api.md §9) become sdfleet exceptions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from worker.errors import (
    BackendError,
    BackendOutOfMemory,
    BackendTimeout,
    BackendUnavailable,
    InvalidRequest,
    OutputInvalid,
    SdfleetError,
)


@dataclass(frozen=True)
class Txt2ImgResult:
    """What `/sdapi/v1/txt2img` returned: decoded image bytes and the parsed `info`."""

    images: list[bytes]
    info: dict[str, Any]


@dataclass(frozen=True)
class Progress:
    """A snapshot of `/sdapi/v1/progress` (the global state of whatever job A1111 runs)."""

    progress: float
    job_count: int
    job_no: int
    sampling_step: int
    sampling_steps: int
    interrupted: bool
    eta_relative: float = 0.0  # A1111's estimate of the seconds left


@dataclass(frozen=True)
class Checkpoint:
    """One entry of `/sdapi/v1/sd-models`."""

    title: str
    model_name: str
    filename: str


class A1111Client:
    """A blocking client for one A1111. `transport` is injectable for tests of hostile peers."""

    def __init__(
        self,
        base_url: str,
        *,
        request_timeout_s: float = 600.0,
        connect_timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(request_timeout_s, connect=connect_timeout_s),
            transport=transport,
        )
        self._short = httpx.Timeout(10.0, connect=connect_timeout_s)

    def close(self) -> None:
        self._http.close()

    def txt2img(self, payload: dict[str, Any], *, timeout_s: float | None = None) -> Txt2ImgResult:
        """Run one generation.

        Raises BackendOutOfMemory, BackendTimeout, BackendUnavailable, OutputInvalid, or InvalidRequest
        when A1111 refuses the request (422).
        """
        timeout = httpx.Timeout(timeout_s, connect=5.0) if timeout_s else httpx.USE_CLIENT_DEFAULT
        body = self._call("POST", "/sdapi/v1/txt2img", json=payload, timeout=timeout)
        if not isinstance(body, dict) or not isinstance(body.get("images"), list):
            raise OutputInvalid("A1111 txt2img answer has no 'images' list")
        images = [_decode_image(i, item) for i, item in enumerate(body["images"])]
        return Txt2ImgResult(images=images, info=_parse_info(body.get("info")))

    def progress(self) -> Progress:
        body = self._call("GET", "/sdapi/v1/progress", params={"skip_current_image": "true"})
        state = body.get("state") or {}
        return Progress(
            progress=float(body.get("progress") or 0.0),
            job_count=int(state.get("job_count") or 0),
            job_no=int(state.get("job_no") or 0),
            sampling_step=int(state.get("sampling_step") or 0),
            sampling_steps=int(state.get("sampling_steps") or 0),
            interrupted=bool(state.get("interrupted")),
            eta_relative=float(body.get("eta_relative") or 0.0),
        )

    def interrupt(self) -> None:
        self._call("POST", "/sdapi/v1/interrupt")

    def checkpoints(self) -> list[Checkpoint]:
        body = self._call("GET", "/sdapi/v1/sd-models")
        return [Checkpoint(e["title"], e["model_name"], e["filename"]) for e in body]

    def refresh_checkpoints(self) -> None:
        self._call("POST", "/sdapi/v1/refresh-checkpoints", timeout=httpx.USE_CLIENT_DEFAULT)

    def refresh_loras(self) -> None:
        self._call("POST", "/sdapi/v1/refresh-loras", timeout=httpx.USE_CLIENT_DEFAULT)

    def options(self) -> dict[str, Any]:
        body = self._call("GET", "/sdapi/v1/options")
        return body if isinstance(body, dict) else {}

    def set_options(self, values: dict[str, Any], *, timeout_s: float | None = None) -> None:
        """POST /options; a checkpoint switch blocks behind any running job and then for the load.

        Raises BackendTimeout after `timeout_s` (default: the client's request timeout).
        """
        timeout = httpx.Timeout(timeout_s, connect=5.0) if timeout_s else httpx.USE_CLIENT_DEFAULT
        self._call("POST", "/sdapi/v1/options", json=values, timeout=timeout)

    def unload_checkpoint(self) -> None:
        self._call("POST", "/sdapi/v1/unload-checkpoint", timeout=httpx.USE_CLIENT_DEFAULT)

    def reload_checkpoint(self) -> None:
        self._call("POST", "/sdapi/v1/reload-checkpoint", timeout=httpx.USE_CLIENT_DEFAULT)

    def memory(self) -> dict[str, Any]:
        body = self._call("GET", "/sdapi/v1/memory")
        return body if isinstance(body, dict) else {}

    def is_ready(self) -> bool:
        """True once the API answers and a checkpoint is loaded (options name one)."""
        try:
            self.checkpoints()
            return bool(self.options().get("sd_model_checkpoint"))
        except BackendError:
            return False

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._short)
        with _translated(method, path):
            response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise _error_from_response(method, path, response)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendUnavailable(f"A1111 {method} {path} answered non-JSON: {exc}") from exc


@contextmanager
def _translated(method: str, path: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise BackendTimeout(f"A1111 {method} {path} timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise BackendUnavailable(f"A1111 {method} {path} failed: {type(exc).__name__}: {exc}") from exc


def _error_from_response(method: str, path: str, response: httpx.Response) -> SdfleetError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if response.status_code == 422:
        return _refused(method, path, body)
    kind = str(body.get("error") or "")
    text = str(body.get("errors") or body.get("detail") or response.text[:500])
    if kind == "OutOfMemoryError" or "out of memory" in text.lower():
        return BackendOutOfMemory(f"A1111 CUDA out of memory: {text}")
    return BackendUnavailable(
        f"A1111 {method} {path} answered HTTP {response.status_code}: {kind or 'error'}: {text}"
    )


def _refused(method: str, path: str, body: dict[str, Any]) -> InvalidRequest:
    """A1111's 422: the request itself is wrong, and sending it again cannot help. Two shapes (§9):
    FastAPI's validation list (`{"detail": [{"loc": ["body", "width"], "msg": ...}]}`) and A1111's own
    envelope (`{"error": "HTTPException", "detail": "Script 'x' not found", ...}`)."""
    detail = body.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = [str(part) for part in detail[0].get("loc") or [] if part != "body"]
        field = ".".join(loc) or "body"
        message = str(detail[0].get("msg") or "refused")
        return InvalidRequest(f"A1111 {method} {path} refused {field}: {message}", field=field)
    message = str(detail or body.get("errors") or "refused")
    return InvalidRequest(f"A1111 {method} {path} refused the request: {message}", field="body")


def _decode_image(index: int, item: Any) -> bytes:
    if not isinstance(item, str):
        raise OutputInvalid(f"image {index} is not a base64 string")
    data = item.split(",", 1)[1] if item.startswith("data:") else item
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OutputInvalid(f"image {index} is not valid base64: {exc}") from exc


def _parse_info(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {"raw": raw}
    return parsed if isinstance(parsed, dict) else {"raw": raw}
