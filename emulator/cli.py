"""`python -m emulator` command line: all of webui.py's flags, plus `--emu-*` knobs that can also be
given as `A1111_EMU_*` environment variables (a flag wins over the variable)."""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from emulator.a1111_flags import FLAGS, dest, resolve_default
from emulator.config import DEFAULT_PORT, DEFAULT_VERSION, EmulatorConfig
from emulator.faults import FaultSpec
from emulator.gpu.identity import DEFAULT_NAME, GpuIdentity, host_index
from emulator.gpu.vram import Precision
from emulator.models.arch import Arch
from emulator.routes.auth import parse_api_auth

# --emu-<name> flag -> (environment variable, type, help)
EMU_KNOBS: dict[str, tuple[str, type, str]] = {
    "time-scale": ("A1111_EMU_TIME_SCALE", float, "multiplies every simulated duration (default 1.0)"),
    "vram-mb": ("A1111_EMU_VRAM_MB", float, "VRAM of the simulated card in MiB (default 24576)"),
    "gpu-name": ("A1111_EMU_GPU_NAME", str, f"the card's model name in telemetry (default {DEFAULT_NAME})"),
    "gpu-speed": ("A1111_EMU_GPU_SPEED", float, "card throughput relative to an RTX 4080 (default 1.0)"),
    "load-s": ("A1111_EMU_LOAD_S", float, "checkpoint load seconds for every architecture"),
    "load-s-sd15": ("A1111_EMU_LOAD_S_SD15", float, "checkpoint load seconds, SD1.5 (default 5)"),
    "load-s-sdxl": ("A1111_EMU_LOAD_S_SDXL", float, "checkpoint load seconds, SDXL (default 12)"),
    "attention": ("A1111_EMU_ATTENTION", str, "auto | linear | quadratic (default auto: from the flags)"),
    "sampler-mode": ("A1111_EMU_SAMPLER_MODE", str, "1.10 (default) or 1.9 (legacy sampler names 404)"),
    "version": ("A1111_EMU_VERSION", str, f"version string in infotexts (default {DEFAULT_VERSION})"),
    "seed": ("A1111_EMU_SEED", int, "seeds the random choice of seed=-1, for reproducible runs"),
    "log-level": ("A1111_EMU_LOG_LEVEL", str, "uvicorn log level (default warning)"),
}
_FAULTS_ENV = "A1111_EMU_FAULTS"


class ConfigError(ValueError):
    """Raised when a flag or A1111_EMU_* variable has a value the emulator cannot use."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__, add_help=True)
    for flag, kind, _default in FLAGS:
        if kind == "bool":
            parser.add_argument(flag, dest=dest(flag), action="store_true", default=None)
        elif kind == "list":
            parser.add_argument(flag, dest=dest(flag), nargs="+", default=None)
        else:
            parser.add_argument(flag, dest=dest(flag), type=int if kind == "int" else str, default=None)
    for name, (env, knob_type, text) in EMU_KNOBS.items():
        parser.add_argument(
            f"--emu-{name}", dest=f"emu_{dest(name)}", type=knob_type, help=f"{text}; env {env}"
        )
    parser.add_argument(
        "--emu-fault", dest="emu_fault", action="append", default=[],
        help=f"a fault (JSON object or list) to arm at start-up; env {_FAULTS_ENV}",
    )  # fmt: skip
    return parser


def a1111_namespace(parsed: argparse.Namespace) -> dict[str, Any]:
    """Every webui.py dest with its value or default, as `/sdapi/v1/cmd-flags` reports them."""
    values = vars(parsed)
    data_dir = values.get("data_dir") or os.getcwd()
    models_dir = values.get("models_dir") or os.path.join(data_dir, "models")
    result: dict[str, Any] = {}
    for flag, _kind, default in FLAGS:
        key = dest(flag)
        given = values.get(key)
        result[key] = given if given is not None else resolve_default(default, data_dir, models_dir)
    return result


def _knob(parsed: argparse.Namespace, env: Mapping[str, str], name: str) -> Any:
    value = getattr(parsed, f"emu_{dest(name)}")
    if value is not None:
        return value
    variable, kind, _ = EMU_KNOBS[name]
    raw = env.get(variable)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{variable}={raw!r}: {exc}") from exc


def _faults(raw_values: Sequence[str]) -> tuple[FaultSpec, ...]:
    specs: list[FaultSpec] = []
    adapter = TypeAdapter(FaultSpec | list[FaultSpec])
    for raw in raw_values:
        try:
            parsed = adapter.validate_python(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            raise ConfigError(f"bad fault {raw!r}: {exc}") from exc
        specs.extend(parsed if isinstance(parsed, list) else [parsed])
    return tuple(specs)


def _linear_attention(choice: str | None, flags: dict[str, Any]) -> bool:
    if choice in ("linear", "quadratic"):
        return choice == "linear"
    if choice not in (None, "auto"):
        raise ConfigError(f"--emu-attention must be auto, linear or quadratic, not {choice!r}")
    memory_efficient = ("xformers", "force_enable_xformers", "opt_sdp_attention", "opt_sub_quad_attention")
    if any(flags[key] for key in memory_efficient):
        return True
    # A1111 picks a split-attention optimisation by itself unless told not to.
    return not flags["disable_opt_split_attention"]


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> EmulatorConfig:
    """The configuration for `argv` (webui.py's flags; unknown ones are ignored) and `env`.

    Raises ConfigError for an unusable emulator knob, and ValueError for a malformed `--api-auth`
    (which A1111 does not catch either: the process dies with it).
    """
    parsed, _unknown = build_parser().parse_known_args(list(argv))
    flags = a1111_namespace(parsed)
    explicit_settings = parsed.ui_settings_file or (
        os.path.join(parsed.data_dir, "config.json") if parsed.data_dir else None
    )
    load_all = _knob(parsed, env, "load-s")
    load_s: dict[Arch, float] = {}
    for arch, name in ((Arch.SD15, "load-s-sd15"), (Arch.SDXL, "load-s-sdxl")):
        value = _knob(parsed, env, name)
        if value is not None or load_all is not None:
            load_s[arch] = float(value if value is not None else load_all)
    mode = _knob(parsed, env, "sampler-mode") or "1.10"
    if mode not in ("1.10", "1.9"):
        raise ConfigError(f"--emu-sampler-mode must be 1.10 or 1.9, not {mode!r}")
    raw_faults = [*([env[_FAULTS_ENV]] if env.get(_FAULTS_ENV) else []), *parsed.emu_fault]
    return EmulatorConfig(
        a1111_flags=flags,
        host=flags["server_name"] or ("0.0.0.0" if flags["listen"] else None),
        port=flags["port"] or DEFAULT_PORT,
        ckpt_dir=_path(flags["ckpt_dir"]),
        ckpt=_path(flags["ckpt"]),
        lora_dir=_path(flags["lora_dir"]),
        embeddings_dir=_path(flags["embeddings_dir"]),
        settings_file=_path(explicit_settings),
        hashing=not flags["no_hashing"],
        linear_attention=_linear_attention(_knob(parsed, env, "attention"), flags),
        precision=Precision(no_half=bool(flags["no_half"]), no_half_vae=bool(flags["no_half_vae"])),
        api_auth=parse_api_auth(flags["api_auth"]),
        skip_load_model_at_start=bool(flags["skip_load_model_at_start"]),
        api_server_stop=bool(flags["api_server_stop"]),
        timeout_keep_alive_s=int(flags["timeout_keep_alive"]),
        admin_from_network=bool(flags["server_name"] or flags["listen"]),
        time_scale=_positive(_knob(parsed, env, "time-scale"), 1.0, "time-scale", allow_zero=True),
        vram_mb=_positive(_knob(parsed, env, "vram-mb"), 24576.0, "vram-mb"),
        gpu=GpuIdentity(
            index=host_index(env, flags["device_id"]),
            name=_label_value(_knob(parsed, env, "gpu-name") or DEFAULT_NAME, "gpu-name"),
            hostname=socket.gethostname(),
        ),
        gpu_speed=_positive(_knob(parsed, env, "gpu-speed"), 1.0, "gpu-speed"),
        load_s=load_s,
        faults=_faults(raw_faults),
        sampler_mode=mode,
        version=_knob(parsed, env, "version") or DEFAULT_VERSION,
        seed=_knob(parsed, env, "seed"),
        log_level=_knob(parsed, env, "log-level") or "warning",
    )


def _label_value(value: str, name: str) -> str:
    """A value dcgm-exporter's template can print between quotes as it is (it escapes nothing)."""
    if any(char in value for char in '"\\\n'):
        raise ConfigError(f"--emu-{name} cannot contain quotes, backslashes or newlines: {value!r}")
    return value


def _positive(value: Any, default: float, name: str, *, allow_zero: bool = False) -> float:
    number = float(default if value is None else value)
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigError(f"--emu-{name} must be positive, not {number}")
    return number
