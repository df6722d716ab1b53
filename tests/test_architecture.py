"""cfutils is a stack of layer packages (the order is the one in ``cfutils/__init__.py``'s docstring):
each module imports only its own layer and the layers below it, at module level; modules talk through
public names only (no ``_private`` name is imported from, or reached into, another module); each layer
package names its public API in ``__all__``. The sizes of modules, classes and functions are printed
as a report (``pytest -s tests/test_architecture.py``), not enforced: a cut should follow the job, not
a line count."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cfutils"


def layers() -> list[str]:
    """The layers, bottom first, as ``cfutils/__init__.py``'s docstring lists them."""
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    block = doc.split("::", 1)[1].strip().split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (packages by their ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else None


def cfutils_imports(path: Path) -> list[tuple[ast.AST, str, list[str], bool]]:
    """(node, module, imported names, at module level) for every import of a cfutils module."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cfutils"):
            found.append((node, node.module, [a.name for a in node.names], id(node) in top_level))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cfutils"):
                    found.append((node, alias.name, [], id(node) in top_level))
    return found


def declared_all(path: Path) -> set[str]:
    """The names of a module's literal ``__all__ = [...]``; empty when it has none."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_the_package_is_layers_with_few_top_level_modules():
    order = layers()
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    top_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert sorted(order) == packages and len(order) >= 5
    assert len(top_modules) <= 3, top_modules


def test_each_module_imports_only_its_layer_and_the_layers_below():
    order = layers()
    for name, path in modules().items():
        layer = layer_of(name)
        if layer is None:  # cfutils/__init__.py and __main__.py sit above every layer
            continue
        allowed = set(order[: order.index(layer) + 1])
        for node, module, _, top in cfutils_imports(path):
            target = layer_of(module) or (layer_of(f"cfutils.{_[0]}") if module == "cfutils" else None)
            assert target in allowed, f"{name} imports {module}, a layer above {layer} ({node.lineno})"
            assert top, f"{name} imports {module} inside a function (line {node.lineno}); move it to the top"


def defined_private_names() -> set[str]:
    """The ``_names`` cfutils itself defines (functions, classes, attributes): reaching into a third
    party's private attribute is that library's business, not a crossing between our modules."""
    names = set()
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_"):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
                names.add(node.attr)
    return names


def test_no_private_name_crosses_a_module():
    ours = defined_private_names()
    crossings = []
    for name, path in modules().items():
        for node, module, names, _ in cfutils_imports(path):
            crossings += [f"{name}:{node.lineno} imports {module}.{n}" for n in names if n.startswith("_")]
            crossings += [f"{name}:{node.lineno} imports {module}" for n in module.split(".") if n.startswith("_")]
        for node in ast.walk(ast.parse(path.read_text())):
            # obj._name on anything but self, cls or super() reaches into another object's internals
            if (
                isinstance(node, ast.Attribute)
                and re.fullmatch(r"_[a-z]\w*", node.attr)
                and node.attr in ours
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and not (isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "super")
            ):
                crossings.append(f"{name}:{node.lineno} reads {ast.unparse(node)}")
    assert not crossings, "\n".join(crossings)


def test_cross_layer_imports_use_the_layers_public_names():
    """Read from the source, not by importing: the distributed layer imports pyspark (make spark)."""
    publics = {layer: set() for layer in layers()}
    for path in PACKAGE.glob("*/**/__init__.py"):  # a layer's public names: its packages' __all__
        publics[path.relative_to(PACKAGE).parts[0]] |= declared_all(path)
    for name, path in modules().items():
        for node, module, names, _ in cfutils_imports(path):
            target = layer_of(module)
            if target and target != layer_of(name):
                hidden = sorted(set(names) - publics[target])
                assert not hidden, f"{name}:{node.lineno} takes {hidden} from {module}, not in {target}'s __all__"


@pytest.mark.parametrize("layer", layers())
def test_each_layer_names_its_public_api(layer):
    if layer == "distributed":  # needs pyspark (make spark); its API is the job's command line
        pytest.importorskip("pyspark")
    package = importlib.import_module(f"cfutils.{layer}")
    assert package.__doc__
    for name in getattr(package, "__all__", []):
        assert hasattr(package, name), f"cfutils.{layer}.__all__ names {name}, which it does not define"


def test_size_report(capsys):
    """Printed, not enforced: the largest modules, classes and functions, to watch over time."""
    sizes = []
    for name, path in modules().items():
        source = path.read_text()
        sizes.append((len(source.splitlines()), "module", name))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                sizes.append((node.end_lineno - node.lineno + 1, kind, f"{name}.{node.name}"))
    with capsys.disabled():
        for kind, plural in (("module", "modules"), ("class", "classes"), ("function", "functions")):
            largest = sorted((s for s in sizes if s[1] == kind), reverse=True)[:3]
            print(f"\nlargest {plural}: " + ", ".join(f"{n} ({lines} lines)" for lines, _, n in largest))
    assert sizes


@pytest.mark.parametrize("layer", layers())
def test_no_exported_name_hides_a_module(layer):
    """``from cfutils.present.record import record`` in an ``__init__`` would make the attribute
    ``cfutils.present.record`` the function, and ``import cfutils.present.record as r`` return it."""
    folder = PACKAGE / layer
    submodules = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    exported = set(re.findall(r'^\s+"(\w+)",$', (folder / "__init__.py").read_text(), re.M))
    assert not exported & submodules
