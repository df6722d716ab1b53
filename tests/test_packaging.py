"""The package installs as a wheel, not only in editable mode: a wheel built from a clean copy of the
tracked files holds every module of the checkout, and each imports from a folder outside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def tracked_files() -> list[str]:
    """What a clean clone would hold: tracked files and new ones git does not ignore."""
    command = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, list[str]]:
    """(folder the wheel was installed into, the modules the checkout holds)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    for name in tracked_files():
        if name.startswith(("cfutils/", "pyproject.toml", "README.md")) and (ROOT / name).exists():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source], check=True)
    (wheel,) = (tmp / "dist").glob("cfutils-*.whl")
    target = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", target, wheel], check=True)
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "cfutils").rglob("*.py")
        if p.name != "__main__.py"
    )
    return target, [m.removesuffix(".__init__") for m in modules], wheel


def test_the_wheel_holds_every_module(installed):
    _, modules, wheel = installed
    in_wheel = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    in_checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "cfutils").rglob("*.py")}
    assert in_checkout <= in_wheel, sorted(in_checkout - in_wheel)


def test_every_module_imports_from_the_installed_wheel(installed, tmp_path):
    target, modules, _ = installed
    if not importlib_available("pyspark"):
        modules = [m for m in modules if m.split(".")[:2] != ["cfutils", "distributed"]]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(target)!r}), (name, module.__file__)\n"
        "import cfutils.io, cfutils.split\n"
        "assert cfutils.io.read_ratings is importlib.import_module('cfutils.data.io').read_ratings\n"
        "print('ok', len(sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def importlib_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
