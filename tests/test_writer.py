"""The generated template: protection, dropdowns, validation, names, metadata, print set-up."""

from __future__ import annotations

import io

import openpyxl
import pytest
from openpyxl.utils import range_boundaries

from xltemplate.form.model import META_SHEET, FormModel
from xltemplate.xlsx.writer import FillError, write_workbook


@pytest.fixture(scope="module")
def blank(wuhai: FormModel) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(write_workbook(wuhai)))


def test_generation_is_deterministic(wuhai, seed0) -> None:
    assert write_workbook(wuhai) == write_workbook(wuhai)
    assert write_workbook(wuhai, seed0, submission_id="S1") == write_workbook(wuhai, seed0, submission_id="S1")
    assert write_workbook(wuhai) != write_workbook(wuhai, submission_id="S1")


def test_only_input_cells_are_unlocked(wuhai, blank) -> None:
    inputs = wuhai.input_cells()
    for sheet in wuhai.sheets:
        ws = blank[sheet.name]
        assert ws.protection.sheet, f"{sheet.name} is not protected"
        for row in ws.iter_rows(min_row=1, max_row=sheet.nrows + 5, max_col=len(sheet.widths) + 3):
            for cell in row:
                is_input = (cell.row - 1, cell.column - 1) in inputs.get(sheet.name, set())
                assert cell.protection.locked is not is_input, f"{sheet.name}!{cell.coordinate}"
    assert blank[META_SHEET].protection.sheet


def test_workbook_structure_is_locked_and_metadata_is_very_hidden(wuhai, blank) -> None:
    assert blank.security is not None and blank.security.lockStructure
    meta = blank[META_SHEET]
    assert meta.sheet_state == "veryHidden"
    values = {r[0].value: r[1].value for r in meta.iter_rows(min_row=2, max_row=9, max_col=2)}
    assert values["form_id"] == wuhai.id
    assert values["form_version"] == wuhai.version
    assert values["layout_hash"] == wuhai.hash and values["schema_hash"] == wuhai.schema_hash
    assert blank.sheetnames[:2] == [s.name for s in wuhai.sheets]


def _validations(ws) -> list[tuple[set[tuple[int, int]], object]]:
    out = []
    for dv in ws.data_validations.dataValidation:
        cells = set()
        for rng in str(dv.sqref).split():
            c1, r1, c2, r2 = range_boundaries(rng)
            cells |= {(r - 1, c - 1) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        out.append((cells, dv))
    return out


def test_every_input_has_validation_with_chinese_prompt_and_alert(wuhai, blank) -> None:
    by_sheet = {s.name: _validations(blank[s.name]) for s in wuhai.sheets}
    for f in wuhai.fields:
        found = [dv for cells, dv in by_sheet[f.sheet] if (f.row, f.col) in cells]
        assert len(found) == 1, f.pointer
        dv = found[0]
        assert dv.showErrorMessage and dv.error, f.pointer
        assert any("\u4e00" <= ch <= "\u9fff" for ch in dv.error), f.pointer
        if f.schema.get("description"):
            assert dv.showInputMessage and dv.prompt, f.pointer


def test_every_enum_cell_has_its_dropdown(wuhai, blank) -> None:
    enums = [f for f in wuhai.fields if f.kind == "enum"]
    assert enums
    meta = blank[META_SHEET]
    for f in enums:
        dv = next(dv for cells, dv in _validations(blank[f.sheet]) if (f.row, f.col) in cells)
        assert dv.type == "list"
        ref = dv.formula1.split("!")[1].replace("$", "")
        choices = [c.value for row in meta[ref] for c in row]
        assert choices == f.schema["enum"]


def test_every_field_has_a_workbook_defined_name(wuhai, blank) -> None:
    names = blank.defined_names
    for f in wuhai.fields:
        dests = list(names[f.name].destinations)
        assert dests == [(f.sheet, f"${f.cell.rstrip('0123456789')}${f.cell.lstrip('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}")]
    for area in wuhai.arrays.values():
        assert area.name in names


def test_print_setup_a4_portrait_fit_to_width(wuhai, blank) -> None:
    for sheet in wuhai.sheets:
        ws = blank[sheet.name]
        assert ws.page_setup.paperSize == 9
        assert ws.page_setup.orientation == "portrait"
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth or 1) == 1 and ws.page_setup.fitToHeight == 0  # absent = 1
        assert ws.print_area


def test_official_look_merges_font_borders(wuhai, blank) -> None:
    ws = blank["绩效目标申报表"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    for placed in wuhai.sheets[1].cells:
        if placed.kind == "text" and placed.style == "section":
            r = placed
            assert f"A{r.row + 1}:A{r.row + r.rowspan}" in merged
    assert ws["A1"].value == "乌海市财政支出预算绩效目标申报表"
    assert ws["A1"].font.name == "宋体"
    assert ws["B3"].border.left.style == "thin"
    indicator_labels = [c.value for c in ws["B"] if c.value in ("产出指标", "效益指标")]
    assert indicator_labels == ["产出指标", "效益指标"]


def test_totals_are_live_locked_formulas(wuhai, seed0) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(wuhai, seed0)))
    ws = wb["绩效目标申报表"]
    formulas = {c.coordinate: c.value for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=")}
    amount = wuhai.by_pattern["/budget_items/*/amount"]
    assert f"=SUM(${amount[0].cell[0]}${amount[0].cell[1:]}:${amount[-1].cell[0]}${amount[-1].cell[1:]})" \
        in formulas.values()
    checks = [v for v in formulas.values() if "ABS(" in v]
    assert len(checks) == 2
    for coord in formulas:
        assert ws[coord].protection.locked


def _cached_values(model: FormModel, book: bytes) -> dict[str, object]:
    """The cached value of each formula and check cell, by what it is: the formula text or the rule id."""
    wb = openpyxl.load_workbook(io.BytesIO(book), data_only=True)
    out = {}
    for sheet in model.sheets:
        for cell in sheet.cells:
            if cell.kind in ("formula", "check"):
                out[cell.formula or cell.rule or ""] = wb[sheet.name].cell(cell.row + 1, cell.col + 1).value
    return out


def test_fill_writes_cached_values_for_clients_that_do_not_recalculate(wuhai, seed0) -> None:
    cached = _cached_values(wuhai, write_workbook(wuhai, seed0))
    assert cached["=SUM({/budget_items/*/amount})"] == sum(i["amount"] for i in seed0["budget_items"]) == 7
    assert cached['={/cover/project_name}&""'] == seed0["cover"]["project_name"]
    assert cached["budget-total"] == "✔ 合计与项目资金总额一致"
    assert cached["funding-total"] == "✔ 资金构成与总额一致"
    wrong = dict(seed0, budget_items=[{"name": "a", "amount": 2.5}, {"name": "b", "amount": 3}])
    cached = _cached_values(wuhai, write_workbook(wuhai, wrong))
    assert cached["=SUM({/budget_items/*/amount})"] == 5.5
    assert cached["budget-total"] == "✘ 合计 ≠ 项目资金总额"
    blank = _cached_values(wuhai, write_workbook(wuhai))
    assert blank["budget-total"] in ("", None) and blank["=SUM({/budget_items/*/amount})"] == 0


def test_fill_refuses_what_does_not_fit(wuhai, seed0) -> None:
    too_many = dict(seed0, budget_items=[{"name": f"项{i}", "amount": 1} for i in range(9)])
    with pytest.raises(FillError) as exc:
        write_workbook(wuhai, too_many)
    assert "9 行" in str(exc.value) and "8 行" in str(exc.value)
    bad = dict(seed0, unknown_field=1, funding={"total": "七万"}, cover=dict(seed0["cover"], prepared_on="明天"))
    with pytest.raises(FillError) as exc:
        write_workbook(wuhai, bad)
    problems = "\n".join(exc.value.problems)
    assert "/unknown_field" in problems and "/funding/total" in problems and "/cover/prepared_on" in problems


def test_fill_never_turns_text_into_a_formula(wuhai, seed0) -> None:
    data = dict(seed0, unit=dict(seed0["unit"], name='=HYPERLINK("http://x","y")'))
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(wuhai, data)))
    f = wuhai.by_pointer["/unit/name"]
    cell = wb[f.sheet][f.cell]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
