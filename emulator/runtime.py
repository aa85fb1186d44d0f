"""Everything one emulator process shares, built once at start-up and handed to the routes."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from emulator.config import EmulatorConfig
from emulator.faults import FaultBook
from emulator.generation.cond_cache import CondCache
from emulator.generation.fifo_lock import FIFOLock
from emulator.generation.progress import SharedState
from emulator.gpu.clock import Clock, SimClock
from emulator.gpu.device import Device
from emulator.gpu.telemetry import Telemetry
from emulator.models.checkpoints import CheckpointList
from emulator.models.loader import ModelLoader
from emulator.models.loras import LoraList
from emulator.models.options import Options
from emulator.stats import Stats


@dataclass
class Runtime:
    config: EmulatorConfig
    clock: Clock
    state: SharedState
    queue_lock: FIFOLock
    options: Options
    checkpoints: CheckpointList
    loras: LoraList
    device: Device
    telemetry: Telemetry
    conds: CondCache
    loader: ModelLoader
    faults: FaultBook
    stats: Stats
    seeds: random.Random
    seeds_lock: threading.Lock

    def random_seed(self) -> int:
        """`random.randrange(4294967294)`, as A1111's get_fixed_seed picks one for -1."""
        with self.seeds_lock:
            return self.seeds.randrange(4294967294)


def build_runtime(config: EmulatorConfig, clock: Clock | None = None) -> Runtime:
    """Scan the model folders and arm the start-up faults; the initial load is started by the server.
    `clock` defaults to one that sleeps at the configured time scale."""
    clock = clock or SimClock(config.time_scale)
    options = Options(config.settings_file)
    checkpoints = CheckpointList(config.ckpt_dir, config.ckpt, hashing=config.hashing)
    cmd_ckpt = checkpoints.refresh()
    if cmd_ckpt is not None:
        options.restore("sd_model_checkpoint", cmd_ckpt.title)  # sd_models.list_models does the same
    loras = LoraList(config.lora_dir, hashing=config.hashing)
    loras.refresh()
    device = Device(config.vram_mb)
    stats = Stats()
    loader = ModelLoader(config, checkpoints, options, device, clock, stats)
    faults = FaultBook()
    faults.add([spec for spec in config.faults if spec.kind != "slow_startup"])
    return Runtime(
        config=config, clock=clock, state=SharedState(), queue_lock=FIFOLock(), options=options,
        checkpoints=checkpoints, loras=loras, device=device, telemetry=Telemetry(clock), conds=CondCache(),
        loader=loader, faults=faults, stats=stats,
        seeds=random.Random(config.seed), seeds_lock=threading.Lock(),
    )  # fmt: skip
