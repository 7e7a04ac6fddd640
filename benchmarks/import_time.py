"""The wall time of ``import bayesmm`` in a fresh process, against ``import pymc`` in the same run.

    python benchmarks/import_time.py
    python benchmarks/import_time.py --repeats 15 --other /path/to/another/checkout

Every figure is a fresh interpreter running ``python -c "import <module>"``, timed from
start to exit; the cases run interleaved (one of each, then again), after one warm-up each
that also writes the bytecode caches, so that a slow spell of a shared machine falls on every
case alike. ``import bayesmm`` runs with ``PYTHONPATH=<this repository>/src``, and with
``--other`` also with ``PYTHONPATH=<other>/src``: an older checkout, say, timed in the same
run. The target: ``import bayesmm`` at most 0.3 times ``import pymc``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: the processor name from platform will do
    return f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}"


def _time_import(python: str, module: str, source: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    subprocess.run([python, "-c", f"import {module}"], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each case")
    parser.add_argument("--other", type=Path, help="another source tree, timed beside this one")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to time")
    args = parser.parse_args()

    cases = {"import bayesmm": ("bayesmm", ROOT / "src")}
    if args.other is not None:
        cases[f"import bayesmm ({args.other.name})"] = ("bayesmm", args.other.resolve() / "src")
    cases["import pymc"] = ("pymc", ROOT / "src")

    for module, source in cases.values():  # warm-up: bytecode caches, the disk cache
        _time_import(args.python, module, source)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, (module, source) in cases.items():
            times[name].append(_time_import(args.python, module, source))

    pymc = statistics.median(times["import pymc"])
    print(f"{_machine()}; {args.repeats} fresh processes each, interleaved")
    print(f"{'case':<40} {'median s':>9} {'range s':>13} {'/ pymc':>7}")
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"{name:<40} {median:>9.2f} {spread:>13} {median / pymc:>6.2f}x")
    print("target: import bayesmm at most 0.30x import pymc")


if __name__ == "__main__":
    main()
