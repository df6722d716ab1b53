"""record / read_records / to_jsonable without a kernel (the pipeline tests cover the real kernel)."""

from __future__ import annotations

import datetime as dt
import json
import math

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook, new_output

import cfutils.present.record as rec
from cfutils.present.record import MIMETYPE, read_records, record, to_jsonable


def _reference_jsonable(value):
    """Obviously-right reference for the value types the hypothesis strategy draws."""
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _reference_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reference_jsonable(v) for v in value]
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.integers(-(2**40), 2**40),
    st.floats(),
    st.floats(width=32).map(np.float32),
    st.integers(-1000, 1000).map(np.int64),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 9)), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(values)
def test_to_jsonable_gives_strict_json_equal_to_the_reference(value):
    converted = to_jsonable(value)
    assert converted == _reference_jsonable(value)
    assert json.loads(json.dumps(converted, allow_nan=False)) == converted


def test_to_jsonable_numpy_and_pandas():
    assert to_jsonable(np.array([[1, 2], [3, 4]], dtype=np.int32)) == [[1, 2], [3, 4]]
    assert to_jsonable(np.array([1.5, np.nan, np.inf])) == [1.5, None, None]
    assert to_jsonable(np.bool_(True)) is True
    assert to_jsonable(pd.Series([3, 4], index=[1.0, 4.5])) == {"1.0": 3, "4.5": 4}
    frame = pd.DataFrame({"pct": [12.5, np.nan]}, index=pd.Index(["global_time", "random"], name="split"))
    assert to_jsonable(frame) == [{"split": "global_time", "pct": 12.5}, {"split": "random", "pct": None}]
    assert to_jsonable(pd.DataFrame({"a": [1], "b": ["x"]})) == [{"a": 1, "b": "x"}]
    assert to_jsonable(pd.array([1, None], dtype="Int16")) == [1, None]


def test_to_jsonable_dates_sets_and_paths(tmp_path):
    assert to_jsonable(pd.Timestamp("2005-12-31")) == "2005-12-31T00:00:00"
    assert to_jsonable(np.datetime64("2005-12-31T00:00:00", "ns")) == "2005-12-31T00:00:00"
    assert to_jsonable(dt.date(2005, 1, 2)) == "2005-01-02"
    assert to_jsonable(pd.NaT) is None and to_jsonable(np.datetime64("NaT")) is None and to_jsonable(pd.NA) is None
    assert to_jsonable(pd.Timedelta(minutes=1)) == 60.0 and to_jsonable(np.timedelta64(2, "s")) == 2.0
    assert to_jsonable({3, 1, 2}) == [1, 2, 3]
    assert to_jsonable(tmp_path) == str(tmp_path)


def test_to_jsonable_rejects_objects_with_their_type_name():
    with pytest.raises(TypeError, match="cannot record a value of type object"):
        to_jsonable({"model": object()})


def _notebook_with(*bundles, path):
    outputs = [new_output("display_data", data=bundle) for bundle in bundles]
    nbformat.write(new_notebook(cells=[new_code_cell("...", outputs=outputs), new_code_cell("unexecuted")]), path)
    return path


def _captured_bundles(monkeypatch):
    """Make ``record`` believe it runs in IPython, and capture what it displays."""
    shown = []
    monkeypatch.setattr("cfutils.present.record.get_ipython", lambda: object())
    monkeypatch.setattr("cfutils.present.record.display", lambda bundle, raw: shown.append((bundle, raw)))
    return shown


def test_record_displays_the_payload_and_a_text_fallback(monkeypatch):
    shown = _captured_bundles(monkeypatch)
    record("rmse", np.float64(0.93))
    record("fit_seconds", 1.25, volatile=True)
    (first, raw), (second, _) = shown
    assert raw is True
    assert first == {MIMETYPE: {"name": "rmse", "value": 0.93, "volatile": False}, "text/plain": "rmse = 0.93"}
    assert second[MIMETYPE]["volatile"] is True


def test_record_then_read_records_round_trip_split_by_volatility(monkeypatch, tmp_path):
    shown = _captured_bundles(monkeypatch)
    record("n_ratings", np.int64(7000))
    record("table", pd.DataFrame({"a": [1.0, np.nan]}))
    record("load_seconds", 0.5, volatile=True)
    record("n_ratings", 6999)  # recorded twice: the later value wins
    path = _notebook_with(
        *(bundle for bundle, _ in shown), {"text/plain": "an ordinary output"}, path=tmp_path / "nb.ipynb"
    )
    assert read_records(path) == {"n_ratings": 6999, "table": [{"a": 1.0}, {"a": None}]}
    assert read_records(path, volatile=True) == {"load_seconds": 0.5}


def test_record_outside_ipython_prints_and_long_values_are_cut(capsys, monkeypatch):
    monkeypatch.setattr("cfutils.present.record.get_ipython", lambda: None)
    record("ids", list(range(1000)))
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("ids = [0, 1, 2") and printed.endswith("...") and len(printed) == rec._TEXT_LIMIT


def test_record_rejects_empty_names():
    with pytest.raises(ValueError, match="non-empty string"):
        record("", 1)


def test_read_records_of_an_unexecuted_notebook_is_empty(tmp_path):
    assert read_records(_notebook_with(path=tmp_path / "empty.ipynb")) == {}


def test_recorded_keeps_the_json_form_with_sorted_keys():
    from cfutils.present.record import RECORDED, record

    record("claim_input", {"b": 1, "a": (2, 3)})
    assert list(RECORDED["claim_input"]) == ["a", "b"] and RECORDED["claim_input"]["a"] == [2, 3]
