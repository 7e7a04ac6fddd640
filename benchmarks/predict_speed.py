"""How fast prediction is, in process, for the sleepstudy model with 2,000 posterior draws.

    python benchmarks/predict_speed.py                    # this checkout
    python benchmarks/predict_speed.py --other ../before  # and another checkout, same run
    python benchmarks/predict_speed.py --other ../before --rounds 3

Fits ``Reaction ~ Days + (Days | Subject)`` once (2 chains x 1,000 draws) and writes the fit
to a temporary file. Each checkout then times the same calls in a fresh process, with its own
``src`` first on ``PYTHONPATH`` and the same posterior read from that file: predictions for 1
row (a fitted subject) and for 10,000 rows (a mix of fitted and new subjects, new ones under
the ``"gaussian"`` policy). Each figure is the median of repeated calls (200 for one row, 7
for 10,000), the best of ``--rounds`` rounds; the checkouts take turns, round by round, so
that both see the same load on a shared machine.

The targets are those of the fast path for small requests: one row's ``point`` and ``draws``
in 0.5 ms and ``Model.predict(kind="response_params")`` in 2 ms; 10,000 rows'
``draws(kind="response")`` in 0.2 s and ``interval`` in 0.4 s; ``Model.predict`` of 10,000
rows no slower than before. The ``same`` column says whether both checkouts gave the same
numbers, bit for bit (a digest of each call's result).

``FittedModel`` stacks the posterior once; ``Model.predict`` builds an InferenceData, and
keeps the stacked posterior of each InferenceData it is given (before that, it stacked it on
every call).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "Reaction ~ Days + (Days | Subject)"

#: (label, rows, target in ms or None): the order in which the calls are timed and printed.
CASES = [
    ("DesignState.encode (the row alone)", 1, None),
    ("FittedModel.point", 1, 0.5),
    ("FittedModel.draws (mean)", 1, 0.5),
    ("FittedModel.interval (90% HDI)", 1, None),
    ("Model.predict (response_params)", 1, 2.0),
    ("FittedModel.draws (mean)", 10_000, None),
    ("FittedModel.draws (kind='response')", 10_000, 200.0),
    ("FittedModel.interval (90% HDI)", 10_000, 400.0),
    ("FittedModel.interval (90% ETI)", 10_000, None),
    ("Model.predict (response_params)", 10_000, "before"),
]


def _digest(result: object) -> str:
    """A short digest of a call's numbers, to compare checkouts bit for bit."""
    if callable(getattr(result, "groups", None)):  # an InferenceData: its predictions
        result = result["predictions"].to_dataframe()  # type: ignore[index]
    if isinstance(result, pd.DataFrame):
        result = result.to_numpy()
    if not isinstance(result, np.ndarray):  # the rows encoded: common matrix, level codes
        parts = [result.common.ravel(), *(g.index for g in result.groups)]  # type: ignore[attr-defined]
        result = np.concatenate(parts)
    return hashlib.sha256(np.ascontiguousarray(result).tobytes()).hexdigest()[:12]


def _median_ms(call: Callable[[], object], repeats: int) -> tuple[float, str]:
    digest = _digest(call())  # also warms caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), digest


def _calls(idata_path: str) -> list[Callable[[], object]]:
    """The calls of ``CASES``, in order, on the posterior read from ``idata_path``."""
    import arviz as az

    import bayesmm as bmm

    data = bmm.load_data("sleepstudy")
    model = bmm.Model(FORMULA, data)
    idata = az.from_netcdf(idata_path)
    for group in idata.groups():
        idata[group].load()  # in memory, as a fit's
    fitted = model.fitted(idata)
    rng = np.random.default_rng(0)
    subjects = np.append(data["Subject"].cat.categories.astype(str), ["new1", "new2"])
    big = pd.DataFrame(
        {"Days": rng.integers(0, 10, 10_000), "Subject": rng.choice(subjects, 10_000)}
    )
    one = big.iloc[:1].assign(Subject="308")
    options = {"sample_new_groups": "gaussian", "random_seed": 1}
    return [
        lambda: model.design.state.encode(one),
        lambda: fitted.point(one),
        lambda: fitted.draws(one),
        lambda: fitted.interval(one, random_seed=1),
        lambda: model.predict(idata, one, kind="response_params"),
        lambda: fitted.draws(big, **options),
        lambda: fitted.draws(big, "response", **options),
        lambda: fitted.interval(big, **options),
        lambda: fitted.interval(big, method="eti", **options),
        lambda: model.predict(idata, big, kind="response_params", **options),
    ]


def _time_calls(idata_path: str) -> None:
    """In a checkout's own process: time every call, print JSON."""
    calls = _calls(idata_path)
    results = []
    for (_, rows, _), call in zip(CASES, calls, strict=True):
        results.append(_median_ms(call, 200 if rows == 1 else 7))
    import bayesmm

    print(json.dumps({"source": str(Path(bayesmm.__file__).parent), "results": results}))


def _run_checkout(root: Path, idata_path: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--time-calls", idata_path],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fit(path: str) -> int:
    import bayesmm as bmm

    logging.getLogger("pymc").setLevel(logging.ERROR)
    model = bmm.Model(FORMULA, bmm.load_data("sleepstudy"))
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    idata.to_netcdf(path)
    return int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])


def _machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = f"Python {platform.python_version()}, numpy {np.__version__}"
    return f"{name}, {os.cpu_count()} logical CPUs; {versions}"


def _verdict(ms: float, target: object, before: float | None) -> str:
    if target is None:
        return ""
    if target == "before":
        return "" if before is None else ("met" if ms <= before * 1.05 else "MISSED")
    return "met" if ms <= float(target) else "MISSED"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--other", type=Path, help="another checkout (its src/), timed in the same run"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds of turns; the best median is kept"
    )
    parser.add_argument("--time-calls", metavar="IDATA", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_calls:
        _time_calls(args.time_calls)
        return
    here = Path(__file__).resolve().parents[1]
    checkouts = {"this": here} | ({"other": args.other.resolve()} if args.other else {})
    with tempfile.TemporaryDirectory() as folder:
        idata_path = str(Path(folder) / "sleepstudy.nc")
        n_draws = _fit(idata_path)
        best: dict[str, list[tuple[float, str]]] = {}
        sources = {}
        for _ in range(max(1, args.rounds)):
            for name, root in reversed(checkouts.items()):  # the other checkout first
                run = _run_checkout(root, idata_path)
                sources[name] = run["source"]
                results = [tuple(r) for r in run["results"]]
                best[name] = [
                    min(a, b) for a, b in zip(best.get(name, results), results, strict=True)
                ]
    rounds = f"best of {args.rounds} round(s)"
    print(f"sleepstudy, {n_draws} posterior draws; median of repeated calls (ms), {rounds}")
    print(f"machine: {_machine()}")
    for name, source in sources.items():
        print(f"{name}: {source}")
    header = f"{'call':<38} {'rows':>6} {'this':>9}"
    if "other" in best:
        header += f" {'other':>9} {'same':>5}"
    print(header + f" {'target':>9}")
    for i, (label, rows, target) in enumerate(CASES):
        ms, digest = best["this"][i]
        line = f"{label:<38} {rows:>6} {ms:>9.2f}"
        before = None
        if "other" in best:
            before, other_digest = best["other"][i]
            line += f" {before:>9.2f} {'yes' if digest == other_digest else 'NO':>5}"
        if target is not None:
            shown = "<= other" if target == "before" else f"< {target:g}"
            line += f" {shown:>9} {_verdict(ms, target, before)}"
        print(line)


if __name__ == "__main__":
    main()
