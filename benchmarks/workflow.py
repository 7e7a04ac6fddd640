"""Time cross-validation by refitting on sleepstudy: 10-fold CV of rows and
leave-one-group-out (18 subjects), in-process and on a Dask ``LocalCluster`` of 2 worker
processes (``docs/workflow.md``).

``Reaction ~ Days + (Days | Subject)``, 500 draws and 500 tuning draws per chain, 2 chains,
the default sampler. Each figure is the wall time of one ``bmm.kfold`` call: the fold fits
and the fit of all the rows (11 or 19 fits), with the cluster's start-up included for Dask.

    python benchmarks/workflow.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
import warnings

import bayesmm as bmm

FIT = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False}


def _run(model: bmm.Model, way: str, groups: str | None) -> tuple[float, float, int]:
    split = {"groups": groups} if groups else {"k": 10}
    start = time.perf_counter()
    if way == "in-process":
        result = bmm.kfold(model, random_seed=1, **split, **FIT)
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            result = bmm.kfold(model, random_seed=1, executor=client, **split, **FIT)
    seconds = time.perf_counter() - start
    return seconds, float(result.elpd_loo), len(result.fits.folds) + 1


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {platform.machine()}")
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
    print("| split | way | fits | seconds | fits/s | elpd |")
    print("|---|---|---|---|---|---|")
    for label, groups in (("10 folds of rows", None), ("leave one subject out", "Subject")):
        for way in ("in-process", "Dask, 2 workers"):
            seconds, elpd, fits = _run(model, way, groups)
            print(
                f"| {label} | {way} | {fits} | {seconds:.1f} | {fits / seconds:.2f} | {elpd:.1f} |"
            )


if __name__ == "__main__":
    main()
