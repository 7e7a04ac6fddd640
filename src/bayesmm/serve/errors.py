"""How the served app answers what it cannot compute: 422s in FastAPI's own shape, naming
the rows or the field, a 503 with ``Retry-After`` when the heavy-request queue is full, and a
500 with the request id (never a traceback)."""

import logging
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .._errors import BayesmmError
from .compute import Overloaded

__all__ = ["NotFinite", "Refused", "finite", "unprocessable", "add_error_handlers"]

_log = logging.getLogger("bayesmm.serve")


def unprocessable(message: str, loc: list[Any]) -> JSONResponse:
    """A 422 in FastAPI's own validation-error shape."""
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422
    )


class NotFinite(ValueError):
    pass


class Refused(ValueError):
    """A request this model cannot answer, whatever its rows: a 422 at ``loc``."""

    def __init__(self, message: str, loc: list[Any]) -> None:
        super().__init__(message)
        self.loc = loc

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a compute process, answered here
        return (type(self), (str(self), self.loc))


def finite(values: np.ndarray, what: str, row_axis: int = 1) -> np.ndarray:
    """``values`` if every number is finite; a 422 naming the rows otherwise (JSON has no inf)."""
    bad = ~np.isfinite(values)
    if bad.any():
        rows = sorted({int(i) for i in np.argwhere(bad)[:, row_axis]})
        raise NotFinite(
            f"The {what} is not a finite number for row(s) {rows[:10]}: the inputs are too "
            "far outside the training data for the model to give a prediction."
        )
    return values


def add_error_handlers(app: FastAPI) -> None:
    """Our errors as 422s naming the culprit; anything else a logged 500 with the request id."""

    @app.exception_handler(BayesmmError)
    async def bayesmm_error(request: Request, err: BayesmmError) -> JSONResponse:
        return unprocessable(str(err), ["body", "rows"])

    @app.exception_handler(NotFinite)
    async def not_finite(request: Request, err: NotFinite) -> JSONResponse:
        return unprocessable(str(err), ["body", "rows"])

    @app.exception_handler(Refused)
    async def refused(request: Request, err: Refused) -> JSONResponse:
        return unprocessable(str(err), err.loc)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, err: Overloaded) -> JSONResponse:
        return JSONResponse(
            {"detail": str(err)},
            status_code=503,
            headers={"Retry-After": str(err.retry_after)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in err.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, err: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "-")
        _log.exception("request %s failed: %s %s", request_id, request.method, request.url.path)
        return JSONResponse(
            {"detail": "Internal server error.", "request_id": request_id},
            status_code=500,
            headers={"x-request-id": request_id},
        )
