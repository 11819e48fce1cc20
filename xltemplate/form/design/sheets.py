"""The drawn sheets read as a form: every cell a label, a marker, a formula or a blank, and every
cell that looks like a marker but cannot be one reported at its cell."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ...messages import t
from ..excel import a1
from ..model import META_SHEET
from .drawn import DrawnBook, DrawnCell, DrawnSheet, Problem
from .markers import CODE_LABEL, INSIDE, NUMERIC_LABEL, BadMarker, Marker, is_marker, parse_marker


@dataclass
class Cell:
    """One cell (or merged range) of a drawn sheet, as the form reads it."""

    sheet: str
    row: int
    col: int
    rowspan: int
    colspan: int
    kind: str  # text | marker | formula | blank
    look: dict[str, Any]
    text: str | None = None  # label text, marker text or formula
    marker: Marker | None = None
    drawn: DrawnCell | None = None

    @property
    def ref(self) -> str:
        ref = a1(self.row, self.col)
        if self.rowspan > 1 or self.colspan > 1:
            ref += ":" + a1(self.row + self.rowspan - 1, self.col + self.colspan - 1)
        return ref

    @property
    def is_label(self) -> bool:
        """A label that can title a field (numbers, 序号 like （一） and column codes like D1 or 甲 cannot)."""
        return self.kind == "text" and bool(self.text) and not NUMERIC_LABEL.match(self.text or "") \
            and not CODE_LABEL.match(self.text or "")


@dataclass
class Sheet:
    name: str
    cells: dict[tuple[int, int], Cell]  # by top-left
    owner: dict[tuple[int, int], tuple[int, int]]  # every covered position -> its cell's top-left
    drawn: DrawnSheet

    def at(self, row: int, col: int) -> Cell | None:
        pos = self.owner.get((row, col))
        return self.cells.get(pos) if pos else None


def where(sheet: str, ref: str, lang: str) -> str:
    """``工作表“申报表” B3``: where a problem is."""
    return t("design_at", lang, sheet=sheet, cell=ref)


class Reading:
    """The drawn workbook read as a form: its sheets' cells classified, with the problems and the
    notes found on the way."""

    def __init__(self, book: DrawnBook, lang: str):
        self.book, self.lang = book, lang
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.title = book.title
        self.sheet_names = book.sheet_names
        for name in book.hidden_sheets:
            if name != META_SHEET:  # our own metadata sheet, in a template drawn over
                self.notes.append(t("design_note_chart_sheet", lang, sheet=name))
        for name in book.reserved_sheets:
            self.problems.append((name, -1, -1, t("design_meta_sheet", lang, sheet=name)))
        self.sheets = [self._sheet(s) for s in book.sheets]

    def where(self, sheet: str, ref: str) -> str:
        return where(sheet, ref, self.lang)

    def _sheet(self, drawn: DrawnSheet) -> Sheet:
        lang, name = self.lang, drawn.name
        for r, c, value, rng in drawn.covered:
            if is_marker(value):
                self.problems.append((name, r, c, t("design_hidden_merged", lang, where=self.where(name, a1(r, c)),
                                                    marker=value.strip(), range=rng)))
        owner: dict[tuple[int, int], tuple[int, int]] = {}
        cells: dict[tuple[int, int], Cell] = {}
        for (r, c), src in sorted(drawn.cells.items()):
            for rr in range(r, r + src.rowspan):
                for cc in range(c, c + src.colspan):
                    owner[(rr, cc)] = (r, c)
            cell = self._cell(name, src)
            cells[(r, c)] = cell
            if cell.kind == "marker" and (drawn.hidden or set(range(r, r + src.rowspan)) <= drawn.hidden_rows
                                          or set(range(c, c + src.colspan)) <= drawn.hidden_cols):
                self.problems.append((name, r, c, t("design_hidden_marker", lang, where=self.where(name, cell.ref),
                                                    marker=cell.text)))
        for ref in drawn.gradients:
            self.notes.append(t("design_note_gradient", lang, where=self.where(name, ref)))
        if drawn.header_picture:
            self.notes.append(t("design_note_header_picture", lang, sheet=name))
        for shape in drawn.shapes:
            span = a1(shape.start.row, shape.start.col) if shape.start else ""
            if shape.start and shape.end and (shape.end.row, shape.end.col) != (shape.start.row, shape.start.col):
                span += ":" + a1(shape.end.row, shape.end.col)
            text = f"“{shape.text[:30]}{'…' if len(shape.text) > 30 else ''}”" if shape.text else ""
            self.notes.append(t("design_note_shape", lang, where=self.where(name, span),
                                what=t(f"design_shape_{shape.kind}", lang), text=text))
        if drawn.comments:
            self.notes.append(t("design_note_comments", lang, sheet=name, n=drawn.comments))
        if drawn.conditional:
            self.notes.append(t("design_note_conditional", lang, sheet=name))
        return Sheet(name, cells, owner, drawn)

    def _cell(self, sheet: str, src: DrawnCell) -> Cell:
        r, c = src.row, src.col
        look = dict(src.look)
        value = src.value
        out = Cell(sheet, r, c, src.rowspan, src.colspan, "blank", look, drawn=src)
        where_ = self.where(sheet, out.ref)
        if src.formula is not None:
            if src.array_formula:
                self.notes.append(t("design_note_array_formula", self.lang, where=where_))
            formula = src.formula
            if INSIDE.search(formula):
                self.problems.append((sheet, r, c, t("design_formula_marked", self.lang, where=where_,
                                                     formula=formula)))
            out.kind, out.text = "formula", formula
        elif isinstance(value, str) and is_marker(value):
            out.kind, out.text = "marker", value.strip()
            try:
                out.marker = parse_marker(value, self.lang)
            except BadMarker as exc:
                self.problems.append((sheet, r, c, t("design_bad_marker", self.lang, where=where_,
                                                     marker=value.strip(), reason=str(exc))))
        elif isinstance(value, str):
            mistake = _looks_like_marker(value)
            if mistake:
                self.problems.append((sheet, r, c, t(mistake, self.lang, where=where_, text=value.strip())))
            if value.strip():
                out.kind, out.text = "text", value
        elif value is not None:  # a number, date or truth value drawn as a fixed label
            out.kind, out.text = "text", as_text(value)
            if not isinstance(value, bool) and "horizontal" not in look.get("align", {}):
                align = dict(look.get("align", {}))
                align["horizontal"] = "right"  # where the client showed it
                look["align"] = align
        return out


_OPEN, _CLOSE = "{｛", "}｝"


def _looks_like_marker(text: str) -> str | None:
    """The mistake a text that is not a marker makes when it looks like one (the message key), else None:
    a brace opened and never closed, a closing brace never opened, a marker inside other text."""
    s = text.strip()
    if not s:
        return None
    folded = s.replace("｛", "{").replace("｝", "}")
    if s[0] in _OPEN and not any(ch in _CLOSE for ch in s):
        return "design_unclosed_marker"
    if s[-1] in _CLOSE and not any(ch in _OPEN for ch in s):
        return "design_stray_brace"
    if "{" in folded and INSIDE.search(folded):
        return "design_partial_marker"
    return None


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
