"""Cached formula values against a real client: LibreOffice recalculates our prefilled workbooks.

For each data set of ``tests/cases/formulas.json`` the workbook is written (the set with wrong
types as an annotated return, which keeps them), LibreOffice opens it, recalculates every formula
and saves it; each formula cell's cached value in our file must equal what LibreOffice computed.
So a client that does not recalculate on load shows what one that does would show.  With
``XLTEMPLATE_UPDATE_SNAPSHOTS=1`` LibreOffice's values are recorded as the cases' ``expected``
(which ``tests/test_rules.py`` holds the evaluator to without LibreOffice).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import libreoffice as lo
import openpyxl
import pytest
from test_rules import CASES, CASES_FILE, formula_cells, formula_model, same

from xltemplate.xlsx.writer import write_annotated, write_filled

UPDATE = bool(os.environ.get("XLTEMPLATE_UPDATE_SNAPSHOTS"))


@pytest.fixture(autouse=True)
def _need_libreoffice() -> None:
    lo.require()


def _values(data: bytes | Path, cells: list[str]) -> dict[str, object]:
    """Cached values; a date (LibreOffice gives a formula over a date cell a date format) as its serial."""
    wb = openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data, data_only=True)
    ws = wb["公式"]
    out = {}
    for c in cells:
        value = ws[c].value
        if isinstance(value, dt.datetime):
            value = (value - dt.datetime(1899, 12, 30)).total_seconds() / 86400
        elif isinstance(value, dt.time):  # the serial 0 in a date format
            value = (value.hour * 3600 + value.minute * 60 + value.second) / 86400
        out[c] = value
    return out


def test_cached_values_are_what_libreoffice_computes(tmp_path: Path) -> None:
    model = formula_model()
    placed = formula_cells(model)
    cells = [c for _f, c, _k in placed] + ["B" + str(next(c.row for c in model.sheets[0].cells
                                                          if c.kind == "check") + 1)]
    recorded: dict[str, dict[str, object]] = {}
    wrong = []
    for name, data in CASES["datasets"].items():
        writer = write_annotated if name == "wrong" else write_filled
        book = writer(model, data, []) if writer is write_annotated else writer(model, data)
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(book)
        ours = _values(book, cells)
        theirs = _values(lo.convert(path, tmp_path / "lo", "xlsx", recalc=True), cells)
        recorded[name] = {f: theirs[c] for f, c, _k in placed}
        wrong += [(name, f, ours[c], theirs[c]) for f, c, _k in placed if not same(ours[c], theirs[c])]
        check = cells[-1]
        if not same(ours[check], theirs[check]):
            wrong.append((name, "check", ours[check], theirs[check]))
    if UPDATE:
        CASES["expected"] = recorded
        CASES_FILE.write_text(json.dumps(CASES, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert not wrong, wrong
