"""Plain values to JSON and back, exactly: numbers, text, arrays, tuples and dicts.

Saved files describe the model with JSON only, so that reading one never runs code. This codec
covers what the model state holds: Python and numpy scalars, numpy arrays of numbers, booleans
or text, lists, tuples, and dicts with any plain keys. Floats keep every bit (JSON numbers are
written with ``repr``). Anything else is refused when saving, with a message naming it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["UnsupportedValueError", "decode_value", "encode_value"]

_ARRAY_KINDS = "biufcU"


class UnsupportedValueError(TypeError):
    """A value that this codec cannot write; ``where`` names it for the message."""


def encode_value(value: Any, where: str = "value") -> Any:
    """A JSON-ready form of ``value``; raises UnsupportedValueError for other types."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        if isinstance(value, np.str_ | np.bool_ | np.integer | np.floating):
            return encode_value(value.item(), where)
        raise UnsupportedValueError(f"{where} is a numpy {type(value).__name__}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise UnsupportedValueError(f"{where} is an array of dtype {value.dtype}")
        return {
            "__ndarray__": [encode_value(v, where) for v in value.ravel().tolist()],
            "dtype": value.dtype.str,
            "shape": list(value.shape),
        }
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, where) for v in value]
    if isinstance(value, dict):
        return {
            "__dict__": [[encode_value(k, where), encode_value(v, where)] for k, v in value.items()]
        }
    raise UnsupportedValueError(f"{where} is a {type(value).__module__}.{type(value).__name__}")


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__ndarray__" in value:
        flat = [decode_value(v) for v in value["__ndarray__"]]
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"arrays of dtype {dtype} are not read")
        return np.asarray(flat, dtype=dtype).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(decode_value(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(decode_value(k)): decode_value(v) for k, v in value["__dict__"]}
    raise ValueError(f"unknown encoded value with keys {sorted(value)}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key
