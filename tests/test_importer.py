"""Import: filled copies come back as the same data; wrong values are found at their cells."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import poke

from xltemplate.collect.importer import import_workbook
from xltemplate.form.model import FormModel


@pytest.mark.parametrize("seed", ["seed0", "seed1"])
def test_seed_round_trip(request: pytest.FixtureRequest, wuhai: FormModel, make_filled, seed: str) -> None:
    data = request.getfixturevalue(seed)
    result = import_workbook(make_filled(wuhai, data), lang="zh")
    assert result.data == data
    assert result.form == "wuhai-perf-target" and result.version == wuhai.version


def test_seed0_is_valid_and_seed1_flags_untouched_prompts(wuhai, make_filled, seed0, seed1) -> None:
    assert import_workbook(make_filled(wuhai, seed0)).status == "valid"
    result = import_workbook(make_filled(wuhai, seed1))
    assert result.status == "invalid"
    assert {(e.cell, e.code) for e in result.errors} == {
        (wuhai.by_pointer["/goals/long_term"].cell, "x-placeholder"),
        (wuhai.by_pointer["/goals/annual"].cell, "x-placeholder")}


# One wrong value per kind of field, typed over the validation with openpyxl.
WRONG: list[tuple[str, Any, str, str]] = [
    # pointer, raw value typed, expected error code, words the clerk must read
    ("/project/function_code", "201030", "pattern", "7位数字"),
    ("/project/function_code", "20103O8", "pattern", "7位数字"),
    ("/project/attribute", "新建", "enum", "新增、延续"),
    ("/funding/request", "七万", "type", "应填写数字"),
    ("/funding/request", -1, "minimum", "不能小于 0"),
    ("/budget_items/0/amount", 7.123, "multipleOf", "两位小数"),
    ("/cover/year", 2021.5, "type", "整数"),
    ("/cover/year", 1999, "minimum", "不能小于 2000"),
    ("/cover/prepared_on", "下周一", "format", "日期"),
    ("/sign_off/date", "2020-02-30", "format", "日期"),
    ("/project/period", "2021-12~2021-01", "x-ordered-range", "开始时间晚于结束时间"),
    ("/project/period", "全年", "pattern", "2021-01~2021-12"),
    ("/cover/project_name", "项" * 61, "maxLength", "不能超过 60 个字"),
    ("/cover/budget_code", "12ab", "pattern", "3至12位数字"),
    ("/goals/annual", "目标1：\n目标2：\n目标3：\n⋯⋯", "x-placeholder", "提示文字"),
    ("/unit/name", None, "required", "必填"),
    ("/funding/total", 8, "x-sum", "项目资金总额"),
]


@pytest.mark.parametrize(("pointer", "raw", "code", "words"), WRONG, ids=[f"{w[0]}={w[1]!r}"[:50] for w in WRONG])
def test_wrong_value_is_reported_at_its_cell(wuhai, make_filled, seed0, pointer, raw, code, words) -> None:
    path = poke(make_filled(wuhai, seed0), wuhai, {pointer: raw})
    result = import_workbook(path)
    assert result.status == "invalid"
    f = wuhai.by_pointer[pointer]
    mine = [e for e in result.errors if e.code == code]
    assert mine, result.errors
    error = mine[0]
    assert (error.sheet, error.cell, error.pointer) == (f.sheet, f.cell, pointer)
    assert words in error.message
    assert error.label == f.label
    if raw is not None and code != "x-sum":
        assert error.value == raw


def test_sum_rule_reports_both_rules_at_the_total(wuhai, make_filled, seed0) -> None:
    path = poke(make_filled(wuhai, seed0), wuhai, {"/funding/total": 8})
    errors = import_workbook(path).errors
    assert [e.code for e in errors] == ["x-sum", "x-sum"]
    assert all(e.cell == wuhai.by_pointer["/funding/total"].cell for e in errors)
    assert "8" in errors[0].message and "7" in errors[0].message


def test_errors_in_later_rows_point_at_the_row_the_clerk_used(wuhai, make_filled, seed0) -> None:
    """Items are read skipping blank template rows; errors still name the row typed in."""
    path = poke(make_filled(wuhai, seed0), wuhai, {
        "/budget_items/0/name": None, "/budget_items/0/amount": None, "/budget_items/0/period": None,
        "/budget_items/3/name": "生活补贴", "/budget_items/3/amount": "abc"})
    result = import_workbook(path)
    assert result.data["budget_items"] == [{"name": "生活补贴", "amount": "abc"}]
    err = next(e for e in result.errors if e.code == "type")
    assert err.cell == wuhai.by_pointer["/budget_items/3/amount"].cell
    assert err.pointer == "/budget_items/0/amount"


def test_missing_indicator_value_is_reported_at_the_value_cell(wuhai, make_filled, seed0) -> None:
    path = poke(make_filled(wuhai, seed0), wuhai, {"/indicators/annual/output/quality/0/value": None})
    err = next(e for e in import_workbook(path).errors if e.code == "required")
    assert err.cell == wuhai.by_pointer["/indicators/annual/output/quality/0/value"].cell
    assert "第1行" in err.label and "指标值" in err.label


def test_values_as_clerks_type_them_are_coerced(wuhai, make_filled, seed0) -> None:
    path = poke(make_filled(wuhai, seed0), wuhai, {
        "/funding/total": " 7 ", "/funding/request": "７", "/project/function_code": "２０１０３０８",
        "/sign_off/date": "2020年10月16日", "/cover/prepared_on": dt.datetime(2020, 10, 16),
        "/project/period": "2021年1月-2021年12月", "/unit/name": "  市信访局\u3000", "/cover/year": "2021"})
    result = import_workbook(path)
    assert result.status == "valid", result.errors
    assert result.data == seed0


def test_blank_template_reports_every_required_cell(wuhai, tmp_path) -> None:
    from xltemplate.api import generate

    path = tmp_path / "blank.xlsx"
    generate(wuhai, path)
    result = import_workbook(path)
    required_cells = {e.cell for e in result.errors if e.code == "required"}
    for f in wuhai.fields:
        if f.required and f.array is None and f.pointer.count("/") == 2 and "x-placeholder" not in f.schema:
            assert f.cell in required_cells, f.pointer


# --- what clients do to a workbook ------------------------------------------------------

def _rewrite(path: Path, edit) -> None:
    """Rewrite parts of the xlsx zip in place: ``edit(name, bytes) -> bytes``."""
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info.filename)))
    path.write_bytes(out.getvalue())


def test_client_quirks_do_not_change_the_data(wuhai, make_filled, seed0) -> None:
    """veryHidden -> hidden, unquoted sheet names in defined names, float custom property,
    formulas with their cached values stripped: the same data comes back."""
    path = make_filled(wuhai, seed0)

    def edit(name: str, data: bytes) -> bytes:
        text = data.decode("utf-8")
        if name == "xl/workbook.xml":
            text = text.replace('state="veryHidden"', 'state="hidden"')
            text = re.sub(r"'([^'!]+)'!", r"\1!", text)
        elif name == "docProps/custom.xml":
            text = re.sub(r"<vt:i4>(\d+)</vt:i4>", r"<vt:r8>\1.0</vt:r8>", text)
        elif name.startswith("xl/worksheets/"):
            text = re.sub(r"(<f>[^<]*</f>)<v>[^<]*</v>", r"\1", text)
        return text.encode("utf-8")

    _rewrite(path, edit)
    wb = openpyxl.load_workbook(path)
    assert wb["_xltemplate"].sheet_state == "hidden"
    result = import_workbook(path)
    assert result.status == "valid" and result.data == seed0


def test_stale_cached_totals_are_not_trusted(wuhai, make_filled, seed0) -> None:
    """A formula cell showing a wrong cached 合计 changes nothing: rules are checked from inputs."""
    path = make_filled(wuhai, seed0)
    path = poke(path, wuhai, {"/budget_items/0/amount": 6})  # openpyxl drops cached results
    result = import_workbook(path)
    assert result.status == "invalid"
    assert [e.code for e in result.errors] == ["x-sum"]


def test_openpyxl_written_copy_reads_the_same(wuhai, make_filled, seed1) -> None:
    path = make_filled(wuhai, seed1)
    wb = openpyxl.load_workbook(path)
    wb.save(path)
    assert import_workbook(path).data == seed1


# --- refusals --------------------------------------------------------------------------

def _meta_edit(path: Path, key: str, value: str) -> None:
    """Change one metadata value in both places it is kept (document property and hidden sheet)."""

    def edit(name: str, data: bytes) -> bytes:
        if name == "docProps/custom.xml":
            return re.sub(rf'(name="xltemplate\.{key}"><vt:lpwstr>)[^<]*'.encode(), rb"\g<1>" + value.encode(), data)
        return data

    _rewrite(path, edit)
    wb = openpyxl.load_workbook(path)
    for row in wb["_xltemplate"].iter_rows(min_col=1, max_col=2):
        if row[0].value == key:
            row[1].value = value
    wb.save(path)


@pytest.mark.parametrize(("key", "value", "code", "words"), [
    ("form_id", "someone-else", "unknown_form", "someone-else"),
    ("form_version", "2020.1", "old_version", "2020.1"),
    ("layout_hash", "0000", "modified", "模板"),
])
def test_other_forms_and_versions_are_refused_by_name(wuhai, make_filled, seed0, key, value, code, words) -> None:
    path = make_filled(wuhai, seed0)
    _meta_edit(path, key, value)
    result = import_workbook(path)
    assert result.status == "unreadable"
    assert result.errors[0].code == code and words in result.errors[0].message


def test_a_workbook_of_another_form_is_refused_when_a_form_is_given(expense, wuhai, make_filled) -> None:
    from conftest import load_json

    path = make_filled(expense, load_json("expense_claim.json"))
    result = import_workbook(path, form=wuhai)
    assert result.status == "unreadable"
    assert result.errors[0].code == "other_form" and "expense-claim" in result.errors[0].message


def test_workbook_without_metadata_is_refused(tmp_path) -> None:
    path = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(path)
    result = import_workbook(path)
    assert result.status == "unreadable" and result.errors[0].code == "no_metadata"


@pytest.mark.parametrize(("content", "code", "words"), [
    (b"", "empty", "空"), (b"%PDF-1.4 not a workbook", "pdf", "PDF"), (b"PK\x03\x04truncated", "truncated", "不完整")])
def test_not_a_workbook_is_unreadable_with_a_message(tmp_path, content, code, words) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    result = import_workbook(path)
    assert result.status == "unreadable"
    assert result.errors[0].code == code and words in result.errors[0].message


def test_copy_with_protection_removed_is_checked_all_the_same(wuhai, make_filled, seed0) -> None:
    path = make_filled(wuhai, seed0)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        ws.protection.sheet = False
    wb.security.lockStructure = False
    f = wuhai.by_pointer["/project/attribute"]
    wb[f.sheet][f.cell] = "随便"
    wb.save(path)
    result = import_workbook(path)
    assert [(e.cell, e.code) for e in result.errors] == [(f.cell, "enum")]
    assert result.data["project"]["attribute"] == "随便"  # what was found is kept, never dropped


def test_metadata_from_either_place(wuhai, make_filled, seed0) -> None:
    """A client that drops the hidden sheet leaves the custom properties (integers as floats), and
    one that drops the properties leaves the hidden sheet: either identifies the workbook."""
    path = make_filled(wuhai, seed0)
    _rewrite(path, lambda name, data: data if name != "docProps/custom.xml" else
             re.sub(rb"<property .*?</property>", b"", data, flags=re.S))
    result = import_workbook(path)
    assert (result.form, result.version, result.status) == ("wuhai-perf-target", wuhai.version, "valid")
    path = make_filled(wuhai, seed0)

    def edit(name: str, data: bytes) -> bytes:
        if name == "docProps/custom.xml":
            return re.sub(rb"<vt:i4>(\d+)</vt:i4>", rb"<vt:r8>\1.0</vt:r8>", data)
        if name == "xl/workbook.xml":
            return re.sub(rb'<sheet name="_xltemplate"[^>]*/>', b"", data)
        return data

    _rewrite(path, edit)
    result = import_workbook(path)
    assert (result.form, result.version, result.status) == ("wuhai-perf-target", wuhai.version, "valid")
