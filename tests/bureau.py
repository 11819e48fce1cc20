"""Three workbooks in the shape of the ones bureaus really print, drawn by code (helper module, not a
test file), each ``marked`` with the bureau's markers or blank as the bureau printed it before.

Look-alikes of published templates (nothing of theirs is copied):

* :func:`review`: a 6-sheet 评审项目模板 as WPS saves it: Arial 10 as the workbook's font,
  ``defaultColWidth="9"``, a title cell per sheet, a logo, frames closed by a medium border, 35.1 pt
  rows, a long 支出明细 table with frozen headers, a hidden 内部备注 column, tab colours and zoom, a
  text field and a number field in cells formatted ``0%``, amounts in ``#,##0.00``, 项目支出绩效目标申报表
  with 总体目标 over 中期目标 / 年度目标;
* :func:`civil`: a 民政 statistics table: 宋体 11, three rows of merged headers, a row of column codes
  under them (甲 乙 A B C D1 D2 I), dropdowns on its columns and on a cell no marker takes, a seal that
  moves and sizes with its cells;
* :func:`budget`: a budget-indicator template with helper columns (VLOOKUP into a hidden code
  sheet, LEN, TEXT), frozen panes and a hidden column.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import xlsxwriter
from variant import set_at

DEPARTMENTS = [(f"{101 + i}", name) for i, name in enumerate([
    "市财政局", "市发展和改革委员会", "市教育局", "市科学技术局", "市工业和信息化局", "市公安局", "市民政局",
    "市司法局", "市人力资源和社会保障局", "市自然资源局", "市生态环境局", "市住房和城乡建设局", "市交通运输局",
    "市水务局", "市农业农村局", "市商务局", "市文化和旅游局", "市卫生健康委员会", "市退役军人事务局", "市应急管理局",
    "市审计局", "市市场监督管理局",
    "市统计局", "市医疗保障局", "市林业和草原局", "市体育局", "市信访局", "市机关事务管理局", "市档案馆", "市图书馆",
    "市博物馆", "市疾病预防控制中心", "市妇幼保健院", "市第一中学", "市第二中学", "市职业技术学院", "市广播电视台",
    "市融媒体中心", "市供销合作社"])]


def seal_png(size: int = 96) -> bytes:
    """A red ring on white, like a seal: a PNG made by hand (no imaging library)."""
    rows = []
    c, outer, inner = (size - 1) / 2, size / 2 - 2, size / 2 - 9
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            row += bytes((200, 20, 30) if inner <= d <= outer or (abs(x - c) < 3 and abs(y - c) < 14) else (255,) * 3)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def _as_wps(path: Path, format_pr: str, heights: dict[str, str], offsets: dict[str, str] | None = None) -> None:
    """What WPS writes and xlsxwriter does not: the sheet's default sizes (``defaultColWidth="9"``), row
    heights to the point (35.1, where xlsxwriter writes whole pixels, 35.25), pictures' offsets in EMU that
    are no whole pixel."""
    src = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", item.filename):
                text = re.sub(r"<sheetFormatPr [^>]*/>", format_pr, data.decode("utf-8"))
                for stored, exact in heights.items():
                    text = text.replace(f'ht="{stored}"', f'ht="{exact}"')
                data = text.encode("utf-8")
            elif item.filename == "xl/drawings/drawing1.xml":
                text = data.decode("utf-8")
                for tag, value in (offsets or {}).items():
                    text = re.sub(rf"<xdr:{tag}>\d+</xdr:{tag}>", f"<xdr:{tag}>{value}</xdr:{tag}>", text, count=1)
                data = text.encode("utf-8")
            zout.writestr(item, data)
    path.write_bytes(out.getvalue())


class _Book:
    """Formats by name over the workbook's font, as a WPS user sets them."""

    def __init__(self, path: Path, font: tuple[str, float], column: int) -> None:
        self.wb = xlsxwriter.Workbook(str(path), {"default_format_properties": {"font_name": font[0],
                                                                                "font_size": font[1]},
                                                  "default_column_width": column})
        self.cache: dict[str, Any] = {}

    def f(self, **props: Any) -> Any:
        key = repr(sorted(props.items()))
        if key not in self.cache:
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]


def _frame(b: _Book, ws: Any, top: int, bottom: int, left: int, right: int, cells: dict[tuple[int, int], Any],
           base: dict[str, Any]) -> None:
    """Write ``cells`` ({(row, col): value or (value, {props}, (rows, cols))}) inside a frame: thin
    borders, a medium outline (the closing border on the last row)."""
    covered: set[tuple[int, int]] = set()
    for (r, c), spec in sorted(cells.items()):
        value, props, span = (spec if isinstance(spec, tuple) else (spec, {}, (1, 1)))
        r2, c2 = r + span[0] - 1, c + span[1] - 1
        fmt = b.f(**{**base, "border": 1, **props, "top": 2 if r == top else 1, "bottom": 2 if r2 == bottom else 1,
                     "left": 2 if c == left else 1, "right": 2 if c2 == right else 1})
        if span != (1, 1):
            ws.merge_range(r, c, r2, c2, None, fmt)
        if isinstance(value, str) and value.startswith("="):
            ws.write_formula(r, c, value, fmt)
        elif value is None:
            ws.write_blank(r, c, None, fmt)
        else:
            ws.write(r, c, value, fmt)
        covered.update((rr, cc) for rr in range(r, r2 + 1) for cc in range(c, c2 + 1))
    for r in range(top, bottom + 1):  # the frame's empty cells are drawn too
        for c in range(left, right + 1):
            if (r, c) not in covered:
                ws.write_blank(r, c, None, b.f(**{**base, "border": 1, "top": 2 if r == top else 1,
                                                   "bottom": 2 if r == bottom else 1, "left": 2 if c == left else 1,
                                                   "right": 2 if c == right else 1}))


# -- 评审项目模板 ---------------------------------------------------------------------------------------

REVIEW_SHEETS = ["项目基本信息", "立项依据", "实施方案", "支出计划", "支出明细", "项目支出绩效目标申报表"]
DETAIL_ROWS = 30  # 支出明细's drawn rows
PLAN_ROWS = 4  # 实施方案's drawn rows


def review(path: Path, marked: bool = True, *, plan_rows: int | None = None, broken: bool = False) -> Path:
    """The 评审项目模板; ``plan_rows`` asks its 实施进度 table for that many rows (``共N行``);
    ``broken`` writes two markers as the issue found them, one missing its ``{``, one its ``}``."""
    def m(marker: str) -> str | None:
        return marker if marked else None

    b = _Book(path, ("Arial", 10), 64)
    wb = b.wb
    song = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True}
    head = {**song, "bold": True, "align": "center", "bg_color": "#DDEBF7"}
    left = {**song, "align": "left"}

    def title(ws: Any, text: str, cols: int) -> None:
        ws.merge_range(0, 0, 0, cols - 1, text, b.f(font_name="宋体", font_size=16, bold=True, align="center",
                                                    valign="vcenter"))
        ws.set_row(0, 33.75)

    # 项目基本信息
    ws = wb.add_worksheet(REVIEW_SHEETS[0])
    ws.set_tab_color("#C00000")
    ws.set_zoom(85)
    title(ws, "市级财政项目支出预算评审申报表", 6)
    ws.insert_image(0, 0, "seal.png", {"image_data": io.BytesIO(seal_png()), "x_offset": 12, "y_offset": 4,
                                       "x_scale": 0.45, "y_scale": 0.45, "object_position": 2,
                                       "description": "市财政局"})
    ws.write(1, 0, "填报单位：", b.f(**song, align="right"))
    ws.merge_range(1, 1, 1, 2, m("{填报单位*}"), b.f(**left))
    ws.write(1, 4, "金额单位：万元", b.f(**song, align="right", italic=True))
    funding = "{/funding/mid/fiscal:number>=0,2位小数" if broken else "{/funding/mid/fiscal:number>=0,2位小数}"
    other = "/funding/annual/other:number}" if broken else "{/funding/annual/other:number}"
    grid: dict[tuple[int, int], Any] = {
        (2, 0): ("项目名称", head, (1, 1)), (2, 1): (m("{项目名称*}"), left, (1, 5)),
        (3, 0): ("项目编码", head, (1, 1)), (3, 1): (m("{项目编码:7位数字}"), left, (1, 2)),
        (3, 3): ("项目属性", head, (1, 1)), (3, 4): (m("{项目属性:新增|延续*}"), left, (1, 2)),
        (4, 0): ("主管部门", head, (1, 1)), (4, 1): (m("{}"), left, (1, 2)),
        (4, 3): ("项目单位", head, (1, 1)), (4, 4): (m("{*}"), left, (1, 2)),
        (5, 0): ("项目负责人", head, (1, 1)), (5, 1): (m("{}"), left, (1, 2)),
        (5, 3): ("联系电话", head, (1, 1)), (5, 4): (m("{:7~12位数字}"), left, (1, 2)),
        (6, 0): ("项目总金额", head, (1, 1)),
        (6, 1): (m("{项目总金额:number>=0,2位小数}"), {**song, "num_format": "#,##0.00"}, (1, 2)),
        (6, 3): ("自筹比例", head, (1, 1)), (6, 4): (m("{自筹比例:number,0~1}"), {**song, "num_format": "0%"}, (1, 2)),
        (7, 0): ("预计完成率", head, (1, 1)), (7, 1): (m("{预计完成率}"), {**song, "num_format": "0%"}, (1, 2)),
        (7, 3): ("项目期限", head, (1, 1)), (7, 4): (m("{:month-range}"), left, (1, 2)),
        (8, 0): ("中期资金", head, (1, 1)), (8, 1): (m(funding), {**song, "num_format": "#,##0.00"}, (1, 2)),
        (8, 3): ("年度其他资金", head, (1, 1)), (8, 4): (m(other), {**song, "num_format": "#,##0.00"}, (1, 2)),
        (9, 0): ("项目概况", head, (1, 1)), (9, 1): (m("{项目概况:500字内}"), {**left, "valign": "top"}, (1, 5)),
    }
    _frame(b, ws, 2, 9, 0, 5, grid, song)
    ws.write(2, 6, "内部备注", b.f(**song))
    ws.write(3, 6, "评审组填写", b.f(**song))
    for c, w in enumerate([13, 15, 15, 13, 15, 15, 20]):
        ws.set_column(c, c, w, None, {"hidden": c == 6})
    for r in range(2, 9):
        ws.set_row(r, 35.1)
    ws.set_row(9, 120)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.6, right=0.6, top=0.8, bottom=0.8)
    ws.set_footer("&C第 &P 页")

    # 立项依据
    ws = wb.add_worksheet(REVIEW_SHEETS[1])
    title(ws, "项目立项依据", 4)
    top = {**left, "valign": "top"}
    _frame(b, ws, 1, 3, 0, 3, {(1, 0): ("政策依据", head, (1, 1)), (1, 1): (m("{政策依据:1000字内}"), top, (1, 3)),
                               (2, 0): ("立项必要性", head, (1, 1)), (2, 1): (m("{立项必要性}"), top, (1, 3)),
                               (3, 0): ("可行性", head, (1, 1)), (3, 1): (m("{可行性}"), top, (1, 3))}, song)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 3, 24)
    for r in (1, 2, 3):
        ws.set_row(r, 150)
    ws.set_paper(9)

    # 实施方案: the 实施进度 table, closed by a medium border
    ws = wb.add_worksheet(REVIEW_SHEETS[2])
    title(ws, "项目实施方案", 5)
    rows_marker = f":共{plan_rows}行" if plan_rows else ""
    plan: dict[tuple[int, int], Any] = {(1, 0): ("序号", head, (1, 1)), (1, 1): ("实施内容", head, (1, 2)),
                                        (1, 3): ("开始时间", head, (1, 1)), (1, 4): ("完成时间", head, (1, 1))}
    for i in range(PLAN_ROWS):
        r = 2 + i
        plan[(r, 0)] = (i + 1, {**song, "align": "center"}, (1, 1))
        plan[(r, 1)] = (m("{.实施内容" + rows_marker + "}"), left, (1, 2))
        plan[(r, 3)] = (m("{.开始时间:date}"), {**song, "num_format": "yyyy-mm-dd"}, (1, 1))
        plan[(r, 4)] = (m("{.完成时间:date}"), {**song, "num_format": "yyyy-mm-dd"}, (1, 1))
    _frame(b, ws, 1, 1 + PLAN_ROWS, 0, 4, plan, song)
    ws.write(2 + PLAN_ROWS, 0, "注：实施内容按时间顺序填写。", b.f(**song, italic=True))
    ws.set_column(0, 0, 6)
    ws.set_column(1, 2, 20)
    ws.set_column(3, 4, 14)
    for r in range(1, 2 + PLAN_ROWS):
        ws.set_row(r, 35.1)
    ws.set_paper(9)

    # 支出计划: evaluated formulas
    ws = wb.add_worksheet(REVIEW_SHEETS[3])
    title(ws, "项目支出计划", 5)
    money = {**song, "num_format": "#,##0.00"}
    _frame(b, ws, 1, 3, 0, 4, {
        (1, 0): ("资金总额", head, (1, 1)), (1, 1): ("财政拨款", head, (1, 1)), (1, 2): ("单位自筹", head, (1, 1)),
        (1, 3): ("其他资金", head, (1, 1)), (1, 4): ("差额", head, (1, 1)),
        (2, 0): (m("{资金总额:number>=0,2位小数*}"), money, (1, 1)),
        (2, 1): (m("{财政拨款:number>=0,2位小数}"), money, (1, 1)),
        (2, 2): (m("{单位自筹:number>=0,2位小数}"), money, (1, 1)),
        (2, 3): (m("{其他资金:number>=0,2位小数}"), money, (1, 1)), (2, 4): ("=A3-SUM(B3:D3)", money, (1, 1)),
        (3, 0): ("说明", head, (1, 1)), (3, 1): (m("{资金说明}"), left, (1, 4))}, song)
    ws.set_column(0, 4, 16)
    ws.set_row(3, 60)
    ws.set_paper(9)

    # 支出明细: a long table over pages, frozen headers
    ws = wb.add_worksheet(REVIEW_SHEETS[4])
    title(ws, "项目支出明细表", 6)
    detail: dict[tuple[int, int], Any] = {(1, 0): ("序号", head, (2, 1)), (1, 1): ("支出内容", head, (2, 2)),
                                          (1, 3): ("测算依据", head, (1, 2)), (2, 3): ("单价", head, (1, 1)),
                                          (2, 4): ("数量", head, (1, 1)), (1, 5): ("金额", head, (2, 1))}
    for i in range(DETAIL_ROWS):
        r = 3 + i
        detail[(r, 0)] = (i + 1, {**song, "align": "center"}, (1, 1))
        detail[(r, 1)] = (m("{明细.支出内容}"), left, (1, 2))
        detail[(r, 3)] = (m("{明细.单价:number>=0}"), money, (1, 1))
        detail[(r, 4)] = (m("{明细.数量:integer>=0}"), {**song, "align": "center"}, (1, 1))
        detail[(r, 5)] = (m("{明细.金额:number>=0,2位小数}"), money, (1, 1))
    last = 3 + DETAIL_ROWS
    detail[(last, 0)] = ("合计", head, (1, 5))
    detail[(last, 5)] = (f"=SUM(F4:F{last})", money, (1, 1))
    _frame(b, ws, 1, last, 0, 5, detail, song)
    ws.freeze_panes(3, 0)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 2, 16)
    ws.set_column(3, 5, 12)
    for r in range(3, last + 1):
        ws.set_row(r, 35.1)
    ws.set_paper(9)
    ws.repeat_rows(1, 2)
    ws.set_footer("&C第 &P 页，共 &N 页")

    # 项目支出绩效目标申报表
    ws = wb.add_worksheet(REVIEW_SHEETS[5])
    ws.set_zoom(90)
    title(ws, "项目支出绩效目标申报表", 8)
    perf: dict[tuple[int, int], Any] = {(1, 0): ("项目名称", head, (1, 1)), (1, 1): ("=项目基本信息!B3", left, (1, 7)),
                                        (2, 0): ("总体目标", head, (2, 1)), (2, 1): ("中期目标", head, (1, 4)),
                                        (2, 5): ("年度目标", head, (1, 3)),
                                        (3, 1): (m("{}"), {**left, "valign": "top"}, (1, 4)),
                                        (3, 5): (m("{}"), {**left, "valign": "top"}, (1, 3)),
                                        (4, 0): ("绩效指标", head, (7, 1)), (4, 1): ("一级指标", head, (1, 1)),
                                        (4, 2): ("二级指标", head, (1, 1)), (4, 3): ("三级指标", head, (1, 3)),
                                        (4, 6): ("指标值", head, (1, 2))}
    for i, (l1, l2, key) in enumerate([("产出指标", "数量指标", "output/quantity"),
                                       ("产出指标", "质量指标", "output/quality"),
                                       ("效益指标", "社会效益指标", "benefit/social")]):
        r = 5 + 2 * i
        perf[(r, 1)] = (l1, song, (2, 1))
        perf[(r, 2)] = (l2, song, (2, 1))
        for rr in (r, r + 1):
            perf[(rr, 3)] = (m(f"{{/indicators/{key}/*/name}}"), left, (1, 3))
            perf[(rr, 6)] = (m(f"{{/indicators/{key}/*/value}}"), left, (1, 2))
    _frame(b, ws, 1, 10, 0, 7, perf, song)
    ws.write(11, 0, "填报人：", b.f(**song, align="right"))
    ws.merge_range(11, 1, 11, 2, m("{填报人*}"), b.f(**left))
    ws.write(11, 5, "填报日期：", b.f(**song, align="right"))
    ws.merge_range(11, 6, 11, 7, m("{填报日期:date}"), b.f(**left, num_format='yyyy"年"m"月"d"日"'))
    ws.set_column(0, 0, 10)
    ws.set_column(1, 7, 11)
    ws.set_row(2, 25.76)  # stored as 25.5 by xlsxwriter: WPS's own 25.76 is put back
    ws.set_row(3, 90)
    for r in range(4, 11):
        ws.set_row(r, 35.1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)
    wb.close()
    _as_wps(path, '<sheetFormatPr defaultColWidth="9" defaultRowHeight="12.75"/>', {"35.25": "35.1", "25.5": "25.76"},
            {"colOff": "120017", "rowOff": "41011"})
    return path


def review_instance(by: dict[str, str]) -> dict[str, Any]:
    """A department's return, by the titles its markers and labels gave the fields."""
    data: dict[str, Any] = {}
    for title, value in {"填报单位": "市民政局", "项目名称": "困难群众救助资金", "项目编码": "2080299",
                         "项目属性": "延续", "主管部门": "市民政局", "项目单位": "市社会救助服务中心",
                         "项目负责人": "赵敏", "联系电话": "04733990000", "项目总金额": 1234.5, "自筹比例": 0.35,
                         "项目期限": "2024-01~2024-12", "项目概况": "对城乡低保对象、特困人员按月发放救助金。",
                         "政策依据": "《社会救助暂行办法》",
                         "立项必要性": "保障困难群众基本生活。", "可行性": "资金来源稳定。", "资金总额": 1234.5,
                         "财政拨款": 800, "单位自筹": 434.5, "资金说明": "按上年标准测算。",
                         "中期目标": "三年内应保尽保。",
                         "年度目标": "按时足额发放。", "填报人": "钱进", "填报日期": "2024-01-15"}.items():
        set_at(data, by[title], value)
    for i, (what, start, end) in enumerate([("摸底调查", "2024-01-01", "2024-02-28"),
                                            ("资金发放", "2024-03-01", "2024-12-31")]):
        for title, value in (("实施内容", what), ("开始时间", start), ("完成时间", end)):
            set_at(data, by[title].replace("*", str(i)), value)
    for i, (what, price, n, amount) in enumerate([("低保金", 650.0, 1200, 780000), ("特困供养金", 900.0, 300, 270000)]):
        for title, value in (("支出内容", what), ("单价", price), ("数量", n), ("金额", amount)):
            set_at(data, by[title].replace("*", str(i)), value)
    data["indicators"] = {"output": {"quantity": [{"name": "救助人数", "value": "≥1500人"}],
                                     "quality": [{"name": "发放准确率", "value": "100%"}]},
                          "benefit": {"social": [{"name": "困难群众生活保障", "value": "有效保障"}]}}
    return data


# -- 民政统计表 ---------------------------------------------------------------------------------------

CIVIL_ROWS = 10
CIVIL_HEADERS = [("社会组织名称", "A"), ("组织类型", "B"), ("登记机关", "C"), ("姓名", "D1"), ("是否党员", "D2"),
                 ("从业人员数", "E"), ("从业人员党员数", "I")]


def civil(path: Path, marked: bool = True) -> Path:
    """The 民政 statistics table: 宋体 11, three header rows, a row of column codes, dropdowns."""
    def m(marker: str) -> str | None:
        return marker if marked else None

    b = _Book(path, ("宋体", 11), 72)
    wb = b.wb
    ws = wb.add_worksheet("社会组织党建情况")
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True}
    center = {**base, "align": "center"}
    ws.merge_range(0, 0, 0, 8, "社会组织党的建设情况统计表",
                   b.f(font_name="宋体", font_size=18, bold=True, align="center", valign="vcenter"))
    ws.write(1, 0, "填报单位：", b.f(**base, align="right"))
    ws.merge_range(1, 1, 1, 3, m("{填报单位*}"), b.f(**base, align="left"))
    ws.insert_image(0, 7, "seal.png", {"image_data": io.BytesIO(seal_png()), "x_offset": 30, "y_offset": 2,
                                       "x_scale": 0.5, "y_scale": 0.5, "object_position": 1})  # moves and sizes
    ws.write(1, 6, "统计口径：", b.f(**base, align="right"))
    ws.merge_range(1, 7, 1, 8, "年末数", b.f(**base, align="left"))
    ws.data_validation(1, 7, 1, 8, {"validate": "list", "source": ["年末数", "年中数"]})  # on a label: kept as drawn
    grid: dict[tuple[int, int], Any] = {
        (2, 0): ("序号", {}, (3, 1)), (2, 1): ("社会组织名称", {}, (3, 1)), (2, 2): ("组织类型", {}, (3, 1)),
        (2, 3): ("登记机关", {}, (3, 1)), (2, 4): ("负责人情况", {}, (1, 2)), (3, 4): ("姓名", {}, (2, 1)),
        (3, 5): ("是否党员", {}, (2, 1)), (2, 6): ("从业人员", {}, (1, 3)), (3, 6): ("从业人员数", {}, (2, 1)),
        (3, 7): ("其中", {}, (1, 2)), (4, 7): ("从业人员党员数", {}, (1, 1)), (4, 8): ("备注", {}, (1, 1))}
    for c, code in enumerate(["甲", "A", "B", "C", "D1", "D2", "E", "I", "乙"]):
        grid[(5, c)] = (code, {"italic": True}, (1, 1))
    markers = ["{.}", "{.:社会团体|民办非企业单位|基金会}", "{.}", "{.}", "{.}", "{.:integer>=0}",
               "{.:integer>=0}", "{.}"]
    for i in range(CIVIL_ROWS):
        r = 6 + i
        grid[(r, 0)] = (i + 1, {}, (1, 1))
        for j, marker in enumerate(markers):
            grid[(r, 1 + j)] = (m(marker), {"align": "left"} if j in (0, 2, 3, 7) else {}, (1, 1))
    total = 6 + CIVIL_ROWS
    grid[(total, 0)] = ("合计", {"bold": True}, (1, 6))
    grid[(total, 6)] = (f"=SUM(G7:G{total})", {}, (1, 1))
    grid[(total, 7)] = (f"=SUM(H7:H{total})", {}, (1, 1))
    grid[(total, 8)] = (None, {}, (1, 1))
    _frame(b, ws, 2, total, 0, 8, grid, center)
    for i in range(CIVIL_ROWS):  # the bureau's dropdowns: 是否党员 has no choices in its marker
        ws.data_validation(6 + i, 5, 6 + i, 5, {"validate": "list", "source": ["是", "否"]})
    ws.data_validation(6, 3, 6 + CIVIL_ROWS - 1, 3, {"validate": "list", "source": "=$K$3:$K$5"})
    for r, organ in enumerate(["市民政局", "区民政局", "县民政局"], start=2):
        ws.write(r, 10, organ, b.f(**center))
    sign = total + 1
    for c, (label, marker) in zip((0, 3, 6), [("单位负责人：", "{单位负责人}"), ("填表人：", "{填表人*}"),
                                             ("报出日期：", "{报出日期:date}")], strict=True):
        ws.write(sign, c, label, b.f(**base, align="right"))
        ws.merge_range(sign, c + 1, sign, c + 2, m(marker), b.f(**base, align="left", num_format="yyyy-mm-dd"))
    for c, w in enumerate([5, 22, 14, 12, 9, 8, 10, 12, 10, 2, 10]):
        ws.set_column(c, c, w, None, {"hidden": c == 10})
    ws.set_row(0, 30)
    for r in range(2, 5):
        ws.set_row(r, 20.25)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_footer("&L民政部制&R第 &P 页")
    wb.close()
    _as_wps(path, '<sheetFormatPr defaultColWidth="9" defaultRowHeight="14.25"/>', {})
    return path


def civil_instance(by: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for title, value in {"填报单位": "市民政局", "填表人": "孙莉", "报出日期": "2024-01-20"}.items():
        set_at(data, by[title], value)
    rows = [("市慈善总会", "社会团体", "市民政局", "周强", "是", 12, 5, ""),
            ("阳光养老服务中心", "民办非企业单位", "区民政局", "吴芳", "否", 30, 3, "新成立")]
    for i, row in enumerate(rows):
        for (title, _code), value in zip([*CIVIL_HEADERS, ("备注", "乙")], row, strict=True):
            if value != "":
                set_at(data, by[title].replace("*", str(i)), value)
    return data


# -- 预算指标模板 ---------------------------------------------------------------------------------------

BUDGET_ROWS = 20


def budget(path: Path, marked: bool = True) -> Path:
    """The budget-indicator template: helper columns VLOOKUP into a hidden 部门编码 sheet, LEN, TEXT."""
    def m(marker: str) -> str | None:
        return marker if marked else None

    b = _Book(path, ("宋体", 10), 64)
    wb = b.wb
    ws = wb.add_worksheet("指标录入")
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True}
    ws.merge_range(0, 0, 0, 6, "2024年市级预算指标录入表", b.f(font_name="黑体", font_size=16, align="center",
                                                          valign="vcenter"))
    ws.write(1, 0, "编制日期：", b.f(**base, align="right"))
    ws.write_formula(1, 1, '=TEXT(DATE(2024,1,1),"yyyy年m月d日")', b.f(**base, align="left"), "2024年1月1日")
    heads = ["序号", "部门编码", "部门名称", "指标名称", "金额（万元）", "名称字数", "内部备注"]
    grid: dict[tuple[int, int], Any] = {(2, c): (h, {"bold": True, "align": "center", "bg_color": "#F2F2F2"}, (1, 1))
                                        for c, h in enumerate(heads)}
    for i in range(BUDGET_ROWS):
        r = 3 + i
        grid[(r, 0)] = (i + 1, {"align": "center"}, (1, 1))
        grid[(r, 1)] = (m("{.部门编码:3位数字}"), {"align": "center"}, (1, 1))
        grid[(r, 2)] = (f'=IF(B{r + 1}<>0,VLOOKUP(B{r + 1},部门编码!$A$1:$B${len(DEPARTMENTS)},2,0),"")', {}, (1, 1))
        grid[(r, 3)] = (m("{.指标名称}"), {}, (1, 1))
        grid[(r, 4)] = (m("{.金额:number>=0,2位小数}"), {"num_format": "#,##0.00"}, (1, 1))
        grid[(r, 5)] = (f"=LEN(D{r + 1})", {"align": "center"}, (1, 1))
        grid[(r, 6)] = (None, {}, (1, 1))
    last = 3 + BUDGET_ROWS
    grid[(last, 0)] = ("合计", {"bold": True, "align": "center"}, (1, 4))
    grid[(last, 4)] = (f"=SUM(E4:E{last})", {"num_format": "#,##0.00"}, (1, 1))
    grid[(last, 5)] = (None, {}, (1, 2))
    _frame(b, ws, 2, last, 0, 6, grid, base)
    ws.freeze_panes(3, 2)
    for c, w in enumerate([6, 10, 22, 28, 14, 10, 16]):
        ws.set_column(c, c, w, None, {"hidden": c == 6})
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    codes = wb.add_worksheet("部门编码")
    for i, (code, name) in enumerate(DEPARTMENTS):
        codes.write_string(i, 0, code)
        codes.write_string(i, 1, name)
    codes.hide()
    wb.close()
    return path


def budget_instance(by: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for i, (code, name, amount) in enumerate([("107", "城乡低保资金", 1200.5), ("118", "基本公共卫生服务", 860)]):
        for title, value in (("部门编码", code), ("指标名称", name), ("金额", amount)):
            set_at(data, by[title].replace("*", str(i)), value)
    return data

