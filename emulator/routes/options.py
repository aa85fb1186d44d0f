"""`GET`/`POST /sdapi/v1/options` (api.py `get_config`/`set_config`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from emulator.models.option_defaults import OPTION_DEFAULTS
from emulator.routes.auth import ApiAuth
from emulator.routes.body import NOT_A_DICT, RequestInvalid, invalid_response, read_body
from emulator.routes.v1_validation import V1Error, to_bool, to_dict, to_float, to_list, to_str
from emulator.runtime import Runtime

_DECLARED: dict[type, Callable[[Any], Any]] = {float: to_float, str: to_str, bool: to_bool, list: to_list}


def as_declared(key: str, value: Any) -> Any:
    """A set option's value as GET's response model (api/models.py `OptionsModel`) returns it: validated
    against the type of the option's default, int widened to float (`Options.typemap`), so a clip skip
    set to 2 reads back as 2.0; a falsy default declares `Any`, which keeps the value as it is.

    A value the declared type refuses makes A1111's answer a 500; here it is reported unchanged.
    """
    default = OPTION_DEFAULTS.get(key)
    if value is None or not default:
        return value
    coerce = _DECLARED.get(float if type(default) is int else type(default))
    try:
        return coerce(value) if coerce is not None else value
    except V1Error:
        return value


def _set_options(rt: Runtime, values: dict[str, Any]) -> None:
    """POST /options: exact-alias check first, then each key in order; a checkpoint change loads
    behind the queue lock. Raises RuntimeError for an unknown checkpoint, KeyError for an unknown key."""
    name = values.get("sd_model_checkpoint")
    if name is not None and rt.checkpoints.by_alias(name) is None:
        raise RuntimeError(f"model {name!r} not found")
    for key, value in values.items():
        changed = rt.options.set(key, value)
        if changed and key == "sd_model_checkpoint":
            with rt.queue_lock:  # wrap_queued_call(reload_model_weights)
                try:
                    rt.loader.reload_weights()
                except Exception:  # A1111 prints it, restores nothing else and still answers 200
                    pass
    rt.options.save()


def register(app: FastAPI, rt: Runtime, auth: ApiAuth) -> None:
    def get_options() -> Any:
        return rt.options.api_view(as_declared)

    async def set_options(request: Request) -> Any:
        try:
            body = await read_body(request, auth)
        except RequestInvalid as exc:
            return invalid_response(exc.detail)
        try:
            values = to_dict(body) if not isinstance(body, bytes | str) else None
        except ValueError:
            values = None
        if values is None:
            return invalid_response([NOT_A_DICT])
        await run_in_threadpool(_set_options, rt, values)
        return None

    route = app.add_api_route
    route("/sdapi/v1/options", get_options, methods=["GET"], dependencies=auth.dependencies())
    route("/sdapi/v1/options", set_options, methods=["POST"])  # read_body checks auth
