"""Record a notebook's key results, and read them back from the executed notebook.

This is the store/read loop of Microsoft Recommenders (scrapbook's ``glue``/``read_notebook``),
without the extra dependency. Inside a notebook::

    from cfutils.present.record import record
    record("sparsity", 0.987)                  # -> metrics.json
    record("fit_seconds", 3.2, volatile=True)  # -> timings.json

:func:`record` displays one output carrying the JSON payload
``{"name": ..., "value": ..., "volatile": ...}`` under the mimetype :data:`MIMETYPE`, plus a
``text/plain`` fallback that JupyterLab and the HTML report show. Papermill stores that output in
the executed notebook, and :func:`read_records` collects the payloads again.

Deterministic results (counts, metrics) are recorded plainly; anything that changes between two
runs with the same ``SEED`` (wall times, memory readings) must be recorded with ``volatile=True``,
so that ``metrics.json`` stays byte-identical across runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from IPython import get_ipython
from IPython.display import display

#: Mimetype of a recorded result in a notebook output.
MIMETYPE = "application/vnd.cfutils.present.record+json"

#: Every value recorded in this process, by name, in the JSON form the executed notebook stores (mapping
#: keys sorted): what :mod:`cfutils.present.claims` reads to print a claim from exactly what is recorded.
RECORDED: dict[str, Any] = {}

#: How many characters of the value the ``text/plain`` fallback shows.
_TEXT_LIMIT = 400


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types (dict with str keys, list, str, int, float, bool, None).

    Conversions:

    - numpy scalars -> Python scalars; numpy arrays -> (nested) lists;
    - ``float('nan')``, ``±inf`` (Python or numpy) and ``pd.NA``/``NaT`` -> ``None``, because JSON has
      no NaN; a recorded ``None`` therefore means "undefined", e.g. the mean of an empty set;
    - ``pd.Series`` -> ``{str(index): value}``;
    - ``pd.DataFrame`` -> a list of row dicts; a non-default index becomes leading column(s) first
      (``reset_index``), so the index of a table such as ``split -> cold-start %`` is kept;
    - ``datetime``/``date``/``pd.Timestamp``/``np.datetime64`` -> ISO 8601 strings,
      ``timedelta``/``pd.Timedelta`` -> seconds (float);
    - tuples, ``pd.Index`` and pandas extension arrays -> lists; sets -> sorted lists; ``Path`` -> ``str``;
      mapping keys -> ``str``.

    Raises ``TypeError`` naming the type for anything else (a model, a figure...): record the
    number you care about, not the object.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        return to_jsonable(pd.Timestamp(value))
    if isinstance(value, np.timedelta64):
        return to_jsonable(pd.Timedelta(value))
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date)):  # pd.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # pd.Timedelta is a timedelta
        return value.total_seconds()
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, pd.DataFrame):
        frame = value if isinstance(value.index, pd.RangeIndex) else value.reset_index()
        return [
            {str(column): to_jsonable(cell) for column, cell in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)
        ]
    if isinstance(value, pd.Series):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, pd.Index, pd.api.extensions.ExtensionArray)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"cannot record a value of type {type(value).__name__}; "
        "record plain numbers, strings, lists, dicts, numpy or pandas values"
    )


def record(name: str, value: Any, volatile: bool = False) -> None:
    """Record ``value`` under ``name`` as a result of the running notebook.

    The value is converted with :func:`to_jsonable` (NaN becomes ``None``). ``volatile=True`` marks
    a value that legitimately differs between two runs with the same seed (timings, memory);
    the pipeline writes those to ``timings.json`` instead of ``metrics.json``.
    Recording the same name twice in one notebook keeps the later value. :data:`RECORDED` keeps it too.

    Outside IPython (a plain script) the record is printed as ``name = value``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a record name must be a non-empty string, got {name!r}")
    payload = {"name": name, "value": to_jsonable(value), "volatile": bool(volatile)}
    RECORDED[name] = json.loads(json.dumps(payload["value"], sort_keys=True))  # as the saved notebook holds it
    text = f"{name} = {json.dumps(payload['value'], ensure_ascii=False, allow_nan=False)}"
    if len(text) > _TEXT_LIMIT:
        text = text[: _TEXT_LIMIT - 3] + "..."
    if get_ipython() is None:
        print(text)
        return
    display({MIMETYPE: payload, "text/plain": text}, raw=True)


def read_records(notebook_path: str | Path, volatile: bool = False) -> dict[str, Any]:
    """Return ``{name: value}`` of what an executed notebook recorded.

    ``volatile=False`` returns the deterministic records (for ``metrics.json``), ``volatile=True``
    the volatile ones (for ``timings.json``). Records are read in cell order, so a name recorded
    twice keeps its later value. A notebook that was never executed records nothing: ``{}``.
    """
    import nbformat  # here, not at the top: importing it costs seconds inside every notebook kernel

    notebook = nbformat.read(Path(notebook_path), as_version=4)
    records: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(MIMETYPE)
            if payload is not None and bool(payload["volatile"]) == volatile:
                records[payload["name"]] = payload["value"]
    return records
