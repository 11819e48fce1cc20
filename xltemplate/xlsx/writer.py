"""Form model (+ optional instance) -> xlsx bytes, with xlsxwriter.

What the clerk gets: the sheets of the layout with merged labels, borders and a Chinese font,
A4 portrait fit to width; every sheet protected so that only input cells can be edited; a
dropdown for every enum (lists on the hidden metadata sheet) and a Chinese input prompt and
error alert on every input; live ``x-sum`` checks; a workbook-level defined name per input
cell and per repeating area; the metadata sheet ``_xltemplate`` (very hidden) with form id,
version, model hash and submission id; the workbook structure locked.  The output is
deterministic: fixed document dates and zip timestamps, so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from .. import __version__
from ..form.model import META_SHEET, Field, FormModel, a1, quote_sheet
from ..form.schema import text
from ..form.validate import decimals
from ..form.values import MISSING, expand, get, leaves_of
from .look import format_props, setup_sheet

FONT = "宋体"
INPUT_FILL = "#FFF8DC"
DATE_FORMAT = 'yyyy"年"m"月"d"日"'
FIXED_TIME = dt.datetime(2020, 1, 1)
MAX_CELL_TEXT = 32767
MAX_ROW_HEIGHT = 409
ERROR_FILL, ERROR_FONT = "#FFC7CE", "#9C0006"
ERROR_SHEET = "错误清单"

_BASE = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "text_wrap": True, "border": 1,
         "align": "center"}
STYLES: dict[str, dict[str, Any]] = {
    "title": {"font_size": 16, "bold": True, "border": 0},
    "cover_title": {"font_size": 22, "bold": True, "border": 0},
    "cover_sub": {"font_size": 14, "border": 0},
    "cover_year": {"font_size": 14, "border": 0},
    "cover_label": {"font_size": 12, "border": 0, "align": "right"},
    "cover_input": {"font_size": 12, "border": 0, "bottom": 1, "align": "left"},
    "label": {},
    "section": {"bold": True},
    "input": {"align": "left"},
    "input_long": {"align": "left", "valign": "top"},
    "formula": {},
    "check": {"font_size": 9},
    "blank": {},
    "plain": {"border": 0},
    "plain_label": {"border": 0, "align": "left"},
    "plain_formula": {"border": 0, "align": "left"},
    "sign_input": {"border": 0, "bottom": 1, "align": "left"},
}


class FillError(ValueError):
    """The instance does not fit the template; ``problems`` lists each, in Chinese."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Formats:
    book: xlsxwriter.Workbook

    def __post_init__(self) -> None:
        self.cache: dict[tuple, Any] = {}

    def get(self, style: str, *, unlocked: bool = False, num_format: str | None = None,
            error: bool = False, look: dict[str, Any] | None = None) -> Any:
        key = (style, unlocked, num_format, error, look is not None)
        if key not in self.cache:
            # a layout look is the cell exactly as drawn (xlsx/look.py): no base, no input fill
            props = format_props(look) if look is not None else {**_BASE, **STYLES.get(style, {})}
            if unlocked:
                props["locked"] = False
                if look is None and (props.get("border", 1) or style.startswith("input")):
                    props["bg_color"] = INPUT_FILL
            if error:
                props.update(bg_color=ERROR_FILL, font_color=ERROR_FONT)
            if num_format:
                props["num_format"] = num_format
            self.cache[key] = self.book.add_format(props)
        return self.cache[key]


def _num_format(f: Field) -> str | None:
    custom = f.schema.get("x-num-format")
    if custom:
        return str(custom)
    return {"string": "@", "month-range": "@", "date": DATE_FORMAT, "integer": "0"}.get(f.kind)


def display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def check_fit(model: FormModel, data: Any, *, types: bool = True) -> list[str]:
    """Every reason ``data`` cannot be written into the template as it is (empty list: it fits).

    Without ``types`` only the shape is checked (rows beyond a capacity, fields with no cell):
    an annotated return writes values of the wrong type as found."""
    if not isinstance(data, dict):
        return ["数据必须是一个 JSON 对象"]
    problems: list[str] = []
    overflow: list[str] = []  # pointers of rows beyond a capacity: reported once, per area
    for pointer, area in model.arrays.items():
        rows = get(data, pointer, None)
        if rows is None:
            continue
        if not isinstance(rows, list):
            problems.append(f"{pointer}（{area.label}）应为列表")
        elif len(rows) > area.capacity:
            problems.append(f"{pointer}（{area.label}）有 {len(rows)} 行，模板只能容纳 {area.capacity} 行，"
                            f"请拆分为多份或调整模板容量")
            overflow += [f"{pointer}/{i}/" for i in range(area.capacity, len(rows))]
    for pointer, value in leaves_of(data):
        f = model.by_pointer.get(pointer)
        if f is not None:
            problem = _cell_problem(f, value) if types else None
            if problem:
                problems.append(f"{pointer}（{f.label}）：{problem}")
        elif value not in ({}, []) and not any((pointer + "/").startswith(o) for o in overflow):
            problems.append(f"{pointer}：表单中没有这个字段的单元格")
    return problems


def _cell_problem(f: Field, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return "这里只能填一个值，不能是对象或列表"
    if f.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"应为数字，得到 {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return "数字必须是有限值"
        if abs(value) >= 1e15:
            return "数字超出 Excel 能精确保存的范围（15 位有效数字）"
    elif f.kind == "boolean":
        if not isinstance(value, bool):
            return f"应为 true/false，得到 {value!r}"
    elif f.kind == "date":
        if _parse_date(value) is None:
            return f"日期应写成 YYYY-MM-DD，得到 {value!r}"
    elif f.kind == "enum":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return f"无法写入下拉单元格：{value!r}"
    elif not isinstance(value, str):
        return f"应为文本，得到 {value!r}"
    if isinstance(value, str) and len(value) > MAX_CELL_TEXT:
        return f"文本有 {len(value)} 个字符，超过 Excel 单元格上限 {MAX_CELL_TEXT}"
    return None


def _cached(model: FormModel, template: str, data: Any) -> Any:
    """The value a formula shows before any recalculation (LibreOffice does not recalculate)."""
    m = re.fullmatch(r'=SUM\(\{(/[^}]*)\}\)', template)
    if m:
        total = sum(v for _, v in expand(data or {}, m.group(1))
                    if isinstance(v, int | float) and not isinstance(v, bool))
        return round(total, 10)
    m = re.fullmatch(r'=\{(/[^}]*)\}(&"")?', template)
    if m:
        value = get(data or {}, m.group(1), "")
        return "" if value is MISSING or value is None else value
    return 0


def _check_value(model: FormModel, rule_id: str, data: Any, lang: str) -> str:
    rule = model.rule(rule_id)
    values = [v for p in (rule["total"], *rule["parts"]) for _, v in expand(data or {}, p)
              if isinstance(v, int | float) and not isinstance(v, bool)]
    if not values:
        return ""
    total = get(data, rule["total"], 0)
    total = total if isinstance(total, int | float) else 0
    parts = sum(v for p in rule["parts"] for _, v in expand(data, p)
                if isinstance(v, int | float) and not isinstance(v, bool))
    return text(rule.get("ok" if abs(total - parts) < 0.005 else "fail", ""), lang)


def _validation(f: Field, list_ref: str | None, lang: str) -> dict[str, Any]:
    s = f.schema
    prompt = text(s.get("description", ""), lang)
    opts: dict[str, Any] = {"input_title": str(s.get("title", ""))[:32], "error_type": "stop",
                            "error_title": "输入有误" if lang == "zh" else "Invalid entry"}
    zh = lang == "zh"
    if f.kind == "enum":
        choices = "、".join(str(v) for v in s["enum"])
        opts.update(validate="list", source=list_ref,
                    error_message=(f"请从下拉列表中选择：{choices}" if zh else f"Choose from the list: {choices}"))
    elif f.kind == "boolean":
        opts.update(validate="list", source=["是", "否"], error_message="请选择 是 或 否" if zh else "Choose 是 or 否")
    elif f.kind in ("number", "integer"):
        lo, hi = s.get("minimum", -1e14), s.get("maximum", 1e14)
        step = s.get("multipleOf")
        if f.kind == "number" and step:
            digits = decimals(step)
            cell = a1(f.row, f.col)
            opts.update(validate="custom",
                        value=f"=AND(ISNUMBER({cell}),{cell}>={lo},{cell}<={hi},ROUND({cell},{digits})={cell})",
                        error_message=(f"请输入 {lo:g} 到 {hi:g} 之间的数字，最多 {digits} 位小数" if zh else
                                       f"Enter a number from {lo:g} to {hi:g} with at most {digits} decimals"))
        else:
            opts.update(validate="integer" if f.kind == "integer" else "decimal", criteria="between",
                        minimum=lo, maximum=hi,
                        error_message=(f"请输入 {lo:g} 到 {hi:g} 之间的{'整数' if f.kind == 'integer' else '数字'}"
                                       if zh else f"Enter a number from {lo:g} to {hi:g}"))
    elif f.kind == "date":
        opts.update(validate="date", criteria="between", minimum=dt.date(1990, 1, 1),
                    maximum=dt.date(2100, 12, 31), error_type="warning",
                    error_message=("这里应填日期，如 2020-10-16 或 2020年10月16日。仍要保留请点“是”。" if zh else
                                   "A date is expected here, e.g. 2020-10-16."))
    else:
        lo, hi = s.get("minLength", 0), s.get("maxLength", MAX_CELL_TEXT)
        criteria = {"criteria": "between", "minimum": lo, "maximum": hi} if lo else \
            {"criteria": "<=", "value": hi}
        opts.update(validate="length", **criteria,
                    error_message=(f"长度应为 {lo}–{hi} 个字" if lo and zh else f"最多 {hi} 个字" if zh else
                                   f"At most {hi} characters"))
        if lo == hi and lo:
            opts["error_message"] = f"应为 {lo} 位" if zh else f"Exactly {lo} characters"
        custom = s.get("x-messages", {}).get("pattern")
        if custom:
            opts["error_message"] = text(custom, lang)
    if prompt:
        opts["input_message"] = prompt[:255]
    opts["error_message"] = opts["error_message"][:255]
    return opts


def _row_height(model: FormModel, f: Field, value: str, base: float, widths: list[float]) -> float:
    chars = sum(widths[f.col:f.col + f.colspan]) * 1.2
    lines = sum(max(1, math.ceil(display_width(p) / max(chars, 1))) for p in value.split("\n"))
    return min(MAX_ROW_HEIGHT, max(base, lines * 12.5 + 4) / f.rowspan)


def write_workbook(model: FormModel, data: Any = None, *, submission_id: str = "",
                   password: str | None = None, lang: str = "zh", extra_meta: dict[str, Any] | None = None,
                   errors: list[Any] | None = None, key: str | None = None) -> bytes:
    """The template (or, with ``data``, a prefilled copy) as xlsx bytes.

    Raises :class:`FillError` when ``data`` does not fit.  With ``errors`` (issues of an import,
    pointers into ``data``) it writes an *annotated return*: values as found, even of the wrong
    type, each wrong cell highlighted and commented, and a first sheet 错误清单 listing them all.
    """
    if data is not None:
        # an annotated return keeps values as the clerk left them: wrong types are what it marks
        problems = check_fit(model, data, types=errors is None)
        if problems:
            raise FillError(problems)
    marked: dict[str, str] = {}
    for e in errors or []:
        if e.pointer:
            marked[e.pointer] = f"{marked[e.pointer]}\n{e.message}" if e.pointer in marked else e.message
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"title": model.title, "subject": f"{model.id} {model.version}", "author": "",
                         "company": "", "comments": f"xltemplate {model.id} {model.version}",
                         "created": FIXED_TIME})
    meta_info = {"form_id": model.id, "form_version": model.version, "layout_hash": model.hash,
                 "schema_hash": model.schema_hash, "submission_id": submission_id,
                 **{k: str(v) for k, v in (extra_meta or {}).items()}, "generator": f"xltemplate {__version__}"}
    if key:
        from ..collect.integrity import signature

        meta_info["signature"] = signature(key, meta_info)
    for name, value in meta_info.items():
        book.set_custom_property(f"xltemplate.{name}", value)
    book.set_custom_property("xltemplate.format", 1)
    fmt = _Formats(book)
    error_sheet = book.add_worksheet(ERROR_SHEET if lang == "zh" else "Errors") if errors is not None else None
    sheets = {s.name: book.add_worksheet(s.name) for s in model.sheets}
    meta = book.add_worksheet(META_SHEET)

    # metadata and dropdown lists
    meta.write_string(0, 0, "xltemplate")
    meta.write_string(0, 1, "1")
    for i, (name, value) in enumerate(meta_info.items(), start=1):
        meta.write_string(i, 0, name)
        meta.write_string(i, 1, value)
    list_refs: dict[str, str] = {}
    col = 3
    for f in model.fields:
        if f.kind == "enum" and f.pattern not in list_refs:
            meta.write_string(0, col, f.pattern)
            for i, choice in enumerate(f.schema["enum"], start=1):
                meta.write(i, col, choice)
            list_refs[f.pattern] = (f"={quote_sheet(META_SHEET)}!{a1(1, col, True)}:"
                                    f"{a1(len(f.schema['enum']), col, True)}")
            col += 1
    meta.very_hidden()
    meta.protect(password or "")

    for layout in model.sheets:
        ws = sheets[layout.name]
        for c, width in enumerate(layout.widths):
            ws.set_column(c, c, width)
        heights = dict(layout.heights)
        for cell in layout.cells:
            if cell.kind == "input":
                f = model.by_pointer[cell.field or ""]
                issue = marked.get(f.pointer)
                num_format = _num_format(f)
                if cell.look is not None:  # a look's number format yields only to the schema's
                    num_format = f.schema.get("x-num-format") or cell.look.get("number_format") or num_format
                cf = fmt.get(cell.style, unlocked=True, num_format=num_format, error=issue is not None,
                             look=cell.look)
                value = get(data, f.pointer, None) if data is not None else None
                if data is None and "x-placeholder" in f.schema:  # prompts on the blank form only
                    value = f.schema["x-placeholder"]
                _write_value(ws, f, value, cf)
                if issue is not None:
                    ws.write_comment(f.row, f.col, issue, {"author": "xltemplate", "x_scale": 2.5,
                                                                  "y_scale": 1.5, "font_name": FONT})
                if isinstance(value, str) and ("\n" in value or display_width(value) > 20):
                    base = heights.get(f.row, 15.0)
                    heights[f.row] = max(base, _row_height(model, f, value, base, layout.widths))
                list_ref = list_refs.get(f.pattern)
                ws.data_validation(f.row, f.col, f.row + f.rowspan - 1, f.col + f.colspan - 1,
                                   _validation(f, list_ref, lang))
                continue
            cf = fmt.get(cell.style, look=cell.look)
            last_r, last_c = cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1
            if cell.kind == "text":
                content: Any = cell.text or ""
            elif cell.kind == "formula":
                content = (model.formula(cell.formula or "", layout.name), _cached(model, cell.formula or "", data))
            elif cell.kind == "check":
                content = (model.check_formula(cell.rule or "", layout.name, lang),
                           _check_value(model, cell.rule or "", data, lang))
            else:
                content = ""
            if isinstance(content, tuple):
                if (last_r, last_c) != (cell.row, cell.col):
                    ws.merge_range(cell.row, cell.col, last_r, last_c, "", cf)
                ws.write_formula(cell.row, cell.col, content[0], cf, content[1])
            elif (last_r, last_c) != (cell.row, cell.col):
                ws.merge_range(cell.row, cell.col, last_r, last_c, content, cf)
            else:
                ws.write_string(cell.row, cell.col, content, cf)
        for r, h in heights.items():
            ws.set_row(r, h)
        ws.protect(password or "", {"format_rows": True, "select_locked_cells": True,
                                    "select_unlocked_cells": True})
        setup_sheet(ws, layout)

    for f in model.fields:
        book.define_name(f.name, f"={quote_sheet(f.sheet)}!{a1(f.row, f.col, True)}")
    for area in model.arrays.values():
        cells = [f for slot in area.slots for f in slot]
        r1, c1 = min(f.row for f in cells), min(f.col for f in cells)
        r2 = max(f.row + f.rowspan - 1 for f in cells)
        c2 = max(f.col + f.colspan - 1 for f in cells)
        book.define_name(area.name, f"={quote_sheet(area.sheet)}!{a1(r1, c1, True)}:{a1(r2, c2, True)}")
    if error_sheet is not None:
        _error_list(model, error_sheet, errors or [], fmt, lang, password)
        error_sheet.activate()
    else:
        sheets[model.sheets[0].name].activate()
    book.close()
    return _finish(buf.getvalue(), password)


def _error_list(model: FormModel, ws: Any, errors: list[Any], fmt: _Formats, lang: str,
                password: str | None) -> None:
    """The 错误清单 sheet of an annotated return: one row per error, linked to its cell."""
    zh = lang == "zh"
    heads = ["序号", "工作表", "单元格", "项目", "填写的内容", "问题"] if zh else \
        ["No.", "Sheet", "Cell", "Field", "Found", "Problem"]
    for c, (head, width) in enumerate(zip(heads, (6, 14, 9, 40, 24, 60), strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(0, c, head, fmt.get("section"))
    left = fmt.get("input_long")
    link = fmt.get("input_long")
    for r, e in enumerate(errors, start=1):
        f = model.field_for(e.pointer) if e.pointer else None
        ws.write_number(r, 0, r, fmt.get("label"))
        ws.write_string(r, 1, f.sheet if f else "", left)
        if f is not None:
            ws.write_url(r, 2, f"internal:{quote_sheet(f.sheet)}!{f.cell}", link, string=f.cell)
        else:
            ws.write_string(r, 2, "", left)
        ws.write_string(r, 3, e.label or "", left)
        ws.write_string(r, 4, "" if e.value is None else str(e.value), left)
        ws.write_string(r, 5, e.message, left)
    ws.freeze_panes(1, 0)
    ws.protect(password or "", {"select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
                                "format_rows": True})
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def _write_value(ws: Any, f: Field, value: Any, cf: Any) -> None:
    if f.rowspan > 1 or f.colspan > 1:
        ws.merge_range(f.row, f.col, f.row + f.rowspan - 1, f.col + f.colspan - 1, "", cf)
    if value is None:
        ws.write_blank(f.row, f.col, None, cf)
    elif f.kind == "date" and isinstance(value, str):
        date = _parse_date(value)
        ws.write_datetime(f.row, f.col, dt.datetime.combine(date, dt.time()), cf) if date else \
            ws.write_string(f.row, f.col, value, cf)
    elif f.kind == "boolean" and isinstance(value, bool):
        ws.write_string(f.row, f.col, "是" if value else "否", cf)
    elif isinstance(value, bool):
        ws.write_string(f.row, f.col, str(value).lower(), cf)
    elif isinstance(value, int | float):
        ws.write_number(f.row, f.col, value, cf)
    else:
        ws.write_string(f.row, f.col, str(value), cf)


def _finish(xlsx: bytes, password: str | None) -> bytes:
    """Lock the workbook structure (xlsxwriter has no API for it) and fix every zip timestamp."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<bookViews>", b'<workbookProtection lockStructure="1"/><bookViews>', 1)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    return out.getvalue()
