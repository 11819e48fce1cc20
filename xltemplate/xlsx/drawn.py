"""A bureau's drawn workbook (``.xlsx``) -> :class:`~xltemplate.form.design.drawn.DrawnBook`: the
inverse of :mod:`.look`.  Every cell with its value and its whole look (font, fill, borders,
alignment, number format; theme colours as the colours shown), merged ranges, column widths and
row heights, the page set-up, and what the template will not carry.

Read with openpyxl (styles, merges, set-up, validations) and, for the cells, its read-only reader too
(which keeps every stored cell, styled empty ones included) and, for formulas' saved values, its
data-only reader; pictures and other drawing objects from the package itself (:mod:`.drawings`).
Column widths and row heights are taken as the file stores them: only the client knows how many
pixels a character of the workbook's font is.
"""

from __future__ import annotations

import colorsys
import datetime as dt
import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

import openpyxl
from defusedxml import ElementTree
from openpyxl.formula.tokenizer import Tokenizer
from openpyxl.styles.colors import COLOR_INDEX
from openpyxl.styles.fills import PatternFill

from ..form.design.drawn import DesignError, DrawnBook, DrawnCell, DrawnSheet, DrawnValidation
from ..form.excel import EXCEL_EPOCH, a1, parse_range
from ..form.model import META_SHEET
from ..messages import t
from .drawings import read_drawings
from .guard import Refused, identify


def read_drawn(path: str | Path, lang: str = "zh") -> DrawnBook:
    """The drawn workbook at ``path``; :class:`DesignError` when it is not a readable ``.xlsx``."""
    return _Reader(Path(path), lang).book


class _Reader:
    def __init__(self, path: Path, lang: str):
        self.path, self.lang = path, lang
        self.gradients: list[str] = []  # cells of the sheet being read with a gradient fill
        self.cached_book: Any = None  # the workbook's cached formula values, read when a formula is met
        wb, ro = self._open()
        try:
            self.book = self._read(wb, ro)
        finally:
            ro.close()
            if self.cached_book is not None:
                self.cached_book.close()

    def _open(self) -> tuple[Any, Any]:
        lang, name = self.lang, self.path.name
        try:
            data = self.data = self.path.read_bytes()
            kind = identify(data)
        except OSError as exc:
            raise DesignError([t("design_unreadable", lang, file=name, detail=exc)]) from exc
        except Refused as exc:
            raise DesignError([t("design_unreadable", lang, file=name, detail=exc.code)]) from exc
        zipped = kind.zip
        if zipped is not None:
            names = set(zipped.namelist())
            zipped.close()
            if "xl/workbook.xml" not in names and "xl/workbook.bin" in names:
                raise DesignError([t("design_xlsb", lang, file=name)])
        if kind.name in ("xls", "ods"):
            raise DesignError([t("design_legacy" if kind.name == "xls" else "design_ods", lang, file=name)])
        try:
            with warnings.catch_warnings():  # "extension not supported" and the like
                warnings.simplefilter("ignore")
                return (openpyxl.load_workbook(io.BytesIO(data)),
                        openpyxl.load_workbook(io.BytesIO(data), read_only=True))
        except Exception as exc:  # openpyxl fails in many ways on damaged files
            raise DesignError([t("design_unreadable", lang, file=name, detail=f"{type(exc).__name__}: {exc}")]) \
                from exc

    def _read(self, wb: Any, ro: Any) -> DrawnBook:
        self.theme = _theme_colors(wb.loaded_theme)
        self.default_font = wb._fonts[0] if wb._fonts else None
        book = DrawnBook(self.path.name, [], _default_font(wb), list(wb.sheetnames),
                         title=str(wb.properties.title or "").strip())
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                self.drawings = read_drawings(zf)
        except Exception as exc:  # a damaged drawing part: the file is, as far as design can tell
            raise DesignError([t("design_unreadable", self.lang, file=self.path.name,
                                 detail=f"{type(exc).__name__}: {exc}")]) from exc
        for ws in wb.worksheets:
            if ws.title == META_SHEET:  # hidden: ours, in a template drawn over; visible: a name taken
                (book.hidden_sheets if ws.sheet_state != "visible" else book.reserved_sheets).append(ws.title)
            else:
                book.sheets.append(self._sheet(ws, ro[ws.title]))
                book.sheets[-1].hidden = ws.sheet_state != "visible"
        book.hidden_sheets += [chart.title for chart in wb.chartsheets]
        return book

    def _sheet(self, ws: Any, rs: Any) -> DrawnSheet:
        rs.reset_dimensions()
        raw = {(c.row - 1, c.column - 1): c for row in rs.iter_rows() for c in row if getattr(c, "row", None)}
        merges = [(m.min_row - 1, m.min_col - 1, m.max_row - m.min_row + 1, m.max_col - m.min_col + 1)
                  for m in ws.merged_cells.ranges]
        owner: dict[tuple[int, int], tuple[int, int]] = {}
        spans: dict[tuple[int, int], tuple[int, int]] = {}
        for r0, c0, rs_, cs in merges:
            spans[(r0, c0)] = (rs_, cs)
            for r in range(r0, r0 + rs_):
                for c in range(c0, c0 + cs):
                    owner[(r, c)] = (r0, c0)
        sheet = DrawnSheet(ws.title, {})
        for (r, c), cell in raw.items():
            top = owner.get((r, c))
            if top is not None and top != (r, c):
                if isinstance(cell.value, str):
                    rs_, cs = spans[top]
                    sheet.covered.append((r, c, cell.value, f"{a1(*top)}:{a1(top[0] + rs_ - 1, top[1] + cs - 1)}"))
                continue
            if cell.value is not None or cell.has_style:  # a styled empty cell is drawn too
                owner[(r, c)] = (r, c)
                spans.setdefault((r, c), (1, 1))
        sheet.covered.sort()
        sheet.hidden_rows = {r - 1 for r, d in ws.row_dimensions.items() if d.hidden}
        sheet.hidden_cols = {c for d in ws.column_dimensions.values() if d.hidden and d.min
                             for c in range(d.min - 1, min(d.max or d.min, 16384))}
        for (r, c), (rs_, cs) in sorted(spans.items()):
            sheet.cells[(r, c)] = self._cell(ws.title, raw, r, c, rs_, cs)
        formulas = [cell for cell in sheet.cells.values() if cell.formula is not None]
        if formulas:
            cached = self._cached_values(ws.title)
            for cell in formulas:
                cell.cached = cached.get((cell.row, cell.col))
        nrows = max((c.row + c.rowspan for c in sheet.cells.values()), default=1)
        ncols = max((c.col + c.colspan for c in sheet.cells.values()), default=1)
        sheet.setup = self._setup(ws, sheet)
        if "area" in sheet.setup:
            r, c, rs_, cs = parse_range(sheet.setup["area"], ws.title)
            nrows, ncols = max(nrows, r + rs_), max(ncols, c + cs)
        _sizes(ws, sheet, ncols)
        sheet.view = self._view(ws)
        self._dropped(ws, sheet)
        return sheet

    def _cell(self, sheet: str, raw: dict[tuple[int, int], Any], r: int, c: int, rowspan: int,
              colspan: int) -> DrawnCell:
        src = raw.get((r, c))
        out = DrawnCell(r, c, rowspan, colspan, self._look(src, raw, r, c, rowspan, colspan))
        if src is None:
            return out
        value = src.value
        if src.data_type == "f":
            formula = value if isinstance(value, str) else getattr(value, "text", None)
            out.array_formula = not isinstance(value, str)
            formula = str(formula or "")
            out.formula = formula if formula.startswith("=") else "=" + formula
            out.formula_parts = _parts(out.formula)
        else:
            out.value = value
        return out

    def _cached_values(self, sheet: str) -> dict[tuple[int, int], Any]:
        """The values the workbook's formulas had when it was saved, by position (dates as serials)."""
        if self.cached_book is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.cached_book = openpyxl.load_workbook(io.BytesIO(self.data), read_only=True, data_only=True)
        ws = self.cached_book[sheet]
        ws.reset_dimensions()
        out = {}
        for row in ws.iter_rows():
            for cell in row:
                value = getattr(cell, "value", None)
                if value is not None:
                    out[(cell.row - 1, cell.column - 1)] = _serial(value)
        return out

    # -- looks ---------------------------------------------------------------------------------
    def _look(self, src: Any, raw: dict[tuple[int, int], Any], r: int, c: int, rowspan: int,
              colspan: int) -> dict[str, Any]:
        """The look of a cell or merged range: the top-left cell's font, fill, alignment and number
        format; each outer border from the cells along that edge (else the top-left's), which is
        how Excel draws a merged range and how LibreOffice draws it when only the top-left has one."""
        look: dict[str, Any] = {}
        font = src.font if src is not None else self.default_font
        if font is not None:
            look["font"] = self._font(font)
        if src is not None:
            fill = self._fill(src)
            if fill:
                look["fill"] = fill
        edges = {"left": (r, c), "top": (r, c), "right": (r, c + colspan - 1), "bottom": (r + rowspan - 1, c)}
        border: dict[str, Any] = {}
        colors: dict[str, str] = {}
        for side, pos in edges.items():
            for cell in (raw.get(pos), src):
                part = getattr(cell.border, side, None) if cell is not None else None
                if part is not None and part.style:
                    border[side] = part.style
                    color = self._color(part.color)
                    if color and color != "#000000":
                        colors[side] = color
                    break
        if src is not None and src.border.diagonal is not None and src.border.diagonal.style and \
                (src.border.diagonalUp or src.border.diagonalDown):
            border["diagonal"] = src.border.diagonal.style
            border["diagonal_up"] = bool(src.border.diagonalUp)
            border["diagonal_down"] = bool(src.border.diagonalDown)
            color = self._color(src.border.diagonal.color)
            if color and color != "#000000":
                colors["diagonal"] = color
        if border:
            look["border"] = border
        if colors:
            look["border_color"] = colors
        if src is not None:
            al = src.alignment
            align: dict[str, Any] = {}
            if al.horizontal and al.horizontal != "general":
                align["horizontal"] = al.horizontal
            if al.vertical and al.vertical != "bottom":
                align["vertical"] = al.vertical
            if al.wrap_text:
                align["wrap"] = True
            if al.shrink_to_fit:
                align["shrink"] = True
            if al.indent:
                align["indent"] = int(al.indent)
            if al.textRotation:
                align["rotation"] = int(al.textRotation)
            if align:
                look["align"] = align
            if src.number_format and src.number_format != "General":
                look["number_format"] = src.number_format
        return look

    def _font(self, font: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if font.name:
            out["name"] = font.name
        if font.sz:
            size = float(font.sz)
            out["size"] = int(size) if size.is_integer() else size
        if font.b:
            out["bold"] = True
        if font.i:
            out["italic"] = True
        if font.u and font.u != "none":
            out["underline"] = font.u
        if font.strike:
            out["strike"] = True
        if font.vertAlign in ("superscript", "subscript"):
            out["script"] = font.vertAlign
        color = self._color(font.color)
        if color and color != "#000000":
            out["color"] = color
        return out

    def _fill(self, cell: Any) -> Any:
        fill = cell.fill
        if not isinstance(fill, PatternFill):
            self.gradients.append(cell.coordinate)
            return None
        if not fill.patternType or fill.patternType == "none":
            return None
        fg, bg = self._color(fill.fgColor), self._color(fill.bgColor)
        if fill.patternType == "solid":
            return fg or "#000000"
        out: dict[str, Any] = {"pattern": fill.patternType}
        if fg:
            out["color"] = fg
        if bg:
            out["background"] = bg
        return out

    def _color(self, color: Any) -> str | None:
        return _resolve_color(color, self.theme)

    # -- sheet set-up --------------------------------------------------------------------------
    def _setup(self, ws: Any, sheet: DrawnSheet) -> dict[str, Any]:
        """The page set-up as the layout's ``print`` says it."""
        ps, out = ws.page_setup, {}
        if ps.paperSize:
            out["paper"] = int(ps.paperSize)
        if ps.orientation in ("landscape", "portrait"):
            out["orientation"] = ps.orientation
        props = ws.sheet_properties.pageSetUpPr
        if props is not None and props.fitToPage:
            out["fit"] = [int(ps.fitToWidth if ps.fitToWidth is not None else 1),
                          int(ps.fitToHeight if ps.fitToHeight is not None else 1)]
        elif ps.scale and int(ps.scale) != 100:
            out["scale"] = int(ps.scale)
        pm = ws.page_margins
        out["margins"] = {side: float(getattr(pm, side)) for side in ("left", "right", "top", "bottom",
                                                                       "header", "footer")}
        po = ws.print_options
        if po.horizontalCentered:
            out["center_horizontally"] = True
        if po.verticalCentered:
            out["center_vertically"] = True
        for key, item in (("header", ws.oddHeader), ("footer", ws.oddFooter)):
            if item:
                text = unescape(str(item))
                if "&G" in text:
                    sheet.header_picture = True
                    text = text.replace("&G", "")
                if text:
                    out[key] = text
        if ws.print_area:
            area = str(ws.print_area).split(",")[0].rpartition("!")[2].replace("$", "")
            if area:
                out["area"] = area if ":" in area else f"{area}:{area}"
        if ws.print_title_rows:
            rows = str(ws.print_title_rows).rpartition("!")[2].replace("$", "")
            if re.fullmatch(r"\d+:\d+", rows):
                out["repeat_rows"] = rows
        out["screen_gridlines"] = ws.sheet_view.showGridLines is not False
        out["print_gridlines"] = bool(po.gridLines)
        return out

    def _view(self, ws: Any) -> dict[str, Any]:
        """What the sheet shows on screen: frozen panes, zoom, tab colour, page view."""
        view: dict[str, Any] = {}
        sv = ws.sheet_view
        pane = sv.pane
        if pane is not None and pane.state in ("frozen", "frozenSplit") and (pane.xSplit or pane.ySplit):
            view["freeze"] = a1(int(pane.ySplit or 0), int(pane.xSplit or 0))
        if sv.zoomScale and int(sv.zoomScale) != 100:
            view["zoom"] = max(10, min(400, int(sv.zoomScale)))
        color = self._color(ws.sheet_properties.tabColor)
        if color:
            view["tab_color"] = color
        if sv.view in ("pageLayout", "pageBreakPreview"):
            view["view"] = "page_layout" if sv.view == "pageLayout" else "page_break"
        return view

    def _dropped(self, ws: Any, sheet: DrawnSheet) -> None:
        """Pictures, other drawing objects and data validations; what the template will not carry,
        counted for the author's notes."""
        sheet.pictures, sheet.shapes = self.drawings.get(ws.title, ([], []))
        sheet.comments = sum(1 for row in ws.iter_rows() for cell in row if getattr(cell, "comment", None))
        sheet.validations = [v for v in map(_validation, ws.data_validations.dataValidation) if v is not None]
        sheet.conditional = bool(len(ws.conditional_formatting))
        sheet.gradients = list(self.gradients)
        self.gradients.clear()


_VALIDATION_TYPES = ("whole", "decimal", "list", "date", "time", "textLength", "custom")


def _validation(dv: Any) -> DrawnValidation | None:
    """An openpyxl data validation in the file's words; None for one that checks nothing."""
    if dv.type not in _VALIDATION_TYPES:
        return None
    ranges = []
    for rng in dv.sqref.ranges:
        ranges.append((rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1))
    if not ranges:
        return None
    return DrawnValidation(ranges, dv.type, dv.operator or "between", dv.formula1, dv.formula2,
                           bool(dv.allow_blank), not dv.showDropDown, dv.promptTitle or "", dv.prompt or "",
                           dv.errorTitle or "", dv.error or "", dv.errorStyle or "stop",
                           bool(dv.showInputMessage), bool(dv.showErrorMessage))


def _serial(value: Any) -> Any:
    """A cached value as the file holds it: a date or time as its serial number."""
    if isinstance(value, dt.datetime):
        return (value - dt.datetime.combine(EXCEL_EPOCH, dt.time())).total_seconds() / 86400
    if isinstance(value, dt.date):
        return float((value - EXCEL_EPOCH).days)
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    return value


def _parts(formula: str) -> tuple[tuple[str, bool], ...] | None:
    """The formula as (text, is a cell or range reference) parts; None when it cannot be split."""
    try:
        tokens = Tokenizer(formula).items
    except Exception:  # a formula the tokenizer cannot split: kept as written
        return None
    return tuple((tok.value, tok.type == "OPERAND" and tok.subtype == "RANGE") for tok in tokens)


def _default_font(wb: Any) -> dict[str, Any]:
    """The workbook's default font: its Normal style's (the theme's minor font when that names none),
    which every column width is counted in."""
    normal = next((st for st in wb._named_styles if st.builtinId == 0), None)  # named 常规 by WPS in Chinese
    font = normal.font if normal is not None else wb._fonts[0] if wb._fonts else None
    name = getattr(font, "name", None) or _theme_minor_font(wb.loaded_theme) or "Calibri"
    size = float(getattr(font, "sz", None) or 11)
    return {"name": str(name), "size": int(size) if size.is_integer() else size}


def _theme_minor_font(theme: bytes | None) -> str | None:
    if not theme:
        return None
    try:
        root = ElementTree.fromstring(theme)
    except Exception:  # a damaged or hostile theme part
        return None
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
    latin = root.find(f".//{ns}minorFont/{ns}latin")
    return latin.get("typeface") or None if latin is not None else None


def _sizes(ws: Any, sheet: DrawnSheet, ncols: int) -> None:
    """Column widths as the file stores them (only the client knows the pixels: they count in the
    workbook's font), the sheet's default width and height, and row heights in points as stored."""
    fmt = ws.sheet_format
    if fmt.defaultColWidth:
        sheet.default_width = float(fmt.defaultColWidth)
    if fmt.baseColWidth is not None and int(fmt.baseColWidth) != 8:
        sheet.base_width = int(fmt.baseColWidth)
    if fmt.defaultRowHeight and float(fmt.defaultRowHeight) != 15:
        sheet.default_height = float(fmt.defaultRowHeight)
    widths: list[float | None] = [None] * ncols
    for dim in ws.column_dimensions.values():
        if dim.min and dim.width is not None and dim.customWidth is not False:
            for c in range(dim.min - 1, min(dim.max or dim.min, ncols)):
                widths[c] = float(dim.width)
    sheet.widths = widths
    sheet.heights = {str(r): float(dim.ht) for r, dim in sorted(ws.row_dimensions.items()) if dim.ht is not None}


_OFFICE_THEME = ["FFFFFF", "000000", "EEECE1", "1F497D", "4F81BD", "C0504D", "9BBB59", "8064A2", "4BACC6",
                 "F79646", "0000FF", "800080"]


def _theme_colors(theme: bytes | None) -> list[str]:
    """The workbook theme's colours in the order cells index them (lt1, dk1, lt2, dk2, accents...)."""
    if not theme:
        return list(_OFFICE_THEME)
    try:
        root = ElementTree.fromstring(theme)
    except Exception:  # a damaged or hostile theme part: Office's colours
        return list(_OFFICE_THEME)
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
    scheme = root.find(f".//{ns}clrScheme")
    if scheme is None:
        return list(_OFFICE_THEME)
    found = {}
    for child in scheme:
        tag = child.tag.replace(ns, "")
        for sub in child:
            value = sub.get("val") if sub.tag.endswith("srgbClr") else sub.get("lastClr")
            if value:
                found[tag] = value.upper()
    order = ["lt1", "dk1", "lt2", "dk2", "accent1", "accent2", "accent3", "accent4", "accent5", "accent6",
             "hlink", "folHlink"]
    return [found.get(name, _OFFICE_THEME[i]) for i, name in enumerate(order)]


def _resolve_color(color: Any, theme: list[str]) -> str | None:
    """An openpyxl colour (rgb, indexed, theme with tint) as #RRGGBB; None for automatic."""
    if color is None:
        return None
    kind = getattr(color, "type", None)
    rgb: str | None = None
    if kind == "rgb" and isinstance(color.rgb, str) and len(color.rgb) in (6, 8):
        rgb = color.rgb[-6:]
    elif kind == "indexed" and isinstance(color.indexed, int) and color.indexed < 64:
        rgb = COLOR_INDEX[color.indexed][-6:]
    elif kind == "theme" and isinstance(color.theme, int) and 0 <= color.theme < len(theme):
        rgb = theme[color.theme]
    if rgb is None:
        return None
    tint = float(getattr(color, "tint", 0) or 0)
    if tint:  # ECMA-376's tint on the luminance, computed as LibreOffice does (Excel may differ by one)
        r, g, b = (int(rgb[i:i + 2], 16) / 255 for i in (0, 2, 4))
        h, lum, s = colorsys.rgb_to_hls(r, g, b)
        lum = lum * (1 + tint) if tint < 0 else lum * (1 - tint) + tint
        rgb = "".join(f"{round(v * 255):02X}" for v in colorsys.hls_to_rgb(h, lum, s))
    return "#" + rgb.upper()
