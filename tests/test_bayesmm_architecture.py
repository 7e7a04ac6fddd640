"""The layering of docs/architecture.md, and the static checks, enforced in CI.

The layers and forbidden imports are import-linter contracts in ``pyproject.toml``; the
tests here run them, and check what import-linter does not: cycles (imports inside functions
included), private names taken across modules, the sizes of modules and functions, the
public import paths, and how records are written.
"""

import ast
import importlib
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

import bayesmm
from _codegraph import (
    Import,
    category_reads,
    category_reads_outside_families,
    cycles,
    format_skips,
    function_lines,
    imports,
    internal_edges,
    long_functions,
    long_modules,
    modules,
    private_imports,
)

SRC = Path(bayesmm.__file__).parent
#: The repository (where pyproject.toml and its import contracts are), wherever bayesmm is installed.
ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"pymc", "pytensor", "nutpie"}

#: Imports that point up the layers, each inside a function and documented where it is made
#: (and in pyproject.toml's import contract): the only ones a cycle may pass through.
SHIMS = {
    # bayesmm.priors.__getattr__: `bayesmm.priors.default_priors` moved to scaling.
    ("bayesmm.priors", "bayesmm.scaling"),
    # FittedModel.to_model, a shortcut for Model.from_fitted.
    ("bayesmm.fitted", "bayesmm.model"),
    # FittedModel.plot_ppc, a shortcut for bayesmm.workflow.ppc.plot_ppc.
    ("bayesmm.fitted", "bayesmm.workflow.ppc"),
    # FittedModel.loo(reloo=True), a shortcut for bayesmm.workflow.exact_loo.reloo.
    ("bayesmm.fitted", "bayesmm.workflow.exact_loo"),
    # FittedModel.update, a shortcut for bayesmm.workflow.update.update.
    ("bayesmm.fitted", "bayesmm.workflow.update"),
}


@pytest.mark.skipif(find_spec("importlinter") is None, reason="needs the test extra")
def test_the_import_contracts_hold():
    """Layers, and pymc/fastapi/sklearn each in their own package (see pyproject.toml)."""
    command = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(command), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "6 kept, 0 broken" in out.stdout


def test_the_import_graph_has_no_cycle_but_the_documented_shims():
    edges = internal_edges()
    assert ("bayesmm.fitted", "bayesmm.model") in edges  # imports in functions are seen
    assert cycles(edges - SHIMS) == []
    # Each shim is a single import inside a function, not a module-level one.
    for importer, target in SHIMS:
        tree = ast.parse(modules()[importer].read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {ast.unparse(n) for n in top}
        assert not any(target.rsplit(".", 1)[-1] in n and ".." in n for n in names), importer


def test_no_module_imports_another_modules_private_name():
    assert private_imports() == []


def _reads_json_values(item: Import) -> bool:
    """Whether an import takes the JSON codec of plain values (``persist.values``)."""
    codec = "bayesmm.persist.values"
    return (
        item.module == codec
        or item.module.startswith(codec + ".")
        or (item.module == "bayesmm.persist" and "values" in item.names)
        or "decode_value" in item.names
    )


def test_interpret_and_serve_read_typed_column_summaries_not_json():
    """What crosses the layers is a typed record: interpret and serve read the design's
    ``ColumnSummary``, never the JSON values a file holds (imports parsed, under
    ``TYPE_CHECKING`` and inside functions too)."""
    found = [item for item in imports() if _reads_json_values(item)]
    assert any(item.importer == "bayesmm.design.file" for item in found)  # the check sees them
    offenders = [
        f"{item.importer}:{item.line}"
        for item in found
        if item.importer.startswith(("bayesmm.interpret", "bayesmm.serve"))
    ]
    assert offenders == []


def test_modules_and_functions_are_small():
    """A module over 600 lines or a function over 80 lines (from its ``def`` to its end,
    docstring left out; comments count) is asking to be split."""
    assert long_modules(600) == []
    assert long_functions(80) == []


@pytest.mark.parametrize("name", ["model.py", "fitted.py"])
def test_the_facade_and_the_fitted_model_leave_room_to_grow(name):
    """``model.py`` and ``fitted.py`` hold the two public classes and the glue between
    stages: their helpers live in the stages' packages, so each stays at 450 lines or
    fewer."""
    assert len((SRC / name).read_text().splitlines()) <= 450


def test_the_function_length_counts_comments_but_not_docstrings():
    source = '@decorator\ndef f():\n    """Doc.\n\n    More.\n    """\n    # why\n\n    return 1\n'
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert function_lines(node) == 4


def test_no_code_is_squeezed_past_the_formatter():
    """No formatter-skip comment (``fmt`` then ``: skip``): a line too long for the formatter
    is split along a meaningful line, never kept on one line (comments read with
    ``tokenize``)."""
    paths = sorted(SRC.rglob("*.py")) + sorted(ROOT.joinpath("tests").rglob("*.py"))
    found = format_skips(paths)
    assert found == []


def test_the_format_skip_check_reads_comments_not_strings(tmp_path):
    path = tmp_path / "m.py"
    skip = "# fmt" + ": skip"  # spelled in two pieces, so that this file holds none
    path.write_text(f'x = "{skip}"\ny = (1,\n 2)  # fmt:skip\n')
    assert format_skips([path]) == [f"{path}:3"]


def test_the_package_has_few_top_level_modules():
    top = sorted(p.name for p in SRC.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 14, top


#: Every public import path, and names each must export (their __all__ of before the
#: subpackages, so that code written against them keeps working).
PUBLIC_PATHS = {
    "bayesmm": ["Model", "Formula", "Prior", "Family", "Likelihood", "Link", "load", "load_data"],
    "bayesmm.families": [
        "Family",
        "Likelihood",
        "Categories",
        "ResponseStats",
        "FAMILIES",
        "get_family",
        "register_family",
        "family_table",
    ],
    "bayesmm.priors": [
        "Prior",
        "PriorSet",
        "TermPrior",
        "ResponseStats",
        "default_priors",
        "merge_priors",
        "format_value",
    ],
    "bayesmm.design": [
        "Design",
        "DesignState",
        "NewDesign",
        "NewGroup",
        "Response",
        "CommonTerm",
        "GroupTerm",
        "GroupBlock",
        "build_design",
        "design_to_dict",
        "design_from_dict",
        "threshold_labels",
    ],
    "bayesmm.predict": [
        "KINDS",
        "POLICIES",
        "GroupDraws",
        "PosteriorDraws",
        "resolve_policy",
        "extract_draws",
        "linear_predictor",
        "response_params",
        "family_params",
        "response_draws",
        "point_estimate",
        "interval",
        "density",
        "quantiles",
    ],
    "bayesmm.io": [
        "FORMAT_NAME",
        "FORMAT_VERSION",
        "ModelFileError",
        "load",
        "read_header",
        "save",
    ],
    "bayesmm.spec": [
        "ModelSpec",
        "SPEC_ENTRIES",
        "data_fingerprint",
        "prior_to_json",
        "prior_from_json",
        "term_priors_to_json",
        "build_spec",
        "family_entries",
        "family_from_spec",
    ],
    "bayesmm.backend": ["build_model", "BuiltModel", "sample", "SAMPLERS", "CompiledCache"],
    "bayesmm.backend.graph": [
        "BuiltModel",
        "build_model",
        "prior_predictive",
        "OBS_DIM",
        "CENTRED_MIN_ROWS_PER_LEVEL",
        "use_noncentered",
    ],
    "bayesmm.backend.samplers": ["sample", "SAMPLERS", "Sampler", "register_sampler"],
    "bayesmm.backend.programs": ["CompiledCache", "clear_programs", "shared_cache"],
    "bayesmm.backend.programs.compiled": ["CompiledCache", "structure_key"],
    "bayesmm.fitted": ["FittedModel"],
    "bayesmm.links": ["Link", "LINKS", "get_link", "NUMPY_OPS"],
    "bayesmm.formula": ["Formula", "parse_formula", "BarBlock", "bar_blocks"],
}


#: Paths the docs named before the backend became packages, and a name each still gives.
FLAT_BACKEND_PATHS = {
    "bayesmm.backend.pymc": ["AUTO_JAX_MAX_ROWS", "CENTRED_MIN_ROWS_PER_LEVEL", "run_sampler"],
    "bayesmm.backend.jax": ["clear_programs"],
    "bayesmm.backend.compiled": ["CompiledCache", "shared_cache"],
    "bayesmm.backend.exported": ["MAX_STORED"],
    "bayesmm.backend.sufficient": ["summary_model", "summed_for"],
    "bayesmm.backend.convergence": ["check_fit"],
    "bayesmm.backend.distributions": ["likelihood_distribution"],
}


@pytest.mark.parametrize("path", sorted(FLAT_BACKEND_PATHS))
def test_a_flat_backend_path_still_imports_and_says_where_it_moved(path):
    code = "\n".join(
        [
            "import importlib, warnings",
            "from bayesmm import BayesmmDeprecationWarning as W",
            "with warnings.catch_warnings(record=True) as seen:",
            "    warnings.simplefilter('always')",
            f"    m = importlib.import_module({path!r})",
            f"print([n for n in {FLAT_BACKEND_PATHS[path]!r} if not hasattr(m, n)])",
            "print([str(w.message) for w in seen if issubclass(w.category, W)])",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    missing, said = out.stdout.splitlines()
    assert missing == "[]"
    assert f"{path} moved to bayesmm.backend." in said


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS))
def test_every_public_path_still_exports_its_names(path):
    module = importlib.import_module(path)
    missing = [name for name in PUBLIC_PATHS[path] if not hasattr(module, name)]
    assert missing == []


def test_a_name_moved_up_a_layer_is_found_on_first_use_and_only_then():
    code = (
        "import sys, bayesmm.priors as p;"
        "before = 'bayesmm.scaling' in sys.modules;"
        "f = p.default_priors;"
        "print(before, f.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # bayesmm's own import loads scaling (the Model needs it); the name resolves there.
    assert out.stdout.split()[-1] == "bayesmm.scaling.default"


def _calls_of(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.append((module, node))
    return found


def test_families_are_written_with_keywords():
    """``Family(...)`` takes its name, likelihood and link by position (as Bambi's), the rest
    by keyword; the built-in records name every argument after the name."""
    calls = _calls_of("Family")
    assert len(calls) > 10
    offenders = [f"{m}:{c.lineno}" for m, c in calls if len(c.args) > 3]
    assert offenders == []
    builtin = [c for m, c in calls if m == "bayesmm.families.builtin"]
    assert builtin and all(len(c.args) <= 3 for c in builtin)


#: The prediction options, declared once in PredictOptions.
OPTIONS = {"include_group_specific", "sample_new_groups", "random_seed", "n_samples"}
#: Where the options are spelled out as flat parameters on purpose: scikit-learn's
#: constructors (their parameters are the estimator's), and the server's request schemas.
FLAT_OPTION_PLACES = ("bayesmm.predict.options", "bayesmm.sklearn.", "bayesmm.serve.schemas")


def test_the_prediction_options_are_declared_once():
    offenders = []
    for module, path in modules().items():
        if module.startswith(FLAT_OPTION_PLACES):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                names = {a.arg for a in [*args.args, *args.kwonlyargs, *args.posonlyargs]}
                if len(names & OPTIONS) >= 2:
                    offenders.append(f"{module}.{node.name}: {sorted(names & OPTIONS)}")
    assert offenders == []


def test_only_the_families_package_reads_a_familys_categories():
    """Category logic lives in bayesmm.families: the design, the backend, scaling,
    prediction, fitted models and the server ask the family (``family.is_categorical()``,
    ``family.counts_each_category()``, ``family.parameters``, ...). Checked on the syntax tree
    of every module, so no wording escapes it."""
    assert category_reads_outside_families() == []


@pytest.mark.parametrize(
    "source",
    [
        "if family.categories is not None:\n    pass",
        "x = family.has_categories",
        "def f(fitted):\n    return fitted.family.counts_categories",
        "def f(self):\n    return self.family.categories.ordinal",
        "def f(f: Family):\n    return f.categories",
        "def f(f: 'Family | None'):\n    return f.has_categories",
        "def f():\n    fam: Family = get()\n    return fam.categories",
        "getattr(family, 'categories', None)",
    ],
)
def test_the_category_check_finds_a_read_however_it_is_worded(source):
    assert len(category_reads(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "levels = list(values.cat.categories)",
        "labels = [len(c) for c in encoder.categories]",
        "def f(family):\n    return family.is_categorical()",
        "def f(fam: Design):\n    return fam.categories",
        "categories = Categories('cumulative')",
    ],
)
def test_the_category_check_passes_other_categories_and_questions(source):
    assert category_reads(source) == []


#: Packages below ``fitted`` and ``model``: they take what they need as explicit arguments.
BELOW_THE_MODEL = ("bayesmm.backend", "bayesmm.predict", "bayesmm.design", "bayesmm.scaling")


def test_no_stage_below_the_model_takes_it_duck_typed():
    """A parameter called ``model`` or ``fitted`` typed ``Any`` would be a reference back up
    to the object that called it, which the import contracts cannot see."""
    offenders = []
    for module, path in modules().items():
        if not module.startswith(BELOW_THE_MODEL):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                for arg in args:
                    typed = ast.unparse(arg.annotation) if arg.annotation is not None else "Any"
                    if arg.arg in ("model", "fitted") and typed == "Any":
                        offenders.append(f"{module}.{node.name}({arg.arg})")
    assert offenders == []


def test_process_state_is_not_hidden_in_module_globals():
    """No module rebinds a global (``global x``) but the two documented caches: the backend's
    shared compile cache and the JAX route's one-time configuration."""
    allowed = {"bayesmm.backend.programs.compiled", "bayesmm.backend.programs.jax"}
    offenders = []
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Global) and module not in allowed:
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_the_jax_route_never_rewrites_the_environment():
    source = (SRC / "backend" / "programs" / "jax.py").read_text()
    assert "os.environ[" not in source
    assert "jax_num_cpu_devices" in source


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_backend_imports_pymc_and_pytensor():
    offenders = {
        str(path.relative_to(SRC)): sorted(_imports(path) & HEAVY)
        for path in SRC.rglob("*.py")
        if "backend" not in path.parts and _imports(path) & HEAVY
    }
    assert offenders == {}


def test_only_serve_imports_the_web_stack():
    web = {"fastapi", "uvicorn", "pydantic", "starlette"}
    offenders = {
        str(path.relative_to(SRC)): sorted(_imports(path) & web)
        for path in SRC.rglob("*.py")
        if path.parent.name != "serve" and _imports(path) & web
    }
    assert offenders == {}


def test_only_the_sklearn_package_imports_scikit_learn():
    offenders = {
        str(path.relative_to(SRC)): "sklearn"
        for path in SRC.rglob("*.py")
        if path.parent.name != "sklearn" and "sklearn" in _imports(path)
    }
    assert offenders == {}


def test_importing_bayesmm_loads_no_sampler_and_no_side_effects():
    code = (
        "import sys, logging, bayesmm;"
        "heavy = sorted(m for m in ('pymc', 'pytensor', 'nutpie', 'fastapi', 'sklearn')"
        " if m in sys.modules);"
        "handlers = logging.getLogger('bayesmm').handlers;"
        "print(heavy, [type(h).__name__ for h in handlers])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['NullHandler']"


@pytest.mark.skipif(
    find_spec("ruff") is None or find_spec("mypy") is None, reason="needs the test extra"
)
def test_ruff_and_mypy_pass_on_the_source():
    root = Path(__file__).resolve().parent.parent
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "src/bayesmm"], cwd=root, capture_output=True, text=True
    )
    assert mypy.returncode == 0, mypy.stdout


def test_prediction_needs_no_pymc():
    """Predicting from draws is numpy: it neither imports pymc nor compiles a graph."""
    code = """
import sys
import numpy as np, pandas as pd, arviz as az, xarray as xr
import bayesmm as bmm
data = bmm.load_data("sleepstudy")
model = bmm.Model("Reaction ~ Days + (1|Subject)", data)
rng = np.random.default_rng(0)
levels = list(data["Subject"].cat.categories)
posterior = xr.Dataset({
    "Intercept": (("chain", "draw"), rng.normal(250, 5, (2, 50))),
    "Days": (("chain", "draw"), rng.normal(10, 1, (2, 50))),
    "1|Subject": (("chain", "draw", "Subject__factor_dim"), rng.normal(0, 30, (2, 50, 18))),
    "1|Subject_sigma": (("chain", "draw"), rng.gamma(30, 1, (2, 50))),
    "sigma": (("chain", "draw"), rng.gamma(25, 1, (2, 50))),
}, coords={"Subject__factor_dim": levels})
fitted = model.fitted(az.InferenceData(posterior=posterior))
fitted.interval(pd.DataFrame({"Days": [3], "Subject": ["new"]}), sample_new_groups="gaussian")
print(sorted(m for m in ("pymc", "pytensor") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_two_modules_share_a_name():
    """One name, one module: ``backend.options`` and ``predict.options`` (and the like)
    would be two things a reader must tell apart by their package."""
    seen: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.name != "__init__.py":
            seen.setdefault(path.name, []).append(str(path.relative_to(SRC)))
    assert {name: places for name, places in seen.items() if len(places) > 1} == {}


TESTS = Path(__file__).resolve().parent

#: Engine internals that tests still patch: thresholds and steps inside one engine, not
#: which sampler runs or how (a test chooses that by registering a ``Sampler`` record, see
#: ``conftest.samplers_running``). The test below checks each is still patched somewhere.
ENGINE_INTERNALS_PATCHED = {
    ("bayesmm.backend.graph.sufficient", "SHORTCUT_MIN_ROWS"),
    ("bayesmm.backend.samplers.choice", "ANNOUNCE_ROWS"),
    ("bayesmm.backend.programs.exported", "MAX_STORED"),
    ("bayesmm.backend.samplers.pathfinder", "run_paths"),
    ("bayesmm.backend.samplers.pathfinder", "available"),
    ("bayesmm.backend.batch.vectorised", "sample_many"),
    ("bayesmm.backend.batch.vectorised", "vector_key"),
    ("bayesmm.backend.programs.jax", "_compile"),
    ("bayesmm.backend.programs.jax", "_build_graphs"),
}


def _backend_aliases(tree: ast.Module) -> dict[str, str]:
    """The names a test file binds to modules of ``bayesmm.backend``, and those modules."""
    aliases = {}
    for node in ast.walk(tree):
        module = getattr(node, "module", None) or ""
        if isinstance(node, ast.ImportFrom) and module.startswith("bayesmm.backend"):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bayesmm.backend.") and alias.asname:
                    aliases[alias.asname] = alias.name
    return aliases


def _patched_backend_attributes(source: str) -> list[tuple[str, str, int]]:
    """``(module, attribute, line)`` of each ``<x>.setattr(<backend module>, "name", ...)``
    (a module bound to a name, a ``bayesmm.backend...`` attribute chain, or its dotted path
    as text) and each assignment to a backend module's attribute, in a test's source."""
    tree = ast.parse(source)
    aliases = _backend_aliases(tree)

    def backend_module(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if isinstance(node, ast.Attribute) and ast.unparse(node).startswith("bayesmm.backend"):
            return ast.unparse(node)
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr != "setattr" or not node.args:
                continue
            target, rest = node.args[0], node.args[1:]
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                if target.value.startswith("bayesmm.backend"):
                    module, _, name = target.value.rpartition(".")
                    found.append((module, name, node.lineno))
                continue
            module = backend_module(target)
            if module is not None:
                name = rest[0].value if rest and isinstance(rest[0], ast.Constant) else "?"
                found.append((module, str(name), node.lineno))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute):
                    module = backend_module(target.value)
                    if module is not None:
                        found.append((module, target.attr, node.lineno))
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from bayesmm.backend import pymc as backend\nmonkeypatch.setattr(backend, 'run_sampler', f)",
        "import bayesmm.backend.samplers as s\npatch.setattr(s, 'SAMPLERS', {})",
        "monkeypatch.setattr('bayesmm.backend.samplers.run_sampler', f)",
        "import bayesmm\nmonkeypatch.setattr(bayesmm.backend.pymc, 'choose_sampler', f)",
        "from bayesmm.backend import pymc\npymc.run_sampler = f",
    ],
)
def test_the_patch_check_finds_a_patched_backend_attribute(source):
    assert len(_patched_backend_attributes(source)) == 1


def test_no_test_patches_the_backend_to_choose_or_run_a_sampler():
    """Tests choose and stand in for samplers by registering ``Sampler`` records (the
    ``stub_sampler`` fixture, ``conftest.samplers_running``) or by explicit arguments
    (``choose_sampler(..., installed=...)``), never by patching a backend module."""
    offenders, used = [], set()
    for path in sorted(TESTS.glob("*.py")):
        for module, name, line in _patched_backend_attributes(path.read_text()):
            if (module, name) in ENGINE_INTERNALS_PATCHED:
                used.add((module, name))
            else:
                offenders.append(f"{path.name}:{line} {module}.{name}")
    assert offenders == []
    assert used == ENGINE_INTERNALS_PATCHED  # an entry no longer patched is taken out


def test_no_folder_of_the_backend_holds_more_than_twelve_modules():
    """The backend's packages stay small enough to read as one concern each; a folder that
    outgrows twelve modules splits along a line that means something (as the graph's term
    pieces did into ``graph/terms``)."""
    folders = [SRC / "backend", *(p for p in (SRC / "backend").rglob("*") if p.is_dir())]
    sizes = {
        str(f.relative_to(SRC)): len([p for p in f.glob("*.py") if p.name != "__init__.py"])
        for f in folders
        if f.name != "__pycache__"
    }
    assert {f: n for f, n in sizes.items() if n > 12} == {}
    assert {"backend/graph", "backend/graph/terms", "backend/programs"} <= set(sizes)


#: The packages a test module may be named for: ``tests/test_<package>_<topic>.py``.
TESTED_PACKAGES = (
    "backend",
    "bayesmm",
    "cli",
    "datasets",
    "design",
    "display",
    "docs",
    "families",
    "formula",
    "interpret",
    "io",
    "many",
    "model",
    "persist",
    "predict",
    "priors",
    "scaling",
    "serve",
    "sklearn",
    "workflow",
)


def test_test_modules_are_named_for_the_package_they_test():
    names = [p.stem for p in TESTS.glob("test_*.py")]
    offenders = [n for n in names if not n.removeprefix("test_").startswith(TESTED_PACKAGES)]
    assert offenders == []
    assert all(n.removeprefix("test_").split("_", 1)[0] in TESTED_PACKAGES for n in names)
