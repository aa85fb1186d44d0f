from __future__ import annotations

import sys
from pathlib import Path

from worker.a1111.command import a1111_command, a1111_env

FLAGS_AFTER_LAUNCHER = (
    "--xformers --no-half-vae --skip-python-version-check --skip-torch-cuda-test --skip-install "
    "--ckpt-dir /vol/models/checkpoints --lora-dir /vol/models/loras --embeddings-dir /vol/models/embeddings "
    "--ckpt /model.safetensors --opt-sdp-attention --disable-safe-unpickle --port 3000 --api --nowebui "
    "--skip-version-check --no-hashing --no-download-sd-model"
).split()  # DESIGN.md, verbatim


def test_the_default_launch_is_python_webui_py_with_the_design_flags() -> None:
    cmd = a1111_command(volume=Path("/vol"), port=3000, ckpt=Path("/model.safetensors"))

    assert cmd == ["python", "webui.py", *FLAGS_AFTER_LAUNCHER]


def test_another_launcher_gets_identical_flags_and_extras_come_last() -> None:
    launcher = [sys.executable, "-m", "emulator"]

    cmd = a1111_command(
        volume=Path("/vol"), port=3000, ckpt="/model.safetensors", launcher=launcher, extra_flags=["--lowram"]
    )

    assert cmd == [*launcher, *FLAGS_AFTER_LAUNCHER, "--lowram"]


def test_env_pins_one_gpu_and_keeps_the_rest() -> None:
    env = a1111_env(3, {"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "PYTHONUNBUFFERED": "0"})

    assert env == {
        "PATH": "/usr/bin",
        "CUDA_VISIBLE_DEVICES": "3",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "PYTHONUNBUFFERED": "0",
    }
