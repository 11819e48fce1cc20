"""The drawn sheets -> the form's layout: every cell at its own range (``at``) with its look, the
columns, rows and page set-up as drawn, formulas with their references to input cells as
``{/pointer}`` (a whole marked column as ``{/table/*/key}``)."""

from __future__ import annotations

import json
import re
from typing import Any

from ...messages import t
from ..excel import parse_a1
from ..formula import FUNCTIONS, FormulaError, parse
from .drawn import Problem
from .fields import Fields
from .sheets import Cell, Reading


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
            drawn = sheet.drawn
            sheets.append({"name": sheet.name, "columns": drawn.widths, "heights": drawn.heights,
                           "print": drawn.setup, "cells": cells})
        return {"$comment": "Made by xltemplate design from a marked workbook: every cell at its own range "
                            "(\"at\") with its look; see README \"Layout keywords\".",
                "looks": self.look_defs, "sheets": sheets}

    def formula(self, sheet: str, cell: Cell) -> str:
        """The cell's formula with references to input cells as ``{/pointer}`` (a whole column of a
        table as ``{/table/*/key}``); other references stay as written, since every cell keeps its
        place."""
        text = cell.text or ""
        parts = cell.drawn.formula_parts if cell.drawn is not None else None
        if parts is None:  # a formula the tokenizer cannot split: kept as written
            return text
        names = {s.name for s in self.reader.sheets}
        known = len(self.problems)
        out = []
        for value, is_ref in parts:
            out.append(self._reference(sheet, cell, value, names, text) if is_ref else value)
        written = "=" + "".join(out)
        try:  # the template's formulas get their cached values from our evaluator: only its subset
            if len(self.problems) == known:  # one problem a formula is enough
                parse(written)
        except FormulaError:
            self.problems.append((sheet, cell.row, cell.col, t(
                "design_formula_subset", self.lang, where=self.reader.where(sheet, cell.ref), formula=text,
                functions="、".join(FUNCTIONS))))
        return written

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


def layout_json(layout: dict[str, Any]) -> str:
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
