"""The ``bayesmm`` command (also ``python -m bayesmm``): ``bayesmm fit FORMULA DATA -o FILE``
trains a model and saves it; ``bayesmm update MODEL NEW -o FILE`` adds new rows to a saved
one; ``bayesmm serve [MODEL_FILE]`` serves a saved one over HTTP."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmm", description="Bayesian mixed models written as formulas."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _fit_parser(commands)
    _update_parser(commands)
    serve = commands.add_parser(
        "serve",
        help="serve a saved model over HTTP",
        description="Serve point, interval and density predictions of a saved model over "
        "HTTP, with OpenAPI docs at /docs. Without MODEL_FILE, serves the bundled demo: "
        "lme4's sleepstudy model, Reaction ~ Days + (Days | Subject).",
    )
    serve.add_argument(
        "model_file", nargs="?", metavar="MODEL_FILE", help="a file written by Model.save"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    serve.add_argument(
        "--max-batch", type=int, default=1000, help="most rows per request (default %(default)s)"
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=1_000_000,
        help="largest request body in bytes (default %(default)s)",
    )
    serve.add_argument(
        "--trusted",
        action="store_true",
        help="let the file name any function of any module (only for files from a source "
        "you trust: importing a module runs its code)",
    )
    serve.add_argument(
        "--allow-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module of yours (e.g. your custom family's) whose functions the file may "
        "name, besides bayesmm's vetted functions; or one function, as module:name (repeat "
        "for more)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port, each loading the file once; one per core "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--compute-processes",
        type=int,
        default=1,
        help="processes per server process that compute requests of more than 32 rows, at "
        "a lower priority than small requests; 0 computes them in the server process "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=8,
        help="large requests that may wait for a compute process; more get a 503 with "
        "Retry-After (default %(default)s)",
    )
    serve.add_argument(
        "--graceful-seconds",
        type=int,
        default=30,
        help="on SIGTERM or SIGINT, how long requests in flight may take to finish "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default %(default)s)",
    )
    return parser


def _fit_parser(commands: Any) -> None:
    fit = commands.add_parser(
        "fit",
        help="fit a model to a table and save it",
        description="Fit FORMULA to the rows of DATA (.csv, .tsv, .parquet or .json) with "
        "NUTS and save the model to OUTPUT, the file that `bayesmm serve` and bayesmm.load "
        "read. For a scheduled job that retrains the model a service loads. Every option is "
        "checked before DATA is read: OUTPUT's folder exists and is writable (for a URL, "
        "fsspec knows its scheme), and the family, link, counts, seed, inference method and "
        "policy are valid.",
    )
    fit.add_argument("formula", metavar="FORMULA", help="e.g. 'Reaction ~ Days + (Days | Subject)'")
    fit.add_argument("data", metavar="DATA", help="a table: .csv, .tsv, .parquet or .json")
    fit.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="the model file")
    fit.add_argument("--family", default="gaussian", help="(default %(default)s)")
    fit.add_argument("--link", default=None, help="(default: the family's)")
    fit.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column of numbers to treat as categories (repeat for more)",
    )
    fit.add_argument(
        "--dropna", action="store_true", help="drop rows with missing values in the formula"
    )
    _sampling_options(fit)
    fit.add_argument(
        "--sample-new-groups",
        default=None,
        metavar="POLICY",
        help="the saved policy for group levels not seen at fit time: uncertainty, gaussian, "
        "old_levels, population, true (uncertainty) or false (an error)",
    )
    fit.add_argument(
        "--posterior-only",
        action="store_true",
        help="save without the training rows (smaller; no in-sample summaries)",
    )
    fit.add_argument(
        "--statistics",
        action="store_true",
        help="save the sufficient statistics of the rows (a gaussian model with the identity "
        "link), which `bayesmm update` adds new rows to; by default only where the fit "
        "sampled them",
    )


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    """The options of a fit: ``Model.fit``'s counts, seed and sampler, and ``--quiet``."""
    parser.add_argument("--draws", type=int, default=1000, help="per chain (default %(default)s)")
    parser.add_argument("--tune", type=int, default=1000, help="per chain (default %(default)s)")
    parser.add_argument("--chains", type=int, default=None, help="(default: the sampler's)")
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible fit")
    parser.add_argument(
        "--inference-method", default="auto", help="NUTS engine (default %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _update_parser(commands: Any) -> None:
    update = commands.add_parser(
        "update",
        help="add new rows to a saved model",
        description="Add the rows of NEW (.csv, .tsv, .parquet or .json) to the model saved in "
        "MODEL and save the updated model to OUTPUT (MODEL itself is fine: the file is "
        "replaced once the new one is written). A gaussian model with the identity link "
        "saved with its sufficient statistics is updated from them, without its earlier "
        "rows; another model saved with its training rows is fitted again on them and the "
        "new rows. A batch of rows applied before is refused. The options are checked before "
        "MODEL and NEW are read.",
    )
    update.add_argument("model", metavar="MODEL", help="a file written by Model.save or `fit`")
    update.add_argument("data", metavar="NEW", help="the new rows: .csv, .tsv, .parquet or .json")
    update.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="the model file")
    _sampling_options(update)
    update.add_argument(
        "--trusted", action="store_true", help="let MODEL name any function (see `serve`)"
    )
    update.add_argument(
        "--allow-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module whose functions MODEL may name (see `serve`; repeat for more)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "fit":
        return _fit(args)
    if args.command == "update":
        return _update(args)
    return 2  # pragma: no cover (argparse requires a command)


def _serve(args: argparse.Namespace) -> int:
    from ._errors import BayesmmError

    try:
        from .serve import create_app, serve_file
        from .serve.demo import DEMO_FILE
    except ImportError as err:
        print(
            f"bayesmm serve: needs the serve extra ({err.name} is missing): "
            "pip install 'bayesmm[serve]'",
            file=sys.stderr,
        )
        return 2
    path = args.model_file or DEMO_FILE
    if args.workers < 1:
        print(f"bayesmm serve: --workers must be at least 1; got {args.workers}.", file=sys.stderr)
        return 2
    options = {
        "max_batch": args.max_batch,
        "max_body_bytes": args.max_body_bytes,
        "trusted": args.trusted,
        "allow_modules": tuple(args.allow_module),
        "compute_processes": args.compute_processes,
        "max_queue": args.max_queue,
    }
    try:
        # Built here once to fail early with our message; each of several workers builds
        # its own from the file.
        app = create_app(path, **options)
    except BayesmmError as err:
        print(f"bayesmm serve: cannot serve {str(path)!r}: {err}", file=sys.stderr)
        return 2
    what = "the demo model" if args.model_file is None else repr(str(path))
    processes = f", {args.workers} processes" if args.workers > 1 else ""
    print(
        f"bayesmm serve: {what} on http://{args.host}:{args.port}{processes} (docs at /docs)",
        flush=True,
    )
    make_app = (lambda: app) if args.workers == 1 else partial(create_app, path, **options)
    if args.workers > 1:
        del app
    return serve_file(
        make_app,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        graceful_seconds=args.graceful_seconds,
    )


READERS = {
    ".csv": "read_csv",
    ".tsv": "read_table",
    ".parquet": "read_parquet",
    ".json": "read_json",
}


def _read_table(path: str) -> Any:
    """The rows of a table file (local, or a URL that fsspec reads)."""
    import pandas as pd

    suffix = next((s for s in READERS if path.lower().endswith(s)), None)
    if suffix is None:
        raise ValueError(f"DATA must end in one of {sorted(READERS)}; got {path!r}.")
    try:
        return getattr(pd, READERS[suffix])(path)
    except ImportError as err:
        raise ValueError(f"reading {path!r} needs {err.name or 'a package'}: {err}") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {path!r}: {err}") from None


#: ``--sample-new-groups`` values that mean the booleans of ``Model.save``.
_BOOLEANS = {"true": True, "false": False}


def _check_fit_arguments(args: argparse.Namespace) -> bool | str | None:
    """Check every argument that needs no data, before the data are read and the model
    fitted: a scheduled retrain must not lose its fit to a typo. Returns the new-group
    policy to save.

    Raises
    ------
    BayesmmError
        Naming the option, what it may be and what it was.
    """
    from .families import get_family
    from .predict.options import resolve_policy

    _check_sampling_arguments(args)
    get_family(args.family).resolve_link(args.link)
    policy = args.sample_new_groups
    if policy is not None:
        policy = _BOOLEANS.get(policy.lower(), policy)
        resolve_policy(policy)
    return policy


def _check_sampling_arguments(args: argparse.Namespace) -> None:
    """Check the output and the sampling options, before any work.

    Raises
    ------
    BayesmmError
        Naming the option, what it may be and what it was.
    """
    from ._validation import check_counts, check_seed
    from .backend.samplers import require_method
    from .persist.netcdf import check_writable

    check_writable(args.output, "--output")
    check_counts(draws=args.draws, tune=args.tune, chains=args.chains)
    check_seed(args.seed, "--seed")
    require_method(args.inference_method)


def _fit(args: argparse.Namespace) -> int:
    from ._errors import BayesmmError

    try:
        policy = _check_fit_arguments(args)
    except BayesmmError as err:
        print(f"bayesmm fit: {err}", file=sys.stderr)
        return 2
    try:
        data = _read_table(args.data)
    except ValueError as err:
        print(f"bayesmm fit: {err}", file=sys.stderr)
        return 2
    import bayesmm as bmm

    from .many import fit_diagnostics

    try:
        model = bmm.Model(
            args.formula,
            data,
            family=args.family,
            link=args.link,
            categorical=args.categorical or None,
            dropna=args.dropna,
        )
        idata = model.fit(
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            inference_method=args.inference_method,
            random_seed=args.seed,
            progressbar=not args.quiet,
        )
        # Without --sample-new-groups, the spec keeps the model's own default.
        chosen: dict[str, Any] = {} if policy is None else {"sample_new_groups": policy}
        chosen["statistics"] = True if args.statistics else None
        path = model.save(args.output, idata, posterior_only=args.posterior_only, **chosen)
    except BayesmmError as err:
        print(f"bayesmm fit: {err}", file=sys.stderr)
        return 2
    found = fit_diagnostics(idata)
    sizes = idata["posterior"].sizes
    chains, draws = sizes["chain"], sizes["draw"]
    print(
        f"bayesmm fit: wrote {str(path)!r}: {args.family} model of {len(data)} rows, "
        f"{chains} chains x {draws} draws ({found['inference_method']}); largest R-hat "
        f"{found['max_rhat']:.3f}, smallest bulk ESS {found['min_ess_bulk']:.0f}, "
        f"{found['divergences']} divergences",
        flush=True,
    )
    return 0


def _update(args: argparse.Namespace) -> int:
    from ._errors import BayesmmError

    try:
        _check_sampling_arguments(args)
        data = _read_table(args.data)
    except (BayesmmError, ValueError) as err:
        print(f"bayesmm update: {err}", file=sys.stderr)
        return 2
    import bayesmm as bmm

    from ._errors import DataError
    from .fitted import FittedModel
    from .many import fit_diagnostics

    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    sampling.update(inference_method=args.inference_method, random_seed=args.seed)
    try:
        fitted = bmm.load(args.model, trusted=args.trusted, allow_modules=args.allow_module)
        if not isinstance(fitted, FittedModel):
            raise DataError(f"{args.model} holds a multivariate model, which has no update")
        updated = fitted.update(data, progressbar=not args.quiet, **sampling)
        path = updated.save(args.output)
    except BayesmmError as err:
        print(f"bayesmm update: {err}", file=sys.stderr)
        return 2
    idata = updated.idata
    found, sizes = fit_diagnostics(idata), idata["posterior"].sizes
    how = {"statistics": "from its statistics", "rows": "refitted on all its rows"}
    print(
        f"bayesmm update: wrote {str(path)!r}: {updated.family.name} model of "
        f"{idata.attrs['n_rows']} rows ({len(data)} new, {how[idata.attrs['update_path']]}), "
        f"{sizes['chain']} chains x {sizes['draw']} draws ({found['inference_method']}); "
        f"largest R-hat {found['max_rhat']:.3f}, smallest bulk ESS "
        f"{found['min_ess_bulk']:.0f}, {found['divergences']} divergences",
        flush=True,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
