"""`python -m bench [ID ...] [--smoke]`: run benchmarks (all by default), print each one's table, and
write `bench/results/<ID>.json`. `--smoke` runs one short iteration of each, so they cannot rot; no
benchmark ever fails for missing its target."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

BENCHMARKS = {
    "B1": "bench.b1_overhead",
    "B2": "bench.b2_busy",
    "B3": "bench.b3_affinity",
    "B4": "bench.b4_oom",
    "B5": "bench.b5_api",
    "B7": "bench.b7_memory",
    "B8": "bench.b8_job_lists",
    "B9": "bench.b9_quality_stats",
    "B10": "bench.b10_quality_calibration",
}


def _module(benchmark_id: str) -> ModuleType:
    return importlib.import_module(BENCHMARKS[benchmark_id])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", metavar="ID", help=f"some of {', '.join(BENCHMARKS)}")
    parser.add_argument("--smoke", action="store_true", help="one short iteration of each")
    for module in map(_module, BENCHMARKS):
        group = parser.add_argument_group(f"{module.ID}: {module.TITLE}")
        module.add_arguments(group)
    args = parser.parse_args(argv)
    unknown = [i for i in args.ids if i.upper() not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for benchmark_id in [i.upper() for i in args.ids] or list(BENCHMARKS):
        report = _module(benchmark_id).run(args)
        report.print()
        path = report.write()
        print(f"  written to {path}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
