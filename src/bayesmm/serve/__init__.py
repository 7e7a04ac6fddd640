"""Serving a fitted model over HTTP (FastAPI): ``create_app`` and the ``bayesmm serve`` command.

This is the only package that imports fastapi; ``import bayesmm`` does not load it.
"""

from __future__ import annotations

from .app import create_app
from .server import run_server, serve_file

__all__ = ["create_app", "run_server", "serve_file"]
