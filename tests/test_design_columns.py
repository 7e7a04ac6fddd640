"""The column summary of a design: a typed record with the JSON form of a model file."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.design import ColumnSummary, build_design, design_to_dict
from bayesmm.design.columns import describe_columns
from bayesmm.families import get_family
from bayesmm.io import read_header

DATA = Path(__file__).parent / "data"
SHIPPED = Path(bmm.__file__).parent / "serve" / "sleepstudy_demo.nc"
#: Every saved model the repository holds: the golden files of each format, and the others.
FILES = [*sorted(DATA.rglob("*.nc")), SHIPPED]


def _designs(spec: dict) -> list[dict]:
    """The designs of a file's spec: its own, or each response's (a multivariate model)."""
    return [part["design"] for part in spec.get("by_response", [spec])]


def _records(design: dict) -> list[tuple[str, dict]]:
    """Every column record of a design's JSON form, its sub-designs' included."""
    found = list(design["columns"].items())
    for sub in design.get("distributional", []) + design.get("imputed", []):
        found += _records(sub["design"])
    return found


@pytest.fixture
def mixed():
    rng = np.random.default_rng(3)
    n = 40
    x = rng.normal(size=n)
    x[[2, 7]] = np.nan  # an mi() column's missing values
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.poisson(4, size=n),
            "whole": rng.integers(0, 5, size=n).astype(float),
            "flag": rng.random(n) < 0.7,
            "trt": pd.Categorical(rng.choice(["b", "a", "c"], size=n), categories=["b", "a", "c"]),
            "name": rng.choice(["u", "v"], size=n),
        }
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_stored_column_record_round_trips_through_the_typed_record(path):
    """The files of every format version read into records and write back the same JSON."""
    spec = read_header(path)["spec"]
    records = [record for design in _designs(spec) for record in _records(design)]
    assert records
    for name, record in records:
        summary = ColumnSummary.from_dict(record)
        assert summary.kind == record["kind"]
        assert summary.to_dict(f"column {name!r}") == record
        assert json.loads(json.dumps(summary.to_dict())) == record


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_loaded_state_holds_typed_column_summaries(path):
    design = bmm.load(path).design
    for part in getattr(design, "designs", [design]):  # each response's, when multivariate
        state = part.state
        assert state.columns and all(isinstance(c, ColumnSummary) for c in state.columns.values())
        assert state.column_summaries() == state.columns


def test_summaries_of_training_rows_round_trip(mixed):
    summaries = describe_columns(mixed)
    assert [s.kind for s in summaries.values()] == [
        "numeric",
        "numeric",
        "numeric",
        "bool",
        "categorical",
        "categorical",
    ]
    for summary in summaries.values():
        assert ColumnSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary


def test_summaries_of_training_rows_hold_what_grids_and_servers_read(mixed):
    summaries = describe_columns(mixed)
    x = mixed["x"].dropna()
    assert (summaries["x"].low, summaries["x"].high) == (x.min(), x.max())
    assert summaries["x"].typical == pytest.approx(x.mean())
    assert summaries["x"].five_numbers == pytest.approx(np.quantile(x, [0, 0.25, 0.5, 0.75, 1]))
    assert summaries["k"].dtype == "<i8" and summaries["k"].whole
    assert summaries["whole"].whole and isinstance(summaries["whole"].typical, int)
    assert summaries["flag"].levels == (False, True)
    assert summaries["flag"].typical is bool(mixed["flag"].mean() > 0.5)
    assert summaries["trt"].levels == ("b", "a", "c")  # coding order, not sorted
    counts = mixed["trt"].value_counts()
    assert summaries["trt"].typical == counts.idxmax()
    assert summaries["name"].counts == tuple(int((mixed["name"] == v).sum()) for v in "uv")


def test_records_of_older_files_give_the_fallbacks():
    """Files before the means, quartiles and counts were kept: the middle of the range, an
    even spread and the first level."""
    numeric = ColumnSummary.from_dict({"kind": "numeric", "dtype": "<i8", "range": [0, 12]})
    assert (numeric.mean, numeric.quartiles, numeric.integral) == (None, None, None)
    assert numeric.typical == 6.0 and numeric.whole
    assert numeric.five_numbers == (0.0, 3.0, 6.0, 9.0, 12.0)
    levels = ColumnSummary.from_dict({"kind": "categorical", "levels": [3, 1, 2]})
    assert levels.counts is None and levels.typical == 3
    flag = ColumnSummary.from_dict({"kind": "bool"})
    assert flag.levels == (False, True) and flag.typical is False
    assert flag.to_dict() == {"kind": "bool"}


def test_the_design_file_entry_is_the_summaries_json(sleepstudy):
    design = build_design("Reaction ~ Days + (1 | Subject)", sleepstudy, get_family("gaussian"))
    stored = design_to_dict(design)["columns"]
    summaries = design.state.column_summaries()
    assert design.state.columns == {}  # built from data: the rows are there
    assert stored == {name: s.to_dict() for name, s in summaries.items()}
    assert stored["Subject"]["kind"] == "categorical" and stored["Days"]["integral"]


def test_a_column_summary_names_a_wrong_kind_or_a_missing_range():
    with pytest.raises(
        ValueError, match=r"kind must be one of \['bool', 'categorical', 'numeric'\]; got 'number'"
    ):
        ColumnSummary(kind="number")
    with pytest.raises(ValueError, match="numeric column summary needs its dtype and range"):
        ColumnSummary(kind="numeric", dtype="<f8")
    with pytest.raises(ValueError, match="a categorical column has no range"):
        _ = ColumnSummary(kind="categorical", levels=("a",)).low
