"""``xltemplate design`` on workbooks in the shape of the ones bureaus print (``bureau.py``): a WPS-saved
评审项目模板 in Arial 10, a 民政 statistics table in 宋体 11, a budget-indicator template with helper
formulas.  Each comes back from design + generate printing page for page as the bureau's own blank
workbook (LibreOffice renders both), is filled in LibreOffice and imported back unchanged, and keeps
what the bureau drew: its font and sizes, pictures, frames, helper formulas, frozen panes, hidden
columns, dropdowns.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from bureau import (
    BUDGET_ROWS,
    DEPARTMENTS,
    PLAN_ROWS,
    REVIEW_SHEETS,
    budget,
    budget_instance,
    civil,
    civil_instance,
    review,
    review_instance,
)
from click.testing import CliRunner
from variant import by_names, by_title

from xltemplate.api import generate
from xltemplate.cli import main
from xltemplate.collect.importer import import_workbook
from xltemplate.form.design import DesignError
from xltemplate.form.forms import load_form
from xltemplate.form.model import FormModel
from xltemplate.form.validate import Issue
from xltemplate.xlsx.design import design_workbook
from xltemplate.xlsx.writer import write_workbook

BOOKS = {"review": (review, review_instance), "civil": (civil, civil_instance), "budget": (budget, budget_instance)}


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each workbook marked and blank, the form design made of it by the command line (its output
    kept), and the generated template."""
    tmp = tmp_path_factory.mktemp("bureau")
    out = {}
    for name, (draw, _) in BOOKS.items():
        src, blank = draw(tmp / f"{name}.xlsx"), draw(tmp / f"{name}-空表.xlsx", marked=False)
        res = CliRunner().invoke(main, ["design", str(src), "-o", str(tmp / name), "--id", f"bureau-{name}"])
        assert res.exit_code == 0, res.output
        model = load_form(tmp / name / f"bureau-{name}.schema.json")
        template = tmp / f"{name}-模板.xlsx"
        generate(model, template)
        out[name] = {"src": src, "blank": blank, "model": model, "template": template, "output": res.output}
    return out


def _part(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name).decode("utf-8")


def _sheet_part(path: Path, sheet: str) -> str:
    """The XML of the worksheet named ``sheet``."""
    book, rels = _part(path, "xl/workbook.xml"), _part(path, "xl/_rels/workbook.xml.rels")
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', book).group(1)
    target = re.search(rf'<Relationship [^>]*Id="{rid}"[^>]*Target="([^"]+)"|'
                       rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return _part(path, "xl/" + (target.group(1) or target.group(2)).lstrip("/").removeprefix("xl/"))


# -- printed page for page --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BOOKS))
def test_the_template_prints_page_for_page_as_the_bureaus_own_blank_workbook(forms, name: str) -> None:
    """Same pages, pixel for pixel (LibreOffice renders both with the same fonts); the 评审项目模板's
    11 pages are 12 when the template's font is Calibri 11 instead of the workbook's Arial 10."""
    import libreoffice as lo

    lo.require()
    form = forms[name]
    theirs, ours = lo.pages(form["blank"]), lo.pages(form["template"])
    assert len(ours) == len(theirs) and len(theirs) == {"review": 11, "civil": 1, "budget": 1}[name]
    assert [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b] == []


# -- filled in LibreOffice and imported back --------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BOOKS))
def test_the_template_filled_in_libreoffice_imports_unchanged(forms, name: str, tmp_path: Path) -> None:
    import libreoffice as lo

    lo.require()
    form = forms[name]
    model: FormModel = form["model"]
    data = BOOKS[name][1](by_title(model))
    filled = tmp_path / f"{name}-已填.xlsx"
    lo.fill_by_names(form["template"], filled, by_names(model, data))
    result = import_workbook(filled, form=model)
    assert result.status == "valid", [e.as_dict() for e in result.errors]
    assert result.data == data
    if name == "budget":  # the helper columns LibreOffice computed: the department's name, the name's length
        ws = openpyxl.load_workbook(filled, data_only=True)["指标录入"]
        names = dict(DEPARTMENTS)
        assert [ws["C4"].value, ws["C5"].value, ws["C6"].value] == [names["107"], names["118"], None]
        assert [ws["F4"].value, ws["F5"].value] == [6, 8]
        assert ws["E24"].value == pytest.approx(2060.5)
    if name == "review":  # the seal survives the client
        assert "xl/media/image1.png" in zipfile.ZipFile(filled).namelist()


# -- the workbook's own defaults --------------------------------------------------------------------

def test_the_workbooks_font_widths_and_heights_are_the_templates(forms) -> None:
    """Arial 10 and 宋体 11 as the workbooks' font, every column as the file stored it, the sheets' default
    width and height, and 35.1 pt rows to the point (xlsxwriter would write 35.25)."""
    for name, font in (("review", ("Arial", "10")), ("civil", ("宋体", "11"))):
        form = forms[name]
        first = re.search(r"<fonts[^>]*><font>(.*?)</font>", _part(form["template"], "xl/styles.xml")).group(1)
        assert f'<name val="{font[0]}"/>' in first and f'<sz val="{font[1]}"/>' in first
        assert form["model"].layout["font"] == {"name": font[0], "size": int(font[1])}
    form = forms["review"]
    for sheet in ("项目基本信息", "支出明细", "项目支出绩效目标申报表"):
        src, ours = _sheet_part(form["src"], sheet), _sheet_part(form["template"], sheet)
        widths = [re.findall(r'<col min="(\d+)" max="(\d+)" width="([^"]+)"', x) for x in (src, ours)]
        assert widths[0] and widths[1] == widths[0]
        heights = [dict(re.findall(r'<row r="(\d+)"[^>]* ht="([^"]+)"', x)) for x in (src, ours)]
        assert heights[1] == heights[0] and "35.1" in heights[1].values()
        assert 'defaultColWidth="9"' in ours and 'defaultRowHeight="12.75"' in ours
    assert "25.76" in heights[1].values()  # 25.76 * 4/3 * 0.75 is 25.759999999999998 in floating point


# -- what the bureau drew, kept ---------------------------------------------------------------------

def test_pictures_frozen_panes_tab_colours_zoom_and_hidden_columns_are_kept(forms) -> None:
    """A seal where it was drawn, to the EMU: in the 宋体 workbook too, whose columns xlsxwriter would
    measure in Calibri's digits and so anchor the seal's far corner elsewhere."""
    def anchor(path: Path) -> tuple[str, ...]:
        xml = _part(path, "xl/drawings/drawing1.xml")
        pattern = r'<xdr:from>.*?</xdr:from>|<xdr:to>.*?</xdr:to>|<a:ext cx="\d+" cy="\d+"/>|editAs="\w+"'
        parts = re.findall(pattern, xml)
        return (*parts, str(zipfile.ZipFile(path).read("xl/media/image1.png")))

    for name in ("review", "civil"):
        mine, theirs = anchor(forms[name]["template"]), anchor(forms[name]["src"])
        assert mine == theirs and len(mine) >= 4  # corners, size (and how it moves), the image's bytes
    model = forms["civil"]["model"]
    data = civil_instance(by_title(model))
    annotated = forms["civil"]["template"].with_name("annotated.xlsx")  # an error sheet before, comments beside
    annotated.write_bytes(write_workbook(model, data, errors=[_issue(model.fields[0].pointer)]))
    assert anchor(annotated) == anchor(forms["civil"]["src"])
    form = forms["review"]
    src, ours = form["src"], form["template"]
    a, b = openpyxl.load_workbook(src), openpyxl.load_workbook(ours)
    def view(ws: Any) -> tuple[Any, ...]:
        tab = ws.sheet_properties.tabColor
        return ws.freeze_panes, ws.sheet_view.zoomScale, tab.rgb if tab is not None else None

    for sheet in REVIEW_SHEETS:
        assert view(b[sheet]) == view(a[sheet])
    assert b["项目基本信息"].column_dimensions["G"].hidden and b["支出明细"].freeze_panes == "A4"
    budget_book = openpyxl.load_workbook(forms["budget"]["template"])
    assert budget_book["部门编码"].sheet_state == "hidden" and budget_book["指标录入"].freeze_panes == "C4"
    assert budget_book["指标录入"].column_dimensions["G"].hidden


def test_unevaluated_helper_formulas_are_kept_as_written_and_locked(forms) -> None:
    """VLOOKUP into the hidden code sheet, LEN and TEXT stay as the bureau wrote them; the 合计 is one of the
    form's own formulas; a helper that reads no input keeps the value it was saved with."""
    src = openpyxl.load_workbook(forms["budget"]["src"])["指标录入"]
    ours = openpyxl.load_workbook(forms["budget"]["template"])["指标录入"]
    for r in range(4, 4 + BUDGET_ROWS):
        assert ours[f"C{r}"].value == src[f"C{r}"].value and ours[f"C{r}"].protection.locked
        assert ours[f"F{r}"].value == src[f"F{r}"].value == f"=LEN(D{r})"
    assert ours["B2"].value == src["B2"].value
    cached = openpyxl.load_workbook(forms["budget"]["template"], data_only=True)["指标录入"]
    assert cached["B2"].value == "2024年1月1日" and cached["C4"].value in (None, "")
    model = forms["budget"]["model"]
    kept = {c.formula for s in model.sheets for c in s.cells if c.kind == "formula" and c.keep}
    assert any(f and "VLOOKUP" in f for f in kept) and not any(f and f.startswith("=SUM") for f in kept)


def test_each_drawn_row_keeps_its_look_and_rows_added_take_a_middle_ones(forms, tmp_path: Path) -> None:
    """The 实施进度 frame is closed by a medium border on its last row; asked for 7 rows where 4 are drawn,
    the rows added are copies of a middle row (thin), numbered on, and the closing border stays last."""
    ws = openpyxl.load_workbook(forms["review"]["template"])["实施方案"]
    last = 2 + PLAN_ROWS
    assert [ws[f"B{r}"].border.bottom.style for r in range(3, last + 1)] == ["thin"] * (PLAN_ROWS - 1) + ["medium"]
    # its 序号, numbers drawn as labels, are not flagged by Excel as numbers stored as text
    assert 'numberStoredAsText="1"' in _sheet_part(forms["review"]["template"], "实施方案")
    made = design_workbook(review(tmp_path / "评审.xlsx", plan_rows=7), form_id="bureau-review")
    model = load_form_from(made, tmp_path)
    plan = next(a for a in model.arrays.values() if a.sheet == "实施方案")
    assert plan.capacity == 7
    ws = openpyxl.load_workbook(io.BytesIO(write_workbook(model)))["实施方案"]
    end = 2 + 7
    assert [ws[f"B{r}"].border.bottom.style for r in range(3, end + 1)] == ["thin"] * 6 + ["medium"]
    assert [ws[f"A{r}"].value for r in range(3, end + 1)] == ["1", "2", "3", "4", "5", "6", "7"]
    assert ws.row_dimensions[end].ht == 35.1 and ws[f"A{end + 1}"].value == "注：实施内容按时间顺序填写。"


def _issue(pointer: str) -> Issue:
    return Issue(None, None, pointer, None, None, "请填写", "required")


def load_form_from(made: Any, tmp: Path) -> FormModel:
    schema, _ = made.write(tmp / "form")
    return load_form(schema)


def test_a_number_field_in_a_formatted_cell_says_its_format_and_text_fields_keep_the_cells(forms) -> None:
    model = forms["review"]["model"]
    by = {f.schema.get("x-marker") or f.schema.get("title"): f for f in model.fields}
    assert by["自筹比例"].schema["x-num-format"] == "0%" and by["项目总金额"].schema["x-num-format"] == "#,##0.00"
    assert "x-num-format" not in by["预计完成率"].schema  # a text field
    ws = openpyxl.load_workbook(forms["review"]["template"])["项目基本信息"]
    assert ws[by["预计完成率"].cell].number_format == "0%"  # as the clerk sees it: 95% typed stays 95%
    assert ws[by["自筹比例"].cell].number_format == "0%" and ws[by["项目名称"].cell].number_format == "@"


def test_titles_come_from_the_right_labels_and_are_listed(forms) -> None:
    """A repeating column is titled by its header, not by the code row under it; a field by the label in
    its own row, else above (中期目标, not the 总体目标 beside two rows); the form by its title cell."""
    civil_model = forms["civil"]["model"]
    titles = list(dict.fromkeys(f.schema["title"] for f in civil_model.fields if f.array))
    assert titles[:8] == ["社会组织名称", "组织类型", "登记机关", "姓名", "是否党员", "从业人员数", "从业人员党员数",
                          "备注"]
    review_model = forms["review"]["model"]
    assert {f.schema["title"] for f in review_model.fields if f.sheet == "项目支出绩效目标申报表" and f.row == 3} \
        == {"中期目标", "年度目标"}
    assert review_model.title == "市级财政项目支出预算评审申报表" and civil_model.title == "社会组织党的建设情况统计表"
    output = forms["review"]["output"]
    assert "表单：“市级财政项目支出预算评审申报表”（工作表“项目基本信息” A1:F1）" in output
    assert ("“中期目标”（工作表“项目支出绩效目标申报表” B4:E4 的标记，标题取自 工作表“项目支出绩效目标申报表” "
            "B3:E3）") in output


def test_the_workbooks_dropdowns_become_choices_or_are_kept(forms) -> None:
    """A dropdown on a cell the bureau marked without choices gives the field its choices (a list written
    out, or the cells it names on a hidden column); one on a cell no marker takes is kept as drawn."""
    model = forms["civil"]["model"]
    by = {f.schema["title"]: f for f in model.fields}
    assert by["是否党员"].schema["enum"] == ["是", "否"]
    assert by["登记机关"].schema["enum"] == ["市民政局", "区民政局", "县民政局"]
    ws = openpyxl.load_workbook(forms["civil"]["template"])["社会组织党建情况"]
    kept = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == "H2:I2"]
    assert len(kept) == 1 and kept[0].formula1 == '"年末数,年中数"'
    assert "下拉列表（是、否）成为这个填写项的选项" in forms["civil"]["output"]


def test_a_marker_missing_a_brace_is_reported_at_its_cell_and_nothing_is_written(tmp_path: Path) -> None:
    src = review(tmp_path / "评审.xlsx", broken=True)
    with pytest.raises(DesignError) as err:
        design_workbook(src, form_id="bureau-review")
    problems = err.value.problems
    assert len(problems) == 2
    assert "B9:C9" in problems[0] and "没有结束的“}”" in problems[0]
    assert "E9:F9" in problems[1] and "没有开头的“{”" in problems[1]
    res = CliRunner().invoke(main, ["design", str(src), "-o", str(tmp_path / "out"), "--id", "bureau-review"])
    assert res.exit_code == 1 and "2 处问题" in res.output and not (tmp_path / "out").exists()


def test_the_design_is_written_as_it_was_made(forms) -> None:
    """The layout file names the workbook's font and keeps the pictures in it (self-contained)."""
    layout = json.loads((forms["review"]["model"].path and Path(forms["review"]["model"].path).with_name(
        "bureau-review.layout.json")).read_text(encoding="utf-8"))
    assert layout["font"] == {"name": "Arial", "size": 10}
    assert layout["sheets"][0]["pictures"][0]["format"] == "png"


# -- numbers typed into formatted cells -------------------------------------------------------------

FORMATS = {"比例": ("0%", 0.95), "精确比例": ("0.00%", 0.1234), "人数": ("#,##0", 12345),
           "金额": ("#,##0.00", 1234.5), "人民币": ('"¥"#,##0.00', 88.8), "分数": ("# ?/?", 2.5),
           "科学计数": ("0.00E+00", 123000)}


def test_numbers_typed_into_cells_of_the_formats_clerks_use_come_back_as_typed(tmp_path: Path) -> None:
    """A number field marked in a cell of each format Excel and WPS give a typed number (percent, thousands,
    currency, a fraction, scientific): the schema says the format (x-num-format), the template's cell has
    it, and the number LibreOffice stores there is imported unchanged."""
    import libreoffice as lo
    import xlsxwriter

    lo.require()
    src = tmp_path / "formats.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("数字")
    for r, (title, (fmt, _)) in enumerate(FORMATS.items()):
        ws.write(r, 0, title)
        ws.write(r, 1, "{" + title + ":number}", wb.add_format({"num_format": fmt}))
    wb.close()
    made = design_workbook(src, form_id="formats")
    model = load_form_from(made, tmp_path)
    by = {f.schema["title"]: f for f in model.fields}
    assert {title: by[title].schema["x-num-format"] for title in FORMATS} == {t: f for t, (f, _) in FORMATS.items()}
    template, filled = tmp_path / "模板.xlsx", tmp_path / "已填.xlsx"
    generate(model, template)
    ws = openpyxl.load_workbook(template)["数字"]
    assert {title: ws[by[title].cell].number_format for title in FORMATS} == {t: f for t, (f, _) in FORMATS.items()}
    lo.fill_by_names(template, filled, {by[title].name: value for title, (_, value) in FORMATS.items()})
    result = import_workbook(filled, form=model)
    assert result.status == "valid", [e.as_dict() for e in result.errors]
    assert result.data == {by[title].pointer.strip("/"): value for title, (_, value) in FORMATS.items()}
