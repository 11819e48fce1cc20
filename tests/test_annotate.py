"""Annotated returns: the department's values in the form, mistakes marked, ready to send back."""

from __future__ import annotations

import copy

import openpyxl
import pytest
from conftest import poke, write_return

from xltemplate.collect.annotate import annotate
from xltemplate.collect.importer import import_workbook
from xltemplate.form.model import META_SHEET
from xltemplate.xlsx.writer import ERROR_FILL, WARNING_FILL


@pytest.fixture
def invalid_return(tmp_path, wuhai, seed0):
    data = copy.deepcopy(seed0)
    data["budget_items"].append({"name": "差旅", "amount": 1})
    path = write_return(tmp_path / "in" / "市信访局.xlsx", wuhai, data, submission_id="A-1",
                        department="市信访局", code="101")
    # mistakes typed over validation: text in a number cell, a wrong choice, a bad code
    poke(path, wuhai, {"/funding/request": "七万", "/project/attribute": "新建", "/project/function_code": "201"})
    result, meta = import_workbook(path, with_meta=True)
    assert result.status == "invalid"
    return result, meta


def test_annotated_copy_marks_every_wrong_cell(tmp_path, wuhai, invalid_return) -> None:
    result, meta = invalid_return
    out = annotate(wuhai, result, tmp_path, meta)
    assert out.endswith("市信访局_退回修改.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "错误清单" and wb.active.title == "错误清单"
    rows = [[c.value for c in row] for row in wb["错误清单"].iter_rows(min_row=2)]
    listed = [row for row in rows if row[6] == "错误"]
    assert len(listed) == len(result.errors)
    # the warnings (提示) follow, in their own colour: seed 000's 按季度发放 has no number
    notes = [row for row in rows if row[6] == "提示"]
    assert len(notes) == len(result.warnings) and any(row[4] == "按季度发放" for row in notes)
    f = wuhai.by_pointer["/indicators/annual/output/timeliness/0/value"]
    assert wb[f.sheet][f.cell].fill.fgColor.rgb.endswith(WARNING_FILL.lstrip("#"))
    assert "提示：指标值没有数值" in wb[f.sheet][f.cell].comment.text
    for row, error in zip(listed, result.errors, strict=True):
        f = wuhai.field_for(error.pointer)
        assert row[1:4] == [f.sheet, f.cell, error.label] and row[5] == error.message
        cell = wb[f.sheet][f.cell]
        assert cell.comment is not None and error.message in cell.comment.text
        assert cell.fill.fgColor.rgb.endswith(ERROR_FILL.lstrip("#"))
    # values kept as found, even those of the wrong type
    f = wuhai.by_pointer["/funding/request"]
    assert wb[f.sheet][f.cell].value == "七万"
    # still the template: protection, dropdowns, metadata with the same submission id
    assert all(wb[s.name].protection.sheet for s in wuhai.sheets)
    assert wb["绩效目标申报表"].data_validations.dataValidation
    meta_rows = {r[0].value: r[1].value for r in wb[META_SHEET].iter_rows(max_col=2)}
    assert meta_rows["submission_id"] == "A-1" and meta_rows["department"] == "市信访局"


def test_annotated_copy_reimports_to_the_same_data_and_errors(tmp_path, wuhai, invalid_return) -> None:
    result, meta = invalid_return
    again = import_workbook(annotate(wuhai, result, tmp_path, meta))
    assert again.data == result.data
    assert [(e.pointer, e.code) for e in again.errors] == [(e.pointer, e.code) for e in result.errors]
    assert again.submission_id == result.submission_id


def test_annotated_names_never_overwrite(tmp_path, wuhai, invalid_return) -> None:
    result, meta = invalid_return
    first = annotate(wuhai, result, tmp_path, meta)
    second = annotate(wuhai, result, tmp_path, meta)
    assert first != second and second.endswith("市信访局_退回修改(2).xlsx")
