"""Fixtures: a model volume of small but real safetensors files, and `a1111_emulator`, a factory of real
`python -m emulator` child processes started with the flags our workers give a real A1111."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from worker.stack.samples import Architecture, write_checkpoint, write_lora

SD15 = "deliberate_v6.safetensors"
SDXL = "jib_mix_illustrious_realistic_v2.safetensors"
# The command line of DESIGN.md, minus the paths and port the fixture fills in.
WORKER_FLAGS = (
    "--xformers", "--no-half-vae", "--skip-python-version-check", "--skip-torch-cuda-test", "--skip-install",
    "--opt-sdp-attention", "--disable-safe-unpickle", "--api", "--nowebui", "--skip-version-check",
    "--no-hashing", "--no-download-sd-model",
)  # fmt: skip
FAST = "0.01"  # time scale: a 20-step SD1.5 512x512 job takes ~10 ms


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/{checkpoints,loras,embeddings} with one SD1.5 and one SDXL checkpoint and a LoRA of each."""
    root = tmp_path_factory.mktemp("emulator-volume") / "models"
    write_checkpoint(root / "checkpoints" / SD15, Architecture.SD15)
    write_checkpoint(root / "checkpoints" / SDXL, Architecture.SDXL)
    write_lora(
        root / "loras" / "boring_reality_v4.safetensors", Architecture.SD15, output_name="BoringReality"
    )
    write_lora(root / "loras" / "detail_tweaker_xl.safetensors", Architecture.SDXL, rank=8)
    (root / "embeddings").mkdir(parents=True, exist_ok=True)
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmulatorProcess:
    """One running emulator; `http` is a client on its base URL."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def txt2img(self, **payload: Any) -> httpx.Response:
        return self.http.post("/sdapi/v1/txt2img", json=payload)

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/emulator/v1/stats").json()
        return body

    def wait_loaded(self, timeout_s: float = 20.0) -> None:
        """Returns once the start-up checkpoint load has finished."""
        deadline = time.monotonic() + timeout_s
        while self.stats()["model_loading"]:
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator's initial load did not finish")
            time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        _signal_group(self.process.pid, signal.SIGKILL)  # anything the group left behind


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_answering(proc: EmulatorProcess, timeout_s: float) -> None:
    """Returns once the server answers HTTP; raises with its log if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.process.returncode}:\n{proc.log()[-3000:]}")
        try:
            httpx.get(proc.url + "/sdapi/v1/sd-models", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"emulator did not answer within {timeout_s} s:\n{proc.log()[-3000:]}")


def launch(
    models_dir: Path,
    log_path: Path,
    *extra: str,
    env: Mapping[str, str] | None = None,
    ckpt: str | None = SD15,
    flags: tuple[str, ...] = WORKER_FLAGS,
) -> EmulatorProcess:
    """Start `python -m emulator` in its own process group, with A1111's flags and a free port."""
    port = free_port()
    args = [
        sys.executable, "-m", "emulator", *flags,
        "--ckpt-dir", str(models_dir / "checkpoints"), "--lora-dir", str(models_dir / "loras"),
        "--embeddings-dir", str(models_dir / "embeddings"), "--port", str(port),
    ]  # fmt: skip
    if ckpt is not None:
        args += ["--ckpt", str(models_dir / "checkpoints" / ckpt)]
    args += list(extra)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("A1111_EMU_")}
    child_env.update({"PYTHONUNBUFFERED": "1", "A1111_EMU_TIME_SCALE": FAST, **(env or {})})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True
        )
    return EmulatorProcess(process, port, log_path)


StartEmulator = Callable[..., EmulatorProcess]


def _factory(models_dir: Path, log_dir: Path) -> tuple[StartEmulator, list[EmulatorProcess]]:
    started: list[EmulatorProcess] = []

    def start(
        *extra: str,
        env: Mapping[str, str] | None = None,
        ckpt: str | None = SD15,
        flags: tuple[str, ...] = WORKER_FLAGS,
        wait: bool = True,
        loaded: bool = True,
        answer_timeout_s: float = 30.0,
    ) -> EmulatorProcess:
        log_path = log_dir / f"emulator-{len(started)}.log"
        proc = launch(models_dir, log_path, *extra, env=env, ckpt=ckpt, flags=flags)
        started.append(proc)
        if wait:
            wait_answering(proc, answer_timeout_s)
            if loaded:
                proc.wait_loaded()
        return proc

    return start, started


@pytest.fixture
def a1111_emulator(models_dir: Path, tmp_path: Path) -> Iterator[StartEmulator]:
    """Start emulators: `start(*extra_flags, env=..., ckpt=SD15, wait=True, loaded=True)`; all are
    stopped (their whole process group) after the test."""
    start, started = _factory(models_dir, tmp_path)
    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def module_emulator(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartEmulator]:
    """Like `a1111_emulator`, but the processes live for the whole test module."""
    start, started = _factory(models_dir, tmp_path_factory.mktemp("module-emulators"))
    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def shared_emulator(module_emulator: StartEmulator) -> EmulatorProcess:
    """One default emulator for a module's read-only tests (none of them may change its options)."""
    return module_emulator()
