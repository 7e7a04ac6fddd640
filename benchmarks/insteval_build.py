"""How long the InstEval model takes to build, and how much memory, in a fresh process.

    python benchmarks/insteval_build.py

Builds ``y ~ service + (1|s) + (1|d) + (1|dept)`` on lme4's InstEval (73,421 rows; 2,972
students, 1,128 lecturers, 14 departments): the design (formula parsing, encoding, default
priors) and the PyMC model, without sampling. Prints the seconds of each step and the
process's peak resident memory. The target is under 10 s and under 2 GB.
"""

from __future__ import annotations

import resource
import sys
import time


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024**2  # KiB on Linux


def main() -> None:
    start = time.perf_counter()
    import bayesmm as bmm
    from bayesmm.backend import pymc  # noqa: F401  (import cost is reported on its own)

    imported = time.perf_counter()
    data = bmm.load_data("InstEval")
    loaded = time.perf_counter()
    baseline = _peak_rss_mb()

    model = bmm.Model("y ~ service + (1|s) + (1|d) + (1|dept)", data)
    designed = time.perf_counter()
    model.build()
    built = time.perf_counter()
    logp = model.backend.model.compile_logp()
    logp(model.backend.model.initial_point())
    compiled = time.perf_counter()

    levels = {t.name: len(t.levels) for t in model.design.group_terms}
    print(f"rows: {model.design.n_obs}, group levels: {levels}")
    print(f"import bayesmm + pymc:      {imported - start:6.2f} s")
    print(f"load data:                  {loaded - imported:6.2f} s")
    print(f"Model(...) (design+priors): {designed - loaded:6.2f} s")
    print(f"build PyMC model:           {built - designed:6.2f} s")
    print(f"BUILD TOTAL (Model+build):  {built - loaded:6.2f} s   (target < 10 s)")
    print(f"compile + evaluate logp:    {compiled - built:6.2f} s   (first use, not part of build)")
    print(f"peak memory after import:   {baseline:6.0f} MB")
    print(f"PEAK MEMORY (whole run):    {_peak_rss_mb():6.0f} MB   (target < 2048 MB)")


if __name__ == "__main__":
    main()
