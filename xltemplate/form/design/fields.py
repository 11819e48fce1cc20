"""Markers -> fields and tables: which marked cells make one field, which columns make one table,
and each one's title (written in the marker, else the nearest label)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...messages import t
from ..excel import a1, parse_a1
from ..schema import join_pointer, split_pointer
from .drawn import Problem
from .markers import Marker
from .sheets import Cell, Reading, Sheet


@dataclass
class Column:
    """The marked cells of one field: one cell, or the rows of a table column."""

    marker: Marker
    cells: list[Cell]
    title: str | None = None  # the field's title (written, else from a label)
    derived: bool = False  # the title comes from a label, not from the marker
    identity: str = ""  # what matches it to a field of an edited schema (title markers)
    pointer: str = ""  # the field's pattern, decided last
    source: Cell | None = None  # the label the title was taken from

    @property
    def first(self) -> Cell:
        return self.cells[0]

    @property
    def rows(self) -> list[int]:
        return [c.row for c in self.cells]


@dataclass
class Table:
    columns: list[Column]
    title: str | None = None  # the name written in the markers ({名称.列}), else a label's
    derived: bool = False
    identity: str = ""  # what matches it to a table of an edited schema (title markers)
    pointer: str = ""
    wanted: int | None = None  # the rows its markers ask for (``共N行``), when more than drawn
    source: Cell | None = None  # the label the title was taken from

    @property
    def capacity(self) -> int:
        return len(self.columns[0].cells)

    @property
    def first(self) -> Cell:
        return self.columns[0].first


def clean_title(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = ""
    for line in lines:
        sep = " " if out and out[-1].isascii() and line[0].isascii() and out[-1].isalnum() else ""
        out += sep + line
    return out.strip().lstrip("*＊").rstrip(":：").strip()


def label_left(sheet: Sheet, cell: Cell) -> Cell | None:
    return label_along(sheet, cell, ((cell.row, c) for c in range(cell.col - 1, -1, -1)))


def label_in_row(sheet: Sheet, cell: Cell) -> Cell | None:
    """The nearest label to the left within the cell's own rows (a section label spanning more rows
    is not the field's own)."""
    label = label_left(sheet, cell)
    if label is None or label.row < cell.row or label.row + label.rowspan > cell.row + cell.rowspan:
        return None
    return label


def label_above(sheet: Sheet, cell: Cell) -> Cell | None:
    return label_along(sheet, cell, ((r, cell.col) for r in range(cell.row - 1, -1, -1)))


def label_along(sheet: Sheet, cell: Cell, places: Iterable[tuple[int, int]]) -> Cell | None:
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


class Fields:
    """Markers -> fields and tables, with every problem found on the way."""

    def __init__(self, reader: Reading):
        self.reader, self.lang = reader, reader.lang
        self.problems: list[Problem] = []
        self.singles: list[Column] = []
        self.tables: list[Table] = []
        self.sheet_of = {s.name: s for s in reader.sheets}
        self.order = {s.name: i for i, s in enumerate(reader.sheets)}
        marked = [c for s in reader.sheets for c in s.cells.values() if c.kind == "marker" and c.marker]
        marked.sort(key=self.key)
        self._collect(marked)

    def key(self, cell: Cell) -> tuple[int, int, int]:
        return self.order[cell.sheet], cell.row, cell.col

    def where(self, cell: Cell) -> str:
        return self.reader.where(cell.sheet, cell.ref)

    def problem(self, cell: Cell, text: str) -> None:
        self.problems.append((cell.sheet, cell.row, cell.col, text))

    def _collect(self, marked: list[Cell]) -> None:
        runs: dict[tuple[Any, ...], list[Cell]] = {}
        for cell in marked:
            m = cell.marker
            assert m is not None
            if not m.is_list:
                self.singles.append(Column(m, [cell]))
            elif m.pointer is not None:
                runs.setdefault(("pointer", m.pointer), []).append(cell)
            else:
                runs.setdefault(("title", cell.sheet, cell.col, m.table, m.title), []).append(cell)
        columns: list[Column] = []
        for cells in runs.values():
            columns += self._columns(cells)
        for column in self.singles:
            self._title(column, left_first=True)
        for column in columns:
            self._title(column, left_first=False)
        self._tables(columns)

    def _columns(self, cells: list[Cell]) -> list[Column]:
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
        return [Column(first.marker, cells)]  # type: ignore[arg-type]

    def _title(self, column: Column, left_first: bool) -> None:
        m = column.marker
        if m.title:
            column.title, column.identity = m.title, m.title
            return
        sheet = self.sheet_of[column.first.sheet]
        # a field: its own row's label, else the one above, else any to the left; a table column: its header
        finders = (label_in_row, label_above, label_left) if left_first else (label_above, label_left)
        for find in finders:
            label = find(sheet, column.first)
            if label is not None and clean_title(label.text or ""):
                column.title, column.derived = clean_title(label.text or ""), True
                column.identity, column.source = column.title, label
                return
        if m.pointer is None:  # a pointer marker needs no title; a title marker does
            self.problem(column.first, t("design_no_title", self.lang, where=self.where(column.first), marker=m.text))

    def _tables(self, columns: list[Column]) -> None:
        groups: dict[Any, list[Column]] = {}
        unnamed: list[Column] = []
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
        current: list[Column] = []
        for column in unnamed:
            last = current[-1] if current else None
            if last is not None and last.first.sheet == column.first.sheet and last.rows == column.rows \
                    and self._beside(last, column):
                current.append(column)
            else:
                if current:
                    groups[("unnamed", len(groups))] = current
                current = [column]
        if current:
            groups[("unnamed", len(groups))] = current
        for (kind, name), cols in groups.items():
            cols.sort(key=lambda c: self.key(c.first))
            table = Table(cols)
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
            stated = sorted({c.marker.rows for c in cols if c.marker.rows})
            if len(stated) > 1:
                self.problem(cols[0].first, t("design_rows_stated_differ", self.lang, table=label,
                                              rows="、".join(map(str, stated))))
            elif stated and stated[0] < table.capacity:
                self.problem(cols[0].first, t("design_rows_fewer", self.lang, where=self.where(cols[0].first),
                                              table=label, n=stated[0], drawn=table.capacity))
            elif stated and stated[0] > table.capacity:
                table.wanted = stated[0]
            if kind == "name":
                table.title, table.derived = name, False
            else:
                left = label_left(self.sheet_of[cols[0].first.sheet], cols[0].first)
                if left is not None and clean_title(left.text or ""):
                    table.title, table.derived, table.source = clean_title(left.text or ""), True, left
            self.tables.append(table)
        self.tables.sort(key=lambda tb: self.key(tb.columns[0].first))

    def _beside(self, left: Column, right: Column) -> bool:
        """Whether ``right`` continues the table of ``left``: next to it, or with only formulas and blanks
        between them in the table's rows (a helper column that looks a code up, between two inputs)."""
        start, end = left.first.col + left.first.colspan, right.first.col
        if end < start:
            return False
        sheet = self.sheet_of[left.first.sheet]
        for cell in left.cells:
            for r in range(cell.row, cell.row + cell.rowspan):
                for c in range(start, end):
                    other = sheet.at(r, c)
                    if other is not None and other.kind not in ("formula", "blank"):
                        return False
        return True

    def choices(self, cell: Cell) -> list[str] | None:
        """The choices of a dropdown the drawn workbook had on ``cell``: a list written out (是,否) or the
        texts of the cells it names (=$K$3:$K$5, on this sheet or another)."""
        sheet = self.sheet_of[cell.sheet]
        for dv in sheet.drawn.validations:
            if dv.type != "list" or not dv.formula1 or not any(
                    r0 <= cell.row <= r1 and c0 <= cell.col <= c1 for r0, c0, r1, c1 in dv.ranges):
                continue
            text = dv.formula1.strip()
            if text.startswith('"') and text.endswith('"'):
                items = [v.strip() for v in text[1:-1].replace('""', '"').split(",")]
            else:
                target, _, ref = text.rpartition("!")
                name = target.strip("'").replace("''", "'") if target else cell.sheet
                source = self.sheet_of.get(name)
                first, _, last = ref.replace("$", "").partition(":")
                start, end = parse_a1(first), parse_a1(last or first)
                if source is None or start is None or end is None:
                    return None
                items = [c.text.strip() for r in range(start[0], end[0] + 1) for c_ in range(start[1], end[1] + 1)
                         if (c := source.at(r, c_)) is not None and c.kind == "text" and c.text and c.text.strip()]
            items = list(dict.fromkeys(v for v in items if v))
            return items or None
        return None

    def _rows(self, column: Column) -> str:
        first, last = column.cells[0], column.cells[-1]
        return f"{a1(first.row, first.col)}–{a1(last.row, last.col)}"
