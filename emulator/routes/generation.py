"""txt2img, img2img, progress, interrupt, skip and png-info routes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from emulator.generation import images
from emulator.generation.infotext import parse
from emulator.routes.auth import ApiAuth
from emulator.routes.body import NOT_A_DICT, RequestInvalid, invalid_response, read_body
from emulator.routes.generation_handler import run_generation
from emulator.routes.request_model import parse_img2img, parse_txt2img
from emulator.routes.v1_validation import V1Error, to_bool, to_str
from emulator.runtime import Runtime


def _preview(rt: Runtime) -> str | None:
    """The live preview `/progress` shows, refreshed every `show_progress_every_n_steps` steps."""
    state = rt.state
    every = rt.options.get("show_progress_every_n_steps")
    if rt.options.get("live_previews_enable") and isinstance(every, int) and state.take_preview_slot(every):
        source = state.preview_source
        snapshot = state.snapshot()
        if source is not None and snapshot["sampling_steps"]:
            checkpoint, prompt, seed, width, height = source
            fraction = snapshot["sampling_step"] / snapshot["sampling_steps"]
            final = images.render(checkpoint, prompt, seed, width, height)
            state.current_image = images.encode_png(images.partial(final, seed, fraction), None)
    return images.to_base64(state.current_image) if state.current_image else None


def register(app: FastAPI, rt: Runtime, auth: ApiAuth) -> None:
    deps = auth.dependencies()

    async def generate(request: Request, parse: Callable[[Any], Any], *kind: str) -> Any:
        """Both generation routes: parse as A1111's v1 model, run under the lock, count the outcome."""
        try:
            body = await read_body(request, auth)
            req = parse(body)
        except RequestInvalid as exc:
            return invalid_response(exc.detail)
        explicit = set(body) if isinstance(body, dict) else set()
        try:
            result = await run_in_threadpool(run_generation, rt, req, explicit, *kind)
        except Exception:
            rt.stats.bump("txt2img_failed")
            raise
        rt.stats.bump("txt2img_succeeded")
        return result

    async def txt2img(request: Request) -> Any:
        return await generate(request, parse_txt2img)

    async def img2img(request: Request) -> Any:
        return await generate(request, parse_img2img, "img2img")

    def progress(request: Request) -> Any:
        raw = request.query_params.get("skip_current_image")
        skip = False
        if raw is not None:
            try:
                skip = to_bool(raw)
            except V1Error as exc:
                return invalid_response([exc.entry(("query", "skip_current_image"))])
        value, eta, snapshot = rt.state.report()
        if snapshot["job_count"] == 0:
            return {
                "progress": 0.0,
                "eta_relative": 0.0,
                "state": snapshot,
                "current_image": None,
                "textinfo": None,
            }
        current = None if skip else _preview(rt)
        return {
            "progress": value,
            "eta_relative": eta,
            "state": snapshot,
            "current_image": current,
            "textinfo": None,
        }

    def interrupt() -> Any:
        rt.state.interrupt()
        rt.stats.bump("interrupts")
        return {}

    def skip() -> Any:
        rt.state.skip()
        rt.stats.bump("skips")
        return None

    async def png_info(request: Request) -> Any:
        try:
            body = await read_body(request, auth)
        except RequestInvalid as exc:
            return invalid_response(exc.detail)
        if not isinstance(body, dict):
            return invalid_response([NOT_A_DICT])
        if "image" not in body:
            return invalid_response(
                [{"loc": ["body", "image"], "msg": "field required", "type": "value_error.missing"}]
            )
        try:
            encoded = to_str(body["image"]).strip() if body["image"] is not None else ""
        except V1Error as exc:
            return invalid_response([exc.entry(("body", "image"))])
        if not encoded:
            return {"info": "", "items": {}, "parameters": {}}
        if encoded.startswith("data:image/"):
            encoded = encoded.split(";")[1].split(",")[1]
        try:
            text, items = images.read_parameters(base64.b64decode(encoded))
        except (OSError, ValueError, binascii.Error, IndexError) as exc:
            raise HTTPException(status_code=500, detail="Invalid encoded image") from exc
        return {"info": text or "", "items": items, "parameters": parse(text or "")}

    route = app.add_api_route
    route("/sdapi/v1/txt2img", txt2img, methods=["POST"])  # body routes check auth in read_body
    route("/sdapi/v1/img2img", img2img, methods=["POST"])
    route("/sdapi/v1/progress", progress, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/interrupt", interrupt, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/skip", skip, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/png-info", png_info, methods=["POST"])
