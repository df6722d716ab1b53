"""environment.yml (conda) and requirements.txt (pip) must list the same packages at the same versions.

No conda is available to build the environment here, so this test is what keeps it honest.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# PyPI and conda-forge name a few packages differently.
PIP_TO_CONDA = {"xgboost-cpu": "xgboost"}


def _pip_pins(requirements: str = "requirements.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line).groups()
            pins[PIP_TO_CONDA.get(name.lower(), name.lower())] = version
    return pins


def _conda_pins(environment: str = "environment.yml") -> dict[str, str]:
    """Conda pins ``- name=version``, and pins of the ``pip:`` section ``- name==version``."""
    pins = {}
    for line in (ROOT / environment).read_text().splitlines():
        match = re.fullmatch(r"\s*-\s*([A-Za-z0-9_.\-]+)==?([^=\s#]+)\s*(#.*)?", line)
        if match and match.group(1) != "python":
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-spark.txt"])
def test_every_requirement_is_pinned_exactly(requirements):
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / requirements).read_text().splitlines()]
    assert all("==" in line for line in lines if line), f"{requirements} must pin exact versions"


def test_environment_yml_matches_requirements():
    assert _conda_pins() == _pip_pins()


def test_optional_spark_environment_matches_its_requirements():
    # The conda file also brings the Java runtime, which pip cannot install.
    conda = _conda_pins("environment-spark.yml")
    assert conda.pop("openjdk") == "17"
    assert conda == _pip_pins("requirements-spark.txt") and "pyspark" in conda and "py4j" in conda


def test_spark_pins_do_not_touch_the_core_pins():
    assert not set(_pip_pins("requirements-spark.txt")) & set(_pip_pins())


def test_environment_yml_uses_python_311_from_conda_forge():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text and re.search(r"-\s*python=3\.11\b", text)


@pytest.mark.parametrize(
    "name",
    [
        "numpy",
        "pandas",
        "scipy",
        "scikit-learn",
        "xgboost",
        "seaborn",
        "matplotlib",
        "papermill",
        "jupyterlab",
        "ipykernel",
        "pyarrow",
        "tqdm",
        "pytest",
        "hypothesis",
        "scikit-surprise",
    ],
)
def test_design_card_packages_are_pinned(name):
    assert name in _pip_pins()


def test_constraints_agree_with_requirements():
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            constraints[PIP_TO_CONDA.get(name.lower(), name.lower())] = version
    for name, version in _pip_pins().items():
        assert constraints.get(name) == version, name
