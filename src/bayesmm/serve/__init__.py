"""Serving a fitted model over HTTP (FastAPI): ``create_app`` and the ``bayesmm serve`` command.

This is the only package that imports fastapi; ``import bayesmm`` does not load it.
"""

from __future__ import annotations

from typing import Any

from .app import create_app

__all__ = ["create_app", "run_server"]


def run_server(
    app: Any, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> None:
    """Serve ``app`` with uvicorn (one process; requests run in its thread pool)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)
