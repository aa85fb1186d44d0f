"""`make real-a1111`, first step: check the A1111 install, make the fixtures, say what is missing.

    python -m tests.real_a1111.prepare        exit 0: ready; 2: something is missing (each printed)

The install itself is not made here: it is fetched code, and this project neither carries it nor a
recipe that builds it (docs/emulator.md, "Proof on the real A1111"). The fixtures are ours:

- `vol/`: the model volume, from `fixtures/make_models.py` (numpy, this interpreter; ~40 s and 4.1 GB the
  first time, nothing when the files are current);
- `hf_home/`: the CLIP tokenizer and text-encoder config A1111 would download, from
  `fixtures/make_tokenizer.py`, run by A1111's interpreter (it reads the BPE table of A1111's installed
  open_clip and checks the result with A1111's transformers, offline).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.real_a1111.environment import (
    MODULES,
    Fixtures,
    Install,
    fixtures_from_env,
    install_from_env,
)
from tests.real_a1111.fixtures.make_models import make_volume

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MIN_AVAILABLE_GIB = 10.0  # A1111 on a CPU: ~5.4 GB idle, ~10 GB with a LoRA and a checkpoint switch

_MODULE_PROBE = """
import importlib.util, json, sys
print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]))
"""


def module_problems(install: Install) -> list[str]:
    """Modules A1111 imports at start that its interpreter cannot find (found, not imported: fast)."""
    try:
        answer = subprocess.run(
            [str(install.python), "-c", _MODULE_PROBE, *MODULES],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"A1111_PYTHON={install.python} does not run: {exc}"]
    missing: list[str] = json.loads(answer.stdout)
    return [f"A1111_PYTHON={install.python}: module {name!r} is not installed" for name in missing]


def make_fixtures(install: Install, fixtures: Fixtures) -> list[Path]:
    """Make (or keep) every fixture; returns their paths. Raises CalledProcessError if the tokenizer
    cache cannot be built or does not load in A1111's transformers."""
    started = time.monotonic()
    files = [made.path for made in make_volume(fixtures.volume)]
    subprocess.run(
        [
            str(install.python),
            str(FIXTURES / "make_tokenizer.py"),
            "--hf-home",
            str(fixtures.hf_home),
            "--verify",
        ],
        check=True,
        env={"PATH": "/usr/bin:/bin", **fixtures.env()},
    )
    files.append(fixtures.hf_home / "hub" / "version.txt")
    print(f"fixtures ready in {fixtures.root} ({time.monotonic() - started:.1f} s)")
    return files


def available_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def main() -> int:
    install, problems = install_from_env()
    if install is not None:
        problems += module_problems(install)
    if install is None or problems:
        print("The real-A1111 tier cannot run here:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    fixtures = fixtures_from_env()
    files = make_fixtures(install, fixtures)
    manifest = {"a1111_home": str(install.home), "files": [str(path) for path in files]}
    fixtures.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    free = available_gib()
    if free is not None and free < MIN_AVAILABLE_GIB:
        print(f"warning: {free:.1f} GiB of memory available; A1111 on a CPU needs ~10 GiB at its peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
