"""The README's data-flow diagram is the package's import graph: each module imports only modules to
its left in the diagram and the helpers, every module is in it, and no import hides in a function
except the lazy lookups of a module ``__getattr__`` (each states why). Modules, classes and functions
stay small enough to read at once: at most 600, 150 and 60 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cfutils"


def diagram() -> tuple[list[str], set[str]]:
    """The stages of the README's diagram, left to right, and its helpers."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("The data flows one way", 1)[1].split("```", 2)[1]
    *flow, helpers = block.strip().splitlines()
    stages = re.findall(r"[a-z_]+", " ".join(flow).replace("raw files", ""))
    return stages, set(re.findall(r"[a-z_]+", helpers.removeprefix("helpers:")))


def stage_of(module: str) -> str:
    """``cfutils.io.cache`` -> ``io``: a subpackage is one stage."""
    return module.split(".")[1]


def imports(path: Path) -> tuple[set[str], set[str]]:
    """The cfutils stages a file imports at module level, and those it imports inside a function
    other than a module ``__getattr__``."""
    tree = ast.parse(path.read_text())
    top, hidden = set(), set()
    lazy_lookups = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"]
    allowed = {id(inner) for node in lazy_lookups for inner in ast.walk(node)}
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cfutils"):
            names = [f"cfutils.{a.name}" for a in node.names] if node.module == "cfutils" else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("cfutils.")]
        else:
            continue
        if id(node) in top_level:
            top |= {stage_of(name) for name in names}
        elif id(node) not in allowed:
            hidden |= {stage_of(name) for name in names}
    return top, hidden


def modules() -> dict[str, Path]:
    return {
        str(p.relative_to(ROOT).with_suffix("")).replace("/", "."): p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "__init__.py" or p.parent != PACKAGE
    }


def test_every_module_is_in_the_diagram_once():
    stages, helpers = diagram()
    assert len(stages) == len(set(stages)) and not set(stages) & helpers
    assert {stage_of(name) for name in modules()} == set(stages) | helpers


def test_each_module_imports_only_modules_to_its_left_and_the_helpers():
    stages, helpers = diagram()
    for name, path in modules().items():
        stage = stage_of(name)
        left = set(stages[: stages.index(stage)]) if stage in stages else set()
        top, _ = imports(path)
        wrong = top - {stage} - left - helpers
        assert not wrong, f"{name} imports {sorted(wrong)}, which the README's diagram puts to its right"


def test_no_import_hides_in_a_function():
    for name, path in modules().items():
        _, hidden = imports(path)
        assert not hidden, f"{name} imports {sorted(hidden)} inside a function; move it to the top"


MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 600, 150, 60


def test_modules_classes_and_functions_stay_small():
    too_long = []
    for name, path in modules().items():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            limit = {ast.ClassDef: MAX_CLASS_LINES, ast.FunctionDef: MAX_FUNCTION_LINES}.get(type(node))
            if limit and node.end_lineno - node.lineno + 1 > limit:
                too_long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines (limit {limit})")
    assert not too_long, f"split these into smaller pieces: {too_long}"
