"""Many fits of one structure: refits, fit_many (vectorised, a process pool, Dask), memory.

    python benchmarks/many_fits.py                  # everything (about 6 minutes on 2 cores)
    python benchmarks/many_fits.py --parts refit    # only the refit times
    python benchmarks/many_fits.py --parts first    # the first fit in a fresh process
    python benchmarks/many_fits.py --parts first --peer-python /path/to/bambi-env/bin/python
    python benchmarks/many_fits.py --parts first --readme-env /tmp/readme-env

Each part runs in a fresh process. The two models:

- ``small``: ``y ~ x + (1|g)``, 64 simulated rows in 8 groups, a new data set per fit,
  2 chains of 500 + 500 draws;
- ``sleepstudy``: ``Reaction ~ Days + (Days | Subject)``, the bundled data resampled within
  each subject per fit, 2 chains of 1000 + 1000 draws.

Parts:

- ``refit``: a loop of ``bmm.Model(...).fit()`` with the defaults after one warm-up fit;
  each fit timed in full (building the model from the DataFrame, sampling, log-likelihood);
  the median and the sampling time alone;
- ``many``: fits per second of 100 small fits (20 sleepstudy fits) sequentially with
  ``fit_many``, with ``fit_many(vectorize=True)``, on a ``ProcessPoolExecutor`` of 2
  workers, and on a Dask ``LocalCluster`` of 2 worker processes; a pool's figure includes
  its start and each worker's first compile, as a user's call would;
- ``memory``: RSS and memory mappings after 10, 100 and 300 small fits, on the default route
  and on nutpie (50 + 50 draws);
- ``first``: the first fit of sleepstudy in a fresh process with a warm compile cache, from
  process start to exit, imports included; with ``--peer-python``, Bambi's in that
  interpreter (Bambi 0.17.2 wants its own environment), the runs interleaved; with
  ``--readme-env DIR``, also in the virtualenv that the README's set-up command makes
  (``python3 -m venv DIR && DIR/bin/pip install -q .``, run here when ``DIR`` has none), so
  the figure is a plain install's and not this environment's, with its extras.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

SMALL = {"draws": 500, "tune": 500, "chains": 2}
SLEEP = {"draws": 1000, "tune": 1000, "chains": 2}


def small_data(seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(8), 8)
    x = rng.normal(size=64)
    y = 1 + 0.5 * x + rng.normal(size=8)[g] + rng.normal(size=64)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str))})


def sleep_data(seed: int):
    import bayesmm as bmm

    data = bmm.load_data("sleepstudy")
    if seed == 0:
        return data
    return data.groupby("Subject", observed=True).sample(frac=1, replace=True, random_state=seed)


def model(case: str, seed: int):
    import bayesmm as bmm

    if case == "small":
        prior = {"x": bmm.Prior("Normal", mu=0, sigma=1)}
        return bmm.Model("y ~ x + (1|g)", small_data(seed), priors=prior)
    return bmm.Model("Reaction ~ Days + (Days | Subject)", sleep_data(seed))


def _options(case: str) -> dict:
    return SMALL if case == "small" else SLEEP


def part_refit(case: str, fits: int) -> dict:
    times, sampling = [], []
    for i in range(fits + 1):
        start = time.perf_counter()
        idata = model(case, i).fit(random_seed=i, progressbar=False, **_options(case))
        if i:
            times.append(time.perf_counter() - start)
            sampling.append(idata.posterior.attrs.get("sampling_time", float("nan")))
    return {
        "sampler": idata.attrs["inference_method"],
        "median": statistics.median(times),
        "sampling": statistics.median(sampling),
        "max": max(times),
        "over_1s": sum(t > 1.0 for t in times),
        "fits": len(times),
    }


def part_many(case: str, fits: int, way: str) -> dict:
    import bayesmm as bmm

    models = [model(case, i) for i in range(fits)]
    start = time.perf_counter()
    if way in ("sequential", "vectorised"):
        # A warm-up fit first: the pools below pay their workers' compiles in their figure.
        bmm.fit_many(models[:2], random_seed=0, progressbar=False, **_options(case))
        start = time.perf_counter()
        fitted = bmm.fit_many(
            models,
            random_seed=1,
            vectorize=way == "vectorised",
            progressbar=False,
            **_options(case),
        )
    elif way == "process pool":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2) as pool:
            fitted = bmm.fit_many(models, pool, random_seed=1, progressbar=False, **_options(case))
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            fitted = bmm.fit_many(
                models, client, random_seed=1, progressbar=False, **_options(case)
            )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "fits_per_s": fits / seconds, "failed": len(fitted.failures)}


def _usage() -> tuple[float, int]:
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    with open("/proc/self/maps") as maps:
        return rss / 1024, sum(1 for _ in maps)


def part_memory(method: str) -> dict:
    seen = {}
    for i in range(300):
        model("small", i).fit(
            draws=50, tune=50, chains=2, random_seed=i, progressbar=False, inference_method=method
        )
        if i + 1 in (10, 100, 300):
            seen[i + 1] = _usage()
    return seen


def part_first() -> dict:
    import bayesmm as bmm

    idata = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy")).fit(
        random_seed=1, progressbar=False, **SLEEP
    )
    return {"sampler": idata.attrs["inference_method"]}


def _child(*args: str, python: str = sys.executable) -> dict:
    command = [python, __file__, "--child", *args]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    total = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    result["process_s"] = total
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["refit", "many", "memory", "first"])
    parser.add_argument(
        "--peer-python",
        help="an interpreter with bambi installed: the first-fit part times Bambi too",
    )
    parser.add_argument(
        "--readme-env",
        type=Path,
        help="a virtualenv made by the README's install command (made there if missing): "
        "the first-fit part times bayesmm in it too",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part, *rest = args.child
        functions = {"refit": part_refit, "many": part_many, "memory": part_memory}
        if part == "first":
            result = part_first()
        elif part == "memory":
            result = part_memory(rest[0])
        else:
            result = functions[part](rest[0], int(rest[1]), *rest[2:])
        print("RESULT " + json.dumps(result))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if "refit" in args.parts:
        print(
            "\n| model | sampler | refit s (median) | sampling s (median) | slowest s "
            "| refits over 1 s |"
        )
        print("|---|---|---|---|---|---|")
        for case, fits in (("small", 10), ("sleepstudy", 10)):
            r = _child("refit", case, str(fits))
            print(
                f"| {case} | {r['sampler']} | {r['median']:.2f} | {r['sampling']:.2f} | "
                f"{r['max']:.2f} | {r['over_1s']} of {r['fits']} |"
            )
    if "many" in args.parts:
        print("\n| model | fits | way | seconds | fits/s |")
        print("|---|---|---|---|---|")
        for case, fits in (("small", 100), ("sleepstudy", 20)):
            for way in ("sequential", "vectorised", "process pool", "dask"):
                r = _child("many", case, str(fits), way)
                print(f"| {case} | {fits} | {way} | {r['seconds']:.1f} | {r['fits_per_s']:.2f} |")
    if "memory" in args.parts:
        print("\n| route | after 10 fits: RSS MB, mappings | after 100 | after 300 |")
        print("|---|---|---|---|")
        for method in ("auto", "nutpie"):
            r = _child("memory", method)
            cells = [f"{r[k][0]:.0f}, {r[k][1]}" for k in ("10", "100", "300")]
            print(f"| {method} | " + " | ".join(cells) + " |")
    if "first" in args.parts:
        first(args.peer_python, _readme_python(args.readme_env) if args.readme_env else None)


#: Bambi's first fit of sleepstudy, with the same draws, in the peer's interpreter.
_PEER = """
import sys
import bambi as bmb
import pandas as pd
data = pd.read_csv(sys.argv[1])
bmb.Model("Reaction ~ Days + (Days | Subject)", data).fit(
    draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False
)
"""


def _peer(python: str, csv: str) -> float:
    start = time.perf_counter()
    out = subprocess.run([python, "-c", _PEER, csv], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return time.perf_counter() - start


def _readme_python(env: Path) -> str:
    """The interpreter of ``env``, a virtualenv made by the README's set-up command."""
    python = env / "bin" / "python"
    if not python.exists():
        # As the README has it: python3 -m venv .venv && .venv/bin/pip install -q .
        subprocess.run(["python3", "-m", "venv", str(env)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(HERE.parent)], check=True)
    return str(python)


def first(peer_python: str | None, readme_python: str | None = None) -> None:
    """The first fit in a fresh process, median of 3 after one that fills the caches; with
    ``peer_python``, Bambi's the same way, and with ``readme_python``, bayesmm's in the
    README's install, the runs interleaved (the machine's speed drifts)."""
    import tempfile

    import bayesmm as bmm

    csv = os.path.join(tempfile.mkdtemp(), "sleepstudy.csv")
    bmm.load_data("sleepstudy").to_csv(csv, index=False)
    _child("first")  # fills the compile caches, as a user's earlier session would
    if peer_python:
        _peer(peer_python, csv)
    if readme_python:
        _child("first", python=readme_python)
    ours, theirs, readme = [], [], []
    for _ in range(3):
        ours.append(_child("first")["process_s"])
        if peer_python:
            theirs.append(_peer(peer_python, csv))
        if readme_python:
            readme.append(_child("first", python=readme_python))
    print(
        f"\nfirst fit of sleepstudy in a fresh process, warm caches: "
        f"{statistics.median(ours):.2f} s (median of 3; process start to exit)"
    )
    if readme:
        print(
            f"the same in the README's install ({readme_python}): "
            f"{statistics.median(r['process_s'] for r in readme):.2f} s (median of 3), "
            f"sampler {readme[-1]['sampler']}"
        )
    if theirs:
        peer = statistics.median(theirs)
        print(
            f"Bambi the same way: {peer:.2f} s (median of 3): bayesmm takes "
            f"{statistics.median(ours) / peer:.2f}x Bambi's time"
        )
        if readme:
            plain = statistics.median(r["process_s"] for r in readme)
            print(f"in the README's install, bayesmm takes {plain / peer:.2f}x Bambi's time")


if __name__ == "__main__":
    main()
