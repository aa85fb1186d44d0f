"""The command line and environment of an A1111 we launch (DESIGN.md "Models and LoRAs", reference §12).

The launcher (`python webui.py` in production, `python -m emulator` in tests) is configurable; the flags
are not, so the stand-in is always started exactly as a real A1111 would be. An operator may append
flags of their own (`SDFLEET_A1111_EXTRA_ARGS`: `--data-dir`, or the CPU flags), but none that would
take a flag of ours back: A1111's argparse lets the last occurrence win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_LAUNCHER: tuple[str, ...] = ("python", "webui.py")


def a1111_command(
    *,
    volume: Path,
    port: int,
    ckpt: Path | str,
    launcher: Sequence[str] = DEFAULT_LAUNCHER,
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The argv of one A1111: the launcher, then our fixed flags in the order DESIGN.md gives them."""
    models = volume / "models"
    return [
        *launcher,
        "--xformers",
        "--no-half-vae",
        "--skip-python-version-check",
        "--skip-torch-cuda-test",
        "--skip-install",
        "--ckpt-dir", str(models / "checkpoints"),
        "--lora-dir", str(models / "loras"),
        "--embeddings-dir", str(models / "embeddings"),
        "--ckpt", str(ckpt),
        "--opt-sdp-attention",
        "--disable-safe-unpickle",
        "--port", str(port),
        "--api",
        "--nowebui",
        "--skip-version-check",
        "--no-hashing",
        "--no-download-sd-model",
        *extra_flags,
    ]  # fmt: skip


# Flags the worker sets, or keeps off, itself: where A1111 listens and who may call it, and which model
# folders it reads (it runs with --disable-safe-unpickle, so a folder of its own could feed it a pickle).
OWN_FLAGS = frozenset(
    {
        *("--port", "--listen", "--server-name", "--share", "--ngrok", "--api-auth"),
        *("--ckpt", "--ckpt-dir", "--lora-dir", "--embeddings-dir", "--models-dir"),
        *("--lyco-dir-backcompat", "--hypernetwork-dir", "--vae-dir", "--vae-path"),
    }
)


def refused_extra_flags(extra_flags: Sequence[str]) -> list[str]:
    """The operator's flags that would override one the worker owns (`--port 9`, `--listen`, `--port=9`)."""
    return [flag for flag in extra_flags if flag.split("=", 1)[0] in OWN_FLAGS]


def a1111_env(gpu_index: int, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with A1111 pinned to one GPU, numbered as `nvidia-smi` numbers them."""
    env = dict(base)
    env["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    # CUDA's own order is "fastest first"; without this, index 1 may be a different card than
    # nvidia-smi's GPU 1 on a host with mixed cards.
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    # A crash's last words must reach the log file before the process dies.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
