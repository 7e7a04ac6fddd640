"""The JAX route's compiled programs kept on disk as exported StableHLO (``jax.export``).

JAX's persistent compilation cache keeps machine code, but finding it takes the program, and
making the program takes tracing: NumPyro's NUTS through the model's log density, about a
second for sleepstudy, paid again by every new process. Here the traced program itself is
kept, once per structure, shapes and settings (the folder's name is a digest of them and of
the versions of every package that shapes the program). A later process that fits a model of
the same structure reads the program and calls it: it neither translates the model's graphs
to JAX nor traces the sampler, and the compilation cache serves the machine code.

A stored program is data, not code: JAX's serialisation (flatbuffers) of a StableHLO module,
which can compute but cannot call back into Python. A program that holds a host callback
cannot be exported, which is why the chains' progress bar advances between calls of the
program rather than inside it. A program that JAX fails to export or to write is not stored.
A folder with a missing file, a file whose SHA-256 differs from the one ``meta.json``
records (a partial or damaged write), or one that JAX cannot deserialise, is traced again
and rewritten. Deleting the folder is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["MAX_STORED", "Stored", "code_digest", "folder_for", "read", "write", "specs"]

_log = logging.getLogger("bayesmm")

#: The packages whose versions shape a stored program.
_PACKAGES = ("jax", "jaxlib", "numpyro", "pymc", "pytensor", "bayesmm")


#: JAX's settings that change a program's types (the key's shape, the floats' width).
_SETTINGS = ("jax_enable_x64", "jax_default_prng_impl", "jax_threefry_partitionable")

#: The most structures whose programs are kept on disk; past it the least recently used are
#: deleted (a folder is about half a megabyte).
MAX_STORED = 200

#: The programs of one folder, by file name.
PROGRAMS = ("start", "advance", "draws", "draws_and_log_likelihood")


@dataclass(frozen=True)
class Stored:
    """The programs of one structure, each ``Callable`` as its jitted original was, and the
    names of the per-draw outputs."""

    programs: dict[str, Callable[..., Any]]
    outputs: list[str]
    observed: list[str]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "none"


def code_files() -> list[Path]:
    """The modules whose code shapes a stored program: all of bayesmm's. A change to any of
    them, in a checkout whose version string stays the same, must not find the programs the
    old code made; and not only the samplers' modules shape them: a response's log density
    is a Python function of ``backend.graph.likelihoods`` (a ``CustomDist``'s), which the
    structure key of the model's graph cannot see."""
    package = Path(__file__).resolve().parents[2]  # bayesmm, from backend/programs
    return sorted(package.rglob("*.py"))


@functools.cache
def code_digest() -> str:
    """The SHA-256 of the code of every bayesmm module (:func:`code_files`), once per
    process."""
    digest = hashlib.sha256()
    for path in code_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()


def folder_for(cache: str | None, key: Any, devices: int, platform: str) -> Path | None:
    """The folder of ``key``'s programs under ``cache`` (``None`` without a cache): its name
    is a digest of ``key``, the versions of the packages that shape the program, the code
    of the modules that make it, and the devices it runs on."""
    if not cache:
        return None
    import jax

    versions = tuple((p, _version(p)) for p in _PACKAGES)
    settings = tuple((name, jax.config.values.get(name)) for name in _SETTINGS)
    tag = repr((key, versions, settings, code_digest(), devices, platform))
    return Path(cache) / "programs" / hashlib.sha256(tag.encode()).hexdigest()[:32]


def specs(jax: Any, arguments: Sequence[Any]) -> tuple[Any, ...]:
    """The shapes and dtypes of ``arguments`` (each an array or a ``ShapeDtypeStruct``, or a
    list or tuple of them), as ``jax.export`` takes them."""
    import numpy as np

    def spec(value: Any) -> Any:
        if not hasattr(value, "dtype"):  # a Python number or list
            value = np.asarray(value)
        return jax.ShapeDtypeStruct(tuple(value.shape), value.dtype)

    return tuple(jax.tree.map(spec, a) for a in arguments)


def _runner(jax: Any, exported: Any, shardings: Any) -> Callable[..., Any]:
    if shardings is None:
        return jax.jit(exported.call)
    return jax.jit(exported.call, in_shardings=shardings)


def read(jax: Any, folder: Path | None, shardings: dict[str, Any]) -> Stored | None:
    """The programs stored in ``folder``, or ``None`` when any is missing or unreadable.

    ``shardings`` gives each program's input shardings (``None`` for one device), as when
    it was exported.
    """
    if folder is None:
        return None
    from jax import export

    try:
        meta = json.loads((folder / "meta.json").read_text())
        programs = {}
        for name in PROGRAMS:
            blob = (folder / f"{name}.bin").read_bytes()
            if hashlib.sha256(blob).hexdigest() != meta["digests"][name]:
                raise ValueError(f"{name}.bin is not the file its meta.json describes")
            programs[name] = _runner(jax, export.deserialize(bytearray(blob)), shardings.get(name))
        os.utime(folder)  # recently used: the last to be pruned
        return Stored(programs, list(meta["outputs"]), list(meta["observed"]))
    except FileNotFoundError:
        return None
    except Exception as error:  # a damaged or foreign file: trace again, and replace it
        _log.debug("Could not read the stored programs in %s (%s); tracing.", folder, error)
        return None


def write(
    jax: Any,
    folder: Path | None,
    functions: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Any]],
    outputs: list[str],
    observed: list[str],
) -> dict[str, Callable[..., Any]]:
    """Export each of ``functions`` (name: jitted function, argument specs, input
    shardings), store them in ``folder``, and return what runs them.

    What runs a program is its exported module (so this process compiles exactly what a later
    one will find in the compilation cache). A program that cannot be exported runs as its
    jitted original, and then nothing is stored.
    """
    from jax import export

    platform = jax.default_backend()
    try:
        made = {
            name: export.export(function, platforms=[platform])(*arguments)  # type: ignore[arg-type]
            for name, (function, arguments, _) in functions.items()
        }
    except Exception as error:  # e.g. a host callback, or an operation JAX cannot export
        _log.debug("Could not export the programs (%s); running them as traced.", error)
        return {name: function for name, (function, _, _) in functions.items()}
    if folder is not None:
        _store(folder, made, outputs, observed)
    return {n: _runner(jax, e, functions[n][2]) for n, e in made.items()}


def _store(folder: Path, made: dict[str, Any], outputs: list[str], observed: list[str]) -> None:
    # Each file is written whole and then renamed, and meta.json, which a reader needs first,
    # comes last: a reader sees a complete folder or a missing file, never a partial one.
    try:
        files = {f"{n}.bin": bytes(e.serialize()) for n, e in made.items()}
        digests = {n: hashlib.sha256(files[f"{n}.bin"]).hexdigest() for n in made}
        meta = {"outputs": outputs, "observed": observed, "digests": digests}
        files["meta.json"] = json.dumps(meta).encode()
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in files.items():
            # A name of its own per writer (processes, and threads of one process).
            handle, partial = tempfile.mkstemp(dir=folder, prefix=f"{name}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(blob)
            os.replace(partial, folder / name)
        _prune(folder.parent, MAX_STORED)
    except Exception as error:  # no flatbuffers, a read-only folder, a full disk: not fatal
        _log.debug("Could not store the programs in %s (%s).", folder, error)


def _prune(parent: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used folders of programs under ``parent``
    (a process reading one that goes is left to trace it again)."""
    folders = sorted(
        (p for p in parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
