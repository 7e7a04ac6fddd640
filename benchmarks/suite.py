"""The performance suite: bayesmm against hand-written PyMC and NumPyro models (and Bambi).

    python benchmarks/suite.py [--cases M1 M2 M3 M5] [--engines ...] [--repeats 3]
                               [--draws 1000] [--tune 1000] [--chains 2] [--out table.md]

Every run is its own process (``benchmarks/_suite_run.py``), 2 chains of 1,000 tuning and
1,000 kept draws, seed 1. For each case and engine:

- **cold**: one run with empty compile caches (pytensor's compiledir, numba's and JAX's cache
  directories all point into a new temporary folder);
- **warm**: one throwaway run fills that folder, then ``--repeats`` runs reuse it; the table
  shows their medians.

Columns: build, compile and sampling seconds (inside the process), total wall seconds from
process start to exit, minimum bulk ESS over the user-facing parameters, ESS per second of
total time, max R-hat, divergences, peak RSS, and the total as a ratio to the hand-written
PyMC+nutpie model. A last check compares each engine's posterior means (intercept, slopes,
group sds, sigma) with the PyMC+nutpie reference: the difference must be within 4 Monte-Carlo
standard errors of the two. Engines whose packages are missing (NumPyro needs jax; Bambi is
optional) are skipped with a note. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_suite_run.py"
ENGINES = ("bayesmm", "pymc-nutpie", "numpyro", "bambi")
NEEDS = {"numpyro": ("jax", "numpyro"), "bambi": ("bambi",)}
REFERENCE = "pymc-nutpie"


def _run(case: str, engine: str, cache: Path, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"compiledir={cache / 'pytensor'}"
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env["BENCH_JAX_CACHE"] = str(cache / "jax")
    env["BAYESMM_JAX_CACHE"] = str(cache / "jax-bayesmm")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        str(RUNNER),
        case,
        engine,
        "--draws",
        str(args.draws),
        "--tune",
        str(args.tune),
        "--chains",
        str(args.chains),
    ]
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    total = time.perf_counter() - start
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{case} {engine} failed:\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["total"] = total
    return result


def _measure(case: str, engine: str, args: argparse.Namespace) -> dict[str, list[dict]]:
    with tempfile.TemporaryDirectory(prefix="bayesmm-bench-") as folder:
        cache = Path(folder)
        cold = _run(case, engine, cache, args)
        _run(case, engine, cache, args)  # fills what the first run may have left half-done
        warm = [_run(case, engine, cache, args) for _ in range(args.repeats)]
    return {"cold": [cold], "warm": warm}


def _median(runs: list[dict], key: str, inner: str | None = None) -> float:
    values = [r[key][inner] if inner else r[key] for r in runs if not inner or inner in r[key]]
    return statistics.median(values) if values else float("nan")


def _seconds(value: float) -> str:
    """Seconds, or a dash where the engine does not separate the step (NumPyro)."""
    return "–" if value != value else f"{value:.2f}"


def _row(case: str, engine: str, state: str, runs: list[dict], reference: float) -> str:
    total = _median(runs, "total")
    ess = _median(runs, "min_ess")
    cells = [
        case,
        engine,
        state,
        _seconds(_median(runs, "times", "build")),
        _seconds(_median(runs, "times", "compile")),
        _seconds(_median(runs, "times", "sampling")),
        f"{total:.2f}",
        f"{ess:.0f}",
        f"{ess / total:.0f}",
        f"{_median(runs, 'max_rhat'):.3f}",
        f"{max(r['divergences'] for r in runs)}",
        f"{_median(runs, 'peak_rss_mb'):.0f}",
        f"{total / reference:.2f}" if reference == reference else "",
    ]
    return "| " + " | ".join(cells) + " |"


def _agreement(results: dict, case: str) -> list[str]:
    notes = []
    reference = results.get((case, REFERENCE))
    if reference is None:
        return notes
    ref = reference["warm"][0]["compared"]
    for (c, engine), runs in results.items():
        if c != case or engine == REFERENCE:
            continue
        ours = runs["warm"][0]["compared"]
        worst = 0.0
        for name, (mean, mcse) in ours.items():
            if name in ref:
                ref_mean, ref_mcse = ref[name]
                worst = max(worst, abs(mean - ref_mean) / (mcse**2 + ref_mcse**2) ** 0.5)
        verdict = "agree" if worst <= 4 else "DISAGREE"
        notes.append(
            f"- {case} {engine}: posterior means {verdict} with {REFERENCE} "
            f"(largest difference {worst:.1f} MCSE)"
        )
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["M1", "M2", "M3", "M5"])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    skipped = []
    engines = []
    for engine in args.engines:
        missing = [p for p in NEEDS.get(engine, ()) if importlib.util.find_spec(p) is None]
        if missing:
            skipped.append(f"- {engine}: skipped, {missing} not installed")
        else:
            engines.append(engine)
    results = {}
    for case in args.cases:
        for engine in engines:
            print(f"running {case} {engine} ...", file=sys.stderr, flush=True)
            results[(case, engine)] = _measure(case, engine, args)

    header = (
        "| case | engine | cache | build s | compile s | sampling s | total s | min ESS "
        "| ESS/s | max R-hat | divergences | peak RSS MB | total / pymc-nutpie |"
    )
    lines = [header, "|" + "---|" * 13]
    for case in args.cases:
        for state in ("cold", "warm"):
            ref_runs = results.get((case, REFERENCE), {}).get(state)
            reference = _median(ref_runs, "total") if ref_runs else float("nan")
            for engine in engines:
                runs = results[(case, engine)][state]
                lines.append(_row(case, engine, state, runs, reference))
    lines.append("")
    lines.append(
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws); warm rows are "
        f"medians of {args.repeats} runs; cold rows are one run."
    )
    for case in args.cases:
        lines.extend(_agreement(results, case))
    lines.extend(skipped)
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
