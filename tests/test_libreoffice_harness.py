"""Quick checks of the LibreOffice test harness (tests/libreoffice.py) itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import libreoffice as lo
import openpyxl
import pytest
import xlsxwriter


@pytest.fixture(autouse=True)
def _libreoffice() -> None:
    lo.require()


def make_workbook(path: Path) -> Path:
    """Protected sheet 'Form' with unlocked B1 (xt.a, text), B2 (xt.b, number), B3 (xt.d, date),
    and a formula C2 = B2*2."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Form")
    unlocked = wb.add_format({"locked": False})
    unlocked_date = wb.add_format({"locked": False, "num_format": "yyyy-mm-dd"})
    ws.write("A1", "Text")
    ws.write("A2", "Number")
    ws.write("A3", "Date")
    ws.write_blank("B1", None, unlocked)
    ws.write_number("B2", 1, unlocked)
    ws.write_blank("B3", None, unlocked_date)
    ws.write_formula("C2", "=B2*2")
    ws.protect()
    wb.define_name("xt.a", "=Form!$B$1")
    wb.define_name("xt.b", "=Form!$B$2")
    wb.define_name("xt.d", "=Form!$B$3")
    wb.close()
    return path


def test_fill_by_names_keeps_protection(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    dst = tmp_path / "out" / "filled.xlsx"
    lo.fill_by_names(src, dst, {"xt.a": "乌海 text", "xt.b": 42.5, "xt.d": dt.date(2024, 2, 29)})

    ws = openpyxl.load_workbook(dst)["Form"]
    assert ws["B1"].value == "乌海 text"
    assert ws["B2"].value == 42.5
    assert ws["B3"].value == dt.datetime(2024, 2, 29)  # serial + kept date format
    assert ws["B3"].number_format.lower() in ("yyyy-mm-dd", "yyyy\\-mm\\-dd")
    assert ws.protection.sheet is True
    assert ws["B1"].protection.locked is False
    assert ws["A1"].protection.locked is True
    # formulas were recalculated before saving
    values = openpyxl.load_workbook(dst, data_only=True)["Form"]
    assert values["C2"].value == 85
    assert not list(tmp_path.glob(".~lock.*#"))


def test_fill_by_names_none_clears(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    dst = tmp_path / "filled.xlsx"
    lo.fill_by_names(src, dst, {"xt.b": None})
    ws = openpyxl.load_workbook(dst)["Form"]
    assert ws["B2"].value is None
    assert ws.protection.sheet is True


def test_fill_by_names_unknown_name(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    with pytest.raises(lo.LibreOfficeError, match=r"xt\.nope"):
        lo.fill_by_names(src, tmp_path / "filled.xlsx", {"xt.nope": 1})


def test_convert_ods_roundtrip(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    ods = lo.convert(src, tmp_path / "ods", "ods")
    assert ods == tmp_path / "ods" / "t.ods"
    back = lo.convert(ods, tmp_path / "back", "xlsx")
    assert back.suffix == ".xlsx"
    wb = openpyxl.load_workbook(back)
    ws = wb["Form"]
    assert ws["A1"].value == "Text"
    assert ws.protection.sheet is True
    assert set(wb.defined_names) >= {"xt.a", "xt.b"}
    assert not list(tmp_path.rglob(".~lock.*#"))


def test_convert_refuses_overwrite(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="overwrite"):
        lo.convert(src, tmp_path, "xlsx")


@pytest.mark.parametrize("recalc, expected", [(True, 2), (False, 0)])
def test_convert_recalc_on_load(tmp_path: Path, recalc: bool, expected: int) -> None:
    # xlsxwriter caches 0 for C2 = B2*2 (B2 = 1); Excel recalculates on load, LibreOffice only if told to.
    src = make_workbook(tmp_path / "t.xlsx")
    out = lo.convert(src, tmp_path / "out", "xlsx", recalc=recalc)
    assert openpyxl.load_workbook(out, data_only=True)["Form"]["C2"].value == expected


def test_render_png(tmp_path: Path) -> None:
    src = make_workbook(tmp_path / "t.xlsx")
    png = tmp_path / "img" / "form.png"
    lo.render_png(src, png, sheet_index=0, dpi=40)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
