"""The emulator's settings, built once at start-up from A1111's flags and the emulator's own knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.faults import FaultSpec
from emulator.gpu.identity import GpuIdentity
from emulator.gpu.vram import Precision
from emulator.models.arch import Arch

DEFAULT_PORT = 7861  # A1111's port with --nowebui (webui.py:43)
DEFAULT_VERSION = "v1.10.1"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the server needs; `a1111_flags` is the argparse namespace `/cmd-flags` reports."""

    a1111_flags: dict[str, Any]
    # what uvicorn binds: --server-name, else 0.0.0.0 with --listen, else None, which uvicorn hands to
    # asyncio's create_server as "every interface" (initialize_util.py:10-16, api.py:905-915)
    host: str | None = None
    port: int = DEFAULT_PORT
    ckpt_dir: Path | None = None
    ckpt: Path | None = None
    lora_dir: Path | None = None
    embeddings_dir: Path | None = None
    settings_file: Path | None = None  # written by POST /options only when given explicitly
    hashing: bool = True
    linear_attention: bool = True
    precision: Precision = field(default_factory=Precision)
    api_auth: dict[str, str] = field(default_factory=dict)
    skip_load_model_at_start: bool = False
    api_server_stop: bool = False
    timeout_keep_alive_s: int = 30
    admin_from_network: bool = False  # --listen or --server-name: the admin API's faults accept any client
    # emulator-only knobs (--emu-* flags, A1111_EMU_* variables)
    time_scale: float = 1.0
    vram_mb: float = 24576.0
    gpu: GpuIdentity = field(default_factory=GpuIdentity)  # what telemetry calls the card
    gpu_speed: float = 1.0  # throughput relative to the reference card (RTX 4080)
    load_s: dict[Arch, float] = field(default_factory=dict)  # overrides of the per-arch load times
    faults: tuple[FaultSpec, ...] = ()
    sampler_mode: str = "1.10"  # "1.9": legacy or unknown sampler names give 404, as v1.9.x did
    version: str = DEFAULT_VERSION
    seed: int | None = None  # seeds the resolver of seed=-1, for reproducible runs
    log_level: str = "warning"
