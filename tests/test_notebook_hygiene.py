"""Committed notebooks follow the project's conventions (no kernel needed).

No outputs or execution counts, first cell markdown, exactly one ``parameters`` cell that declares
DATA/SEED/OUTPUT_DIR/SPLIT with their defaults, kernel ``python3``, no long functions and no long code cells.
"""

from __future__ import annotations

import ast

import nbformat
import papermill
import pytest
from conftest import NOTEBOOKS_DIR
from IPython.core.inputtransformer2 import TransformerManager

from cfutils.present import pipeline

NOTEBOOKS = pipeline.discover_notebooks(NOTEBOOKS_DIR)
SHARED_DEFAULTS = {"DATA": "sample", "SEED": 0, "OUTPUT_DIR": "outputs", "SPLIT": "global_time"}
#: A notebook defines no function longer than a few lines: logic lives in cfutils, where it is tested.
MAX_FUNCTION_LINES = 5
#: Longer code cells hold logic that belongs in cfutils, where it is tested.
MAX_CELL_LINES = 20


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["01", "02"]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4), request.param


def test_is_valid_and_uses_the_python3_kernel(notebook):
    nb, _ = notebook
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


def test_is_committed_without_outputs(notebook):
    nb, _ = notebook
    dirty = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, f"cells {dirty} carry outputs or execution counts; clear them before committing"
    assert "papermill" not in nb.metadata, "this is an executed copy, not the source notebook"


def test_first_cell_is_markdown(notebook):
    nb, _ = notebook
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("#")


def test_has_exactly_one_parameters_cell_with_the_shared_defaults(notebook):
    nb, path = notebook
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    defaults = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(tagged[0].source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert {name: defaults.get(name) for name in SHARED_DEFAULTS} == SHARED_DEFAULTS
    assert set(papermill.inspect_notebook(str(path))) == set(defaults), "papermill sees the same parameters"


def test_defines_no_long_functions(notebook):
    nb, _ = notebook
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(TransformerManager().transform_cell(cell.source))):  # magics -> Python
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, f"{node.name} has {length} lines; move it into cfutils"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_code_cells_are_short(path):
    nb = nbformat.read(path, as_version=4)
    long = {
        cell.get("id"): len(cell.source.splitlines())
        for cell in nb.cells
        if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_CELL_LINES
    }
    assert not long, f"code cells over {MAX_CELL_LINES} lines (id: lines): {long}; move their logic into cfutils"
