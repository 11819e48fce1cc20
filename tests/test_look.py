"""The layout's look keywords and print set-up reach the workbook as written (xlsx/look.py)."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest

from xltemplate.form.layout import LayoutError
from xltemplate.form.model import build_model
from xltemplate.xlsx.writer import write_workbook

SCHEMA = {"type": "object", "x-form": {"id": "looks"}, "properties": {
    "name": {"type": "string", "title": "名称"}, "amount": {"type": "number", "title": "金额"}}}
LOOKS = {
    "title": {"font": {"name": "黑体", "size": 18, "bold": True, "italic": True, "underline": "double",
                       "color": "#C00000"},
              "align": {"horizontal": "center", "vertical": "center", "wrap": True}},
    "grid": {"font": {"name": "仿宋", "size": 11, "strike": True}, "fill": {"pattern": "gray125", "color": "#FF0000",
                                                                         "background": "#FFFF00"},
             "border": {"left": "medium", "right": "dashed", "top": "double", "bottom": "thin", "diagonal": "thin",
                        "diagonal_up": True, "diagonal_down": False},
             "border_color": {"bottom": "#0000FF"},
             "align": {"horizontal": "left", "vertical": "top", "indent": 2, "rotation": 255, "shrink": True}},
    "money": {"font": {"name": "宋体", "size": 10}, "fill": "#FFF2CC", "border": {"bottom": "thin"},
              "number_format": "#,##0.00", "align": {"rotation": 135}},
}
PRINT = {"paper": 9, "orientation": "landscape", "fit": [1, 0], "margins": {"left": 0.4, "right": 0.4, "top": 0.6,
                                                                          "bottom": 0.6, "header": 0.2, "footer": 0.25},
         "center_horizontally": True, "center_vertically": True, "header": "&R县财政局", "footer": "&C第 &P 页",
         "area": "A1:D4", "repeat_rows": "1:1", "screen_gridlines": False, "print_gridlines": False}


def layout(**changes: object) -> dict:
    sheet = {"name": "表", "columns": [10, 20.5, 8, 6], "heights": {"1": 40, "3": 80}, "print": PRINT,
             "cells": [{"at": "A1:D1", "text": "标题", "look": "title"},
                       {"at": "A2", "text": "名称", "look": "grid"},
                       {"at": "B2:D2", "field": "/name", "look": "grid"},
                       {"at": "A3", "text": "金额", "look": "grid"},
                       {"at": "B3", "field": "/amount", "look": "money"},
                       {"at": "C3:D3", "formula": "={/amount}*2", "look": "money"}]}
    sheet.update(changes)
    return {"looks": LOOKS, "sheets": [sheet]}


def test_looks_and_print_setup_are_written_as_said() -> None:
    model = build_model(SCHEMA, layout())
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(model)))
    ws = wb["表"]
    a1, b2, b3, c3 = ws["A1"], ws["B2"], ws["B3"], ws["C3"]
    assert (a1.font.name, a1.font.sz, a1.font.b, a1.font.i, a1.font.u, a1.font.color.rgb) == \
        ("黑体", 18, True, True, "double", "FFC00000")
    assert (a1.alignment.horizontal, a1.alignment.vertical, a1.alignment.wrap_text) == ("center", "center", True)
    assert (b2.font.name, b2.font.strike) == ("仿宋", True)
    assert (b2.fill.patternType, b2.fill.fgColor.rgb, b2.fill.bgColor.rgb) == ("gray125", "FFFF0000", "FFFFFF00")
    border = b2.border
    assert (border.left.style, border.right.style, border.top.style, border.bottom.style) == \
        ("medium", "dashed", "double", "thin")
    assert border.bottom.color.rgb == "FF0000FF" and border.diagonal.style == "thin" and border.diagonalUp
    assert not border.diagonalDown
    assert (b2.alignment.indent, b2.alignment.textRotation, b2.alignment.shrink_to_fit) == (2, 255, True)
    assert not b2.protection.locked and ws["A2"].protection.locked  # inputs open, labels locked
    assert b2.fill.patternType == "gray125"  # an input keeps its drawn fill: no input colour added
    assert (b3.number_format, b3.fill.fgColor.rgb, b3.alignment.textRotation) == ("#,##0.00", "FFFFF2CC", 135)
    assert c3.value == "=$B$3*2" and c3.protection.locked
    assert ws.merged_cells.ranges and sorted(map(str, ws.merged_cells.ranges)) == ["A1:D1", "B2:D2", "C3:D3"]
    assert (ws.row_dimensions[1].ht, ws.row_dimensions[3].ht) == (40, 80)  # to the point, as the layout says
    ps, pm = ws.page_setup, ws.page_margins
    assert (ps.paperSize, ps.orientation, ps.fitToWidth or 1, ps.fitToHeight) == (9, "landscape", 1, 0)
    assert (pm.left, pm.right, pm.top, pm.bottom, pm.header, pm.footer) == (0.4, 0.4, 0.6, 0.6, 0.2, 0.25)
    assert ws.print_options.horizontalCentered and ws.print_options.verticalCentered
    assert not ws.print_options.gridLines and ws.sheet_view.showGridLines is False
    assert (ws.oddHeader.right.text, ws.oddFooter.center.text) == ("县财政局", "第 &P 页")
    assert ws.print_area == "'表'!$A$1:$D$4" and ws.print_title_rows == "$1:$1"


def test_a_look_or_print_setup_the_workbook_cannot_take_is_refused_at_load() -> None:
    bad = [({"looks": {**LOOKS, "grid": {"border": {"left": "wavy"}}}}, "border.left"),
           ({"looks": {**LOOKS, "grid": {"font": {"colour": "#000000"}}}}, "unknown keywords"),
           ({"looks": {**LOOKS, "grid": {"fill": "red"}}}, "#RRGGBB"),
           ({"looks": {**LOOKS, "grid": {"align": {"horizontal": "middle"}}}}, "align.horizontal")]
    for change, words in bad:
        with pytest.raises(LayoutError, match=words):
            build_model(SCHEMA, {**layout(), **change})
    for change, words in [({"print": {**PRINT, "fit": "one page"}}, "fit"),
                          ({"print": {**PRINT, "papersize": 9}}, "unknown keywords"),
                          ({"print": {**PRINT, "footer": "页" * 256}}, "255"),
                          ({"print": {**PRINT, "area": "A1:"}}, "not a cell")]:
        with pytest.raises(LayoutError, match=words):
            build_model(SCHEMA, layout(**change))


def _part(book: bytes, name: str) -> str:
    return zipfile.ZipFile(io.BytesIO(book)).read(name).decode("utf-8")


def test_the_workbooks_own_font_widths_and_heights_are_written_exactly() -> None:
    """A layout that names the workbook's font (what design writes) gets it as the workbook's default,
    its columns as the file stores them (so they count in that font, as in the original), its row heights
    to the point (35.1, not xlsxwriter's whole pixels 35.25) and its sheets' default sizes."""
    doc = layout(columns=[9.140625, 12.7109375, None, 0.85546875], heights={"1": 35.1, "3": 13.35},
                 default_width=9.5, default_height=13.5, base_width=10)
    doc["font"] = {"name": "Arial", "size": 10}
    book = write_workbook(build_model(SCHEMA, doc))
    sheet, styles = _part(book, "xl/worksheets/sheet1.xml"), _part(book, "xl/styles.xml")
    col = r'<col min="(?P<min>\d+)" max="\d+" width="(?P<width>[^"]+)"'
    cols = {int(m["min"]): m["width"] for m in re.finditer(col, sheet)}
    assert cols == {1: "9.140625", 2: "12.7109375", 4: "0.85546875"}  # column C: the sheet's default
    heights = dict(re.findall(r'<row r="(\d+)"[^>]* ht="([^"]+)"', sheet))
    assert heights == {"1": "35.1", "3": "13.35"}
    fmt = re.search(r"<sheetFormatPr [^>]*>", sheet).group(0)
    assert all(f'{k}="{v}"' in fmt for k, v in (("defaultColWidth", "9.5"), ("defaultRowHeight", "13.5"),
                                                 ("baseColWidth", "10"), ("customHeight", "1")))
    first_font = re.search(r"<fonts[^>]*><font>(.*?)</font>", styles).group(1)
    assert '<sz val="10"/>' in first_font and '<name val="Arial"/>' in first_font and "scheme" not in first_font
    ws = openpyxl.load_workbook(io.BytesIO(book))["表"]
    assert ws["A1"].font.name == "黑体"  # a look's own font is kept over the default


def test_a_hand_written_layout_keeps_typed_widths_and_excels_default_font() -> None:
    book = write_workbook(build_model(SCHEMA, layout()))
    sheet, styles = _part(book, "xl/worksheets/sheet1.xml"), _part(book, "xl/styles.xml")
    assert 'width="10.7109375"' in sheet  # 10 typed: 75 pixels of Calibri 11, stored with padding
    assert '<name val="Calibri"/>' in re.search(r"<fonts[^>]*><font>(.*?)</font>", styles).group(1)


def test_sizes_view_and_keywords_the_workbook_cannot_take_are_refused_at_load() -> None:
    for change, words in [({"columns": [10, "宽"]}, "columns"), ({"default_height": "高"}, "default_height"),
                          ({"freeze": "第一行"}, "freeze"), ({"zoom": 1000}, "zoom"),
                          ({"tab_color": "red"}, "tab_color"),
                          ({"hidden_columns": ["5"]}, "column"), ({"view": "zoomed"}, "view"),
                          ({"pictures": [{"from": {"cell": "B2"}, "size": [1, 1]}]}, "picture 1"),
                          ({"validations": [{"ranges": ["B2"], "type": "regex"}]}, "validation 1")]:
        with pytest.raises(LayoutError, match=words):
            build_model(SCHEMA, layout(**change))
    with pytest.raises(LayoutError, match="font"):
        build_model(SCHEMA, {**layout(), "font": {"name": "宋体"}})
