"""Layout as data: where each label, input and formula sits on the sheets.

A layout document (``templates/<form>.layout.json``) lists sheets; a sheet lists *rows*,
placed like an HTML table: every cell goes to the next free column of its row, and
``rowspan``/``colspan`` reserve the cells below and to the right.  Three kinds of row item:

* ``{"cells": [...], "height": 20}``: one row;
* ``{"label": CELL, "rows": [...]}``: a *group*; the label takes the first free column and
  spans every row the group produces (the section labels down column A of the official form);
* ``{"repeat": N, "cells": [...]}``: N rows of a repeating area; ``*`` in a field pointer is the
  row index, and a cell with ``"rowspan": "all"`` is written once, spanning the N rows.

A cell is one of ``{"text": "..."}`` (fixed label), ``{"title": "/pointer"}`` (the schema title of
a field), ``{"field": "/pointer"}`` (an input cell), ``{"formula": "=SUM({/items/*/amount})"}``
(pointers in braces become cell references), ``{"check": "rule-id"}`` (a live formula for an
``x-sum`` rule) or ``{}`` (an empty bordered cell).  Any cell may carry ``colspan``, ``rowspan``,
``style`` and ``height``.  A schema with no layout gets :func:`auto_layout`.

*Explicit positions* (what ``xltemplate design`` writes from a drawn workbook): a sheet with
``"cells"`` instead of ``"rows"`` places every cell at its own A1 range, ``{"at": "B15:C15",
"field": "/items/*/name", "repeat": 8}`` (``repeat`` stacks the range N times downwards, ``*``
being the index), and gives its row heights as ``"heights": {"15": 22}`` (1-based rows).  In
either mode a cell may name a ``look`` from the document's ``"looks"`` (its whole look: font,
fill, borders, alignment, number format; see :mod:`xltemplate.xlsx.look`) instead of a built-in
``style``, and a sheet may carry ``"print"`` (its page set-up) instead of the form's defaults.

A style is one of :data:`STYLES` or one the layout declares in ``"styles": {name: format}``
(format properties over the base look; the bundled form's cover styles live in its layout); a cell
naming any other style (and no look) is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..messages import t
from .errors import LayoutError
from .excel import col_range, parse_range
from .looks import VIEW_KEYS, check_font, check_look, check_print, check_sheet
from .schema import Leaf, leaves, resolve, text
from .sums import SumRule

#: the built-in styles: xlsxwriter format properties over the base look (宋体 10, thin borders,
#: centred, wrapped); a layout adds its own under "styles"
STYLES: dict[str, dict[str, Any]] = {
    "title": {"font_size": 16, "bold": True, "border": 0},
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


def layout_styles(layout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The styles a layout may use: the built-in ones and its own."""
    own = layout.get("styles", {})
    if not isinstance(own, dict) or not all(isinstance(v, dict) for v in own.values()):
        raise LayoutError('"styles" must map style names to format properties')
    return {**STYLES, **own}


@dataclass
class Placed:
    """One cell (or merged block) of a sheet after placement; rows and columns are 0-based."""

    row: int
    col: int
    rowspan: int
    colspan: int
    kind: str  # text | input | formula | check | blank
    style: str
    text: str | None = None
    field: str | None = None  # concrete pointer for inputs
    pattern: str | None = None  # pointer with ``*`` for inputs in repeats
    formula: str | None = None  # formula template, braces unresolved
    rule: str | None = None
    look: dict[str, Any] | None = None  # the cell's whole look (a layout ``looks`` entry), if it names one
    keep: bool = False  # a formula kept as written: not evaluated (``"keep": true``)
    value: Any = None  # a kept formula's cached value (``"value"``)


@dataclass
class SheetLayout:
    name: str
    widths: list[float | None]  # None: the sheet's default width
    heights: dict[int, float] = field(default_factory=dict)
    cells: list[Placed] = field(default_factory=list)
    landscape: bool = False
    nrows: int = 0
    setup: dict[str, Any] | None = None  # the sheet's ``print`` set-up; None: the form's defaults
    #: widths as the file stores them (the layout names the workbook's ``font``), not as typed
    stored_widths: bool = False
    default_width: float | None = None  # ``default_width``: of the columns the layout does not list
    default_height: float | None = None  # ``default_height``: of the rows ``heights`` does not list
    base_width: int | None = None  # ``base_width``: the default width in characters, when not Excel's 8
    view: dict[str, Any] = field(default_factory=dict)  # ``freeze``, ``zoom``, ``tab_color``, ``view``
    hidden_rows: set[int] = field(default_factory=set)  # 0-based
    hidden_cols: set[int] = field(default_factory=set)  # 0-based
    pictures: list[dict[str, Any]] = field(default_factory=list)  # ``pictures``, as the layout gives them
    validations: list[dict[str, Any]] = field(default_factory=list)  # ``validations``, as the layout gives them
    hidden: bool = False  # ``"hidden": true``: a hidden sheet (lists a formula looks up)


def load_layout(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read layout: {exc}") from exc


def _count_rows(item: dict[str, Any]) -> int:
    if "repeat" in item:
        return int(item["repeat"])
    if "rows" in item:
        return sum(_count_rows(sub) for sub in item["rows"])
    return 1


class _Placer:
    def __init__(self, sheet: SheetLayout, looks: dict[str, Any] | None = None) -> None:
        self.sheet = sheet
        self.taken: set[tuple[int, int]] = set()
        self.ncols = len(sheet.widths)
        self.looks = looks or {}

    def free_col(self, row: int, start: int = 0) -> int:
        col = start
        while (row, col) in self.taken:
            col += 1
        return col

    def put(self, row: int, col: int, spec: dict[str, Any], rowspan: int, index: int | None,
            colspan: int | None = None, look: str | None = None) -> Placed:
        colspan = int(spec.get("colspan", 1)) if colspan is None else colspan
        if col + colspan > self.ncols:
            raise LayoutError(
                f"sheet {self.sheet.name!r} row {row + 1}: cell {spec} overflows the {self.ncols} columns")
        for r in range(row, row + rowspan):
            for c in range(col, col + colspan):
                if (r, c) in self.taken:
                    raise LayoutError(f"sheet {self.sheet.name!r}: cell {spec} overlaps another at row {r + 1}")
                self.taken.add((r, c))
        placed = _make_cell(spec, row, col, rowspan, colspan, index)
        if look is not None or "look" in spec:
            name = look if look is not None else spec["look"]
            if name not in self.looks:
                raise LayoutError(f"sheet {self.sheet.name!r}: cell {spec} names look {name!r}, "
                                  f"which the layout's \"looks\" does not define")
            placed.look, placed.style = self.looks[name], str(name)
        self.sheet.cells.append(placed)
        return placed

    def at(self, cells: list[dict[str, Any]]) -> int:
        """Explicit positions: each cell at its ``at`` range, ``repeat`` times downwards."""
        end = 0
        for spec in cells:
            row, col, rowspan, colspan = parse_range(str(spec.get("at", "")), self.sheet.name)
            repeat = int(spec.get("repeat", 1))
            looks = spec.get("looks")
            if looks is not None and (not isinstance(looks, list) or len(looks) != repeat):
                raise LayoutError(f"sheet {self.sheet.name!r}: cell {spec.get('at')!r}: \"looks\" must name one look "
                                  f"per row of the repeat ({repeat})")
            for i in range(repeat):
                self.put(row + i * rowspan, col, spec, rowspan, i if "repeat" in spec else None, colspan,
                         str(looks[i]) if looks is not None else None)
            end = max(end, row + repeat * rowspan)
        return end

    def row(self, r: int, cells: list[dict[str, Any]], index: int | None, repeat: int) -> None:
        col = 0
        for spec in cells:
            span = spec.get("rowspan", 1)
            if span == "all":
                if index:  # written once, on the first row of the repeat
                    continue
                span = repeat
            col = self.free_col(r, col)
            self.put(r, col, spec, int(span), index)
            col += int(spec.get("colspan", 1))

    def items(self, items: list[dict[str, Any]], r: int) -> int:
        for item in items:
            if "rows" in item:
                n = _count_rows(item)
                if "label" in item:
                    self.put(r, self.free_col(r), item["label"], n, None)
                self.items(item["rows"], r)
                r += n
            elif "repeat" in item:
                n = int(item["repeat"])
                for i in range(n):
                    self.row(r + i, item["cells"], i, n)
                    if "height" in item:
                        self.sheet.heights[r + i] = float(item["height"])
                r += n
            else:
                self.row(r, item["cells"], None, 1)
                if "height" in item:
                    self.sheet.heights[r] = float(item["height"])
                r += 1
        return r


def _make_cell(spec: dict[str, Any], row: int, col: int, rowspan: int, colspan: int,
               index: int | None) -> Placed:
    style = spec.get("style")
    if "field" in spec:
        pattern = spec["field"]
        pointer = pattern.replace("*", str(index)) if index is not None else pattern
        if "*" in pointer:
            raise LayoutError(f"field {pattern!r} has '*' outside a repeat")
        return Placed(row, col, rowspan, colspan, "input", style or "input", field=pointer, pattern=pattern)
    if "formula" in spec:
        return Placed(row, col, rowspan, colspan, "formula", style or "formula", formula=spec["formula"],
                      keep=bool(spec.get("keep")), value=spec.get("value"))
    if "check" in spec:
        return Placed(row, col, rowspan, colspan, "check", style or "check", rule=spec["check"])
    if "text" in spec or "title" in spec:
        return Placed(row, col, rowspan, colspan, "text", style or "label",
                      text=spec.get("text"), pattern=spec.get("title"))
    return Placed(row, col, rowspan, colspan, "blank", style or "blank")


def place(layout: dict[str, Any]) -> list[SheetLayout]:
    """Place every sheet of a layout document."""
    sheets = []
    looks = layout.get("looks", {})
    if looks:
        for name, look in looks.items():
            check_look(name, look)
    styles = layout_styles(layout)
    if "font" in layout:
        check_font(layout["font"])
    for spec in layout.get("sheets", []):
        setup = spec.get("print")
        if setup is not None:
            check_print(spec["name"], setup)
        check_sheet(spec["name"], spec)
        orientation = (setup or spec).get("orientation")
        sheet = SheetLayout(name=spec["name"], widths=[None if w is None else float(w) for w in spec["columns"]],
                            landscape=orientation == "landscape", setup=setup, stored_widths="font" in layout,
                            default_width=spec.get("default_width"), default_height=spec.get("default_height"),
                            base_width=spec.get("base_width"), hidden=bool(spec.get("hidden")),
                            view={k: spec[k] for k in VIEW_KEYS if k in spec},
                            hidden_rows={int(r) - 1 for r in spec.get("hidden_rows", [])},
                            hidden_cols={c for run in spec.get("hidden_columns", []) for c in col_range(run)},
                            pictures=list(spec.get("pictures", [])), validations=list(spec.get("validations", [])))
        placer = _Placer(sheet, looks)
        if "cells" in spec:
            sheet.nrows = placer.at(spec["cells"])
            for row, height in spec.get("heights", {}).items():
                sheet.heights[int(row) - 1] = float(height)
        else:
            sheet.nrows = placer.items(spec["rows"], 0)
        for cell in sheet.cells:
            if cell.look is None and cell.style not in styles:
                raise LayoutError(f"sheet {sheet.name!r} row {cell.row + 1}: style {cell.style!r} is neither built in "
                                  f"({', '.join(STYLES)}) nor declared in the layout's \"styles\"")
        sheets.append(sheet)
    if not sheets:
        raise LayoutError("a layout needs at least one sheet")
    return sheets


def _sheet_title(title: str) -> str:
    bad = '[]:*?/\\'
    name = "".join("_" if ch in bad else ch for ch in title).strip("'") or t("auto_title")
    return name[:31]


def auto_layout(schema: dict[str, Any], capacity: int = 10) -> dict[str, Any]:
    """A plain one-sheet layout for a schema that comes without one.

    Column A carries the top-level section labels, column B the field labels and the rest the
    inputs; an array of objects becomes a table with one column per item field and
    ``maxItems`` rows (``capacity`` when unbounded), headed by its title when it sits inside a
    section; every ``x-sum`` rule gets a check cell.
    """
    all_leaves = list(leaves(schema))
    arrays: dict[str, list[Leaf]] = {}
    for leaf in all_leaves:
        if leaf.array:
            arrays.setdefault(leaf.array, []).append(leaf)
    width = max([3, *(len(v) + 1 for v in arrays.values())])
    rows: list[dict[str, Any]] = [
        {"cells": [{"text": schema.get("title", t("auto_title")), "colspan": width, "style": "title"}], "height": 32}]
    root = resolve(schema, schema)

    def leaf_row(leaf: Leaf, label_cols: int) -> dict[str, Any]:
        long = leaf.schema.get("maxLength", 0) > 100
        row: dict[str, Any] = {"cells": [{"title": leaf.pattern, "colspan": label_cols},
                                         {"field": leaf.pattern, "colspan": width - 2}]}
        if long:
            row["height"] = 60
        return row

    def table(array: str, titled: bool) -> list[dict[str, Any]]:
        items = arrays[array]
        cap = int(items[0].max_items or capacity)
        header = [{"title": lf.pattern} for lf in items]
        body = [{"field": lf.pattern} for lf in items]
        header[-1]["colspan"] = body[-1]["colspan"] = width - len(items)
        heading = [{"cells": [{"title": array, "colspan": width - 1}]}] if titled else []
        return [*heading, {"cells": header}, {"repeat": cap, "cells": body}]

    for key, sub in root.get("properties", {}).items():
        sub = resolve(sub, schema)
        prefix = "/" + key
        mine = [lf for lf in all_leaves if lf.pattern == prefix or lf.pattern.startswith(prefix + "/")]
        title = sub.get("title", key)
        if sub.get("type") == "array" and mine:
            rows.append({"label": {"text": title, "style": "section"}, "rows": table(prefix, False)})
        elif sub.get("type") == "object" and mine:
            section: list[dict[str, Any]] = []
            tables: set[str] = set()
            for lf in mine:  # the section's fields in order, each repeating area inside it as a table
                if lf.array is None:
                    section.append(leaf_row(lf, 1))
                elif lf.array not in tables:
                    tables.add(lf.array)
                    section += table(lf.array, True)
            rows.append({"label": {"text": title, "style": "section"}, "rows": section})
        else:
            rows.extend(leaf_row(lf, 2) for lf in mine)
    rules = [SumRule.of(r) for r in root.get("x-sum", [])]
    if rules:
        rows.append({"label": {"text": t("auto_checks"), "style": "section"},
                     "rows": [{"cells": [{"text": text(r.title or r.id, "zh")},
                                         {"check": r.id, "colspan": width - 2}]}
                              for r in rules]})
    widths = [10.0, 18.0] + [18.0] * (width - 2)
    return {"sheets": [{"name": _sheet_title(schema.get("title", t("auto_title"))), "columns": widths,
                        "rows": rows}]}
