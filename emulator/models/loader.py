"""The loaded checkpoint (A1111's `model_data` and `reload_model_weights`), with simulated load times
and the VRAM its weights hold."""

from __future__ import annotations

import os
import threading

from emulator.config import EmulatorConfig
from emulator.gpu.clock import Clock
from emulator.gpu.device import Device
from emulator.gpu.timing import load_seconds, to_device_seconds
from emulator.gpu.vram import weights_mib
from emulator.models.checkpoints import Checkpoint, CheckpointList
from emulator.models.options import Options
from emulator.stats import Stats


class ModelLoader:
    """Thread-safe. `load_lock` is held for a whole simulated load, like `model_data.lock`."""

    def __init__(
        self, config: EmulatorConfig, checkpoints: CheckpointList, options: Options, device: Device,
        clock: Clock, stats: Stats,
    ) -> None:  # fmt: skip
        self.config = config
        self.checkpoints = checkpoints
        self.options = options
        self.device = device
        self.clock = clock
        self.stats = stats
        self.load_lock = threading.RLock()
        self.loaded: Checkpoint | None = None
        self.on_device = False
        self._in_ram: list[Checkpoint] = []  # most recent first; more than one with sd_checkpoints_limit > 1
        self._initial_done = threading.Event()

    def start(self) -> None:
        """Begin the initial load in a background thread (A1111 listens before the model is ready)."""
        if self.config.skip_load_model_at_start:
            self._initial_done.set()
            return
        threading.Thread(target=self._initial_load, name="initial-model-load", daemon=True).start()

    def _initial_load(self) -> None:
        try:
            self.reload_weights()
        except FileNotFoundError:
            pass  # like A1111: "Stable diffusion model failed to load"; generation will raise
        finally:
            self._initial_done.set()

    def wait_initial_load(self) -> None:
        """Blocks until the start-up load has finished (A1111's `shared.sd_model` blocks the same way)."""
        self._initial_done.wait()

    def is_loading(self) -> bool:
        return not self._initial_done.is_set()

    def select(self) -> Checkpoint:
        """`select_checkpoint`: the configured checkpoint by exact alias, else the first one listed.

        Raises FileNotFoundError when there is no checkpoint at all.
        """
        wanted = self.checkpoints.by_alias(self.options.get("sd_model_checkpoint"))
        if wanted is not None:
            return wanted
        first = self.checkpoints.first()
        if first is None:
            raise FileNotFoundError(self._not_found_message())
        return first

    def reload_weights(self) -> Checkpoint:
        """Make the configured checkpoint the loaded one; a no-op if it already is (even on the CPU).

        Raises FileNotFoundError when there is no checkpoint.
        """
        with self.load_lock:
            target = self.select()
            if self.loaded is not None and self.loaded.filename == target.filename:
                return self.loaded
            self._switch_to(target)
            return target

    def _switch_to(self, target: Checkpoint) -> None:
        cached = next((c for c in self._in_ram if c.filename == target.filename), None)
        if self.loaded is not None and self._keep_in_cpu():
            self.device.drop_resident(f"ckpt:{self.loaded.filename}")
        if cached is not None:
            seconds = to_device_seconds(target.arch, self.config.precision)
        else:
            seconds = self.config.load_s.get(target.arch, load_seconds(target.arch))
        self.clock.sleep(seconds)
        if cached is None:
            self.stats.record_load(target.name, seconds)
        self._in_ram = [target, *[c for c in self._in_ram if c.filename != target.filename]]
        for evicted in self._in_ram[self._limit() :]:
            self.device.drop_resident(f"ckpt:{evicted.filename}")
        self._in_ram = self._in_ram[: self._limit()]
        self.device.set_resident(f"ckpt:{target.filename}", weights_mib(target.arch, self.config.precision))
        self.loaded, self.on_device = target, True
        self.options.restore("sd_model_checkpoint", target.title)
        self.options.restore("sd_checkpoint_hash", target.sha256)

    def unload(self) -> None:
        """unload-checkpoint: weights to RAM."""
        with self.load_lock:
            if self.loaded is not None and self.on_device:
                self.device.drop_resident(f"ckpt:{self.loaded.filename}")
                self.on_device = False

    def to_device(self) -> None:
        """reload-checkpoint: weights back to VRAM."""
        with self.load_lock:
            if self.loaded is not None and not self.on_device:
                self.clock.sleep(to_device_seconds(self.loaded.arch, self.config.precision))
                self.device.set_resident(
                    f"ckpt:{self.loaded.filename}", weights_mib(self.loaded.arch, self.config.precision)
                )
                self.on_device = True

    def require_on_device(self) -> Checkpoint:
        """The model a job runs on. Raises FileNotFoundError with none, and torch's device-mismatch
        RuntimeError after unload-checkpoint (A1111 does not move the weights back by itself)."""
        with self.load_lock:
            if self.loaded is None:
                raise FileNotFoundError(self._not_found_message())
            if not self.on_device:
                raise RuntimeError(
                    "Expected all tensors to be on the same device, but found at least two devices, "
                    "cuda:0 and cpu! (when checking argument for argument mat1 in method wrapper_CUDA_addmm)"
                )
            return self.loaded

    def _limit(self) -> int:
        try:
            return max(1, int(self.options.get("sd_checkpoints_limit")))
        except (TypeError, ValueError):
            return 1

    def _keep_in_cpu(self) -> bool:
        return bool(self.options.get("sd_checkpoints_keep_in_cpu")) or self._limit() == 1

    def _not_found_message(self) -> str:
        lines = ["No checkpoints found. When searching for checkpoints, looked at:"]
        if self.config.ckpt is not None:
            lines.append(f" - file {os.path.abspath(self.config.ckpt)}")
        lines.append(f" - directory {os.path.abspath(os.path.join('models', 'Stable-diffusion'))}")
        if self.config.ckpt_dir is not None:
            lines.append(f" - directory {os.path.abspath(self.config.ckpt_dir)}")
        return (
            "\n".join(lines)
            + "Can't run without a checkpoint."
            + " Find and place a .ckpt or .safetensors file into any of those locations."
        )
