"""The drawn sheets -> the form's layout: every cell at its own range (``at``) with its look, the
columns, rows and page set-up as drawn, formulas with their references to input cells as
``{/pointer}`` (a whole marked column as ``{/table/*/key}``)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from ...messages import t
from ..excel import a1, col_index, col_letter, parse_a1
from ..formula import FormulaError, parse
from .drawn import Anchor, DrawnPicture, DrawnValidation, Problem
from .fields import Fields
from .sheets import Cell, Reading, Sheet


class LayoutBuilder:
    def __init__(self, reader: Reading, fields: Fields):
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
        repeats: dict[tuple[str, int, int], Any] = {}  # first cell -> its table column
        skip: set[tuple[str, int, int]] = set()
        for table in self.fields.tables:
            for column in table.columns:
                first = column.first
                repeats[(first.sheet, first.row, first.col)] = column
                skip.update((c.sheet, c.row, c.col) for c in column.cells[1:])
        formulas = self.formulas()
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
                        column = repeats[key]
                        spec["field"], spec["repeat"] = column.pointer, len(column.cells)
                    else:
                        spec["field"] = self.inputs.get(key, "")
                elif cell.kind == "text":
                    spec["text"] = cell.text
                elif cell.kind == "formula":
                    written, keep, cached = formulas[key]
                    spec["formula"] = cell.text if keep else written  # kept: as drawn, every cell keeps its place
                    if keep:
                        spec["keep"] = True
                        if cached is not None:
                            spec["value"] = cached
                spec["look"] = self.look(cell.look)
                if key in repeats:  # each drawn row keeps its own look: the frame's closing border, a gap
                    looks = [self.look(c.look) for c in repeats[key].cells]
                    if len(set(looks)) > 1:
                        spec["looks"] = looks
                cells.append(spec)
            sheets.append(self.sheet(sheet, cells))
        return {"$comment": "Made by xltemplate design from a marked workbook: every cell at its own range "
                            "(\"at\") with its look; see README \"Layout keywords\".",
                "font": self.reader.book.font, "looks": self.look_defs, "sheets": sheets}

    def sheet(self, sheet: Sheet, cells: list[dict[str, Any]]) -> dict[str, Any]:
        """A sheet of the layout: its columns (as the file stores them), rows and page set-up, then
        what the sheet shows and carries besides its cells, each only when the workbook has it."""
        drawn = sheet.drawn
        out: dict[str, Any] = {"name": sheet.name, "columns": drawn.widths, "heights": drawn.heights,
                               "print": drawn.setup}
        for key in ("default_width", "base_width", "default_height"):
            if getattr(drawn, key) is not None:
                out[key] = getattr(drawn, key)
        if drawn.hidden:
            out["hidden"] = True
        out.update(drawn.view)
        if drawn.hidden_rows:
            out["hidden_rows"] = sorted(r + 1 for r in drawn.hidden_rows)
        if drawn.hidden_cols:
            out["hidden_columns"] = _column_runs(drawn.hidden_cols)
        if drawn.pictures:
            out["pictures"] = [_picture(p) for p in drawn.pictures]
        holes = [(c.row, c.col, c.row + c.rowspan - 1, c.col + c.colspan - 1) for c in sheet.cells.values()
                 if c.kind == "marker"]
        kept = [v for v in (_validation(dv, holes) for dv in drawn.validations) if v is not None]
        if kept:
            out["validations"] = kept
        out["cells"] = cells
        return out

    # -- formulas ---------------------------------------------------------------------------------
    def formulas(self) -> dict[tuple[str, int, int], tuple[str, bool, Any]]:
        """Every formula cell -> (its text with references to input cells as ``{/pointer}``, whether it
        is kept as written, its cached value when kept).

        A formula outside the subset the form evaluates (VLOOKUP, LEN, TEXT, TODAY, ...) is kept as
        written, and so is one that reads a kept one: the form computes the cached values of its own
        formulas only.  A kept formula carries the value it had when the workbook was saved, unless it
        reads an input cell (directly or through other formulas): the workbook was saved with markers
        there, so its value then says nothing; it is left empty, and the client computes it."""
        out: dict[tuple[str, int, int], tuple[str, bool, Any]] = {}
        reads: dict[tuple[str, int, int], list[tuple[str, int, int, int, int]]] = {}
        kept: set[tuple[str, int, int]] = set()
        for sheet in self.reader.sheets:
            for (r, c), cell in sheet.cells.items():
                if cell.kind != "formula":
                    continue
                key = (sheet.name, r, c)
                written, areas = self.formula(sheet.name, cell)
                reads[key] = areas
                try:
                    parse(written)
                except FormulaError:
                    kept.add(key)
                out[key] = (written, False, None)
        marked = {(c.sheet, c.row, c.col) for s in self.reader.sheets for c in s.cells.values() if c.kind == "marker"}

        def covered(key: tuple[str, int, int], targets: set[tuple[str, int, int]]) -> bool:
            return any(t[0] == s and r0 <= t[1] <= r1 and c0 <= t[2] <= c1 for s, r0, c0, r1, c1 in reads[key]
                       for t in targets)

        changed = True
        while changed:  # what reads a kept formula is kept too
            changed = False
            for key in reads:
                if key not in kept and covered(key, kept):
                    kept.add(key)
                    changed = True
        inputs = set(marked)
        changed = True
        while changed:  # formulas that read an input cell, directly or through others
            changed = False
            for key in reads:
                if key not in inputs and covered(key, inputs):
                    inputs.add(key)
                    changed = True
        cells = {(s.name, r, c): cell for s in self.reader.sheets for (r, c), cell in s.cells.items()}
        for key in kept:
            drawn = cells[key].drawn
            cached = None if key in inputs or drawn is None else drawn.cached
            out[key] = (out[key][0], True, cached)
        return out

    def formula(self, sheet: str, cell: Cell) -> tuple[str, list[tuple[str, int, int, int, int]]]:
        """The cell's formula with references to input cells as ``{/pointer}`` (a whole column of a
        table as ``{/table/*/key}``), and the areas it reads (sheet, first row, first column, last row,
        last column); other references stay as written, since every cell keeps its place."""
        text = cell.text or ""
        parts = cell.drawn.formula_parts if cell.drawn is not None else None
        if parts is None:  # a formula the tokenizer cannot split: kept as written
            return text, []
        names = {s.name for s in self.reader.sheets}
        out, areas = [], []
        for value, is_ref in parts:
            if is_ref:
                area = _area(value, sheet)
                if area is not None:
                    areas.append(area)
            out.append(self._reference(sheet, cell, value, names, text) if is_ref else value)
        return "=" + "".join(out), areas

    def _reference(self, sheet: str, cell: Cell, ref: str, names: set[str], formula: str) -> str:
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


def _picture(p: DrawnPicture) -> dict[str, Any]:
    """A picture as the layout's ``pictures`` says it: its anchors in EMU, its image in base64."""
    def anchor(a: Anchor) -> dict[str, Any]:
        return {"cell": a1(a.row, a.col), "dx": a.dx, "dy": a.dy}

    out: dict[str, Any] = {"from": anchor(p.start)}
    if p.end is not None:
        out["to"] = anchor(p.end)
    out.update(size=list(p.size), position=p.position, format=p.format)
    if p.name:
        out["name"] = p.name
    if p.description:
        out["description"] = p.description
    out["image"] = base64.b64encode(p.image).decode("ascii")
    return out


Rect = tuple[int, int, int, int]  # first row, first col, last row, last col


def _subtract(rect: Rect, holes: list[Rect]) -> list[Rect]:
    """``rect`` without the ``holes``, as rectangles."""
    parts = [rect]
    for h in holes:
        out = []
        for r0, c0, r1, c1 in parts:
            if h[0] > r1 or h[2] < r0 or h[1] > c1 or h[3] < c0:
                out.append((r0, c0, r1, c1))
                continue
            if r0 < h[0]:
                out.append((r0, c0, h[0] - 1, c1))
            if h[2] < r1:
                out.append((h[2] + 1, c0, r1, c1))
            top, bottom = max(r0, h[0]), min(r1, h[2])
            if c0 < h[1]:
                out.append((top, c0, bottom, h[1] - 1))
            if h[3] < c1:
                out.append((top, h[3] + 1, bottom, c1))
        parts = out
    return parts


def _validation(dv: DrawnValidation, holes: list[Rect]) -> dict[str, Any] | None:
    """A validation of the drawn sheet, kept where no input cell takes its place (an input's own rule
    replaces it there); None when inputs cover all of it."""
    ranges = [part for rect in dv.ranges for part in _subtract(rect, holes)]
    if not ranges:
        return None
    out: dict[str, Any] = {"ranges": [a1(r0, c0) if (r0, c0) == (r1, c1) else f"{a1(r0, c0)}:{a1(r1, c1)}"
                                      for r0, c0, r1, c1 in ranges], "type": dv.type, "operator": dv.operator}
    for key in ("formula1", "formula2"):
        if getattr(dv, key) is not None:
            out[key] = getattr(dv, key)
    defaults = DrawnValidation([], "")
    for key in ("allow_blank", "dropdown", "prompt_title", "prompt", "error_title", "error", "error_style",
                "show_prompt", "show_error"):
        if getattr(dv, key) != getattr(defaults, key):
            out[key] = getattr(dv, key)
    return out


def _column_runs(cols: set[int]) -> list[str]:
    """Columns as runs: ``["E", "I:XFD"]``."""
    out, run = [], []
    for c in sorted(cols):
        if run and c != run[-1] + 1:
            out.append(run)
            run = []
        run.append(c)
    out.append(run)
    return [col_letter(r[0]) if len(r) == 1 else f"{col_letter(r[0])}:{col_letter(r[-1])}" for r in out if r]


def _area(ref: str, sheet: str) -> tuple[str, int, int, int, int] | None:
    """The cells a reference covers: (sheet, first row, first column, last row, last column)."""
    target, _, cells = ref.rpartition("!")
    name = target[1:-1].replace("''", "'") if target.startswith("'") else (target or sheet)
    first, _, last = cells.replace("$", "").partition(":")
    last = last or first
    start, end = parse_a1(first), parse_a1(last)
    if start is not None and end is not None:
        return name, min(start[0], end[0]), min(start[1], end[1]), max(start[0], end[0]), max(start[1], end[1])
    if first.isdigit() and last.isdigit():  # whole rows
        return name, int(first) - 1, 0, int(last) - 1, 16383
    if re.fullmatch(r"[A-Za-z]{1,3}", first) and re.fullmatch(r"[A-Za-z]{1,3}", last):  # whole columns
        return name, 0, col_index(first), 1048575, col_index(last)
    return None


def layout_json(layout: dict[str, Any]) -> str:
    """The layout with one line per cell and per look: long, but reviewable in a diff."""
    lines = ["{", f' "$comment": {json.dumps(layout["$comment"], ensure_ascii=False)},']
    if "font" in layout:
        lines.append(f' "font": {json.dumps(layout["font"], ensure_ascii=False)},')
    lines.append(' "looks": {')
    looks = list(layout["looks"].items())
    for i, (name, look) in enumerate(looks):
        comma = "," if i < len(looks) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(look, ensure_ascii=False)}{comma}")
    lines += [" },", ' "sheets": [']
    for i, sheet in enumerate(layout["sheets"]):
        lines.append("  {")
        for key, value in sheet.items():
            if key != "cells":
                lines.append(f"   {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
        lines.append('   "cells": [')
        for j, cell in enumerate(sheet["cells"]):
            comma = "," if j < len(sheet["cells"]) - 1 else ""
            lines.append(f"    {json.dumps(cell, ensure_ascii=False)}{comma}")
        lines.append("   ]")
        lines.append("  }" + ("," if i < len(layout["sheets"]) - 1 else ""))
    lines += [" ]", "}"]
    return "\n".join(lines)
