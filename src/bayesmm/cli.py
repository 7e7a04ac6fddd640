"""The ``bayesmm`` command: ``bayesmm serve [MODEL_FILE]`` (also ``python -m bayesmm``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
        from .serve import create_app, run_server
        from .serve.demo import DEMO_FILE
    except ImportError as err:
        print(
            f"bayesmm serve: needs the serve extra ({err.name} is missing): "
            "pip install 'bayesmm[serve]'",
            file=sys.stderr,
        )
        return 2
    path = args.model_file or DEMO_FILE
    try:
        app = create_app(
            path,
            max_batch=args.max_batch,
            max_body_bytes=args.max_body_bytes,
            trusted=args.trusted,
            allow_modules=args.allow_module,
        )
    except BayesmmError as err:
        print(f"bayesmm serve: cannot serve {str(path)!r}: {err}", file=sys.stderr)
        return 2
    what = "the demo model" if args.model_file is None else repr(str(path))
    print(f"bayesmm serve: {what} on http://{args.host}:{args.port} (docs at /docs)", flush=True)
    run_server(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
