"""The ``bayesmm`` command: ``bayesmm serve [MODEL_FILE]`` (also ``python -m bayesmm``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmm", description="Bayesian mixed models written as formulas."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
        help="let the file name functions of any module (only for files from a source you "
        "trust: importing a module runs its code)",
    )
    serve.add_argument(
        "--allow-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module the file may name functions from, besides numpy, scipy.special, "
        "pytensor and bayesmm (repeat for more)",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
