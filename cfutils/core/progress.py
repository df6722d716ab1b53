"""Progress bars that read well wherever the code runs.

:func:`progress_bar` is ``tqdm.auto.tqdm`` (a widget in JupyterLab, text in a terminal), turned
off when nobody can watch it: the pipeline sets ``CFUTILS_PROGRESS=0`` in the environment of the
kernels it starts under papermill, where a bar would only leave a frozen ``0%|`` line in the
executed notebook and the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

#: Environment variable that turns every :func:`progress_bar` off when set to ``"0"``.
ENVIRONMENT_VARIABLE = "CFUTILS_PROGRESS"


def interactive() -> bool:
    """False when ``CFUTILS_PROGRESS=0`` (a batch run with no one watching), else True."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "1") != "0"


def progress_bar(iterable: Iterable[Any] | None = None, *, disable: bool = False, **kwargs: Any) -> tqdm:
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when ``disable`` or not :func:`interactive`."""
    return tqdm(iterable, disable=disable or not interactive(), **kwargs)


@contextmanager
def batch_environment() -> Iterator[None]:
    """Within the block, ``CFUTILS_PROGRESS=0`` (inherited by the kernels started there); the
    previous value is restored after."""
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT_VARIABLE]
        else:
            os.environ[ENVIRONMENT_VARIABLE] = previous
