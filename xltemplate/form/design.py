"""A bureau's own workbook, with its input cells marked -> the form's schema and layout.

The bureau keeps drawing its form in Excel, WPS or LibreOffice, exactly as it wants it printed,
and writes a *marker* into every cell a department fills in (EasyExcel-like; the whole cell is
the marker, full-width ｛｝：｜，＊ are read like their ASCII forms)::

    {项目名称}                 a field titled 项目名称
    {}  {*}  {:date}           a field titled by the nearest label to its left (else above)
    {/cover/project_name}      a field at a JSON pointer of your choice
    {.明细项目名称}             a column of a table: written in each of its rows; the marked rows
    {/budget_items/*/name}     are the table's capacity (``*`` is the row); ``{.}`` takes its title
    {预算明细.金额}             from the header above; ``{名称.列}`` names the table (needed when two
                               tables touch, e.g. 三级指标 under each 二级指标)

and after a colon the field's type and rules, separated by commas::

    {金额:number>=0,2位小数}  {项目属性:新增|延续}  {填报日期:date*}  {预算功能科目:7位数字}
    {三级指标:150字内}  {起止时间:month-range}  {人数:integer,0~500}  {是否政府采购:boolean}

``*`` (first or last) or ``必填`` makes a field required.  A cell without a marker is a fixed
label; a formula without one stays a locked formula, its references to input cells rewritten as
``{/pointer}`` (a whole marked column as ``{/table/*/key}``).  The layout keeps the sheets as
drawn: every cell at its own A1 range with its look (``looks``), column widths to the pixel, row
heights, page set-up (``print``).

Property names (decision): pointer markers name their own; a field with a title gets ``f1``,
``f2``, ... and a table ``t1``, ``t2``, ... in reading order, and keeps it: the field records the
marker's title as ``x-marker``, and ``--schema`` matches by it (pinyin is not available
offline, and a counter with a recorded identity survives both new markers and edited titles).

Re-design (``--schema EDITED.json``): what a marker says (title if it writes one, type, choices,
bounds, decimals, length, digits, required) is taken from the workbook, and replacing a
different value of the schema is reported; everything else the author wrote in the schema
(descriptions, patterns, messages, placeholders, x-sum rules, minItems, ...) is kept.  A field
whose marker is gone is removed and reported, and so is a rule that refers to it.
"""

from __future__ import annotations

import colorsys
import copy
import datetime as dt
import io
import itertools
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..messages import t
from .errors import LayoutError
from .excel import a1, parse_a1
from .model import META_SHEET, build_model
from .schema import SchemaError, join_pointer, leaves, resolve, split_pointer

#: The canonical month range (what :mod:`coerce` turns every spelling into).
MONTH_RANGE_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])~[0-9]{4}-(0[1-9]|1[0-2])$"
SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


#: A problem found in the workbook: (sheet, row, col, text), so all are listed in reading order.
Problem = tuple[str, int, int, str]


class DesignError(ValueError):
    """The workbook cannot become a form; ``problems`` lists every reason, each at its cell."""

    def __init__(self, problems: list[str], head: str = ""):
        super().__init__("\n".join([head, *problems] if head else problems))
        self.problems = problems
        self.head = head


# ----------------------------------------------------------------------------------------- markers

_FULLWIDTH = str.maketrans({"：": ":", "｜": "|", "，": ",", "；": ";", "＊": "*", "＞": ">", "＜": "<",
                            "＝": "=", "～": "~", "．": "."})
_WHOLE = re.compile(r"^\s*[{｛](.*)[}｝]\s*$", re.S)
#: a marker inside other text, or inside a formula: braces around something a marker starts with
_INSIDE = re.compile(r"\{\s*(?:[/.*:]|[^\x00-\x7f])[^{}]*\}")
_TYPES = {"text": "string", "文本": "string", "文字": "string", "string": "string",
          "number": "number", "数字": "number", "数值": "number", "金额": "number",
          "integer": "integer", "整数": "integer", "date": "date", "日期": "date",
          "month-range": "month-range", "起止年月": "month-range", "年月区间": "month-range",
          "boolean": "boolean", "是否": "boolean"}
_NUM = r"-?\d+(?:\.\d+)?"
_BOUND = re.compile(rf"^(>=|<=|>|<|≥|≤)\s*({_NUM})$")
_RANGE = re.compile(rf"^({_NUM})\s*~\s*({_NUM})$")
_DECIMALS = re.compile(r"^(\d+)\s*位小数$")
_LENGTH = re.compile(r"^(?:<=|≤)?\s*(\d+)\s*字(?:以内|内)?$")
_DIGITS = re.compile(r"^(\d+)\s*(?:~\s*(\d+)\s*)?位(?:数字)?$")
_NUMERIC_LABEL = re.compile(r"^[\s(（]*[0-9一二三四五六七八九十]+[)）.、．]?\s*$")


class _Bad(Exception):
    """A marker that does not parse; the message is the reason, in the user's language."""


@dataclass
class Marker:
    """What one marker says."""

    text: str
    required: bool = False
    pointer: str | None = None  # explicit JSON pointer (``*`` for the row of a table)
    table: str | None = None  # a title-marked table column: the table's name ("" unnamed)
    title: str | None = None  # the title written in the marker
    kind: str | None = None  # the type written: string, number, integer, date, month-range, boolean
    keywords: dict[str, Any] = field(default_factory=dict)  # schema keywords the rules state

    @property
    def is_list(self) -> bool:
        return self.table is not None or (self.pointer is not None and "*" in split_pointer(self.pointer))

    @property
    def says(self) -> tuple[Any, ...]:
        """What a row of a table column must repeat (or leave out, taking the first row's)."""
        return self.required, self.kind, json.dumps(self.keywords, sort_keys=True, ensure_ascii=False)


def is_marker(text: str) -> bool:
    return bool(_WHOLE.match(text))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_marker(text: str, lang: str = "zh") -> Marker:
    """Read one marker (the whole cell text); :class:`_Bad` with the reason when it does not parse."""
    m = _WHOLE.match(text)
    if not m:
        raise _Bad(t("design_reason_item", lang, item=text))
    body = m.group(1).strip()
    if "\n" in body:
        raise _Bad(t("design_reason_multiline", lang))
    marker = Marker(text=text.strip())
    if body.endswith(("*", "＊")) and not body.endswith("/*"):  # {金额:number,2位小数*}
        marker.required, body = True, body[:-1].rstrip()
    cut = min((i for i in (body.find(":"), body.find("：")) if i >= 0), default=-1)
    head, colon, spec = (body[:cut], True, body[cut + 1:]) if cut >= 0 else (body, False, "")
    head = head.strip().translate(_FULLWIDTH)
    if head.startswith("*"):
        marker.required, head = True, head[1:].strip()
    if head.endswith("*") and not head.endswith("/*"):
        marker.required, head = True, head[:-1].strip()
    if head.startswith("/"):
        tokens = split_pointer(head)
        if any(tok == "" for tok in tokens):
            raise _Bad(t("design_reason_pointer", lang, pointer=head, detail=t("design_pointer_empty", lang)))
        stars = [i for i, tok in enumerate(tokens) if tok == "*"]
        if len(stars) > 1 or (stars and stars[0] in (0, len(tokens) - 1)):
            raise _Bad(t("design_reason_pointer", lang, pointer=head, detail=t("design_pointer_star", lang)))
        marker.pointer = join_pointer(tokens)
    elif "." in head and not head.split(".", 1)[0].strip().isdigit():
        table, _, title = head.partition(".")
        marker.table, marker.title = table.strip(), title.strip() or None
    else:
        marker.title = head or None
    items = [item.strip() for item in re.split(r"[,;]", spec.translate(_FULLWIDTH)) if item.strip()] \
        if colon else []
    _rules(marker, items, lang)
    return marker


def _rules(marker: Marker, items: list[str], lang: str) -> None:
    """The type and rules after the colon -> ``marker.kind`` / ``marker.keywords``."""
    kw: dict[str, Any] = {}
    numeric: list[str] = []  # items that only numbers take
    textual: list[str] = []  # items that only text takes
    choices: list[str] | None = None

    def set_kind(kind: str) -> None:
        if marker.kind and marker.kind != kind:
            raise _Bad(t("design_reason_two_types", lang, a=marker.kind, b=kind))
        marker.kind = kind

    for item in items:
        word = next((w for w in sorted(_TYPES, key=len, reverse=True) if item.lower().startswith(w)), None)
        rest = item
        if word is not None:
            set_kind(_TYPES[word])
            rest = item[len(word):].strip()
            if not rest:
                continue
        if rest in ("*", "必填", "required"):
            marker.required = True
        elif "|" in rest:
            choices = [c.strip() for c in rest.split("|")]
            if not all(choices) or len(set(choices)) != len(choices):
                raise _Bad(t("design_reason_choices", lang))
        elif m := _BOUND.match(rest):
            op, value = m.group(1), _number(m.group(2))
            key = {">=": "minimum", "≥": "minimum", "<=": "maximum", "≤": "maximum", ">": "exclusiveMinimum",
                   "<": "exclusiveMaximum"}[op]
            kw[key] = value
            numeric.append(item)
        elif m := _RANGE.match(rest):
            kw["minimum"], kw["maximum"] = _number(m.group(1)), _number(m.group(2))
            numeric.append(item)
        elif m := _DECIMALS.match(rest):
            digits = int(m.group(1))
            kw["multipleOf"] = 1 if digits == 0 else float(f"1e-{digits}")
            numeric.append(item)
        elif m := _LENGTH.match(rest):
            kw["maxLength"] = int(m.group(1))
            textual.append(item)
        elif m := _DIGITS.match(rest):
            lo, hi = m.group(1), m.group(2)
            count = f"{{{lo}}}" if hi is None else f"{{{lo},{hi}}}"
            kw["pattern"] = f"^[0-9]{count}$"
            n = lo if hi is None else f"{lo}–{hi}"
            kw["x-messages"] = {"pattern": {lang_: t("design_digits_message", lang_, n=n) for lang_ in ("zh", "en")}}
            textual.append(item)
        else:
            raise _Bad(t("design_reason_item", lang, item=item))
    if choices is not None:
        if marker.kind not in (None, "string"):
            raise _Bad(t("design_reason_enum_type", lang, kind=marker.kind))
        marker.kind = "string"
        kw["enum"] = choices
    if numeric and marker.kind is None:
        marker.kind = "number"
    if numeric and marker.kind not in ("number", "integer"):
        raise _Bad(t("design_reason_number_rule", lang, item=numeric[0], kind=marker.kind))
    if textual and marker.kind not in (None, "string"):
        raise _Bad(t("design_reason_text_rule", lang, item=textual[0], kind=marker.kind))
    if textual:
        marker.kind = "string"
    if marker.kind is not None:
        kw = {**_KIND_KEYWORDS[marker.kind](), **kw}
    marker.keywords = kw


def _month_range() -> dict[str, Any]:
    return {"type": "string", "format": "month-range", "pattern": MONTH_RANGE_PATTERN, "x-ordered-range": "~",
            "x-messages": {"pattern": {lang: t("design_month_range_message", lang) for lang in ("zh", "en")}}}


_KIND_KEYWORDS = {
    "string": lambda: {"type": "string"}, "number": lambda: {"type": "number"},
    "integer": lambda: {"type": "integer"}, "date": lambda: {"type": "string", "format": "date"},
    "month-range": _month_range, "boolean": lambda: {"type": "boolean"},
}



# ----------------------------------------------------------------------------------------- reading

@dataclass
class _Cell:
    """One cell (or merged range) of a drawn sheet."""

    sheet: str
    row: int
    col: int
    rowspan: int
    colspan: int
    kind: str  # text | marker | formula | blank
    look: dict[str, Any]
    text: str | None = None  # label text, marker text or formula
    marker: Marker | None = None

    @property
    def ref(self) -> str:
        ref = a1(self.row, self.col)
        if self.rowspan > 1 or self.colspan > 1:
            ref += ":" + a1(self.row + self.rowspan - 1, self.col + self.colspan - 1)
        return ref

    @property
    def is_label(self) -> bool:
        """A label that can title a field (numbers and 序号 like （一） cannot)."""
        return self.kind == "text" and bool(self.text) and not _NUMERIC_LABEL.match(self.text or "")


@dataclass
class _Sheet:
    name: str
    cells: dict[tuple[int, int], _Cell]  # by top-left
    owner: dict[tuple[int, int], tuple[int, int]]  # every covered position -> its cell's top-left
    widths: list[float | int]
    heights: dict[str, float]
    setup: dict[str, Any]

    def at(self, row: int, col: int) -> _Cell | None:
        pos = self.owner.get((row, col))
        return self.cells.get(pos) if pos else None


class _Reader:
    """The drawn workbook: cells with their looks, widths, heights and page set-up, per sheet."""

    def __init__(self, path: Path, lang: str):
        self.path, self.lang = path, lang
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.title = ""
        self.sheets = self._read()

    def where(self, sheet: str, ref: str) -> str:
        return t("design_at", self.lang, sheet=sheet, cell=ref)

    def _open(self) -> tuple[Any, Any]:
        from ..xlsx.guard import Refused, identify

        lang, name = self.lang, self.path.name
        try:
            data = self.path.read_bytes()
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
        import openpyxl

        try:
            with warnings.catch_warnings():  # "extension not supported" and the like
                warnings.simplefilter("ignore")
                return (openpyxl.load_workbook(io.BytesIO(data)),
                        openpyxl.load_workbook(io.BytesIO(data), read_only=True))
        except Exception as exc:  # openpyxl fails in many ways on damaged files
            raise DesignError([t("design_unreadable", lang, file=name, detail=f"{type(exc).__name__}: {exc}")]) \
                from exc

    def _read(self) -> list[_Sheet]:
        wb, ro = self._open()
        self.theme = _theme_colors(wb.loaded_theme)
        self.default_font = wb._fonts[0] if wb._fonts else None
        self.title = str(wb.properties.title or "").strip()
        self.sheet_names = list(wb.sheetnames)
        sheets = []
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                if ws.title != META_SHEET:  # our own metadata sheet, in a template drawn over
                    self.notes.append(t("design_note_hidden_sheet", self.lang, sheet=ws.title))
                continue
            if ws.title == META_SHEET:
                self.problems.append((ws.title, -1, -1, t("design_meta_sheet", self.lang, sheet=ws.title)))
                continue
            sheets.append(self._sheet(ws, ro[ws.title]))
        for chart in wb.chartsheets:
            self.notes.append(t("design_note_hidden_sheet", self.lang, sheet=chart.title))
        ro.close()
        return sheets

    def _sheet(self, ws: Any, rs: Any) -> _Sheet:
        lang, name = self.lang, ws.title
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
        for (r, c), cell in raw.items():
            top = owner.get((r, c))
            if top is not None and top != (r, c):
                if isinstance(cell.value, str) and is_marker(cell.value):
                    rs_, cs = spans[top]
                    rng = f"{a1(*top)}:{a1(top[0] + rs_ - 1, top[1] + cs - 1)}"
                    self.problems.append((name, r, c, t("design_hidden_merged", lang, where=self.where(name, a1(r, c)),
                                                        marker=cell.value.strip(), range=rng)))
                continue
            if cell.value is not None or cell.has_style:  # a styled empty cell is drawn too
                owner[(r, c)] = (r, c)
                spans.setdefault((r, c), (1, 1))
        hidden_rows = {r - 1 for r, d in ws.row_dimensions.items() if d.hidden}
        hidden_cols = {c for d in ws.column_dimensions.values() if d.hidden and d.min
                       for c in range(d.min - 1, min(d.max or d.min, 16384))}
        cells: dict[tuple[int, int], _Cell] = {}
        for (r, c), (rs_, cs) in sorted(spans.items()):
            cell = self._cell(name, raw, r, c, rs_, cs)
            cells[(r, c)] = cell
            if cell.kind == "marker" and (set(range(r, r + rs_)) <= hidden_rows
                                          or set(range(c, c + cs)) <= hidden_cols):
                self.problems.append((name, r, c, t("design_hidden_marker", lang, where=self.where(name, cell.ref),
                                                    marker=cell.text)))
        if hidden_rows or hidden_cols:
            self.notes.append(t("design_note_hidden_rows", lang, sheet=name))
        nrows = max((c.row + c.rowspan for c in cells.values()), default=1)
        ncols = max((c.col + c.colspan for c in cells.values()), default=1)
        setup = self._setup(ws)
        if "area" in setup:
            from .excel import parse_range

            r, c, rs_, cs = parse_range(setup["area"], name)
            nrows, ncols = max(nrows, r + rs_), max(ncols, c + cs)
        self._dropped(ws)
        return _Sheet(name, cells, owner, _widths(ws, ncols), _heights(ws, nrows), setup)

    def _cell(self, sheet: str, raw: dict[tuple[int, int], Any], r: int, c: int, rowspan: int,
              colspan: int) -> _Cell:
        src = raw.get((r, c))
        look = self._look(src, raw, r, c, rowspan, colspan)
        value = src.value if src is not None else None
        out = _Cell(sheet, r, c, rowspan, colspan, "blank", look)
        where = self.where(sheet, out.ref)
        if src is not None and src.data_type == "f":
            formula = value if isinstance(value, str) else getattr(value, "text", None)
            if not isinstance(value, str):
                self.notes.append(t("design_note_array_formula", self.lang, where=where))
            formula = str(formula or "")
            if not formula.startswith("="):
                formula = "=" + formula
            if _INSIDE.search(formula):
                self.problems.append((sheet, r, c, t("design_formula_marked", self.lang, where=where, formula=formula)))
            out.kind, out.text = "formula", formula
        elif isinstance(value, str) and is_marker(value):
            out.kind, out.text = "marker", value.strip()
            try:
                out.marker = parse_marker(value, self.lang)
            except _Bad as exc:
                self.problems.append((sheet, r, c, t("design_bad_marker", self.lang, where=where,
                                                     marker=value.strip(), reason=str(exc))))
        elif isinstance(value, str):
            if _INSIDE.search(value.replace("｛", "{").replace("｝", "}")) and "{" in value:
                self.problems.append((sheet, r, c, t("design_partial_marker", self.lang, where=where,
                                                     text=value.strip())))
            if value.strip():
                out.kind, out.text = "text", value
        elif value is not None:  # a number, date or truth value drawn as a fixed label
            out.kind, out.text = "text", _as_text(value)
            if not isinstance(value, bool) and "horizontal" not in look.get("align", {}):
                look.setdefault("align", {})["horizontal"] = "right"  # where the client showed it
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
            out["size"] = _number(str(font.sz))
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
        from openpyxl.styles.fills import PatternFill

        fill = cell.fill
        if not isinstance(fill, PatternFill):
            self.notes.append(t("design_note_gradient", self.lang, where=self.where(cell.parent.title,
                                                                                     cell.coordinate)))
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
    def _setup(self, ws: Any) -> dict[str, Any]:
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
                from xml.sax.saxutils import unescape

                text = unescape(str(item))
                if "&G" in text:
                    self.notes.append(t("design_note_header_picture", self.lang, sheet=ws.title))
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

    def _dropped(self, ws: Any) -> None:
        """Notes for what the template will not carry."""
        lang, name = self.lang, ws.title
        pictures = len(getattr(ws, "_images", [])) + len(getattr(ws, "_charts", []))
        if pictures:
            self.notes.append(t("design_note_images", lang, sheet=name, n=pictures))
        comments = sum(1 for row in ws.iter_rows() for cell in row if getattr(cell, "comment", None))
        if comments:
            self.notes.append(t("design_note_comments", lang, sheet=name, n=comments))
        if ws.data_validations.dataValidation:
            self.notes.append(t("design_note_validations", lang, sheet=name))
        if len(ws.conditional_formatting):
            self.notes.append(t("design_note_conditional", lang, sheet=name))


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _widths(ws: Any, ncols: int) -> list[float | int]:
    """Column widths as typed, drawing the source's pixels (see :func:`look.width_from_stored`)."""
    from ..xlsx.look import width_from_stored

    fmt = ws.sheet_format
    if fmt.defaultColWidth:
        default: float | int = width_from_stored(float(fmt.defaultColWidth))
    elif fmt.baseColWidth and int(fmt.baseColWidth) != 8:  # Excel rounds the default up to 8 pixels
        pixels = -(-(int(fmt.baseColWidth) * 7 + 5) // 8) * 8
        default = width_from_stored(pixels / 7)
    else:
        default = 8.43  # Excel's (and xlsxwriter's) default column
    widths: list[float | int] = [default] * ncols
    for dim in ws.column_dimensions.values():
        if dim.min and dim.width is not None:
            for c in range(dim.min - 1, min(dim.max or dim.min, ncols)):
                widths[c] = width_from_stored(float(dim.width))
    return widths


def _heights(ws: Any, nrows: int) -> dict[str, float]:
    """Row heights (points) of every row that has one; the source's default height where it is not
    the writer's (15 pt), so rows without their own height keep the source's."""
    from ..xlsx.look import height_from_stored

    default = float(ws.sheet_format.defaultRowHeight or 15)
    out = {}
    for r in range(1, nrows + 1):
        dim = ws.row_dimensions.get(r)
        height = dim.ht if dim is not None and dim.ht is not None else (default if default != 15 else None)
        if height is not None:
            out[str(r)] = height_from_stored(float(height))
    return out


_OFFICE_THEME = ["FFFFFF", "000000", "EEECE1", "1F497D", "4F81BD", "C0504D", "9BBB59", "8064A2", "4BACC6",
                 "F79646", "0000FF", "800080"]


def _theme_colors(theme: bytes | None) -> list[str]:
    """The workbook theme's colours in the order cells index them (lt1, dk1, lt2, dk2, accents...)."""
    if not theme:
        return list(_OFFICE_THEME)
    from defusedxml import ElementTree

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
    from openpyxl.styles.colors import COLOR_INDEX

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


# ----------------------------------------------------------------------------------------- fields

@dataclass
class _Column:
    """The marked cells of one field: one cell, or the rows of a table column."""

    marker: Marker
    cells: list[_Cell]
    title: str | None = None  # the field's title (written, else from a label)
    derived: bool = False  # the title comes from a label, not from the marker
    identity: str = ""  # what matches it to a field of an edited schema (title markers)
    pointer: str = ""  # the field's pattern, decided last

    @property
    def first(self) -> _Cell:
        return self.cells[0]

    @property
    def rows(self) -> list[int]:
        return [c.row for c in self.cells]


@dataclass
class _Table:
    columns: list[_Column]
    title: str | None = None  # the name written in the markers ({名称.列}), else a label's
    derived: bool = False
    identity: str = ""  # what matches it to a table of an edited schema (title markers)
    pointer: str = ""

    @property
    def capacity(self) -> int:
        return len(self.columns[0].cells)

    @property
    def first(self) -> _Cell:
        return self.columns[0].first


def _clean_title(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = ""
    for line in lines:
        sep = " " if out and out[-1].isascii() and line[0].isascii() and out[-1].isalnum() else ""
        out += sep + line
    return out.strip().lstrip("*＊").rstrip(":：").strip()


def _label_left(sheet: _Sheet, cell: _Cell) -> _Cell | None:
    return _label_along(sheet, cell, ((cell.row, c) for c in range(cell.col - 1, -1, -1)))


def _label_above(sheet: _Sheet, cell: _Cell) -> _Cell | None:
    return _label_along(sheet, cell, ((r, cell.col) for r in range(cell.row - 1, -1, -1)))


def _label_along(sheet: _Sheet, cell: _Cell, places: Iterable[tuple[int, int]]) -> _Cell | None:
    """The first label met walking ``places`` away from ``cell``, passing blanks; None when a
    marker or a formula comes first (the label there belongs to that cell)."""
    for r, c in places:
        other = sheet.at(r, c)
        if other is None or other is cell or other.kind == "blank":
            continue
        if other.kind in ("marker", "formula"):
            return None
        if other.is_label:
            return other
    return None


class _Fields:
    """Markers -> fields and tables, with every problem found on the way."""

    def __init__(self, reader: _Reader):
        self.reader, self.lang = reader, reader.lang
        self.problems: list[Problem] = []
        self.singles: list[_Column] = []
        self.tables: list[_Table] = []
        self.sheet_of = {s.name: s for s in reader.sheets}
        self.order = {s.name: i for i, s in enumerate(reader.sheets)}
        marked = [c for s in reader.sheets for c in s.cells.values() if c.kind == "marker" and c.marker]
        marked.sort(key=self.key)
        self._collect(marked)

    def key(self, cell: _Cell) -> tuple[int, int, int]:
        return self.order[cell.sheet], cell.row, cell.col

    def where(self, cell: _Cell) -> str:
        return self.reader.where(cell.sheet, cell.ref)

    def problem(self, cell: _Cell, text: str) -> None:
        self.problems.append((cell.sheet, cell.row, cell.col, text))

    def _collect(self, marked: list[_Cell]) -> None:
        runs: dict[tuple[Any, ...], list[_Cell]] = {}
        for cell in marked:
            m = cell.marker
            assert m is not None
            if not m.is_list:
                self.singles.append(_Column(m, [cell]))
            elif m.pointer is not None:
                runs.setdefault(("pointer", m.pointer), []).append(cell)
            else:
                runs.setdefault(("title", cell.sheet, cell.col, m.table, m.title), []).append(cell)
        columns: list[_Column] = []
        for cells in runs.values():
            columns += self._columns(cells)
        for column in self.singles:
            self._title(column, left_first=True)
        for column in columns:
            self._title(column, left_first=False)
        self._tables(columns)

    def _columns(self, cells: list[_Cell]) -> list[_Column]:
        """One marked column's cells -> the column (stacked, alike, contiguous), or problems."""
        label = cells[0].marker.pointer or cells[0].marker.title or cells[0].text  # type: ignore[union-attr]
        shapes = {(c.sheet, c.col, c.rowspan, c.colspan) for c in cells}
        if len(shapes) > 1:
            self.problem(cells[0], t("design_not_column", self.lang, field=label,
                                     cells="、".join(self.where(c) for c in cells[:6])))
            return []
        first = cells[0]
        for prev, cell in itertools.pairwise(cells):
            if cell.row != prev.row + prev.rowspan:
                self.problem(cell, t("design_not_contiguous", self.lang, where=self.where(cell), field=label,
                                     after=prev.row + prev.rowspan, missing=prev.row + prev.rowspan + 1))
                return []
        for cell in cells[1:]:
            m = cell.marker
            assert m is not None and first.marker is not None
            if m.says != first.marker.says and (m.required or m.kind or m.keywords):
                self.problem(cell, t("design_row_markers_differ", self.lang, where=self.where(cell), field=label,
                                     first=first.text, other=cell.text))
        return [_Column(first.marker, cells)]  # type: ignore[arg-type]

    def _title(self, column: _Column, left_first: bool) -> None:
        m = column.marker
        if m.title:
            column.title, column.identity = m.title, m.title
            return
        sheet = self.sheet_of[column.first.sheet]
        finders = (_label_left, _label_above) if left_first else (_label_above, _label_left)
        for find in finders:
            label = find(sheet, column.first)
            if label is not None and _clean_title(label.text or ""):
                column.title, column.derived = _clean_title(label.text or ""), True
                column.identity = column.title
                return
        if m.pointer is None:  # a pointer marker needs no title; a title marker does
            self.problem(column.first, t("design_no_title", self.lang, where=self.where(column.first), marker=m.text))

    def _tables(self, columns: list[_Column]) -> None:
        groups: dict[Any, list[_Column]] = {}
        unnamed: list[_Column] = []
        for column in columns:
            m = column.marker
            if m.pointer is not None:
                tokens = split_pointer(m.pointer)
                groups.setdefault(("pointer", join_pointer(tokens[:tokens.index("*")])), []).append(column)
            elif m.table:
                groups.setdefault(("name", m.table), []).append(column)
            else:
                unnamed.append(column)
        # unnamed columns: one table per run of side-by-side columns over the same rows
        unnamed.sort(key=lambda c: (self.order[c.first.sheet], c.first.row, len(c.cells), c.first.col))
        current: list[_Column] = []
        for column in unnamed:
            last = current[-1] if current else None
            if last is not None and last.first.sheet == column.first.sheet and last.rows == column.rows \
                    and column.first.col == last.first.col + last.first.colspan:
                current.append(column)
            else:
                if current:
                    groups[("unnamed", len(groups))] = current
                current = [column]
        if current:
            groups[("unnamed", len(groups))] = current
        for (kind, name), cols in groups.items():
            cols.sort(key=lambda c: self.key(c.first))
            table = _Table(cols)
            label = name if kind != "unnamed" else (cols[0].title or "")
            sheets = {c.first.sheet for c in cols}
            if len(sheets) > 1:
                self.problem(cols[0].first, t("design_table_sheets", self.lang, table=label,
                                              sheets="、".join(sorted(sheets))))
                continue
            for other in cols[1:]:
                if other.rows != cols[0].rows:
                    self.problem(other.first, t("design_rows_differ", self.lang, table=label,
                                                a=cols[0].title or cols[0].marker.text,
                                                b=other.title or other.marker.text, rows_a=self._rows(cols[0]),
                                                rows_b=self._rows(other)))
                    break
            if kind == "name":
                table.title, table.derived = name, False
            else:
                left = _label_left(self.sheet_of[cols[0].first.sheet], cols[0].first)
                if left is not None and _clean_title(left.text or ""):
                    table.title, table.derived = _clean_title(left.text or ""), True
            self.tables.append(table)
        self.tables.sort(key=lambda tb: self.key(tb.columns[0].first))

    def _rows(self, column: _Column) -> str:
        first, last = column.cells[0], column.cells[-1]
        return f"{a1(first.row, first.col)}–{a1(last.row, last.col)}"


# ----------------------------------------------------------------------------------------- schema

def _walk_leaves(schema: dict[str, Any]) -> dict[str, str]:
    """Pattern -> title of every leaf (for reports of removed fields)."""
    try:
        return {leaf.pattern: " · ".join(leaf.titles) or leaf.pattern for leaf in leaves(schema)}
    except SchemaError:
        return {}


class _SchemaBuilder:
    """Fields -> the schema, starting from an edited schema when there is one."""

    def __init__(self, fields: _Fields, edited: dict[str, Any] | None, lang: str, notes: list[str]):
        self.fields, self.lang, self.notes = fields, lang, notes  # problems go to fields.problems
        self.edited = edited
        self.schema: dict[str, Any] = copy.deepcopy(edited) if edited else {
            "$schema": SCHEMA_URI, "title": "", "type": "object", "additionalProperties": False,
            "properties": {}}
        self.touched: set[str] = set()  # patterns of the leaves and arrays markers made or kept
        self.owners: dict[str, _Cell] = {}  # pattern -> the cell that made it (for conflict reports)

    # -- naming -------------------------------------------------------------------------------
    def assign(self) -> None:
        """Decide every field's pattern: pointers as written; titles by the ``x-marker`` of the
        edited schema, else the next ``f<n>`` (fields) / ``t<n>`` (tables)."""
        root = self.schema.get("properties", {})
        explicit = {split_pointer(c.marker.pointer)[0] for c in self.fields.singles if c.marker.pointer}
        explicit |= {split_pointer(tb.columns[0].marker.pointer)[0] for tb in self.fields.tables
                     if tb.columns[0].marker.pointer}
        used = set(root) | explicit
        counters = {"f": _max_number(self.schema, "f"), "t": _max_number(self.schema, "t")}

        def fresh(prefix: str, also: set[str] | None = None) -> str:
            while True:
                counters[prefix] += 1
                name = f"{prefix}{counters[prefix]}"
                if name not in used and name not in (also or set()):
                    used.add(name)
                    return name

        def marked(array: bool) -> dict[str, str]:
            return {sub["x-marker"]: key for key, sub in root.items() if isinstance(sub, dict)
                    and sub.get("x-marker") and (sub.get("type") == "array") == array and key not in explicit}

        leaf_keys, table_keys = marked(False), marked(True)
        seen: dict[tuple[str, ...], _Cell] = {}

        def claim(key: tuple[str, ...], cell: _Cell) -> bool:
            if key in seen:
                self.fields.problem(cell, t("design_duplicate", self.lang, field=key[-1],
                                            first=self.fields.where(seen[key]), second=self.fields.where(cell)))
                return False
            seen[key] = cell
            return True

        units: list[Any] = sorted([*self.fields.singles, *self.fields.tables], key=lambda u: self.fields.key(u.first))
        for unit in units:  # in reading order, so f1, f2, ... run down the form
            if isinstance(unit, _Column):
                m = unit.marker
                if m.pointer:
                    if claim(("pointer", m.pointer), unit.first):
                        unit.pointer = m.pointer
                elif unit.identity and claim(("title", unit.identity), unit.first):
                    unit.pointer = "/" + (leaf_keys.pop(unit.identity, None) or fresh("f"))
                continue
            table = unit
            first = table.columns[0].marker
            if first.pointer:
                tokens = split_pointer(first.pointer)
                table.pointer = join_pointer(tokens[:tokens.index("*")])
                for column in table.columns:
                    if claim(("pointer", column.marker.pointer or ""), column.first):
                        column.pointer = column.marker.pointer or ""
                continue
            table.identity = table.title or "|".join(c.identity for c in table.columns)
            if not claim(("table", table.identity), table.columns[0].first):
                continue
            key = table_keys.pop(table.identity, None)
            table.pointer = "/" + (key or fresh("t"))
            existing = root.get(key, {}).get("items", {}).get("properties", {}) if key else {}
            item_keys = {sub["x-marker"]: k for k, sub in existing.items() if isinstance(sub, dict) and
                         sub.get("x-marker")}
            taken = set(existing)
            for column in table.columns:
                if column.identity and claim(("item", table.pointer, column.identity), column.first):
                    item = item_keys.pop(column.identity, None) or fresh("f", taken)
                    taken.add(item)
                    column.pointer = f"{table.pointer}/*/{item}"

    # -- building -----------------------------------------------------------------------------
    def build(self, form_id: str, version: str, title: str) -> dict[str, Any]:
        schema = self.schema
        schema.setdefault("$schema", SCHEMA_URI)
        schema["type"] = "object"
        schema.setdefault("additionalProperties", False)
        if not schema.get("title"):
            schema["title"] = title
        xform = schema.setdefault("x-form", {})
        xform["id"], xform["version"] = form_id, version
        for column in self.fields.singles:
            if column.pointer:
                self._leaf(column)
        for number, table in enumerate(self.fields.tables, start=1):
            if not table.pointer:
                continue
            node = self._array(table, number)
            if node is None:
                continue
            for column in table.columns:
                if column.pointer:
                    self._leaf(column)
        self._remove_untouched()
        self._required_sections(schema)
        return schema

    def _node(self, tokens: list[str], cell: _Cell, kind: str) -> dict[str, Any] | None:
        """The node at ``tokens`` (``*`` steps into a table's items), made on the way: objects for
        plain steps, an array before a ``*``; ``kind`` (leaf or array) is what the last must be."""
        node = self.schema
        for i, token in enumerate(tokens):
            if token == "*":
                node = node.setdefault("items", _object())
                continue
            props = node.setdefault("properties", {})
            last = i == len(tokens) - 1
            want = kind if last else ("array" if tokens[i + 1] == "*" else "object")
            sub = props.get(token)
            if sub is None:
                sub = props[token] = _object() if want == "object" else \
                    {"type": "array", "items": _object()} if want == "array" else {}
            elif "$ref" in sub and want != "leaf":  # a shared definition, made this node's own
                sub = props[token] = copy.deepcopy(resolve(sub, self.schema))
            if sub and _shape(resolve(sub, self.schema)) != want:
                self._conflict(tokens[:i + 1], cell)
                return None
            node = sub
        return node

    def _conflict(self, path: list[str], cell: _Cell) -> None:
        pointer = join_pointer(path)
        other = next((c for p, c in self.owners.items() if p.startswith(pointer + "/") or p == pointer), None)
        self.fields.problem(cell, t("design_tree_conflict", self.lang, where=self.fields.where(cell), pointer=pointer,
                                    other=self.fields.where(other) if other else pointer))

    def _array(self, table: _Table, number: int) -> dict[str, Any] | None:
        tokens = split_pointer(table.pointer)
        first = table.columns[0].first
        node = self._node(tokens, first, "array")
        if node is None:
            return None
        self.touched.add(table.pointer)
        self.owners.setdefault(table.pointer, first)
        if table.title and (not table.derived or not node.get("title")):
            self._set(node, table.pointer, "title", table.title, report=not table.derived)
        if table.identity:
            node["x-marker"] = table.identity
        self._set(node, table.pointer, "maxItems", table.capacity)
        if not node.get("title"):
            node["title"] = t("design_table_title", self.lang, n=number)
        return node

    def _leaf(self, column: _Column) -> None:
        tokens = split_pointer(column.pointer)
        node = self._node(tokens, column.first, "leaf")
        if node is None:
            return
        pattern = column.pointer
        if pattern in self.touched:
            return  # reported as a duplicate
        self.touched.add(pattern)
        self.owners[pattern] = column.first
        m = column.marker
        new = not node
        if column.title and (not column.derived or not node.get("title")):
            self._set(node, pattern, "title", column.title, report=not column.derived)
        if m.pointer is None and column.identity:
            node["x-marker"] = column.identity
        if new and m.kind is None:
            node["type"] = "string"
        for key, value in m.keywords.items():
            if key == "x-messages":  # a default message: one the author wrote wins
                node[key] = {**value, **node.get(key, {})}
            else:
                self._set(node, pattern, key, value)
        parent = self._parent(tokens)
        if m.required and parent is not None:
            required = parent.setdefault("required", [])
            if tokens[-1] not in required:
                required.append(tokens[-1])

    def _parent(self, tokens: list[str]) -> dict[str, Any] | None:
        node: Any = self.schema
        for token in tokens[:-1]:
            node = node.get("items") if token == "*" else node.get("properties", {}).get(token)
            if not isinstance(node, dict):
                return None
        return node

    def _set(self, node: dict[str, Any], pattern: str, key: str, value: Any, report: bool = True) -> None:
        old = resolve(node, self.schema).get(key)
        if report and self.edited is not None and old is not None and old != value:
            self.notes.append(t("design_note_overridden", self.lang, pointer=pattern, keyword=key,
                                old=json.dumps(old, ensure_ascii=False), new=json.dumps(value, ensure_ascii=False)))
        node[key] = value

    def _remove_untouched(self) -> None:
        """Leaves (and tables) of the edited schema that no marker made any more: removed, reported."""
        if self.edited is None:
            return
        titles = _walk_leaves(self.edited)
        gone = [p for p in titles if p not in self.touched]
        for pattern in gone:
            self.notes.append(t("design_note_removed", self.lang, pointer=pattern, title=titles[pattern]))
            self._delete(split_pointer(pattern))
        remaining = set(_walk_leaves(self.schema))
        self._drop_rules(self.schema, [], remaining)
        xform = self.schema.get("x-form", {})
        for key in ("department", "roster"):
            spec = xform.get(key)
            if isinstance(spec, dict):
                for sub, value in list(spec.items()):
                    values = value if isinstance(value, list) else [value]
                    kept = [v for v in values if v in remaining]
                    for v in values:
                        if v not in remaining:
                            self.notes.append(t("design_note_rule_removed", self.lang, rule=f"x-form.{key}.{sub}",
                                                pointer=v))
                    if not kept:
                        del spec[sub]
                    else:
                        spec[sub] = kept if isinstance(value, list) else kept[0]

    def _delete(self, tokens: list[str]) -> None:
        """Remove the leaf at ``tokens``, and every section or table it leaves empty."""
        path: list[tuple[dict[str, Any], str]] = []
        node: Any = self.schema
        for token in tokens:
            if token == "*":
                node = node.get("items", {})
                continue
            props = node.get("properties", {})
            if token not in props:
                return
            if "$ref" in props[token] and len(path) < len(tokens) - 1:
                props[token] = copy.deepcopy(resolve(props[token], self.schema))
            path.append((node, token))
            node = props[token]
        for n, (parent, key) in enumerate(reversed(path)):
            sub = parent["properties"][key]
            inner = sub.get("items", {}) if isinstance(sub.get("items"), dict) else sub
            if n and inner.get("properties"):
                break
            del parent["properties"][key]
            if key in parent.get("required", []):
                parent["required"].remove(key)
                if not parent["required"]:
                    del parent["required"]

    def _drop_rules(self, node: dict[str, Any], tokens: list[str], remaining: set[str]) -> None:
        if "x-sum" in node:
            prefix = join_pointer(tokens)
            kept = []
            for rule in node["x-sum"]:
                refs = [rule.get("total", ""), *rule.get("parts", [])]
                missing = [r for r in refs if prefix + r not in remaining]
                for r in missing:
                    self.notes.append(t("design_note_rule_removed", self.lang, rule=rule.get("id", "x-sum"),
                                        pointer=prefix + r))
                if not missing:
                    kept.append(rule)
            if kept:
                node["x-sum"] = kept
            else:
                del node["x-sum"]
        for key, sub in node.get("properties", {}).items():
            if isinstance(sub, dict):
                self._drop_rules(sub, [*tokens, key], remaining)
        if isinstance(node.get("items"), dict):
            self._drop_rules(node["items"], [*tokens, "*"], remaining)

    def _required_sections(self, node: dict[str, Any]) -> bool:
        """Objects holding a required field become required in their parent (so a blank section is
        reported field by field); returns whether ``node`` holds one."""
        holds = bool(node.get("required")) and node.get("type") == "object"
        for key, sub in node.get("properties", {}).items():
            if not isinstance(sub, dict):
                continue
            if sub.get("type") == "object" and self._required_sections(sub):
                required = node.setdefault("required", [])
                if key not in required:
                    required.append(key)
                holds = True
            elif sub.get("type") == "array" and isinstance(sub.get("items"), dict):
                self._required_sections(sub["items"])
        return holds or bool(node.get("required"))


def _object() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}}


def _shape(node: dict[str, Any]) -> str:
    if node.get("type") == "array" or "items" in node:
        return "array"
    if node.get("type") == "object" or "properties" in node:
        return "object"
    return "leaf"


def _max_number(schema: dict[str, Any], prefix: str) -> int:
    """The largest ``f<n>`` / ``t<n>`` key used anywhere in the schema (new ones count on from it)."""
    best = 0

    def walk(node: Any) -> None:
        nonlocal best
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                m = re.fullmatch(rf"{prefix}(\d+)", key)
                if m:
                    best = max(best, int(m.group(1)))
                walk(sub)
            walk(node.get("items"))

    walk(schema)
    return best


# ----------------------------------------------------------------------------------------- layout

class _LayoutBuilder:
    def __init__(self, reader: _Reader, fields: _Fields):
        self.reader, self.fields, self.lang = reader, fields, reader.lang
        self.problems: list[Problem] = []
        self.looks: dict[str, str] = {}  # canonical JSON -> name
        self.look_defs: dict[str, Any] = {}
        # (sheet, row, col) of an input cell -> its concrete pointer; column ranges -> pattern
        self.inputs: dict[tuple[str, int, int], str] = {}
        self.columns: dict[tuple[str, int, int, int, int], str] = {}
        for column in fields.singles:
            if column.pointer:
                self.inputs[(column.first.sheet, column.first.row, column.first.col)] = column.pointer
        for table in fields.tables:
            for column in table.columns:
                if not column.pointer:
                    continue
                for i, cell in enumerate(column.cells):
                    self.inputs[(cell.sheet, cell.row, cell.col)] = column.pointer.replace("*", str(i))
                first, last = column.cells[0], column.cells[-1]
                self.columns[(first.sheet, first.row, first.col, last.row, last.col)] = column.pointer
                self.columns[(first.sheet, first.row, first.col, last.row + last.rowspan - 1,
                              last.col + last.colspan - 1)] = column.pointer

    def look(self, look: dict[str, Any]) -> str:
        key = json.dumps(look, sort_keys=True, ensure_ascii=False)
        if key not in self.looks:
            name = f"s{len(self.looks) + 1}"
            self.looks[key] = name
            self.look_defs[name] = look
        return self.looks[key]

    def build(self) -> dict[str, Any]:
        repeats: dict[tuple[str, int, int], tuple[str, int]] = {}  # first cell -> pattern, capacity
        skip: set[tuple[str, int, int]] = set()
        for table in self.fields.tables:
            for column in table.columns:
                first = column.first
                repeats[(first.sheet, first.row, first.col)] = (column.pointer, len(column.cells))
                skip.update((c.sheet, c.row, c.col) for c in column.cells[1:])
        sheets = []
        for sheet in self.reader.sheets:
            cells = []
            for (r, c), cell in sorted(sheet.cells.items()):
                key = (sheet.name, r, c)
                if key in skip:
                    continue
                spec: dict[str, Any] = {"at": cell.ref}
                if cell.kind == "marker":
                    if key in repeats:
                        spec["field"], spec["repeat"] = repeats[key]
                    else:
                        spec["field"] = self.inputs.get(key, "")
                elif cell.kind == "text":
                    spec["text"] = cell.text
                elif cell.kind == "formula":
                    spec["formula"] = self.formula(sheet.name, cell)
                spec["look"] = self.look(cell.look)
                cells.append(spec)
            sheets.append({"name": sheet.name, "columns": sheet.widths, "heights": sheet.heights,
                           "print": sheet.setup, "cells": cells})
        return {"$comment": "Made by xltemplate design from a marked workbook: every cell at its own range "
                            "(\"at\") with its look; see README \"Layout keywords\".",
                "looks": self.look_defs, "sheets": sheets}

    def formula(self, sheet: str, cell: _Cell) -> str:
        """The cell's formula with references to input cells as ``{/pointer}`` (a whole column of a
        table as ``{/table/*/key}``); other references stay as written, since every cell keeps its
        place."""
        from openpyxl.formula.tokenizer import Tokenizer

        text = cell.text or ""
        try:
            tokens = Tokenizer(text).items
        except Exception:  # a formula the tokenizer cannot split: kept as written
            return text
        names = {s.name for s in self.reader.sheets}
        known = len(self.problems)
        out = []
        for token in tokens:
            value = token.value
            if token.type == "OPERAND" and token.subtype == "RANGE":
                value = self._reference(sheet, cell, value, names, text)
            out.append(value)
        written = "=" + "".join(out)
        from .formula import FUNCTIONS, FormulaError, parse

        try:  # the template's formulas get their cached values from our evaluator: only its subset
            if len(self.problems) == known:  # one problem a formula is enough
                parse(written)
        except FormulaError:
            self.problems.append((sheet, cell.row, cell.col, t(
                "design_formula_subset", self.lang, where=self.reader.where(sheet, cell.ref), formula=text,
                functions="、".join(FUNCTIONS))))
        return written

    def _reference(self, sheet: str, cell: _Cell, ref: str, names: set[str], formula: str) -> str:
        where = self.reader.where(sheet, cell.ref)
        target, _, cells = ref.rpartition("!")
        target_name = target or sheet
        if target.startswith("'"):
            target_name = target[1:-1].replace("''", "'")
        first, _, last = cells.partition(":")
        start = parse_a1(first)
        end = parse_a1(last) if last else start
        if start is None or end is None:
            if re.fullmatch(r"\$?[A-Z]{1,3}:\$?[A-Z]{1,3}|\$?\d+:\$?\d+", cells) and "[" not in target:
                return ref  # whole columns or rows
            self.problems.append((sheet, cell.row, cell.col, t("design_formula_name", self.lang, where=where,
                                                               formula=formula, name=ref)))
            return ref
        if "[" in target or target_name not in names:
            self.problems.append((sheet, cell.row, cell.col, t("design_formula_sheet", self.lang, where=where,
                                                               formula=formula, sheet=target_name)))
            return ref
        if not last:
            pointer = self.inputs.get((target_name, *start))
            return "{" + pointer + "}" if pointer else ref
        pattern = self.columns.get((target_name, *start, *end))
        return "{" + pattern + "}" if pattern else ref


# ----------------------------------------------------------------------------------------- API

@dataclass
class Design:
    """What design made of a workbook: the form's two documents, and the notes for the author."""

    form_id: str
    schema: dict[str, Any]
    layout: dict[str, Any]
    notes: list[str]
    fields: int
    tables: int
    schema_path: Path | None = None  # where :meth:`write` put them
    layout_path: Path | None = None

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """``<id>.schema.json`` and ``<id>.layout.json`` in ``out_dir`` (the layout is found next to
        the schema: :func:`forms.layout_path`)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.schema_path, self.layout_path = out / f"{self.form_id}.schema.json", out / f"{self.form_id}.layout.json"
        self.schema_path.write_text(json.dumps(self.schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.layout_path.write_text(_layout_json(self.layout) + "\n", encoding="utf-8")
        return self.schema_path, self.layout_path


def _layout_json(layout: dict[str, Any]) -> str:
    """The layout with one line per cell and per look: long, but reviewable in a diff."""
    lines = ["{", f' "$comment": {json.dumps(layout["$comment"], ensure_ascii=False)},', ' "looks": {']
    looks = list(layout["looks"].items())
    for i, (name, look) in enumerate(looks):
        comma = "," if i < len(looks) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(look, ensure_ascii=False)}{comma}")
    lines += [" },", ' "sheets": [']
    for i, sheet in enumerate(layout["sheets"]):
        lines.append("  {")
        for key in ("name", "columns", "heights", "print"):
            lines.append(f"   {json.dumps(key)}: {json.dumps(sheet[key], ensure_ascii=False)},")
        lines.append('   "cells": [')
        for j, cell in enumerate(sheet["cells"]):
            comma = "," if j < len(sheet["cells"]) - 1 else ""
            lines.append(f"    {json.dumps(cell, ensure_ascii=False)}{comma}")
        lines.append("   ]")
        lines.append("  }" + ("," if i < len(layout["sheets"]) - 1 else ""))
    lines += [" ]", "}"]
    return "\n".join(lines)


def _form_id(path: Path, form_id: str | None, edited: dict[str, Any] | None, lang: str) -> str:
    if form_id is None and edited:
        form_id = str(edited.get("x-form", {}).get("id") or "") or None
    if form_id is None:
        stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
        if not re.search(r"[a-z]", stem) or not _ID.match(stem):
            raise DesignError([t("design_id_needed", lang, file=path.name)])
        form_id = stem
    if not _ID.match(form_id):
        raise DesignError([t("design_bad_id", lang, id=form_id)])
    return form_id


def design_workbook(path: str | Path, *, form_id: str | None = None, version: str | None = None,
                    schema: str | Path | dict[str, Any] | None = None, lang: str = "zh") -> Design:
    """Read a marked workbook and make the form; :class:`DesignError` lists every problem at once."""
    path = Path(path)
    edited: dict[str, Any] | None = None
    if isinstance(schema, dict):
        edited = schema
    elif schema is not None:
        try:
            edited = json.loads(Path(schema).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DesignError([t("design_schema_unreadable", lang, file=schema, detail=exc)]) from exc
        if not isinstance(edited, dict):
            raise DesignError([t("design_schema_unreadable", lang, file=schema, detail="not an object")])
        from jsonschema import Draft202012Validator

        try:
            Draft202012Validator.check_schema(edited)
        except Exception as exc:  # jsonschema.SchemaError: a long message; its first line says it
            detail = str(getattr(exc, "message", exc)).splitlines()[0]
            raise DesignError([t("design_schema_unreadable", lang, file=schema, detail=detail)]) from exc
    fid = _form_id(path, form_id, edited, lang)
    reader = _Reader(path, lang)
    fields = _Fields(reader)
    if not fields.singles and not fields.tables and not reader.problems + fields.problems:
        raise DesignError([t("design_no_markers", lang, file=path.name)])
    notes = list(reader.notes)
    builder = _SchemaBuilder(fields, edited, lang, notes)
    builder.assign()
    version = version or str((edited or {}).get("x-form", {}).get("version") or "1")
    title = reader.title or _first_label(reader) or fid
    schema_doc = builder.build(fid, version, title)
    layout = _LayoutBuilder(reader, fields)
    layout_doc = layout.build()
    problems = reader.problems + fields.problems + layout.problems
    if problems:  # every one, in reading order
        order = {name: i for i, name in enumerate(reader.sheet_names)}
        texts = [p[3] for p in sorted(problems, key=lambda p: (order.get(p[0], 0), p[1], p[2]))]
        raise DesignError(texts, t("design_problems", lang, file=path.name, n=len(texts)))
    try:  # what generate will do; an edited schema can still disagree (a leaf of a type we cannot fill)
        build_model(schema_doc, layout_doc)
    except (LayoutError, SchemaError) as exc:
        raise DesignError([t("design_schema_unreadable", lang, file=schema or path.name, detail=exc)]) from exc
    count = sum(1 for c in fields.singles if c.pointer) + sum(len(tb.columns) for tb in fields.tables)
    return Design(fid, schema_doc, layout_doc, notes, count, len(fields.tables))


def _first_label(reader: _Reader) -> str:
    for sheet in reader.sheets:
        for cell in sorted(sheet.cells.values(), key=lambda c: (c.row, c.col)):
            if cell.is_label:
                return _clean_title(cell.text or "")
    return ""


__all__ = ["Design", "DesignError", "Marker", "design_workbook", "is_marker", "parse_marker"]
