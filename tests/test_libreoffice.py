"""A real client: LibreOffice opens, fills and re-saves our workbooks; the importer reads them the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

import libreoffice as lo
import openpyxl
import pytest
from conftest import load_json

from xltemplate.api import generate
from xltemplate.collect.importer import import_workbook
from xltemplate.form.model import FormModel
from xltemplate.form.values import leaves_of


@pytest.fixture(autouse=True)
def _need_libreoffice() -> None:
    lo.require()


def by_names(model: FormModel, data: dict[str, Any]) -> dict[str, Any]:
    """Defined name -> value, as a clerk would type them (dates as dates)."""
    out = {}
    for pointer, value in leaves_of(data):
        f = model.by_pointer[pointer]
        if f.kind == "date":
            value = dt.date.fromisoformat(value)
        elif f.kind == "boolean":
            value = "是" if value else "否"
        out[f.name] = value
    return out


@pytest.mark.parametrize("seed", ["seed_000.json", "seed_001.json"])
def test_resaved_by_libreoffice_imports_to_the_same_data(wuhai, make_filled, tmp_path, seed) -> None:
    data = load_json(seed)
    src = make_filled(wuhai, data)
    before = import_workbook(src)
    resaved = lo.convert(src, tmp_path / "lo", "xlsx", recalc=False)  # LibreOffice's default: no recalc
    after = import_workbook(resaved)
    assert after.data == data
    assert (after.status, [e.cell for e in after.errors]) == (before.status, [e.cell for e in before.errors])
    wb = openpyxl.load_workbook(resaved)
    assert wb["_xltemplate"].sheet_state in ("hidden", "veryHidden")
    assert all(wb[s.name].protection.sheet for s in wuhai.sheets)
    assert wb["绩效目标申报表"].data_validations.dataValidation, "LibreOffice dropped the validations"


def test_template_filled_in_libreoffice_by_defined_names(wuhai, tmp_path, seed0) -> None:
    blank = tmp_path / "blank.xlsx"
    generate(wuhai, blank)
    filled = tmp_path / "filled.xlsx"
    values = by_names(wuhai, seed0)
    values[wuhai.by_pointer["/goals/long_term"].name] = None  # the clerk clears the prompt text
    lo.fill_by_names(blank, filled, values)
    result = import_workbook(filled)
    assert result.status == "valid", result.errors
    assert result.data == seed0


def test_round_trip_through_ods(wuhai, make_filled, tmp_path, seed1) -> None:
    src = make_filled(wuhai, seed1)
    ods = lo.convert(src, tmp_path / "ods", "ods")
    back = lo.convert(ods, tmp_path / "back", "xlsx")
    assert import_workbook(back).data == seed1


def test_second_form_filled_in_libreoffice(expense, tmp_path) -> None:
    data = load_json("expense_claim.json")
    blank = tmp_path / "claim.xlsx"
    generate(expense, blank)
    filled = tmp_path / "claim-filled.xlsx"
    lo.fill_by_names(blank, filled, by_names(expense, data))
    result = import_workbook(filled)
    assert result.status == "valid", result.errors
    assert result.data == data


def test_annotated_return_opens_and_is_corrected_in_libreoffice(wuhai, tmp_path, seed0) -> None:
    """The bureau sends the annotated copy back; the clerk fixes it in LibreOffice; it imports valid."""
    from conftest import poke, write_return

    from xltemplate.collect.annotate import annotate

    path = write_return(tmp_path / "a.xlsx", wuhai, seed0, submission_id="A-1", department="市信访局")
    poke(path, wuhai, {"/funding/request": "七万"})
    result, meta = import_workbook(path, with_meta=True)
    (tmp_path / "ann").mkdir()
    annotated = annotate(wuhai, result, tmp_path / "ann", meta)
    fixed = tmp_path / "fixed.xlsx"
    lo.fill_by_names(annotated, fixed, {wuhai.by_pointer["/funding/request"].name: 7})
    again = import_workbook(fixed)
    assert again.status == "valid", again.errors
    assert again.submission_id == "A-1" and again.data == seed0


def test_rows_inserted_in_libreoffice_are_read_by_the_names_it_updates(wuhai, make_filled, tmp_path, seed0) -> None:
    """A clerk lifts protection and inserts rows: LibreOffice moves the cells and their names; the
    importer follows the names and checks the labels moved with them."""
    src = make_filled(wuhai, seed0)
    out = tmp_path / "inserted.xlsx"
    lo.fill_by_names(src, out, {}, insert_rows=[(wuhai.sheets[1].name, 6, 2)])
    f = wuhai.by_pointer["/project/function_code"]
    moved = import_workbook(out, with_meta=True)[0]
    assert moved.status == "valid", moved.errors
    assert moved.data == seed0
    import openpyxl

    assert openpyxl.load_workbook(out)[f.sheet].cell(row=f.row + 3, column=f.col + 1).value == "2010308"


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_xls_and_ods_saved_by_a_client_are_read_by_the_form_positions(wuhai, make_filled, tmp_path, fmt, seed0) -> None:
    """Excel 97-2003 (.xls, also what WPS .et holds) and OpenDocument: no defined names there, so
    the cells are read where the form puts them, after checking every label is in its place."""
    src = make_filled(wuhai, seed0)
    other = lo.convert(src, tmp_path / fmt, fmt)
    result = import_workbook(other)
    assert result.status == "valid", result.errors
    assert result.data == seed0 and result.form == "wuhai-perf-target"
    renamed = other.with_suffix(".et")  # a WPS .et file: the same container, read by content not name
    renamed.write_bytes(other.read_bytes())
    assert import_workbook(renamed).data == seed0


def test_a_row_deleted_in_libreoffice_is_a_structural_error_naming_the_field(wuhai, make_filled, tmp_path,
                                                                          seed0) -> None:
    src = make_filled(wuhai, seed0)
    f = wuhai.by_pointer["/unit/name"]
    out = tmp_path / "deleted.xlsx"
    lo.fill_by_names(src, out, {}, row_ops=[{"op": "delete", "sheet": f.sheet, "before": f.row + 1, "count": 1}])
    result = import_workbook(out)
    assert (result.status, result.errors[0].code) == ("unreadable", "structure")
    assert "项目单位" in result.errors[0].message and "删除" in result.errors[0].message


def test_rows_moved_in_libreoffice_are_refused_naming_what_moved(wuhai, make_filled, tmp_path, seed0) -> None:
    """Cutting the funding block and pasting it below the form: the names follow their cells, but the
    labels no longer sit where the form puts them relative to the fields, so the copy is refused
    with the labels that moved named, rather than read by guesswork."""
    src = make_filled(wuhai, seed0)
    total = wuhai.by_pointer["/funding/total"]
    out = tmp_path / "moved.xlsx"
    lo.fill_by_names(src, out, {}, row_ops=[{"op": "move", "sheet": total.sheet, "before": total.row + 1,
                                              "count": 1, "to": wuhai.sheets[1].nrows + 3}])
    result = import_workbook(out)
    assert (result.status, result.errors[0].code) == ("unreadable", "structure")
    assert "应为" in result.errors[0].message


def test_errors_name_the_cell_the_value_was_read_at_when_rows_were_inserted(wuhai, tmp_path, seed0) -> None:
    """A clerk inserts two rows at the top of both sheets in LibreOffice, then mistypes 预算功能科目,
    types a formula, clears the budget rows and writes another department on the cover: every
    error names the cell the value sits in now (Issue.cell) and the template's (Issue.form_cell);
    the CLI, the JSON lines and the database say the same; the annotated copy, laid out as the
    template, lists both."""
    import json

    import sqlalchemy as sa
    from click.testing import CliRunner
    from conftest import write_return

    from xltemplate.cli import main
    from xltemplate.collect.annotate import annotate

    src = write_return(tmp_path / "src.xlsx", wuhai, seed0, submission_id="M-1", department="市信访局")
    cover, sheet = wuhai.sheets[0].name, wuhai.sheets[1].name
    code, request = wuhai.by_pointer["/project/function_code"], wuhai.by_pointer["/funding/request"]
    dept, first_item = wuhai.by_pointer["/cover/department"], wuhai.by_pointer["/budget_items/0/name"]
    values: dict[str, Any] = {code.name: "201030", request.name: lo.Formula("=3+4"), dept.name: "市财政局"}
    values |= {wuhai.by_pointer[f"/budget_items/0/{k}"].name: None for k in ("name", "amount", "period")}
    out = tmp_path / "moved.xlsx"
    lo.fill_by_names(src, out, values, insert_rows=[(cover, 1, 2), (sheet, 1, 2)])
    assert openpyxl.load_workbook(out)[sheet].cell(row=code.row + 3, column=code.col + 1).value == "201030"

    def moved(f: Any) -> str:  # the template's cell two rows down
        return f"{f.cell[:len(f.cell) - len(str(f.row + 1))]}{f.row + 3}"

    result = import_workbook(out)
    assert result.status == "invalid", result.errors
    got = {(e.code, e.pointer): (e.sheet, e.cell, e.form_cell) for e in result.errors}
    assert got[("pattern", "/project/function_code")] == (sheet, moved(code), code.cell) == (sheet, "D8", "D6")
    assert got[("formula", "/funding/request")] == (sheet, moved(request), request.cell)
    assert got[("other_department", "/cover/department")] == (cover, moved(dept), dept.cell)
    assert got[("minItems", "/budget_items")] == (sheet, moved(first_item), first_item.cell)  # an array: first cell
    assert all(e.form_cell != e.cell for e in result.errors if e.cell)

    lines, db = tmp_path / "r.jsonl", tmp_path / "r.db"
    res = CliRunner().invoke(main, ["import", str(out), "--json", str(lines), "--db", f"sqlite:///{db}",
                                    "--jobs", "1"])
    assert res.exit_code == 1 and f"{sheet}!D8" in res.output and f"{sheet}!D6" not in res.output
    errors = json.loads(lines.read_text(encoding="utf-8"))["return"]["errors"]
    assert {(e["cell"], e["form_cell"]) for e in errors if e["code"] == "pattern"} == {("D8", "D6")}
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        stored = conn.execute(sa.text("select cell from submission_errors where code = 'pattern'")).scalars().all()
    assert stored == ["D8"]

    (tmp_path / "ann").mkdir()
    copy = openpyxl.load_workbook(annotate(wuhai, result, tmp_path / "ann", {}))
    listed = {row[3]: row[2] for row in copy.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert listed[code.label] == "原 D8，本表 D6"
    assert copy[sheet][code.cell].value == "201030"  # the copy is the template: the value at the form's cell


def test_distributed_template_opens_and_fills_in_libreoffice(wuhai, tmp_path, seed0) -> None:
    """A copy made by distribute's fast path (its own zip headers around reused compressed parts)
    is a workbook LibreOffice opens, fills and saves; it imports with the department it was issued to."""
    from xltemplate.collect.distribute import distribute

    issued = distribute(wuhai, [{"code": "101", "name": "市信访局"}], tmp_path / "out")[0]
    values = by_names(wuhai, seed0)
    values[wuhai.by_pointer["/cover/budget_code"].name] = "101"
    filled = tmp_path / "filled.xlsx"
    lo.fill_by_names(tmp_path / "out" / issued.file, filled, values)
    result = import_workbook(filled)
    assert result.status == "valid", result.errors
    assert result.submission_id == issued.submission_id
    assert result.data == seed0 | {"cover": seed0["cover"] | {"budget_code": "101"}}


def test_every_cell_of_a_libreoffice_copy_reads_as_calamine_reads_it(wuhai, make_filled, tmp_path, seed1) -> None:
    """LibreOffice writes sheets and the workbook part its own way (names with unquoted sheets, its
    own attribute order, every formatted empty cell): the reader's quick way still reads every
    cell as calamine does, and the parser agrees."""
    import io

    from python_calamine import CalamineWorkbook
    from test_reader import assert_same

    from xltemplate.xlsx.guard import identify
    from xltemplate.xlsx.reader import _simple_body, open_book

    data = lo.convert(make_filled(wuhai, seed1), tmp_path / "lo", "xlsx").read_bytes()
    assert _simple_body(identify(data).parts["xl/workbook.xml"]) is not None  # the quick way for its workbook part
    book = open_book("lo.xlsx", data)
    theirs = CalamineWorkbook.from_filelike(io.BytesIO(data))
    for sheet in theirs.sheet_names:
        grid = theirs.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        cols = max((len(row) for row in grid), default=0)
        expected = [[(row[c] if c < len(row) and row[c] != "" else None) for c in range(cols)] for row in grid]
        cells = book.sheet(sheet)
        assert cells is not None and cells.ready(), sheet  # LibreOffice's sheets take the quick way
        assert_same([book.values(sheet, [(r, c) for c in range(cols)]) for r in range(len(grid))], expected)
        cells.quick = False
        assert_same([book.values(sheet, [(r, c) for c in range(cols)]) for r in range(len(grid))], expected)
