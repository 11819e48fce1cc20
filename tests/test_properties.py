"""Properties: valid instances survive fill -> import unchanged; any content in any cell gives a
status, never an exception."""

from __future__ import annotations

import io
import math

import openpyxl
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError
from strategies import instances

from xltemplate.collect.importer import import_workbook
from xltemplate.form.forms import load_form
from xltemplate.xlsx.writer import write_workbook

WUHAI = load_form("wuhai-perf-target")
EXPENSE = load_form("expense-claim")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.filter_too_much])


@pytest.mark.parametrize("model", [WUHAI, EXPENSE], ids=["wuhai-perf-target", "expense-claim"])
@SETTINGS
@given(st.data())
def test_valid_instances_survive_fill_and_import(model, data) -> None:
    instance = data.draw(instances(model))
    result = import_workbook("x.xlsx", data=write_workbook(model, instance))
    assert result.status == "valid", result.errors
    assert result.data == instance


BLANK = write_workbook(WUHAI)
CELL_VALUE = st.one_of(
    st.text(max_size=200), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.dates(), st.datetimes(), st.sampled_from(["=1+1", "=A1", "=SUM(B:B)", "#REF!", "TRUE", ""]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.tuples(st.sampled_from(WUHAI.fields), CELL_VALUE), max_size=6))
def test_any_content_in_any_input_cell_gives_a_status(values) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(BLANK))
    for f, value in values:
        try:
            wb[f.sheet][f.cell] = value
        except (ValueError, TypeError, IllegalCharacterError):  # characters no xlsx may hold
            continue
    out = io.BytesIO()
    try:
        wb.save(out)
    except Exception:  # openpyxl, the test's client, cannot write some combinations
        reject()
    result = import_workbook("x.xlsx", data=out.getvalue())
    assert result.status in ("valid", "invalid", "unreadable")
    # the importer's last safety net turns any exception into "unexpected": that is a bug, not a status
    assert not [e for e in result.errors if e.code == "unexpected"], result.errors
    for error in result.errors:
        assert error.message
        assert not (isinstance(error.value, float) and math.isnan(error.value))
