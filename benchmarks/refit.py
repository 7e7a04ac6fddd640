"""Refitting in the same process: M1 (sleepstudy) on resampled data, after a first fit.

    python benchmarks/refit.py [--refits 3] [--ways auto nutpie-cache pymc]

For each way, in a fresh process: one fit of ``Reaction ~ Days + (Days | Subject)`` on the
bundled data, then ``--refits`` fits on data resampled within each subject (the same shapes
and levels, other values), each timed in full: building the model from the DataFrame,
sampling 2 chains of 1000 + 1000 draws, and the log-likelihood. Prints a markdown table with
the first fit's time and the median refit's.

- ``auto``: ``Model.fit()`` as it is; with bayesmm[jax] installed, NumPyro, whose compiled
  sampler is reused by the refits.
- ``nutpie-cache``: ``fit(cache=CompiledCache())``: nutpie, compiled once for reuse.
- ``pymc``: PyMC's sampler, which compiles in every fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMULA = "Reaction ~ Days + (Days | Subject)"


def _one_way(way: str, refits: int) -> dict:
    sys.path.insert(0, str(HERE.parent / "src"))
    import bayesmm as bmm
    from bayesmm.backend.programs.compiled import CompiledCache

    data = bmm.load_data("sleepstudy")
    options: dict = {"draws": 1000, "tune": 1000, "chains": 2, "progressbar": False}
    if way == "nutpie-cache":
        options.update(inference_method="nutpie", cache=CompiledCache())
    elif way == "pymc":
        options["inference_method"] = "pymc"
    times = []
    for i in range(refits + 1):
        sample = data if i == 0 else _resample(data, seed=i)
        start = time.perf_counter()
        idata = bmm.Model(FORMULA, sample).fit(random_seed=i, **options)
        times.append(time.perf_counter() - start)
    return {"way": way, "sampler": idata.attrs["inference_method"], "times": times}


def _resample(data, seed: int):
    return data.groupby("Subject", observed=True).sample(frac=1, replace=True, random_state=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refits", type=int, default=3)
    parser.add_argument("--ways", nargs="+", default=["auto", "nutpie-cache", "pymc"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(_one_way(args.one, args.refits)))
        return
    print("| way | sampler | first fit s | refit s (median) | refits s |")
    print("|---|---|---|---|---|")
    for way in args.ways:
        command = [sys.executable, __file__, "--one", way, "--refits", str(args.refits)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        result = json.loads(out.split("RESULT ", 1)[1])
        first, *rest = result["times"]
        print(
            f"| {way} | {result['sampler']} | {first:.2f} | {statistics.median(rest):.2f} | "
            + ", ".join(f"{t:.2f}" for t in rest)
            + " |"
        )


if __name__ == "__main__":
    main()
