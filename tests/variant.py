"""A second official variant of the performance target form, drawn as a county bureau draws it
(helper module, not a test file): with openpyxl, cell by cell, the way its staff want it printed.

It differs from the bundled form where the regional copies differ: the funding split
财政拨款 / 自有资金 / 事业收入 / 其他, a 项目实施进度计划 table (内容, 开始时间, 完成时间), one
indicator table with a 分值 and a 备注 column, 满意度指标 as its own 一级指标, 环境效益 for
生态效益; A4 fitted to one page, 仿宋 and 黑体, grey headers, a theme-coloured section fill, a stacked
vertical label, medium outer borders, a header and a footer, and a second sheet 填表说明.

``draw(path, marked=True)`` writes the workbook with the bureau's markers in its input cells
(title markers, a table column per ``{.列}``, pointer markers for the indicators);
``marked=False`` writes the same form blank, as the bureau printed it before;
``variant_instance(model)`` is a department's return for the form design makes of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.colors import Color

from xltemplate.form.model import FormModel
from xltemplate.form.values import leaves_of, put

TITLE = "示例县财政项目支出绩效目标申报表"
BODY, HEAD = "仿宋", "黑体"
THIN, MEDIUM = Side(style="thin"), Side(style="medium")
GREY = PatternFill("solid", fgColor="D9D9D9")
SECTION = PatternFill("solid", fgColor=Color(theme=4, tint=0.7999816888943144))  # 强调文字颜色 1，淡色 80%
WIDTHS = {"A": 6, "B": 12, "C": 14, "D": 18, "E": 14, "F": 14, "G": 10, "H": 16}
FIRST_ROW, LAST_ROW = 4, 37  # the bordered table

# 一级, 二级 and its key under /indicators, two rows each
INDICATORS = [
    ("产出指标", [("数量指标", "output/quantity"), ("质量指标", "output/quality"), ("时效指标", "output/timeliness"),
                 ("成本指标", "output/cost")]),
    ("效益指标", [("经济效益指标", "benefit/economic"), ("社会效益指标", "benefit/social"),
                 ("环境效益指标", "benefit/environmental"), ("可持续影响指标", "benefit/sustainability")]),
    ("满意度指标", [("服务对象满意度指标", "satisfaction/service")]),
]
PLAN_ROWS = 5


def _put(ws: Any, ref: str, value: Any = None, *, font: Font | None = None, fill: PatternFill | None = None,
         align: Alignment | None = None, fmt: str | None = None, table: bool = True) -> None:
    """One cell or merged range, styled as Excel does: the top-left carries the range's outer
    borders (openpyxl copies them to the edges when merging); medium where the table's outline is."""
    first, _, last = ref.partition(":")
    cell = ws[first]
    cell.value = value
    cell.font = font or Font(name=BODY, size=11)
    cell.alignment = align or Alignment(horizontal="center", vertical="center", wrap_text=True)
    if fill:
        cell.fill = fill
    if fmt:
        cell.number_format = fmt
    if table:
        lo, hi = ws[first], ws[last or first]
        cell.border = Border(left=MEDIUM if lo.column == 1 else THIN, right=MEDIUM if hi.column == 8 else THIN,
                             top=MEDIUM if lo.row == FIRST_ROW else THIN, bottom=MEDIUM if hi.row == LAST_ROW else THIN)
    if last:
        ws.merge_cells(ref)


def draw(path: Path, marked: bool = True) -> Path:
    """Write the county's form to ``path``; with ``marked`` its input cells carry markers."""
    def m(marker: str) -> str | None:
        return marker if marked else None

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "绩效目标申报表"
    head = Font(name=HEAD, size=11, bold=True)
    left = Alignment(horizontal="left", vertical="center", wrap_text=True)
    top_left = Alignment(horizontal="left", vertical="top", wrap_text=True)
    amount = "0.00"

    _put(ws, "A1:H1", TITLE, font=Font(name=HEAD, size=18, bold=True), table=False)
    _put(ws, "A2:B2", "填报单位（盖章）：", align=Alignment(horizontal="right", vertical="center"), table=False)
    _put(ws, "C2:E2", m("{填报单位*}"), align=left, table=False)
    _put(ws, "F2", "填报日期：", align=Alignment(horizontal="right", vertical="center"), table=False)
    _put(ws, "G2:H2", m("{填报日期:date*}"), align=left, fmt='yyyy"年"m"月"d"日"', table=False)
    _put(ws, "A3:H3", "金额单位：万元", font=Font(name=BODY, size=10, italic=True),
         align=Alignment(horizontal="right", vertical="center"), table=False)

    stacked = Alignment(horizontal="center", vertical="center", text_rotation=255, wrap_text=True)
    _put(ws, "A4:A7", "基本情况", font=head, fill=SECTION, align=stacked)
    _put(ws, "B4", "项目名称", font=head, fill=GREY)
    _put(ws, "C4:H4", m("{项目名称*}"), align=left)
    for row, (l1, i1, l2, i2) in enumerate([("主管部门", "{}", "实施单位", "{*}"),
                                           ("项目负责人", "{}", "联系电话", "{:7~12位数字}"),
                                           ("项目属性", "{:新增|延续*}", "项目期限", "{:month-range}")], start=5):
        _put(ws, f"B{row}", l1, font=head, fill=GREY)
        _put(ws, f"C{row}:D{row}", m(i1), align=left)
        _put(ws, f"E{row}", l2, font=head, fill=GREY)
        _put(ws, f"F{row}:H{row}", m(i2), align=left)

    _put(ws, "A8:A10", "资金来源", font=head, fill=SECTION, align=stacked)
    _put(ws, "B8:B9", "年度资金总额", font=head, fill=GREY)
    _put(ws, "C8:F8", "其中", font=head, fill=GREY)
    _put(ws, "G8:H9", "差额（总额−各项）", font=head, fill=GREY)
    for col, label in zip("CDEF", ["财政拨款", "自有资金", "事业收入", "其他"], strict=True):
        _put(ws, f"{col}9", label, font=head, fill=GREY)
    _put(ws, "B10", m("{资金总额:number>=0,2位小数*}"), fmt=amount)
    for col, marker in zip("CDEF", ["{财政拨款:>=0,2位小数}", "{自有资金:number>=0,2位小数}",
                                    "{事业收入:number>=0,2位小数}", "{其他资金:number>=0,2位小数}"], strict=True):
        _put(ws, f"{col}10", m(marker), fmt=amount)
    _put(ws, "G10:H10", "=B10-SUM(C10:F10)", fmt=amount)

    _put(ws, f"A11:A{11 + PLAN_ROWS}", "项目实施进度计划", font=head, fill=SECTION, align=stacked)
    _put(ws, "B11", "序号", font=head, fill=GREY)
    _put(ws, "C11:E11", "实施内容", font=head, fill=GREY)
    _put(ws, "F11:G11", "开始时间", font=head, fill=GREY)
    _put(ws, "H11", "完成时间", font=head, fill=GREY)
    for i in range(PLAN_ROWS):
        row = 12 + i
        _put(ws, f"B{row}", i + 1, align=Alignment(vertical="center"))  # a number as a label: shown on the right
        _put(ws, f"C{row}:E{row}", m("{.实施内容}"), align=left)
        _put(ws, f"F{row}:G{row}", m("{.:date}"), fmt="yyyy-mm-dd")
        _put(ws, f"H{row}", m("{.:date}"), fmt="yyyy-mm-dd")

    _put(ws, "A17", "年度目标", font=head, fill=SECTION, align=Alignment(horizontal="center", vertical="center",
                                                                    wrap_text=True))
    _put(ws, "B17:H17", m("{年度绩效目标*:500字内}"), align=top_left)

    first = 18
    _put(ws, f"A{first}:A{LAST_ROW}", "绩效指标", font=head, fill=SECTION, align=stacked)
    headers = {"B": "一级指标", "C": "二级指标", "D": "三级指标", "F": "指标值", "G": "分值", "H": "备注"}
    for col, label in headers.items():
        _put(ws, f"D{first}:E{first}" if col == "D" else f"{col}{first}", label, font=head, fill=GREY)
    row = first + 1
    parts = []
    for level1, level2 in INDICATORS:
        _put(ws, f"B{row}:B{row + 2 * len(level2) - 1}", level1, font=head)
        for label, key in level2:
            _put(ws, f"C{row}:C{row + 1}", label)
            for r in (row, row + 1):
                p = f"/indicators/{key}/*"
                _put(ws, f"D{r}:E{r}", m(f"{{{p}/name}}"), align=left)
                _put(ws, f"F{r}", m(f"{{{p}/value}}"))
                _put(ws, f"G{r}", m(f"{{{p}/score:number,0~100}}"))
                _put(ws, f"H{r}", m(f"{{{p}/note}}"), align=left)
            parts.append(f"G{row}:G{row + 1}")
            row += 2
    _put(ws, f"B{row}:F{row}", "分值合计", font=head, fill=GREY)
    _put(ws, f"G{row}", f"=SUM({','.join(parts)})")
    _put(ws, f"H{row}", None)
    assert row == LAST_ROW

    sign = LAST_ROW + 1
    _put(ws, f"A{sign}:B{sign}", "单位负责人：", align=Alignment(horizontal="right", vertical="center"), table=False)
    _put(ws, f"C{sign}:D{sign}", m("{单位负责人}"), align=left, table=False)
    _put(ws, f"E{sign}", "填表人：", align=Alignment(horizontal="right", vertical="center"), table=False)
    _put(ws, f"F{sign}", m("{填表人*}"), align=left, table=False)
    _put(ws, f"G{sign}", "电话：", align=Alignment(horizontal="right", vertical="center"), table=False)
    _put(ws, f"H{sign}", m("{填表人电话}"), align=left, table=False)

    for col, width in WIDTHS.items():
        ws.column_dimensions[col].width = width
    heights = {1: 36, 2: 24, 3: 18, 17: 72, sign: 30}
    for r in range(1, sign + 1):
        ws.row_dimensions[r].height = heights.get(r, 21)
    ws.page_setup.orientation = "portrait"
    ws.page_setup.paperSize = 9
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.6
    ws.print_options.horizontalCentered = True
    ws.oddHeader.right.text = "示例县财政局制"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.print_area = f"A1:H{sign}"
    ws.sheet_view.showGridLines = False

    notes = wb.create_sheet("填表说明")
    notes.column_dimensions["A"].width = 90
    _put(notes, "A1", "填表说明", font=Font(name=HEAD, size=14, bold=True), table=False)
    _put(notes, "A2", "一、每个申请资金的项目填写一份，金额单位为万元，保留两位小数。\n"
                      "二、年度资金总额应等于财政拨款、自有资金、事业收入与其他资金之和。\n"
                      "三、绩效指标每项至少填写一个三级指标，指标值应包含比较符、数值和单位（如 ≥90%）。\n"
                      "四、分值合计为 100 分。", align=top_left, table=False)
    notes.row_dimensions[2].height = 96
    notes.sheet_view.showGridLines = False
    wb.save(path)
    return path


# -- a department's return, by the titles the county wrote -------------------------------------

def by_title(model: FormModel) -> dict[str, str]:
    """Field pattern by the title its marker or label gave it."""
    return {str(f.schema.get("x-marker") or f.schema.get("title")): f.pattern for f in model.fields}


def set_at(data: dict[str, Any], pointer: str, value: Any) -> None:
    """``values.put``, with a list wherever the next token is an index (these forms' repeating areas)."""
    tokens = pointer.strip("/").split("/")
    put(data, pointer, value, {"/" + "/".join(tokens[:i]) for i in range(1, len(tokens)) if tokens[i].isdigit()})


def variant_instance(model: FormModel) -> dict[str, Any]:
    """A county department's return: values by the titles the county wrote, no pointer spelled."""
    by = by_title(model)
    plan = model.fields[[f.schema.get("title") for f in model.fields].index("实施内容")].array or ""
    data: dict[str, Any] = {}
    for title, value in {"填报单位": "示例县农业农村局", "填报日期": "2022-01-17", "项目名称": "高标准农田建设",
                         "主管部门": "示例县农业农村局", "实施单位": "示例县农田建设服务中心", "项目负责人": "王建国",
                         "联系电话": "13514730000", "项目属性": "新增", "项目期限": "2022-03~2022-11",
                         "资金总额": 1280.5, "财政拨款": 1000, "自有资金": 200.5, "其他资金": 80,
                         "年度绩效目标": "目标1：新建高标准农田5000亩。\n目标2：亩均粮食产能提高100公斤。",
                         "填表人": "李娜", "填表人电话": "04733990000"}.items():
        if title in by:  # a field the county may have dropped
            set_at(data, by[title], value)
    for i, (what, start, end) in enumerate([("项目设计与招标", "2022-03-01", "2022-04-30"),
                                            ("田间工程施工", "2022-05-01", "2022-10-31"),
                                            ("竣工验收", "2022-11-01", "2022-11-30")]):
        for title, value in (("实施内容", what), ("开始时间", start), ("完成时间", end)):
            set_at(data, by[title].replace("*", str(i)), value)
    for pointer, rows in {"/indicators/output/quantity": [("新建高标准农田面积", "≥5000亩", 20, ""),
                                                          ("新建灌溉渠道", "≥12公里", 10, "含维修")],
                          "/indicators/output/quality": [("工程验收合格率", "=100%", 20, "")],
                          "/indicators/benefit/environmental": [("化肥使用量减少", "≥5%", 10, "")],
                          "/indicators/satisfaction/service": [("受益农户满意度", "≥90%", 40, "")]}.items():
        data.setdefault("indicators", {})
        set_at(data, pointer, [{"name": n, "value": v, "score": s, **({"note": note} if note else {})}
                             for n, v, s, note in rows])
    assert plan and len(data[plan.strip("/")]) == 3
    return data


def by_names(model: FormModel, data: dict[str, Any]) -> dict[str, Any]:
    """Defined name -> value as a clerk types it (dates as dates)."""
    out = {}
    for pointer, value in leaves_of(data):
        f = model.by_pointer[pointer]
        out[f.name] = dt.date.fromisoformat(value) if f.kind == "date" else value
    return out
