"""What a model file may make bayesmm call: the vetted functions, a built-in's own functions
under its name, the caller's own modules; and the types of ``trusted`` and ``allow_modules``.

The last test is a fuzzer: it rewrites the import paths of saved files to random public
callables of numpy, scipy and bayesmm, and checks that loading refuses every such file and
that none of those callables is ever called.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import types
from contextlib import suppress
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _custom_links
import bayesmm as bmm
from bayesmm.families import BUILTIN_FAMILIES
from bayesmm.families.known import KNOWN_LIKELIHOODS
from bayesmm.families.paths import own_paths as family_paths
from bayesmm.links import BACKEND_OP_PATHS, LINKS, NUMPY_OPS, own_paths
from bayesmm.persist.importpath import (
    VETTED_FUNCTIONS,
    LazyCallable,
    PathPolicy,
    UnsavableError,
    UntrustedPathError,
    callable_path,
    check_trust,
    resolve_path,
)

SLEEP = "Reaction ~ Days + (1|Subject)"
BACTERIA = "y['y'] ~ trt + week + (1|ID)"
SLEEP_ROWS = pd.DataFrame({"Days": [0, 4.5], "Subject": [308, 309]})
BACTERIA_ROWS = pd.DataFrame({"trt": ["drug", "placebo"], "week": [2, 6], "ID": ["X01", "X02"]})
#: An import path, as a JSON string.
PATH = r'"([A-Za-z_][\w.]*:[A-Za-z_][\w.]*)"'


def _edited(source: Path, target: Path, spec: dict) -> Path:
    """A copy of ``source`` whose spec is ``spec``."""
    shutil.copy(source, target)
    return _rewritten(target, spec)


def _rewritten(path: Path, spec: dict) -> Path:
    with h5py.File(path, "r+") as handle:
        handle.attrs["bayesmm_spec"] = json.dumps(spec)
    return path


def _spec(path: Path) -> dict:
    return bmm.io.read_header(path)["spec"]


@pytest.fixture
def gaussian(tmp_path, stub_sampler, sleepstudy):
    model = bmm.Model(SLEEP, sleepstudy)
    return model.save(tmp_path / "gaussian.nc", model.fit(draws=10, chains=1, random_seed=1))


def _identity_record(**changes) -> dict:
    record = {
        "name": "identity",
        "link": "bayesmm.links:identity_link",
        "linkinv": None,
        "linkinv_backend": None,
        "derivative": "bayesmm.links:identity_derivative",
        "inverse": "bayesmm.links:identity_inverse",
    }
    return {**record, **changes}


# --- the registry ------------------------------------------------------------------------


def _written_paths() -> set[str]:
    """Every import path bayesmm writes for a family or link made of its own parts: copies
    of the built-in families (those without lambdas), their functions field by field, the
    known distributions' densities, the built-in links and the operations of ``ops``."""
    from bayesmm.backend.graph.variables import PYTENSOR_OPS

    found: set[str] = set()

    def add(function):
        with suppress(UnsavableError):  # a lambda: never written
            found.add(callable_path(function))

    for family in BUILTIN_FAMILIES:
        for paths in family_paths(family).values():
            found.update(paths)
        try:
            record = dataclasses.replace(family, name=f"my_{family.name}").to_dict()
        except bmm.FamilyError:
            continue  # a lambda among its functions: it cannot be saved unregistered
        found.update(re.findall(PATH, json.dumps(record)))
    for known in KNOWN_LIKELIHOODS.values():
        add(known.draw)
        add(known.logpdf)
    for name in LINKS:
        for paths in own_paths(name).values():
            found.update(paths)
    for function in (*vars(NUMPY_OPS).values(), *vars(PYTENSOR_OPS).values()):
        add(function)
    for paths in BACKEND_OP_PATHS.values():
        found.update(paths)
    return found


def test_the_vetted_functions_are_exactly_those_bayesmm_writes_and_wrote():
    from bayesmm.persist.importpath import EARLIER_PATHS, resolve_path

    assert _written_paths() | set(EARLIER_PATHS) == set(VETTED_FUNCTIONS)
    assert not _written_paths() & set(EARLIER_PATHS)
    for path in EARLIER_PATHS:  # each earlier path still names the function that moved
        assert callable(resolve_path(path))


def test_every_path_a_built_in_family_copy_writes_is_vetted():
    for family in BUILTIN_FAMILIES:
        try:
            record = dataclasses.replace(family, name=f"my_{family.name}").to_dict()
        except bmm.FamilyError:
            continue
        paths = set(re.findall(PATH, json.dumps(record)))
        assert paths <= VETTED_FUNCTIONS, (family.name, paths - VETTED_FUNCTIONS)


def test_every_vetted_function_resolves_without_leave():
    import pytensor.tensor as pt  # noqa: F401 (pytensor's are then found at once)

    for path in sorted(VETTED_FUNCTIONS):
        function = resolve_path(path)
        assert callable(function) and not isinstance(function, LazyCallable), path


def test_the_backend_operations_are_where_the_links_say():
    from bayesmm.backend.graph.variables import PYTENSOR_OPS

    for op, paths in BACKEND_OP_PATHS.items():
        for path in paths:
            assert resolve_path(path, PathPolicy(trusted=True)) is getattr(PYTENSOR_OPS, op)


def test_the_built_in_links_keep_their_functions_and_pickle_by_name():
    import pickle

    mu = np.array([0.2, 0.5, 0.9])
    for name, link in LINKS.items():
        assert pickle.loads(pickle.dumps(link)) is link
        assert link.to_dict("gaussian") == {"registered": name}
        eta = link.link(mu) if name != "tan_half" else link.link(mu - 0.5)
        assert np.all(np.isfinite(link.linkinv(eta)))
    np.testing.assert_allclose(LINKS["cloglog"].linkinv(LINKS["cloglog"].link(mu)), mu)
    np.testing.assert_allclose(
        LINKS["probit"].derivative(mu),
        1 / np.exp(-0.5 * LINKS["probit"].link(mu) ** 2) * np.sqrt(2 * np.pi),
    )


# --- what a file may name ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["numpy:load", "numpy:info", "bayesmm.cli:main"])
def test_a_built_in_link_name_cannot_carry_another_function(
    gaussian, tmp_path, monkeypatch, capsys, path
):
    """The report's attack: a link record that keeps the name "identity" but points its
    inverse at numpy:load, numpy:info or bayesmm.cli:main."""
    import bayesmm.cli

    called = []
    monkeypatch.setattr(bayesmm.cli, "main", lambda *a, **k: called.append(a))
    spec = _spec(gaussian)
    spec["link_record"] = _identity_record(linkinv=path)
    edited = _edited(gaussian, tmp_path / "edited.nc", spec)
    with pytest.raises(
        bmm.ModelFileError,
        match=rf"edited\.nc' was not loaded: the link_record 'identity' \(a built-in link's "
        rf"name\), in its 'linkinv' field, names '{path}', which is not that built-in's own "
        r"function there",
    ):
        bmm.load(edited)
    assert called == [] and capsys.readouterr().out == ""


def test_a_built_in_name_cannot_carry_another_vetted_function(gaussian, tmp_path):
    spec = _spec(gaussian)
    spec["link_record"] = _identity_record(inverse="bayesmm.links:log_inverse")
    edited = _edited(gaussian, tmp_path / "edited.nc", spec)
    with pytest.raises(
        bmm.ModelFileError,
        match=r"the link_record 'identity' \(a built-in link's name\), in its 'inverse' field, "
        r"names 'bayesmm.links:log_inverse', which is not that built-in's own function there "
        r"\(its own: 'bayesmm.links:identity_inverse'\)",
    ):
        bmm.load(edited)
    spec["link_record"] = None
    spec["family_record"] = bmm.families.get_family("gaussian").to_dict()
    spec["family_record"]["support"] = "bayesmm.families.support:positive"
    edited = _edited(gaussian, tmp_path / "family.nc", spec)
    with pytest.raises(
        bmm.ModelFileError,
        match=r"the family_record 'gaussian' \(a built-in family's name\), in its 'support' "
        r"field, names 'bayesmm.families.support:positive', which is not that built-in's own "
        r"function there \(its own: 'bayesmm.families.support:finite_numbers'\)",
    ):
        bmm.load(edited)
    spec["family_record"]["support"] = "known"
    spec["family_record"]["aux_priors"]["sigma"]["function"] = "bayesmm.families.builtin:_nu_prior"
    edited = _edited(gaussian, tmp_path / "prior.nc", spec)
    with pytest.raises(bmm.ModelFileError, match=r"in its 'aux_priors\[sigma\]' field, names"):
        bmm.load(edited)


def test_records_of_built_in_names_with_their_own_functions_load(gaussian, tmp_path):
    expected = bmm.load(gaussian).point(SLEEP_ROWS)
    spec = _spec(gaussian)
    spec["family_record"] = bmm.families.get_family("gaussian").to_dict()
    spec["link_record"] = _identity_record()
    loaded = bmm.load(_edited(gaussian, tmp_path / "edited.nc", spec))
    pd.testing.assert_frame_equal(loaded.point(SLEEP_ROWS), expected)


def test_a_custom_logit_of_vetted_functions_loads_without_leave(bacteria, stub_sampler, tmp_path):
    """The custom link of docs/families.md: scipy's logit and expit, pytensor's sigmoid."""
    import pytensor.tensor as pt
    from scipy import special

    for name in ("my_logit", "logit"):
        link = bmm.Link(name, special.logit, linkinv=special.expit, linkinv_backend=pt.sigmoid)
        family = bmm.Family("my_bernoulli", likelihood=bmm.Likelihood("Bernoulli"), link=link)
        model = bmm.Model(BACTERIA, bacteria, family=family)
        idata = model.fit(draws=10, chains=1, random_seed=2)
        path = model.save(tmp_path / f"{name}.nc", idata)
        record = _spec(path)["family_record"]["custom_links"][0]
        assert record["linkinv_backend"] == "pytensor.tensor.math:expit"
        loaded = bmm.load(path)
        np.testing.assert_array_equal(
            loaded.draws(BACTERIA_ROWS), model.fitted(idata).draws(BACTERIA_ROWS)
        )


def test_allow_modules_names_a_module_or_single_functions(models_custom, tmp_path):
    path = models_custom
    with pytest.raises(bmm.ModelFileError, match=r"names '_custom_links:logit'"):
        bmm.load(path)
    functions = ["_custom_links:logit", "_custom_links:expit", "_custom_links:expit_backend"]
    assert bmm.load(path, allow_modules=functions).link.linkinv is _custom_links.expit
    assert bmm.load(path, allow_modules=tuple(functions)).link.name == "my_logit"
    with pytest.raises(bmm.ModelFileError, match=r"names '_custom_links:expit_backend'"):
        bmm.load(path, allow_modules=functions[:2])


def test_a_module_is_imported_only_when_the_caller_names_it(models_custom, tmp_path, monkeypatch):
    """The report's second case: allow_modules="numpy" allowed the modules n, u, m, p, y, and
    a file naming module m had it imported."""
    marker = tmp_path / "imported"
    (tmp_path / "m.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "def expit(eta):\n    return eta\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = _spec(models_custom)
    spec["family_record"]["custom_links"][0]["linkinv"] = "m:expit"
    edited = _edited(models_custom, tmp_path / "edited.nc", spec)
    with pytest.raises(TypeError, match=r"allow_modules must be a list or tuple of module names"):
        bmm.load(edited, allow_modules="numpy")
    with pytest.raises(bmm.ModelFileError, match=r"names 'm:expit', which is not one of"):
        bmm.load(edited, allow_modules=["numpy", "_custom_links"])
    assert not marker.exists()
    assert bmm.load(edited, allow_modules=["m", "_custom_links"]).link.linkinv(3) == 3
    assert marker.exists()


@pytest.fixture
def models_custom(bacteria, stub_sampler, tmp_path):
    family = bmm.Family(
        "my_bernoulli",
        likelihood=bmm.Likelihood("Bernoulli", parent="p"),
        link=bmm.Link(
            "my_logit",
            link=_custom_links.logit,
            linkinv=_custom_links.expit,
            linkinv_backend=_custom_links.expit_backend,
        ),
    )
    model = bmm.Model(BACTERIA, bacteria, family=family)
    return model.save(tmp_path / "custom.nc", model.fit(draws=10, chains=1, random_seed=3))


# --- the types of trusted and allow_modules ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"trusted": "false"}, TypeError, r"trusted must be True or False \(a bool\); got str "),
        ({"trusted": 1}, TypeError, r"trusted must be True or False \(a bool\); got int 1"),
        ({"trusted": None}, TypeError, r"trusted must be .*; got NoneType None"),
        ({"trusted": np.bool_(True)}, TypeError, r"trusted must be .*; got numpy.bool np.True_"),
        (
            {"allow_modules": "numpy"},
            TypeError,
            r"allow_modules must be a list or tuple of module names \(str\), e\.g\. "
            r"\['my_package\.families'\]; got str 'numpy'\. For one module, write "
            r"allow_modules=\['numpy'\]",
        ),
        ({"allow_modules": {"numpy"}}, TypeError, r"allow_modules must be a list .*; got set "),
        ({"allow_modules": None}, TypeError, r"allow_modules must be a list .*; got NoneType"),
        ({"allow_modules": [b"numpy"]}, TypeError, r"got an entry of type bytes: b'numpy'"),
        ({"allow_modules": ["numpy", 3]}, TypeError, r"got an entry of type int: 3"),
        ({"allow_modules": [""]}, bmm.DataError, r"allow_modules must hold module names"),
        ({"allow_modules": ["my/module"]}, bmm.DataError, r"got 'my/module'"),
    ],
)
def test_trusted_and_allow_modules_are_type_checked_everywhere(tmp_path, kwargs, error, match):
    # Checked before the file is looked for: there is none.
    gaussian = tmp_path / "nowhere.nc"
    with pytest.raises(error, match=match):
        bmm.load(gaussian, **kwargs)
    with pytest.raises(error, match=match):
        PathPolicy(**kwargs)
    with pytest.raises(error, match=match):
        check_trust(kwargs.get("trusted", False), kwargs.get("allow_modules", ()))
    serve = pytest.importorskip("bayesmm.serve")
    with pytest.raises(error, match=match):
        serve.create_app(gaussian, **kwargs)


def test_trusted_true_resolves_any_path_and_false_only_vetted_ones():
    assert resolve_path("numpy:tanh", PathPolicy(trusted=True)) is np.tanh
    with pytest.raises(UntrustedPathError, match=r"names 'numpy:tanh', which is not one of"):
        resolve_path("numpy:tanh", PathPolicy(trusted=False))
    assert resolve_path("numpy:tanh", PathPolicy(allow_modules=["numpy:tanh"])) is np.tanh


def test_the_cli_passes_allow_module_to_serve(models_custom, monkeypatch, capsys):
    serve = pytest.importorskip("bayesmm.serve")
    from bayesmm import cli

    served = []
    monkeypatch.setattr(serve, "serve_file", lambda make_app, **kw: served.append(make_app()) or 0)
    assert cli.main(["serve", str(models_custom)]) == 2
    err = capsys.readouterr().err
    assert "names '_custom_links:logit', which is not one of" in err
    assert cli.main(["serve", str(models_custom), "--allow-module", "_custom_links"]) == 0
    assert served[0].state.fitted.link.name == "my_logit"


# --- the fuzzer ----------------------------------------------------------------------------

#: The modules whose public callables the fuzzer names.
FUZZED_MODULES = (
    "numpy",
    "scipy",
    "scipy.special",
    "scipy.stats",
    "bayesmm",
    "bayesmm.cli",
    "bayesmm.io",
    "bayesmm.links",
    "bayesmm.families.densities",
)


class _Sentinel:
    """Stands in for a callable at its import path and records every call."""

    def __init__(self, original, path, calls):
        self._original, self._path, self._calls = original, path, calls

    def __call__(self, *args, **kwargs):
        self._calls.append(self._path)
        return self._original(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._original, name)


def _candidates() -> dict[str, tuple[types.ModuleType, str]]:
    """``"module:name"`` of every public function of the fuzzed modules (classes left out:
    standing in for one would break isinstance), but the vetted ones and their aliases."""
    import importlib

    vetted = set()
    for path in VETTED_FUNCTIONS:
        if not path.startswith("pytensor"):
            vetted.add(id(resolve_path(path)))
    found = {}
    for name in FUZZED_MODULES:
        module = importlib.import_module(name)
        for attr, value in sorted(vars(module).items()):
            path = f"{name}:{attr}"
            if attr.startswith("_") or isinstance(value, type) or not callable(value):
                continue
            if path in VETTED_FUNCTIONS or id(value) in vetted:
                continue
            found[path] = (module, attr)
    return found


def _wrapped(monkeypatch, candidates, paths, calls):
    for path in paths:
        module, attr = candidates[path]
        monkeypatch.setattr(module, attr, _Sentinel(getattr(module, attr), path, calls))


def _templates(tmp_path, sleepstudy, bacteria):
    """Saved files with import paths in them, the options that load them, and new rows:
    a gaussian model and a probit bernoulli model with records of their built-in family
    and link, and a custom family of the caller's module."""
    gaussian = bmm.Model(SLEEP, sleepstudy)
    probit = bmm.Model(BACTERIA, bacteria, family="bernoulli", link="probit")
    custom = bmm.Model(
        BACTERIA,
        bacteria,
        family=bmm.Family(
            "my_bernoulli",
            likelihood=bmm.Likelihood("Bernoulli", parent="p"),
            link=bmm.Link(
                "my_logit",
                link=_custom_links.logit,
                linkinv=_custom_links.expit,
                linkinv_backend=_custom_links.expit_backend,
                derivative=_custom_links.expit,
            ),
            support=_custom_links.is_binary,
        ),
    )
    records = {
        "gaussian": (gaussian, _identity_record(), SLEEP_ROWS),
        "probit": (
            probit,
            {
                "name": "probit",
                "link": "scipy.special:ndtri",
                "linkinv": "scipy.special:ndtr",
                "linkinv_backend": None,
                "derivative": "bayesmm.links:probit_derivative",
                "inverse": "bayesmm.links:probit_inverse",
            },
            BACTERIA_ROWS,
        ),
        "custom": (custom, None, BACTERIA_ROWS),
    }
    templates = {}
    for name, (model, link_record, rows) in records.items():
        path = model.save(tmp_path / f"{name}.nc", model.fit(draws=5, chains=1, random_seed=5))
        spec = _spec(path)
        if link_record is not None:
            spec["family_record"] = model.family.to_dict()
            spec["link_record"] = link_record
        allow = ["_custom_links"] if name == "custom" else []
        loaded = bmm.load(_rewritten(path, spec), allow_modules=allow)  # loads as it is
        loaded.point(rows)
        templates[name] = (path, spec, allow, rows)
    return templates


def _slots(value, where=()):
    """The places in a spec that hold an import path."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _slots(inner, (*where, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _slots(inner, (*where, index))
    elif isinstance(value, str) and ":" in value and where[0] in ("family_record", "link_record"):
        yield where


def _set(spec, where, value):
    for key in where[:-1]:
        spec = spec[key]
    spec[where[-1]] = value


def test_a_tampered_file_is_refused_and_never_calls_what_it_names(
    tmp_path, stub_sampler, sleepstudy, bacteria
):
    """Every import path of a saved file rewritten (or some of them, the others kept) to
    public callables of numpy, scipy and bayesmm: loading refuses the file with a
    ModelFileError that names a rewritten path, and none of them is called, while loading
    or while predicting with what loaded.

    The candidates are wrapped in sentinels that record calls. Functions that loading and
    predicting call themselves (found by one run with every candidate wrapped) are left out,
    so a recorded call can only be one the file asked for.
    """
    templates = _templates(tmp_path, sleepstudy, bacteria)
    candidates = _candidates()
    assert len(candidates) > 500
    internal: list[str] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        _wrapped(monkeypatch, candidates, list(candidates), internal)
        for path, _, allow, rows in templates.values():
            bmm.load(path, allow_modules=allow).point(rows)
    names = sorted(set(candidates) - set(internal))
    slots = {name: list(_slots(spec)) for name, (_, spec, _, _) in templates.items()}
    assert all(len(found) >= 2 for found in slots.values()), slots

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        template=st.sampled_from(sorted(templates)),
        data=st.data(),
    )
    def check(template, data):
        path, spec, allow, rows = templates[template]
        keep = data.draw(
            st.lists(st.booleans(), min_size=len(slots[template]), max_size=len(slots[template]))
        )
        if all(keep):
            keep[0] = False
        spec = json.loads(json.dumps(spec))
        named = []
        for where, kept in zip(slots[template], keep, strict=True):
            if not kept:
                named.append(data.draw(st.sampled_from(names)))
                _set(spec, where, named[-1])
        edited = _edited(path, tmp_path / "edited.nc", spec)
        calls: list[str] = []
        with pytest.MonkeyPatch.context() as monkeypatch:
            _wrapped(monkeypatch, candidates, set(named), calls)
            try:
                loaded = bmm.load(edited, allow_modules=allow)
            except bmm.ModelFileError as err:
                assert "was not loaded" in str(err) and any(repr(p) in str(err) for p in named)
                loaded = None
            if loaded is not None:
                loaded.point(rows)
                loaded.draws(rows, kind="response", random_seed=1)
        assert calls == [], calls
        assert loaded is None, named  # a file naming any of them is refused

    check()
