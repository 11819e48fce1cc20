"""``xltemplate design``: a bureau's own workbook, its input cells marked, becomes a form.

Two comparisons prove it: the bundled form redrawn by markers over its own template gives the
same placed layout and the same look cell by cell; a second variant drawn by a county (see
``variant.py``) becomes a form that prints exactly as the county's own blank workbook, is filled
in LibreOffice and imported back unchanged, with no code of its own.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner
from variant import LAST_ROW, by_names, by_title, draw, variant_instance

from xltemplate.api import design, generate
from xltemplate.cli import main
from xltemplate.collect.importer import import_workbook
from xltemplate.form.design import DesignError, parse_marker
from xltemplate.form.forms import load_form
from xltemplate.form.model import FormModel, describe
from xltemplate.xlsx.design import design_workbook
from xltemplate.xlsx.writer import write_workbook


def marker(f: Any) -> str:
    """The marker an author writes for a field of the bundled form."""
    spec = {"integer": "integer", "number": "number", "date": "date", "month-range": "month-range",
            "enum": "|".join(f.schema.get("enum", []))}.get(f.kind, "")
    return "{" + ("*" if f.required else "") + f.pattern + (":" + spec if spec else "") + "}"


def marked_template(model: FormModel, path: Path) -> Path:
    """The form's own blank template with each input cell's content replaced by its marker."""
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(model)))
    for f in model.fields:
        wb[f.sheet].cell(f.row + 1, f.col + 1).value = marker(f)
    wb.save(path)
    return path


def _look(cell: Any) -> tuple[str, ...]:
    return (repr(cell.font), repr(cell.fill), repr(cell.border), repr(cell.alignment), cell.number_format,
            str(cell.protection.locked), "" if cell.data_type == "n" and cell.value is None else str(cell.value))


def _no_widths(picture: str) -> str:
    return re.sub(r"\| columns [^|]*\|", "|", picture)


def _sheet_setup(ws: Any) -> tuple[Any, ...]:
    return (sorted(map(str, ws.merged_cells.ranges)), {k: d.width for k, d in ws.column_dimensions.items()},
            {k: d.ht for k, d in ws.row_dimensions.items()}, ws.print_area, repr(ws.page_setup),
            repr(ws.page_margins), repr(ws.print_options), str(ws.oddHeader), str(ws.oddFooter),
            ws.sheet_view.showGridLines, ws.sheet_properties.pageSetUpPr.fitToPage)


# -- comparison (a): the bundled form, redrawn by markers ------------------------------------

def test_bundled_form_marked_over_its_template_gives_the_same_form(wuhai, tmp_path) -> None:
    src = marked_template(wuhai, tmp_path / "乌海.xlsx")
    made = design(src, tmp_path / "out", form_id=wuhai.id, version=wuhai.version)
    designed = load_form(made.schema_path)
    assert made.layout_path == tmp_path / "out" / "wuhai-perf-target.layout.json"
    # the same labels at the same cells, merges, heights, input cells (pointer, type, name); the widths are
    # the file's own (design keeps them as stored, the bundled layout says them as typed): compared below
    assert _no_widths(describe(designed, placed=True)) == _no_widths(describe(wuhai, placed=True))
    # and the same look, cell by cell, and the same page set-up, in the two generated templates
    ours = openpyxl.load_workbook(io.BytesIO(write_workbook(wuhai)))
    theirs = openpyxl.load_workbook(io.BytesIO(write_workbook(designed)))
    inputs = {(f.sheet, f.cell) for f in wuhai.fields}
    for sheet in wuhai.sheets:
        a, b = ours[sheet.name], theirs[sheet.name]
        assert _sheet_setup(a) == _sheet_setup(b)
        for row in a.iter_rows():
            for cell in row:
                want, got = _look(cell), _look(b[cell.coordinate])
                if (sheet.name, cell.coordinate) in inputs:  # the bundled form's prompt text is schema, not look
                    want, got = want[:-1], got[:-1]
                assert got == want, f"{sheet.name}!{cell.coordinate}"


def test_markers_read_types_rules_and_titles() -> None:
    cases = {
        "{金额:number>=0,2位小数}": ("金额", {"type": "number", "minimum": 0, "multipleOf": 0.01}, False),
        "{项目属性：新增｜延续*}": ("项目属性", {"type": "string", "enum": ["新增", "延续"]}, True),
        "｛填报日期:date｝": ("填报日期", {"type": "string", "format": "date"}, False),
        "{*人数:integer,0~500}": ("人数", {"type": "integer", "minimum": 0, "maximum": 500}, True),
        "{三级指标:150字内,必填}": ("三级指标", {"type": "string", "maxLength": 150}, True),
        "{分值:>0,<=100}": ("分值", {"type": "number", "exclusiveMinimum": 0, "maximum": 100}, False),
        "{是否政府采购:boolean}": ("是否政府采购", {"type": "boolean"}, False),
        "{名称}": ("名称", {}, False),
    }
    for text, (title, keywords, required) in cases.items():
        m = parse_marker(text)
        assert (m.title, m.keywords, m.required) == (title, keywords, required), text
    code = parse_marker("{预算功能科目:7位数字}")
    assert code.keywords["pattern"] == "^[0-9]{7}$" and "7位数字" in code.keywords["x-messages"]["pattern"]["zh"]
    assert parse_marker("{起止时间:month-range}").keywords["format"] == "month-range"
    table = parse_marker("{预算明细.金额:number}")
    assert (table.table, table.title, table.is_list) == ("预算明细", "金额", True)
    assert parse_marker("{.}").is_list and parse_marker("{.}").title is None
    assert parse_marker("{/budget_items/*/amount:number}").is_list
    assert parse_marker("{1.项目概况}").title == "1.项目概况"  # a numbered title, not a table


# -- comparison (b): a county's own variant -----------------------------------------------------

@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FormModel]:
    """The county's marked workbook and the form design made of it, by the command line."""
    tmp = tmp_path_factory.mktemp("county")
    src = draw(tmp / "示例县绩效目标申报表.xlsx")
    res = CliRunner().invoke(main, ["design", str(src), "-o", str(tmp / "form"), "--id", "sample-county-perf",
                                    "--version", "2022.1"])
    assert res.exit_code == 0, res.output
    return src, load_form(tmp / "form" / "sample-county-perf.schema.json")


def test_county_variant_becomes_a_form_with_no_code_of_its_own(county) -> None:
    _, model = county
    by = by_title(model)
    assert model.arrays[by["实施内容"].rsplit("/*/", 1)[0]].capacity == 5
    assert model.arrays["/indicators/satisfaction/service"].capacity == 2  # 满意度指标, its own 一级指标
    assert {f.pattern for f in model.fields} >= {"/indicators/benefit/environmental/*/score"}
    schema = {f.pattern: f for f in model.fields}
    assert schema[by["资金总额"]].schema["multipleOf"] == 0.01 and schema[by["资金总额"]].required
    assert schema[by["项目属性"]].schema["enum"] == ["新增", "延续"]
    assert schema[by["联系电话"]].schema["pattern"] == "^[0-9]{7,12}$"
    assert schema[by["开始时间"]].kind == "date" and schema[by["年度绩效目标"]].schema["maxLength"] == 500
    # the formulas of the county's sheet now follow the fields they name
    formulas = {c.formula for s in model.sheets for c in s.cells if c.kind == "formula"}
    assert "={" + by["资金总额"] + "}-SUM(C10:F10)" in formulas
    total = next(f for f in formulas if f and f.startswith("=SUM("))
    assert "{/indicators/output/quantity/*/score}" in total and "{/indicators/satisfaction/service/*/score}" in total
    assert [s.name for s in model.sheets] == ["绩效目标申报表", "填表说明"]


def test_county_template_prints_exactly_as_the_countys_own_blank_form(county, tmp_path) -> None:
    import libreoffice as lo

    lo.require()
    _, model = county
    blank = draw(tmp_path / "县里原来的空表.xlsx", marked=False)
    template = tmp_path / "模板.xlsx"
    generate(model, template)
    assert lo.pages(template) == lo.pages(blank)  # every printed page, pixel for pixel


def test_county_template_filled_in_libreoffice_imports_unchanged(county, tmp_path) -> None:
    import libreoffice as lo

    lo.require()
    _, model = county
    data = variant_instance(model)
    template, filled = tmp_path / "模板.xlsx", tmp_path / "示例县农业农村局.xlsx"
    generate(model, template)
    lo.fill_by_names(template, filled, by_names(model, data))
    result = import_workbook(filled, form=model)
    assert result.status == "valid", [e.as_dict() for e in result.errors]
    assert result.data == data


# -- refining the schema, designing again ------------------------------------------------------

def test_design_again_with_the_edited_schema_keeps_the_edits(county, tmp_path) -> None:
    src, first = county
    by = by_title(first)
    edited = json.loads(json.dumps(first.schema))
    project = by["项目名称"].strip("/")
    edited["properties"][project]["description"] = "填写项目全称，与预算系统一致。"
    edited["properties"][by["财政拨款"].strip("/")]["minimum"] = 5  # the marker says >=0: it wins, reported
    edited["x-sum"] = [{"id": "funding", "total": by["资金总额"],
                        "parts": [by["财政拨款"], by["自有资金"], by["事业收入"], by["其他资金"]],
                        "message": {"zh": "资金总额应等于各项之和（{sum}）", "en": "total must be the sum ({sum})"}}]
    edited["x-sum"].append({"id": "phone", "total": by["填表人电话"], "parts": [by["资金总额"]]})
    schema_path = tmp_path / "edited.schema.json"
    schema_path.write_text(json.dumps(edited, ensure_ascii=False), encoding="utf-8")
    # the county changes its workbook: a new field above the others, the preparer's phone removed
    wb = openpyxl.load_workbook(src)
    ws = wb["绩效目标申报表"]
    ws["A3"].value = "项目编码："
    ws.unmerge_cells("A3:H3")
    ws["B3"].value = "{项目编码:7位数字}"
    ws[f"H{LAST_ROW + 1}"].value = None  # the 填表人电话 marker
    changed = tmp_path / "示例县绩效目标申报表.xlsx"
    wb.save(changed)

    made = design(changed, tmp_path / "form", schema=schema_path)
    again = load_form(made.schema_path)
    by2 = by_title(again)
    assert (again.id, again.version) == ("sample-county-perf", "2022.1")
    assert {k: v for k, v in by2.items() if k != "项目编码"} == {k: v for k, v in by.items() if k != "填表人电话"}
    assert by2["项目编码"] not in by.values()  # a new name, after the ones already given
    node = again.schema["properties"]
    assert node[project]["description"] == "填写项目全称，与预算系统一致。"
    assert node[by["财政拨款"].strip("/")]["minimum"] == 0
    assert [r["id"] for r in again.schema["x-sum"]] == ["funding"]
    assert by["填表人电话"].strip("/") not in node
    notes = "\n".join(made.notes)
    assert f"“{by['填表人电话']}”（填表人电话）在工作簿中已没有标记" in notes
    assert "规则“phone”" in notes and "minimum = 0" in notes and "5" in notes
    # the refined rule now checks returns: a wrong total is reported at its cell
    data = variant_instance(again)
    data[by2["资金总额"].strip("/")] = 999
    path = tmp_path / "wrong.xlsx"
    path.write_bytes(write_workbook(again, data))
    result = import_workbook(path, form=again)
    [issue] = [e for e in result.errors if e.code == "x-sum"]
    assert issue.cell == "B10" and "1280.5" in issue.message


# -- a badly marked workbook -------------------------------------------------------------------

def _badly_marked(path: Path) -> Path:
    """Every mistake at once (written with xlsxwriter, which can put text in a merged range's
    hidden cells as LibreOffice does when asked to keep them)."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("申报表")
    ws.write("A1", "金额")
    ws.write("B1", "{金额:numbr}")  # does not parse
    ws.write("A2", "项目名称")
    ws.write("B2", "{项目名称}")
    ws.write("B3", "{项目名称}")  # the same field twice
    ws.write("A5", "内容")
    for row in (6, 7, 9):  # a table column with a gap at row 8
        ws.write(f"A{row}", "{.内容}")
    ws.merge_range("D1:E1", "{合并项}", None)
    ws.write("E1", "{藏起来}")  # in the hidden part of D1:E1
    ws.write_formula("D3", '="{金额}"')  # a formula in a marked cell
    ws.write("D4", "项目名称：{名称}")  # a marker inside a label
    ws.write("H20", "{}")  # no title to be found
    ws.write("D6", "{/a}")
    ws.write("D7", "{/a/b}")  # /a is both a field and a group
    ws.write_formula("D9", "=SUM(预算)")  # a name, not a cell
    ws.set_row(11, None, None, {"hidden": True})
    ws.write("B12", "{隐藏:number}")  # in a hidden row
    ws.write("F1", "{/funding/mid/fiscal:number>=0,2位小数")  # no closing brace
    ws.write("F2", "/funding/annual/other:number}")  # no opening brace
    ws.write("F3", "｛全角未闭合")  # a full-width brace, not closed either
    ws.write("F4", "{/funding/ annual/total:number}")  # a space inside the pointer
    ws.write("F5", "{单项:共3行}")  # rows for a field that is no table
    for row in (7, 8):
        ws.write(f"F{row}", "{.两行:共1行}")  # fewer rows asked for than drawn
    hidden = wb.add_worksheet("代码")
    hidden.write("A1", "{藏在隐藏表里}")
    hidden.hide()
    wb.close()
    return path


def test_every_problem_is_listed_at_its_cell_in_chinese_and_english(tmp_path) -> None:
    src = _badly_marked(tmp_path / "标错了.xlsx")
    with pytest.raises(DesignError) as err:
        design_workbook(src, form_id="bad-form")
    problems = err.value.problems
    expected = {"B1": "无法识别", "B3": "有两个标记", "A9": "不连续", "E1": "被遮住", "D3": "公式",
                "D4": "单独占满", "H20": "没有标题", "D7": "既是一个填写项", "D9": "不是单元格地址",
                "B12": "被隐藏", "F1": "没有结束的“}”", "F2": "没有开头的“{”", "F3": "没有结束的“}”",
                "F4": "路径中有空格", "F5": "只能写在表格列的标记里", "F7": "已经画了 2 行"}
    for cell, words in expected.items():
        assert any(f"工作表“申报表” {cell}" in p and words in p for p in problems), (cell, problems)
    assert any("工作表“代码” A1" in p and "工作表被隐藏" in p for p in problems)
    assert len(problems) == len(expected) + 1
    res = CliRunner().invoke(main, ["design", str(src), "-o", str(tmp_path / "out"), "--id", "bad-form",
                                    "--lang", "en"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"{len(expected) + 1} problem(s)" in res.output and "sheet “申报表” A9" in res.output
    assert "not contiguous" in res.output and "hidden part of the merged cells D1:E1" in res.output
    assert not (tmp_path / "out").exists()


def test_xls_and_et_files_are_refused_with_save_as_xlsx(tmp_path) -> None:
    import libreoffice as lo

    lo.require()
    xls = lo.convert(draw(tmp_path / "县.xlsx"), tmp_path / "xls", "xls")
    et = shutil.copy(xls, tmp_path / "县.et")
    for path in (xls, et):
        res = CliRunner().invoke(main, ["design", str(path), "-o", str(tmp_path / "out"), "--id", "county"])
        assert res.exit_code == 1 and "另存为”Excel 工作簿（.xlsx）" in res.output, res.output
    res = CliRunner().invoke(main, ["--lang", "en", "design", str(et), "-o", str(tmp_path / "out"), "--id", "x1"])
    assert "save it as an Excel workbook (.xlsx)" in res.output


def test_an_id_is_needed_when_the_file_name_gives_none(tmp_path) -> None:
    src = draw(tmp_path / "绩效目标申报表.xlsx")
    with pytest.raises(DesignError, match="--id"):
        design_workbook(src)
    with pytest.raises(DesignError, match="不可用"):
        design_workbook(src, form_id="有中文")


def test_theme_colours_and_tints_become_the_colours_shown(tmp_path) -> None:
    from openpyxl.styles import Font, PatternFill
    from openpyxl.styles.colors import Color

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"].value, ws["B1"].value = "标签", "{值}"
    ws["A1"].fill = PatternFill("solid", fgColor=Color(theme=4, tint=0.7999816888943144))  # accent 1, lighter 80%
    ws["A1"].font = Font(name="宋体", color=Color(theme=5, tint=-0.249977111117893))  # accent 2, darker 25%
    ws["B1"].fill = PatternFill("solid", fgColor=Color(indexed=22))
    wb.save(tmp_path / "colours.xlsx")
    made = design_workbook(tmp_path / "colours.xlsx", form_id="colours")
    looks = {c["at"]: made.layout["looks"][c["look"]] for c in made.layout["sheets"][0]["cells"]}

    def near(got: str, shown: str) -> bool:  # Excel versions round a tint differently by one
        return all(abs(int(got[i:i + 2], 16) - int(shown[i:i + 2], 16)) <= 1 for i in (1, 3, 5))

    assert near(looks["A1"]["fill"], "#DCE6F1") and near(looks["A1"]["font"]["color"], "#963634")  # as Excel shows
    assert looks["B1"]["fill"] == "#C0C0C0"


def test_a_merged_range_takes_each_outer_border_from_the_cells_along_that_edge(tmp_path) -> None:
    """As Excel writes a bordered merged range: the top-left cell has the left and top border,
    the cells on the right and bottom edges the others."""
    path = tmp_path / "merged.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("表")
    edge = {(0, 0): {"left": 2, "top": 2}, (0, 1): {"top": 2, "right": 5}, (1, 0): {"left": 2, "bottom": 6},
            (1, 1): {"right": 5, "bottom": 6}}
    for (r, c), border in edge.items():
        ws.write_blank(r, c, None, wb.add_format({"font_name": "宋体", **border}))
    ws.write_string(0, 0, "项目名称", wb.add_format({"font_name": "宋体", "left": 2, "top": 2}))
    ws.write_string(0, 2, "{名称}")
    wb.close()
    made = design_workbook(_merged_keeping_styles(path, tmp_path / "m.xlsx"), form_id="merged")
    [label] = [c for c in made.layout["sheets"][0]["cells"] if c["at"] == "A1:B2"]
    assert made.layout["looks"][label["look"]]["border"] == {"left": "medium", "top": "medium", "right": "thick",
                                                             "bottom": "double"}


def _merged_keeping_styles(src: Path, out: Path) -> Path:
    """``src`` with A1:B2 merged in the sheet XML itself (openpyxl would rewrite the cells' borders)."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell ref="A1:B2"/>'
                                                     b"</mergeCells>")
            zout.writestr(item, data)
    return out


# -- a table given more rows than drawn -----------------------------------------------------------

def test_a_table_asked_for_more_rows_than_drawn_grows_and_everything_below_follows(tmp_path) -> None:
    """{.实施内容:共8行} where the county drew 5: three rows inserted before the last, copies of a middle
    one, numbered on; the section label down column A spans them, what is below moves down, and the
    formulas, print area and heights below follow it."""
    src = draw(tmp_path / "county.xlsx")
    wb = openpyxl.load_workbook(src)
    wb["绩效目标申报表"]["C12"].value = "{.实施内容:共8行}"
    wb.save(src)
    made = design_workbook(src, form_id="county")
    sheet = made.layout["sheets"][0]
    cells = {c["at"]: c for c in sheet["cells"]}
    model = load_form(made.write(tmp_path / "form")[0])
    plan = model.arrays[by_title(model)["实施内容"].rsplit("/*/", 1)[0]]
    assert plan.capacity == 8 and [f.row for f in plan.slots[-1]] == [18, 18, 18]
    assert cells["A11:A19"]["text"] == "项目实施进度计划"  # the section label grew by three rows
    assert [cells[f"B{r}"]["text"] for r in range(12, 20)] == [str(n) for n in range(1, 9)]
    assert cells["A20"]["text"] == "年度目标" and cells[f"A21:A{LAST_ROW + 3}"]["text"] == "绩效指标"
    total = cells[f"G{LAST_ROW + 3}"]["formula"]
    assert total.startswith("=SUM({/indicators/output/quantity/*/score}") and "G" not in total
    assert sheet["print"]["area"] == f"A1:H{LAST_ROW + 4}" and sheet["heights"][str(LAST_ROW + 4)] == 30
    ws = openpyxl.load_workbook(io.BytesIO(write_workbook(model)))["绩效目标申报表"]
    assert ws[f"G{LAST_ROW + 3}"].value.startswith("=SUM($G$22:$G$23,")  # the indicators' rows, moved


def test_a_formula_the_form_evaluates_may_not_read_one_kept_as_written() -> None:
    """A hand-written layout: a formula kept as written (VLOOKUP) is written as it is; one the form
    evaluates (its cached value) may not read it, and loading says so, naming both."""
    from xltemplate.form.layout import LayoutError
    from xltemplate.form.model import build_model

    schema = {"type": "object", "x-form": {"id": "kept"}, "properties": {"code": {"type": "string", "title": "编码"}}}
    cells = [{"at": "A1", "field": "/code"}, {"at": "B1", "formula": '=VLOOKUP({/code},D1:E9,2,0)', "keep": True},
             {"at": "C1", "formula": "=B1&\"\""}]
    with pytest.raises(LayoutError, match="B1"):
        build_model(schema, {"sheets": [{"name": "表", "columns": [10, 10, 10], "cells": cells}]})
    model = build_model(schema, {"sheets": [{"name": "表", "columns": [10, 10, 10], "cells": cells[:2]}]})
    ws = openpyxl.load_workbook(io.BytesIO(write_workbook(model)))["表"]
    assert ws["B1"].value == "=VLOOKUP($A$1,D1:E9,2,0)" and ws["B1"].protection.locked


def test_a_damaged_drawing_part_is_said_not_raised(tmp_path) -> None:
    """A workbook whose picture part is damaged: design says the file cannot be read, naming it."""
    import zipfile

    from bureau import seal_png

    src = tmp_path / "seal.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("表")
    ws.write("A1", "名称")
    ws.write("B1", "{名称}")
    ws.insert_image("C1", "seal.png", {"image_data": io.BytesIO(seal_png())})
    wb.close()
    assert design_workbook(src, form_id="seal").layout["sheets"][0]["pictures"][0]["from"]["cell"] == "C1"
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(damaged, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, data[:40] if item.filename == "xl/drawings/drawing1.xml" else data)
    with pytest.raises(DesignError, match=r"damaged\.xlsx：无法作为 Excel 工作簿"):
        design_workbook(damaged, form_id="seal")


def test_the_workbooks_font_is_its_normal_styles_whatever_its_name(tmp_path) -> None:
    """WPS in Chinese names the Normal style 常规; its font, not the first font listed, is the one every
    column width counts in."""
    from openpyxl.styles import Font
    from openpyxl.utils.indexed_list import IndexedList

    wb = openpyxl.Workbook()
    song = Font(name="宋体", sz=12)
    wb._fonts = IndexedList([Font(name="Calibri", sz=11), song])
    normal = wb._named_styles["Normal"]
    normal.name, normal.font = "常规", song
    wb.active["A1"], wb.active["B1"] = "名称", "{名称}"
    wb.save(tmp_path / "wps.xlsx")
    assert design_workbook(tmp_path / "wps.xlsx", form_id="wps").layout["font"] == {"name": "宋体", "size": 12}
