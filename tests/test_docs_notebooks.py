"""The notebooks in examples/: each one runs from top to bottom, and each is stored with outputs.

The run uses small sampler settings (the notebooks read them from environment variables), in a
temporary working directory, so that nothing is written into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "examples").glob("*.ipynb"))
FAST = {
    "BAYESMM_EXAMPLE_DRAWS": "100",
    "BAYESMM_EXAMPLE_TUNE": "100",
    "BAYESMM_EXAMPLE_CHAINS": "2",
    # The workflow notebook's refits: two folds of rows, two of patients, one exact refit.
    "BAYESMM_EXAMPLE_FOLDS": "2",
    "BAYESMM_EXAMPLE_GROUP_FOLDS": "2",
    "BAYESMM_EXAMPLE_MAX_REFITS": "1",
}
CELL_TIMEOUT_S = 600


def test_examples_has_notebooks():
    assert len(NOTEBOOKS) >= 5, [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_with_outputs_and_no_errors(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), f"{path.name} has cells never run"
    errors = [
        output["ename"] for cell in code for output in cell.outputs if output.output_type == "error"
    ]
    assert not errors, f"{path.name} is stored with errors: {errors}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_errors(path, tmp_path, monkeypatch):
    # The kernel inherits this process's environment, which is how the notebook gets the
    # small sampler settings.
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # Raises CellExecutionError, naming the cell, if any cell raises.
    client.execute()
    errors = [
        output.get("ename")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
