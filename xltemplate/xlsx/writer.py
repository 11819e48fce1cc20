"""Form model (+ optional instance) -> xlsx bytes, with xlsxwriter.

Three workbooks, one entry each, built from the same parts:

* :func:`write_template`: the blank template (prompt texts of ``x-placeholder`` in their cells);
* :func:`write_filled`: a prefilled copy; refuses data that does not fit (:class:`FillError`);
* :func:`write_annotated`: a return regenerated, values as found (wrong types too), each wrong cell
  highlighted and commented, a reviewer's reasons and the warnings (提示) each in a colour of its
  own, and a first sheet (错误清单, or 审核意见 / 提示 when there is no error) listing them all.

:func:`write_workbook` is the one-call form of the three.  The parts: :class:`_Book` (the
workbook: document properties, formats, the metadata sheet with the dropdown lists, defined
names, protection of the structure, fixed timestamps) and :class:`_FormSheet` (one sheet of the
layout: labels, inputs with their data validation from :mod:`.validation`, formulas and live
checks with their cached values from :mod:`..form.formula`, print set-up, protection).

What the clerk gets: the sheets of the layout with merged labels, borders and a Chinese font,
A4 portrait fit to width; every sheet protected so that only input cells can be edited; a
dropdown for every enum and a Chinese input prompt and error alert on every input; live ``x-sum``
checks; a workbook-level defined name per input cell and per repeating area; the metadata sheet
``_xltemplate`` (very hidden) with form id, version, model hash and submission id; the workbook
structure locked.  The output is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable
from typing import Any

import xlsxwriter
from xlsxwriter.image import Image
from xlsxwriter.worksheet import Worksheet

from .. import __version__
from ..form.excel import NUMBER, a1, parse_a1, parse_range, quote_sheet
from ..form.formula import Cells, XlError, cell_content, evaluate, parse_date
from ..form.model import Field, FormModel
from ..form.values import get, leaves_of
from ..messages import t
from . import meta as meta_layout
from .look import format_props, setup_sheet
from .validation import MAX_CELL_TEXT, field_validation

FONT = "宋体"
INPUT_FILL = "#FFF8DC"
DATE_FORMAT = 'yyyy"年"m"月"d"日"'
FIXED_TIME = dt.datetime(2020, 1, 1)
#: Signs a template's metadata (its identity) for the metadata key ``signature``: the caller's
#: keyed function (:func:`xltemplate.collect.integrity.signer`); the writer knows no key.
Signer = Callable[[dict[str, str]], str]
MAX_ROW_HEIGHT = 409
ERROR_FILL, ERROR_FONT = "#FFC7CE", "#9C0006"
REASON_FILL, REASON_FONT = "#DDEBF7", "#1F4E79"  # a reviewer's reason (审核意见)
WARNING_FILL, WARNING_FONT = "#FFF2CC", "#7F6000"  # a warning (提示)
#: what an annotated copy marks, in order of precedence (a cell with several takes the first's colour)
MARKS = {"error": (ERROR_FILL, ERROR_FONT), "reason": (REASON_FILL, REASON_FONT),
         "warning": (WARNING_FILL, WARNING_FONT)}
ERROR_SHEET = t("errors_sheet")

_BASE = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "text_wrap": True, "border": 1,
         "align": "center"}

__all__ = ["ERROR_FILL", "FONT", "REASON_FILL", "WARNING_FILL", "FillError", "check_fit", "display_width",
           "write_annotated", "write_filled", "write_template", "write_workbook"]


class FillError(ValueError):
    """The instance does not fit the template; ``problems`` lists each, in Chinese."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


# -- what fits --------------------------------------------------------------------------------

def check_fit(model: FormModel, data: Any, *, types: bool = True, lang: str = "zh") -> list[str]:
    """Every reason ``data`` cannot be written into the template as it is (empty list: it fits).

    Without ``types`` only the shape is checked (rows beyond a capacity, fields with no cell):
    an annotated return writes values of the wrong type as found."""
    if not isinstance(data, dict):
        return [t("fill_not_object", lang)]
    problems: list[str] = []
    overflow: list[str] = []  # pointers of rows beyond a capacity: reported once, per area
    for pointer, area in model.arrays.items():
        rows = get(data, pointer, None)
        if rows is None:
            continue
        if not isinstance(rows, list):
            problems.append(t("fill_not_list", lang, pointer=pointer, label=area.label))
        elif len(rows) > area.capacity:
            problems.append(t("fill_too_many_rows", lang, pointer=pointer, label=area.label, n=len(rows),
                              capacity=area.capacity))
            overflow += [f"{pointer}/{i}/" for i in range(area.capacity, len(rows))]
    for pointer, value in leaves_of(data):
        f = model.by_pointer.get(pointer)
        if f is not None:
            problem = _cell_problem(f, value, lang) if types else None
            if problem:
                problems.append(t("fill_field_problem", lang, pointer=pointer, label=f.label, problem=problem))
        elif value not in ({}, []) and not any((pointer + "/").startswith(o) for o in overflow):
            problems.append(t("fill_no_cell", lang, pointer=pointer))
    return problems


def _cell_problem(f: Field, value: Any, lang: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return t("fill_one_value", lang)
    shown = repr(value)
    if f.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return t("fill_not_number", lang, value=shown)
        if isinstance(value, float) and not math.isfinite(value):
            return t("fill_not_finite", lang)
        if abs(value) >= 1e15:
            return t("fill_too_precise", lang)
    elif f.kind == "boolean":
        if not isinstance(value, bool):
            return t("fill_not_boolean", lang, value=shown)
    elif f.kind == "date":
        if parse_date(value) is None:
            return t("fill_not_date", lang, value=shown)
    elif f.kind == "enum":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return t("fill_not_choice", lang, value=shown)
    elif not isinstance(value, str):
        return t("fill_not_text", lang, value=shown)
    if isinstance(value, str) and len(value) > MAX_CELL_TEXT:
        return t("fill_text_too_long", lang, n=len(value), max=MAX_CELL_TEXT)
    return None


# -- the three workbooks ----------------------------------------------------------------------

def write_template(model: FormModel, *, submission_id: str = "", password: str | None = None, lang: str = "zh",
                   extra_meta: dict[str, Any] | None = None, sign: Signer | None = None) -> bytes:
    """The blank template: every cell empty but the prompt texts (``x-placeholder``)."""
    contents = {f.pointer: f.schema["x-placeholder"] for f in model.fields if "x-placeholder" in f.schema}
    return _write(model, contents, submission_id=submission_id, password=password, lang=lang,
                  extra_meta=extra_meta, sign=sign)


def write_filled(model: FormModel, data: Any, *, submission_id: str = "", password: str | None = None,
                 lang: str = "zh", extra_meta: dict[str, Any] | None = None, sign: Signer | None = None,
                 footer: str | None = None) -> bytes:
    """The template prefilled with exactly ``data`` (no prompt texts); :class:`FillError` when it
    does not fit.  Formulas and checks carry the values a client shows before recalculating.
    ``footer`` (an Excel footer: ``&L…&C…&R…``) replaces every sheet's and prints on A4 where the
    layout names no paper (the 打印版 of a return)."""
    problems = check_fit(model, data, lang=lang)
    if problems:
        raise FillError(problems)
    return _write(model, _contents(model, data), submission_id=submission_id, password=password, lang=lang,
                  extra_meta=extra_meta, sign=sign, footer=footer)


def write_annotated(model: FormModel, data: Any, errors: list[Any], *, submission_id: str = "",
                    password: str | None = None, lang: str = "zh", extra_meta: dict[str, Any] | None = None,
                    sign: Signer | None = None, reasons: list[Any] = (), warnings: list[Any] = ()) -> bytes:
    """An annotated return: ``data`` as found (wrong types are what it marks), each cell with an
    error (``errors``: issues with pointers into ``data``) filled red and commented, each cell with
    a reviewer's reason (``reasons``, issues too) blue, each with a warning yellow; and a first
    sheet listing them all, each linked to its cell (a mark on a section or row sits at its first
    cell; one on the whole return is in the list only)."""
    problems = check_fit(model, data, types=False, lang=lang)
    if problems:
        raise FillError(problems)
    marks: dict[str, tuple[str, str]] = {}
    listed: list[tuple[str, Any]] = []
    for kind, issues in (("error", errors), ("reason", reasons), ("warning", warnings)):
        for e in issues:
            listed.append((kind, e))
            f = model.field_for(e.pointer) if e.pointer else None
            if f is None:
                continue
            text = e.message if kind == "error" else t("mark_" + kind, lang, message=e.message)
            marks[f.pointer] = (marks[f.pointer][0], f"{marks[f.pointer][1]}\n{text}") if f.pointer in marks \
                else (kind, text)
    sheet = "errors_sheet" if errors else ("reasons_sheet" if reasons else "warnings_sheet")
    return _write(model, _contents(model, data), marks=marks, errors=listed, submission_id=submission_id,
                  password=password, lang=lang, extra_meta=extra_meta, sign=sign, list_sheet=t(sheet, lang))


def write_workbook(model: FormModel, data: Any = None, *, submission_id: str = "",
                   password: str | None = None, lang: str = "zh", extra_meta: dict[str, Any] | None = None,
                   errors: list[Any] | None = None, sign: Signer | None = None) -> bytes:
    """The template (``data`` None), a prefilled copy, or with ``errors`` an annotated return."""
    kw: dict[str, Any] = {"submission_id": submission_id, "password": password, "lang": lang,
                          "extra_meta": extra_meta, "sign": sign}
    if errors is not None:
        return write_annotated(model, data, errors, **kw)
    if data is None:
        return write_template(model, **kw)
    return write_filled(model, data, **kw)


def _contents(model: FormModel, data: Any) -> dict[str, Any]:
    """pointer -> the value to write, for every field ``data`` gives."""
    out = {}
    for f in model.fields:
        value = get(data, f.pointer, None)
        if value is not None:
            out[f.pointer] = value
    return out


def _write(model: FormModel, contents: dict[str, Any], *, marks: dict[str, tuple[str, str]] | None = None,
           errors: list[tuple[str, Any]] | None = None, submission_id: str, password: str | None, lang: str,
           extra_meta: dict[str, Any] | None, sign: Signer | None, list_sheet: str | None = None,
           footer: str | None = None) -> bytes:
    book = _Book(model, submission_id=submission_id, password=password, extra_meta=extra_meta, sign=sign)
    error_sheet = book.add_sheet(list_sheet or t("errors_sheet", lang)) if errors is not None else None
    sheets = [_FormSheet(book, layout, book.add_sheet(layout.name)) for layout in model.sheets]
    book.write_meta()
    cells = _cells(model, contents, lang)
    for sheet in sheets:
        sheet.write(contents, marks or {}, cells, lang, footer)
    book.define_names()
    if error_sheet is not None:
        _error_list(model, error_sheet, errors or [], book.fmt, lang, password)
        error_sheet.activate()
    else:
        next((s for s in sheets if not s.layout.hidden), sheets[0]).ws.activate()
    return book.close()


def _cells(model: FormModel, contents: dict[str, Any], lang: str = "zh") -> Cells:
    """What formulas see: the content of each field's cell as written (every row of a ``*``
    column); for an A1 reference, each cell's: a field's content, a label's text, a formula's or
    check's value (computed once; the model refuses circular references)."""
    values: dict[tuple[str, int, int], Any] = {}

    def placed_value(sheet: str, cell: Any) -> Any:
        if cell is None or cell.kind == "blank":
            return None
        if cell.kind == "input":
            f = model.by_pointer[cell.field or ""]
            return cell_content(f.kind, contents.get(f.pointer))
        if cell.kind == "text":
            return cell.text or None
        if cell.kind == "formula" and cell.keep:  # not evaluated: the value it was drawn with
            return cell.value
        key = (sheet, cell.row, cell.col)
        if key not in values:
            expr = model.formulas[key] if cell.kind == "formula" else model.rule(cell.rule or "").check_text(lang)
            values[key] = evaluate(expr, contents_at)
        return values[key]

    def contents_at(pointer: Any) -> list[Any]:
        if not isinstance(pointer, str):  # an A1 reference
            return [placed_value(pointer.sheet, cell) for cell in model.cells_at(pointer)]
        fields = model.by_pattern.get(pointer, []) if "*" in pointer else [model.by_pointer[pointer]]
        return [cell_content(f.kind, contents.get(f.pointer)) for f in fields]

    return contents_at


def _cached(value: Any) -> Any:
    """A formula result as xlsxwriter writes it cached: numbers, text, booleans, error codes."""
    if isinstance(value, XlError):
        return value.code
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# -- the parts --------------------------------------------------------------------------------

class _Formats:
    """One xlsxwriter format per (style, unlocked, number format, error) used."""

    def __init__(self, book: xlsxwriter.Workbook, styles: dict[str, dict[str, Any]]) -> None:
        self.book, self.styles = book, styles
        self.cache: dict[tuple, Any] = {}

    def get(self, style: str, *, unlocked: bool = False, num_format: str | None = None,
            error: str | None = None, look: dict[str, Any] | None = None) -> Any:
        key = (style, unlocked, num_format, error, look is not None)
        if key not in self.cache:
            # a layout look is the cell exactly as drawn (xlsx/look.py): no base, no input fill
            props = format_props(look) if look is not None else {**_BASE, **self.styles.get(style, {})}
            if unlocked:
                props["locked"] = False
                if look is None and (props.get("border", 1) or style.startswith("input")):
                    props["bg_color"] = INPUT_FILL
            if error:  # a mark: error, reason or warning (MARKS)
                fill, font = MARKS[error]
                props.update(bg_color=fill, font_color=font)
            if num_format:
                props["num_format"] = num_format
            self.cache[key] = self.book.add_format(props)
        return self.cache[key]


class _Book:
    """The workbook: properties, formats, the metadata sheet and its dropdown lists, defined names."""

    def __init__(self, model: FormModel, *, submission_id: str, password: str | None,
                 extra_meta: dict[str, Any] | None, sign: Signer | None) -> None:
        self.model, self.password = model, password
        self.buf = io.BytesIO()
        options: dict[str, Any] = {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False}
        font = model.layout.get("font")
        if font and (font["name"], font["size"]) != ("Calibri", 11):  # the workbook's own default font
            options["default_format_properties"] = {"font_name": font["name"], "font_size": font["size"],
                                                    "font_scheme": "none"}
        self.book = xlsxwriter.Workbook(self.buf, options)
        self.book.set_properties({"title": model.title, "subject": f"{model.id} {model.version}", "author": "",
                                  "company": "", "comments": f"xltemplate {model.id} {model.version}",
                                  "created": FIXED_TIME})
        self.meta_info = {"form_id": model.id, "form_version": model.version, "layout_hash": model.hash,
                          "schema_hash": model.schema_hash, "submission_id": submission_id,
                          **{k: str(v) for k, v in (extra_meta or {}).items()},
                          "generator": f"xltemplate {__version__}"}
        if sign is not None:
            self.meta_info["signature"] = sign(self.meta_info)
        for name, value in meta_layout.properties(self.meta_info):
            self.book.set_custom_property(name, value)
        self.fmt = _Formats(self.book, model.styles)
        self.list_refs: dict[str, str] = {}
        self.pictures: dict[int, list[dict[str, Any]]] = {}  # sheet index -> its pictures, in the order inserted

    def add_sheet(self, name: str) -> Any:
        return self.book.add_worksheet(name, worksheet_class=_Sheet)

    def write_meta(self) -> None:
        """The very hidden ``_xltemplate`` sheet: the identity, then one dropdown list per enum."""
        meta = self.book.add_worksheet(meta_layout.SHEET)
        for i, (name, value) in enumerate(meta_layout.sheet_rows(self.meta_info)):
            meta.write_string(i, 0, name)
            meta.write_string(i, 1, value)
        col = meta_layout.LISTS_COL
        for f in self.model.fields:
            if f.kind == "enum" and f.pattern not in self.list_refs:
                meta.write_string(0, col, f.pattern)
                for i, choice in enumerate(f.schema["enum"], start=1):
                    meta.write(i, col, choice)
                self.list_refs[f.pattern] = (f"={quote_sheet(meta_layout.SHEET)}!{a1(1, col, True)}:"
                                             f"{a1(len(f.schema['enum']), col, True)}")
                col += 1
        meta.very_hidden()
        meta.protect(self.password or "")

    def define_names(self) -> None:
        for f in self.model.fields:
            self.book.define_name(f.name, f"={quote_sheet(f.sheet)}!{a1(f.row, f.col, True)}")
        for area in self.model.arrays.values():
            cells = [f for slot in area.slots for f in slot]
            r1, c1 = min(f.row for f in cells), min(f.col for f in cells)
            r2 = max(f.row + f.rowspan - 1 for f in cells)
            c2 = max(f.col + f.colspan - 1 for f in cells)
            self.book.define_name(area.name, f"={quote_sheet(area.sheet)}!{a1(r1, c1, True)}:{a1(r2, c2, True)}")

    def close(self) -> bytes:
        self.book.close()
        return _finish(self.buf.getvalue(), self.pictures)


class _FormSheet:
    """One sheet of the layout."""

    def __init__(self, book: _Book, layout: Any, ws: Any) -> None:
        self.book, self.layout, self.ws = book, layout, ws
        self.model = book.model

    def write(self, contents: dict[str, Any], marks: dict[str, tuple[str, str]], cells: Cells, lang: str,
              footer: str | None = None) -> None:
        layout, ws, fmt = self.layout, self.ws, self.book.fmt
        self._columns()
        heights = dict(layout.heights)
        numbers: list[str] = []  # labels that are numbers written as text: no green triangles
        for cell in layout.cells:
            if cell.kind == "input":
                self._input(self.model.by_pointer[cell.field or ""], cell, contents, marks, heights, lang)
                continue
            cf = fmt.get(cell.style, look=cell.look)
            last_r, last_c = cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1
            merged = (last_r, last_c) != (cell.row, cell.col)
            if cell.kind in ("formula", "check"):
                if merged:
                    ws.merge_range(cell.row, cell.col, last_r, last_c, "", cf)
                if cell.kind == "formula" and cell.keep:  # as written, with the cached value it was drawn with
                    ws.write_formula(cell.row, cell.col, self.model.kept_formula(layout.name, cell), cf,
                                     _cached(cell.value) if cell.value is not None else "")
                    continue
                if cell.kind == "formula":
                    expr = self.model.formulas[(layout.name, cell.row, cell.col)]
                else:
                    expr = self.model.rule(cell.rule or "").check_text(lang)
                ws.write_formula(cell.row, cell.col, self.model.formula(expr, layout.name), cf,
                                 _cached(evaluate(expr, cells)))
                continue
            content = cell.text or "" if cell.kind == "text" else ""
            if content and NUMBER.fullmatch(content.strip()):
                numbers.append(a1(cell.row, cell.col))
            if merged:
                ws.merge_range(cell.row, cell.col, last_r, last_c, content, cf)
            else:
                ws.write_string(cell.row, cell.col, content, cf)
        self._rows(heights)
        if numbers:
            ws.ignore_errors({"number_stored_as_text": " ".join(numbers)})
        password = self.book.password
        ws.protect(password or "", {"format_rows": True, "select_locked_cells": True,
                                    "select_unlocked_cells": True})
        setup_sheet(ws, layout, t("page_footer", lang), stamp=footer)
        self._view()
        self._pictures()
        for spec in layout.validations:
            _kept_validation(ws, spec)
        if layout.hidden:
            ws.hide()

    def _columns(self) -> None:
        """Column widths (as the file stores them when the layout names the workbook's font, else as
        typed), hidden columns, and the default width of the others."""
        layout, ws = self.layout, self.ws
        hidden = layout.hidden_cols
        for first, last in _runs(c for c in hidden if c >= len(layout.widths)):
            ws.set_column(first, last, None, None, {"hidden": True})
        for c, width in enumerate(layout.widths):
            options = {"hidden": True} if c in hidden else None
            if width is None:  # the sheet's default width: no <col> of its own unless hidden
                if options:
                    ws.set_column(c, c, None, None, options)
            elif layout.stored_widths:  # stored width * digit = the pixels xlsxwriter stores back as this width
                ws.set_column_pixels(c, c, width * ws.max_digit_width, None, options)
            else:
                ws.set_column(c, c, width, None, options)
        if layout.default_width is not None:
            ws.format_pr["defaultColWidth"] = _num_text(layout.default_width)
        if layout.base_width is not None:
            ws.format_pr["baseColWidth"] = str(layout.base_width)

    def _rows(self, heights: dict[int, float]) -> None:
        """Row heights to the point as given, hidden rows, and the default height of the others."""
        layout, ws = self.layout, self.ws
        if layout.default_height is not None:  # written as given; rows without a height of their own keep none
            ws.format_pr["defaultRowHeight"] = _num_text(layout.default_height)
        for r in sorted(set(heights) | layout.hidden_rows):
            h = heights.get(r)
            options = {"hidden": True} if r in layout.hidden_rows else None
            ws.set_row_pixels(r, h * 4 / 3 if h is not None else None, None, options)
            if h is not None:
                ws.exact_heights[r] = h

    def _pictures(self) -> None:
        """The layout's pictures, each anchored as drawn (:func:`_finish` writes the anchors exactly)."""
        ws = self.ws
        for i, spec in enumerate(self.layout.pictures):
            data = base64.b64decode(spec["image"])
            image = Image(io.BytesIO(data))
            row, col = parse_a1(spec["from"]["cell"]) or (0, 0)
            width, height = (n / EMU_PER_PIXEL for n in spec["size"])
            ws.insert_image(row, col, f"image{i + 1}.{spec.get('format', 'png')}", {
                "image_data": io.BytesIO(data), "x_offset": spec["from"].get("dx", 0) / EMU_PER_PIXEL,
                "y_offset": spec["from"].get("dy", 0) / EMU_PER_PIXEL,
                "x_scale": width / (image.width * 96 / image.x_dpi),
                "y_scale": height / (image.height * 96 / image.y_dpi),
                "object_position": {"twoCell": 1, "oneCell": 2, "absolute": 3}[spec.get("position", "oneCell")],
                "description": spec.get("description") or spec.get("name") or ""})
            self.book.pictures.setdefault(ws.index, []).append(spec)

    def _view(self) -> None:
        """What the sheet shows on screen: frozen panes, zoom, tab colour, page view."""
        view, ws = self.layout.view, self.ws
        if "freeze" in view:
            ws.freeze_panes(*(parse_a1(view["freeze"]) or (0, 0)))
        if "zoom" in view:
            ws.set_zoom(int(view["zoom"]))
        if "tab_color" in view:
            ws.set_tab_color(view["tab_color"])
        if view.get("view") in ("page_layout", "page_break"):
            ws.set_page_view(1 if view["view"] == "page_layout" else 2)

    def _input(self, f: Field, cell: Any, contents: dict[str, Any], marks: dict[str, tuple[str, str]],
               heights: dict[int, float], lang: str) -> None:
        ws = self.ws
        mark = marks.get(f.pointer)
        issue = mark[1] if mark is not None else None
        num_format = _num_format(f)
        if cell.look is not None:  # a look's number format yields only to the schema's
            num_format = f.schema.get("x-num-format") or cell.look.get("number_format") or num_format
        cf = self.book.fmt.get(cell.style, unlocked=True, num_format=num_format, error=mark[0] if mark else None,
                               look=cell.look)
        content = cell_content(f.kind, contents.get(f.pointer))
        _write_value(ws, f, content, cf)
        if mark is not None:
            ws.write_comment(f.row, f.col, issue, {"author": "xltemplate", "x_scale": 2.5, "y_scale": 1.5,
                                                   "font_name": FONT, "color": MARKS[mark[0]][0]})
        if isinstance(content, str) and ("\n" in content or display_width(content) > 20):
            base = heights.get(f.row, self.layout.default_height or 15.0)
            heights[f.row] = max(base, _row_height(f, content, base, self.layout.widths))
        ws.data_validation(f.row, f.col, f.row + f.rowspan - 1, f.col + f.colspan - 1,
                           field_validation(f, self.book.list_refs.get(f.pattern), lang))


class _Sheet(Worksheet):
    """xlsxwriter's worksheet, writing row heights to the point as the layout gives them (xlsxwriter
    rounds them to whole pixels, 0.75 pt: a 35.1 pt row would be 35.25, enough over 50 rows to move a
    page break) and the sheet's default column width and row height exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.exact_heights: dict[int, float] = {}  # 0-based row -> points
        self.format_pr: dict[str, str] = {}  # <sheetFormatPr> attributes to write as given

    def _exact_row(self, attributes: Any) -> Any:
        height = self.exact_heights.get(int(attributes[0][1]) - 1)
        if height is None:
            return attributes
        out = [(k, _num_text(height) if k == "ht" else v) for k, v in attributes if k != "customHeight"]
        if not any(k == "ht" for k, _ in out):  # a height equal to xlsxwriter's default
            out.append(("ht", _num_text(height)))
        return [*out, ("customHeight", 1)]

    # xlsxwriter writes <row> with these two alone: rows only, so cells pay nothing
    def _xml_start_tag_unencoded(self, tag: str, attributes: Any = ()) -> None:
        super()._xml_start_tag_unencoded(tag, self._exact_row(attributes) if self.exact_heights else attributes)

    def _xml_empty_tag_unencoded(self, tag: str, attributes: Any = ()) -> None:
        super()._xml_empty_tag_unencoded(tag, self._exact_row(attributes) if self.exact_heights else attributes)

    def _write_sheet_format_pr(self) -> None:
        if not self.format_pr:
            super()._write_sheet_format_pr()
            return
        attributes = {"defaultRowHeight": f"{self.default_row_height * 0.75:.16g}", **self.format_pr}
        if "defaultRowHeight" in self.format_pr:
            attributes["customHeight"] = "1"
        if self.outline_row_level:
            attributes["outlineLevelRow"] = str(self.outline_row_level)
        if self.outline_col_level:
            attributes["outlineLevelCol"] = str(self.outline_col_level)
        self._xml_empty_tag("sheetFormatPr", list(attributes.items()))


def _runs(numbers: Any) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs."""
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


EMU_PER_PIXEL = 9525
_ANCHOR = re.compile(r"<xdr:twoCellAnchor[^>]*>.*?(<xdr:pic>.*?</xdr:pic>).*?</xdr:twoCellAnchor>", re.S)


def _anchored(xml: str, specs: list[dict[str, Any]]) -> str:
    """The drawing part with each picture's anchor as the layout gives it, to the EMU: xlsxwriter
    places a picture by its own idea of the column widths, which counts in Calibri 11 whatever the
    workbook's font, and anchors every picture at two cells."""
    it = iter(specs)

    def point(tag: str, p: dict[str, Any]) -> str:
        row, col = parse_a1(p["cell"]) or (0, 0)
        return (f"<xdr:{tag}><xdr:col>{col}</xdr:col><xdr:colOff>{int(p.get('dx', 0))}</xdr:colOff>"
                f"<xdr:row>{row}</xdr:row><xdr:rowOff>{int(p.get('dy', 0))}</xdr:rowOff></xdr:{tag}>")

    def one(m: re.Match[str]) -> str:
        spec = next(it, None)
        if spec is None:
            return m.group(0)
        cx, cy = spec["size"]
        pic = re.sub(r'<a:ext cx="\d+" cy="\d+"/>', f'<a:ext cx="{cx}" cy="{cy}"/>', m.group(1), count=1)
        if "to" in spec:
            position = spec.get("position", "oneCell")
            edit = f' editAs="{position}"' if position != "twoCell" else ""  # twoCell: the file's default
            return (f'<xdr:twoCellAnchor{edit}>{point("from", spec["from"])}'
                    f'{point("to", spec["to"])}{pic}<xdr:clientData/></xdr:twoCellAnchor>')
        return (f'<xdr:oneCellAnchor>{point("from", spec["from"])}<xdr:ext cx="{cx}" cy="{cy}"/>{pic}'
                f"<xdr:clientData/></xdr:oneCellAnchor>")

    return _ANCHOR.sub(one, xml)


_VALIDATE = {"whole": "integer", "decimal": "decimal", "list": "list", "date": "date", "time": "time",
             "textLength": "length", "custom": "custom"}
_CRITERIA = {"between": "between", "notBetween": "not between", "equal": "==", "notEqual": "!=", "greaterThan": ">",
             "lessThan": "<", "greaterThanOrEqual": ">=", "lessThanOrEqual": "<="}


def _kept_validation(ws: Any, spec: dict[str, Any]) -> None:
    """A data validation of the drawn workbook, kept as it was (its formulas as stored)."""
    ranges = [parse_range(r) for r in spec["ranges"]]
    r, c, rs, cs = ranges[0]
    opts: dict[str, Any] = {"validate": _VALIDATE[spec["type"]], "ignore_blank": spec.get("allow_blank", True),
                            "dropdown": spec.get("dropdown", True), "show_input": spec.get("show_prompt", True),
                            "show_error": spec.get("show_error", True),
                            "error_type": spec.get("error_style", "stop")}
    f1, f2 = spec.get("formula1"), spec.get("formula2")
    if spec["type"] in ("list", "custom"):
        opts["value"] = "=" + (f1 or '""')
    else:
        opts["criteria"] = _CRITERIA[spec.get("operator", "between")]
        if opts["criteria"] in ("between", "not between"):
            opts["minimum"], opts["maximum"] = "=" + (f1 or "0"), "=" + (f2 or "0")
        else:
            opts["value"] = "=" + (f1 or "0")
    for key, opt in (("prompt_title", "input_title"), ("prompt", "input_message"), ("error_title", "error_title"),
                     ("error", "error_message")):
        if spec.get(key):
            opts[opt] = str(spec[key])[:255 if opt.endswith("message") else 32]
    if len(ranges) > 1:
        opts["multi_range"] = " ".join(spec["ranges"])
    ws.data_validation(r, c, r + rs - 1, c + cs - 1, opts)


def _num_text(x: float) -> str:
    """A size as the file stores it: the shortest text of the number (35.1, not 35.09999999999999)."""
    return f"{float(x):.15g}"


def _num_format(f: Field) -> str | None:
    custom = f.schema.get("x-num-format")
    if custom:
        return str(custom)
    return {"string": "@", "month-range": "@", "date": DATE_FORMAT, "integer": "0"}.get(f.kind)


def _row_height(f: Field, value: str, base: float, widths: list[float | None]) -> float:
    chars = sum(8.43 if w is None else w for w in widths[f.col:f.col + f.colspan]) * 1.2
    lines = sum(max(1, math.ceil(display_width(p) / max(chars, 1))) for p in value.split("\n"))
    return min(MAX_ROW_HEIGHT, max(base, lines * 12.5 + 4) / f.rowspan)


def _write_value(ws: Any, f: Field, content: Any, cf: Any) -> None:
    """Write a cell's content (:func:`~xltemplate.form.formula.cell_content`) by its type."""
    if f.rowspan > 1 or f.colspan > 1:
        ws.merge_range(f.row, f.col, f.row + f.rowspan - 1, f.col + f.colspan - 1, "", cf)
    if content is None:
        ws.write_blank(f.row, f.col, None, cf)
    elif isinstance(content, dt.date):
        ws.write_datetime(f.row, f.col, dt.datetime.combine(content, dt.time()), cf)
    elif isinstance(content, int | float):
        ws.write_number(f.row, f.col, content, cf)
    else:
        ws.write_string(f.row, f.col, content, cf)


def _error_list(model: FormModel, ws: Any, errors: list[tuple[str, Any]], fmt: _Formats, lang: str,
                password: str | None) -> None:
    """The list sheet of an annotated return: one row per error, reason and warning, linked to its
    cell, its kind (错误 / 审核意见 / 提示) in the last column."""
    heads = [t(k, lang) for k in ("errors_no", "errors_sheet_col", "errors_cell", "errors_field", "errors_found",
                                  "errors_problem", "errors_kind")]
    for c, (head, width) in enumerate(zip(heads, (6, 14, 18, 40, 24, 60, 10), strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(0, c, head, fmt.get("section"))
    left = fmt.get("input_long")
    link = fmt.get("input_long")
    for r, (kind, e) in enumerate(errors, start=1):
        f = model.field_for(e.pointer) if e.pointer else None
        ws.write_number(r, 0, r, fmt.get("label"))
        ws.write_string(r, 1, f.sheet if f else "", left)
        if f is not None:  # the cell in this copy; where the clerk's value was, when a client had moved it
            here = t("cell_moved", lang, was=e.cell, here=f.cell) if e.cell and e.cell != f.cell else f.cell
            ws.write_url(r, 2, f"internal:{quote_sheet(f.sheet)}!{f.cell}", link, string=here)
        else:
            ws.write_string(r, 2, "", left)
        ws.write_string(r, 3, e.label or "", left)
        ws.write_string(r, 4, "" if e.value is None else str(e.value), left)
        ws.write_string(r, 5, e.message, left)
        ws.write_string(r, 6, t("kind_" + kind, lang), fmt.get("input_long", error=kind))
    ws.freeze_panes(1, 0)
    ws.protect(password or "", {"select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
                                "format_rows": True})
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def _finish(xlsx: bytes, pictures: dict[int, list[dict[str, Any]]] | None = None) -> bytes:
    """Lock the workbook structure (xlsxwriter has no API for it), anchor each picture exactly as the
    layout says, and fix every zip timestamp."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    drawings = {}
    for index, specs in (pictures or {}).items():
        rels = src.read(f"xl/worksheets/_rels/sheet{index + 1}.xml.rels").decode("utf-8")
        target = re.search(r'Target="\.\./drawings/(drawing\d+\.xml)"', rels)
        if target:
            drawings[f"xl/drawings/{target.group(1)}"] = specs
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<bookViews>", b'<workbookProtection lockStructure="1"/><bookViews>', 1)
            elif info.filename in drawings:
                data = _anchored(data.decode("utf-8"), drawings[info.filename]).encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    return out.getvalue()

