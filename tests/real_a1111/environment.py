"""Where the real-A1111 tier finds its environment, and what is missing when it is not there.

The tier needs an AUTOMATIC1111 v1.10.1 install that already exists on this machine (nothing here
fetches or builds one) and the fixtures `prepare.py` makes from our own scripts:

- `A1111_HOME`: the webui checkout (v1.10.1) with `repositories/` filled as its launcher would;
- `A1111_PYTHON`: its interpreter, with A1111's requirements, torch, torchvision and `clip` installed
  (default: `$A1111_HOME/venv/bin/python`, where webui.sh puts it);
- `REAL_A1111_DIR`: where the fixtures go, `vol/` (the model volume) and `hf_home/` (the offline
  tokenizer cache); default `var/real-a1111`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "var" / "real-a1111"
# The five repositories A1111's launcher clones (modules/launch_utils.py), and a file each must have.
REPOSITORIES = {
    "stable-diffusion-stability-ai": "ldm/models/diffusion/ddpm.py",
    "generative-models": "sgm/models/diffusion.py",
    "k-diffusion": "k_diffusion/sampling.py",
    "BLIP": "models/blip.py",
    "stable-diffusion-webui-assets": "css",
}
# What A1111 imports at start that `--skip-prepare-environment` will not install (`clip`: k-diffusion
# imports it; the launcher would have installed it).
MODULES = ("torch", "torchvision", "transformers", "open_clip", "clip", "pytorch_lightning", "fastapi")
MANIFEST = "fixtures.json"
# Offline: every hub client answers from the local cache; no telemetry.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
# What a CPU needs on top of the worker's flags (--skip-prepare-environment: webui.py accepts and
# ignores launch.py's flag; it says the environment is complete).
CPU_FLAGS = ("--skip-prepare-environment", "--use-cpu", "all", "--no-half", "--precision", "full")


@dataclass(frozen=True)
class Install:
    """An A1111 install found through the environment variables."""

    home: Path
    python: Path

    @property
    def launcher(self) -> list[str]:
        return [str(self.python), str(self.home / "webui.py")]


@dataclass(frozen=True)
class Fixtures:
    """The prepared fixtures: a model volume and an offline Hugging Face cache."""

    root: Path

    @property
    def volume(self) -> Path:
        return self.root / "vol"

    @property
    def hf_home(self) -> Path:
        return self.root / "hf_home"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def env(self) -> dict[str, str]:
        """The environment A1111 needs to start offline with these fixtures."""
        return {"HF_HOME": str(self.hf_home), **OFFLINE_ENV}


def install_from_env(environ: dict[str, str] | None = None) -> tuple[Install | None, list[str]]:
    """The install named by A1111_HOME / A1111_PYTHON, or None and what is missing (one line each)."""
    env = dict(os.environ if environ is None else environ)
    home_text = env.get("A1111_HOME", "").strip()
    if not home_text:
        return None, [
            "A1111_HOME is not set: it must name an AUTOMATIC1111 v1.10.1 checkout with repositories/ "
            "filled (this machine cannot fetch or build one; see docs/emulator.md)"
        ]
    home = Path(home_text).expanduser().absolute()
    python = Path(env.get("A1111_PYTHON", "").strip() or home / "venv" / "bin" / "python").expanduser()
    problems = install_problems(home, python)
    return (None, problems) if problems else (Install(home, python), [])


def install_problems(home: Path, python: Path) -> list[str]:
    """What is missing from an install, checked without starting it (that takes 10-30 s)."""
    problems = []
    if not (home / "webui.py").is_file():
        problems.append(f"A1111_HOME={home}: no webui.py there")
    for name, probe in REPOSITORIES.items():
        if not (home / "repositories" / name / probe).exists():
            problems.append(f"A1111_HOME={home}: repositories/{name}/{probe} is missing")
    if not os.access(python, os.X_OK):
        problems.append(f"A1111_PYTHON={python}: not an executable (set A1111_PYTHON to A1111's python)")
    return problems


def fixtures_from_env(environ: dict[str, str] | None = None) -> Fixtures:
    env = os.environ if environ is None else environ
    text = env.get("REAL_A1111_DIR", "").strip()
    return Fixtures(Path(text).expanduser().absolute() if text else DEFAULT_DIR)


def fixtures_problems(fixtures: Fixtures) -> list[str]:
    """What `prepare.py` has not made yet."""
    if not fixtures.manifest.is_file():
        return [f"{fixtures.manifest} is missing: run `make real-a1111` (it prepares the fixtures first)"]
    made = json.loads(fixtures.manifest.read_text())
    return [
        f"{path} is missing: run `make real-a1111` again" for path in made["files"] if not Path(path).exists()
    ]
