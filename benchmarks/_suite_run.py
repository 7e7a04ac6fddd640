"""One configuration of the benchmark suite, in this process; prints one JSON line.

    python benchmarks/_suite_run.py CASE ENGINE [--draws 1000] [--tune 1000] [--chains 2]

Run by ``benchmarks/suite.py``, which sets the compile-cache directories (cold or warm) and
times the whole process. ENGINE is one of ``bayesmm`` (the library's default sampler),
``bayesmm-nutpie``, ``bayesmm-pymc``, ``pymc-nutpie`` (the hand-written PyMC model sampled
with nutpie), ``numpyro`` (the hand-written NumPyro model) and ``bambi``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _suite_models import CASES, arrays, reference_numpyro, reference_pymc  # noqa: E402

ENGINES = ("bayesmm", "bayesmm-nutpie", "bayesmm-pymc", "pymc-nutpie", "numpyro", "bambi")


def _timed_nutpie_compile(times: dict[str, float]) -> None:
    """Time nutpie's compile separately from its sampling."""
    import nutpie

    compile_model = nutpie.compile_pymc_model

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return compile_model(*args, **kwargs)
        finally:
            times["compile"] = times.get("compile", 0.0) + time.perf_counter() - start

    nutpie.compile_pymc_model = timed


def _build_and_fit(model_class, case, data, args, times, **options):
    """Build and fit a formula model (bayesmm's or Bambi's, which share the API), timed."""
    start = time.perf_counter()
    model = model_class(case.formula, data, family=case.family)
    model.build()
    times["build"] = time.perf_counter() - start
    start = time.perf_counter()
    idata = model.fit(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=args.seed,
        progressbar=False,
        **options,
    )
    times["fit"] = time.perf_counter() - start
    return model, idata


def _bayesmm(case, engine, args, times):
    import bayesmm as bmm

    times["import"] = time.perf_counter() - STARTED
    data = bmm.load_data(case.dataset)
    options = {} if engine == "bayesmm" else {"inference_method": engine.split("-")[1]}
    if options.get("inference_method") == "nutpie":
        _timed_nutpie_compile(times)
    model, idata = _build_and_fit(bmm.Model, case, data, args, times, **options)
    # Common slopes in design order, flattened over levels, as the references' `beta`.
    slopes = [t.name for t in model.design.common_terms if not t.is_intercept]
    return idata, slopes


def _pymc_nutpie(case, args, times, data):
    import nutpie

    times["import"] = time.perf_counter() - STARTED
    start = time.perf_counter()
    model = reference_pymc(case, arrays(case, data))
    times["build"] = time.perf_counter() - start
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    times["compile"] = time.perf_counter() - start
    idata = nutpie.sample(
        compiled,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        progress_bar=False,
    )
    times["fit"] = time.perf_counter() - start
    return idata


def _numpyro(case, args, times, data):
    import numpyro

    numpyro.set_host_device_count(args.chains)
    import arviz as az
    import jax
    from numpyro.infer import MCMC, NUTS

    cache = os.environ.get("BENCH_JAX_CACHE")
    if cache:  # the persistent compilation cache: the "warm" runs reuse it
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    times["import"] = time.perf_counter() - STARTED
    start = time.perf_counter()
    model = reference_numpyro(case, arrays(case, data))
    times["build"] = time.perf_counter() - start
    start = time.perf_counter()
    mcmc = MCMC(
        NUTS(model),
        num_warmup=args.tune,
        num_samples=args.draws,
        num_chains=args.chains,
        chain_method="parallel",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(args.seed))
    times["fit"] = time.perf_counter() - start
    return az.from_numpyro(mcmc)


def _bambi(case, args, times, data):
    import bambi

    times["import"] = time.perf_counter() - STARTED
    return _build_and_fit(bambi.Model, case, data, args, times)[1]


def _summaries(idata, slopes):
    """Min bulk ESS, max R-hat and divergences over the user-facing parameters, and the
    posterior mean and MCSE of each compared quantity (named as bayesmm names them)."""
    import arviz as az
    import numpy as np

    posterior = idata.posterior
    keep = [
        v for v in posterior.data_vars if not v.endswith("_offset") and v != "Intercept_centered"
    ]
    ess = az.ess(posterior[keep], method="bulk")
    rhat = az.rhat(posterior[keep])
    divergences = (
        int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else -1
    )
    compared = {}
    scalars = ["Intercept", "sigma"] + [v for v in keep if v.endswith("_sigma")]
    for name in scalars:
        if name in posterior:
            values = posterior[name].values
            compared[name] = (float(values.mean()), float(az.mcse(posterior[[name]])[name]))
    if slopes is None:  # a reference: `beta` holds the slopes
        beta = posterior["beta"].values.reshape(*posterior["beta"].shape[:2], -1)
    else:
        beta = np.concatenate(
            [posterior[s].values.reshape(*posterior[s].shape[:2], -1) for s in slopes], axis=-1
        )
    for j in range(beta.shape[-1]):
        draws = az.convert_to_dataset(beta[:, :, j])
        compared[f"beta[{j}]"] = (float(beta[:, :, j].mean()), float(az.mcse(draws)["x"]))
    return {
        "min_ess": float(min(float(ess[v].min()) for v in keep)),
        "max_rhat": float(max(float(rhat[v].max()) for v in keep)),
        "divergences": divergences,
        "compared": compared,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    case = CASES[args.case]
    times: dict[str, float] = {}
    slopes = None
    if args.engine.startswith("bayesmm"):
        idata, slopes = _bayesmm(case, args.engine, args, times)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        import bayesmm as bmm  # only for the bundled data

        data = bmm.load_data(case.dataset)
        runner = {"pymc-nutpie": _pymc_nutpie, "numpyro": _numpyro, "bambi": _bambi}
        idata = runner[args.engine](case, args, times, data)
    sampling = idata.posterior.attrs.get("sampling_time")
    if sampling is not None:  # PyMC's sampler: the rest of the fit is compiling (and the
        times["sampling"] = float(sampling)  # log-likelihood, and starting chain processes)
        times.setdefault("compile", times["fit"] - times["sampling"])
    elif "compile" in times:
        times["sampling"] = times["fit"] - times["compile"]
    result = {
        "case": args.case,
        "engine": args.engine,
        "times": times,
        "inside": time.perf_counter() - STARTED,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **_summaries(idata, slopes),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
