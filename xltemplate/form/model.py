"""The form model: the one structure generation and import share.

Built from a schema and a placed layout, it knows for every field its pointer, its schema,
its Chinese label, its sheet and cell, and the workbook-level defined name that carries it;
for every repeating area its capacity; and how to turn ``{/pointer}`` references in formulas
into cell references.  The writer and the reader both take positions from here only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .excel import a1, quote_sheet
from .formula import CellRef, Expr, cell_refs, excel, on_sheet, parse, refs
from .layout import LayoutError, Placed, SheetLayout, layout_styles, place
from .plan import ReadPlan
from .schema import (
    Leaf,
    SchemaError,
    canonical_hash,
    check_warning_rules,
    field_kind,
    keyword_values,
    leaves,
    node_at,
    split_pointer,
)
from .sums import SumRule

NAME_PREFIX = "xt_"
#: The very hidden sheet every workbook we write carries its metadata in (:mod:`xltemplate.xlsx.meta`);
#: no form's sheet may take the name.
META_SHEET = "_xltemplate"
#: a ``{/pointer}`` reference in a kept formula (text in double quotes is passed over)
_KEPT_REF = re.compile(r'"(?:[^"]|"")*"|\{(/[^{}]*)\}')
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    """One input cell: where a leaf of one (array) instance lives."""

    pointer: str  # concrete JSON pointer, e.g. /budget_items/0/amount
    pattern: str  # with ``*``: /budget_items/*/amount
    schema: dict[str, Any] = field(repr=False, compare=False, hash=False)
    kind: str = "string"
    label: str = ""
    required: bool = False
    sheet: str = ""
    row: int = 0
    col: int = 0
    rowspan: int = 1
    colspan: int = 1
    name: str = ""
    array: str | None = None
    index: int | None = None

    @property
    def cell(self) -> str:
        return a1(self.row, self.col)

    @property
    def ref(self) -> str:
        """The whole (merged) range, ``C5`` or ``C5:D5``."""
        if self.rowspan == 1 and self.colspan == 1:
            return self.cell
        return f"{self.cell}:{a1(self.row + self.rowspan - 1, self.col + self.colspan - 1)}"


@dataclass
class ArrayArea:
    """A repeating area: ``capacity`` rows (slots) of the same item fields."""

    pointer: str
    capacity: int
    slots: list[list[Field]]
    name: str
    sheet: str
    label: str = ""


@dataclass
class FormModel:
    id: str
    version: str
    title: str
    schema: dict[str, Any]
    layout: dict[str, Any]
    hash: str  # structure hash: sheets and the cell of every field
    schema_hash: str
    sheets: list[SheetLayout]
    fields: list[Field]
    arrays: dict[str, ArrayArea]
    rules: list[SumRule]  # the root's x-sum rules: the ones a check cell can show
    auto_layout: bool = False
    #: the parsed formula of every formula cell, by (sheet, row, col)
    formulas: dict[tuple[str, int, int], Expr] = field(default_factory=dict)
    #: style name -> format properties (built-in and the layout's own)
    styles: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per sheet, the placed cell at each anchor (top-left) position: what an A1 reference reads
    grid: dict[str, dict[tuple[int, int], Placed]] = field(default_factory=dict)
    by_pointer: dict[str, Field] = field(default_factory=dict)
    by_pattern: dict[str, list[Field]] = field(default_factory=dict)
    path: str | None = None  # the schema file it was loaded from (earlier versions are looked up beside it)
    #: what the modules working on this form compile of it once (validators, the scaffold of its
    #: sections): kept with the model and freed with it, never in a table of their own
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self.by_pointer[f.pointer] = f
            self.by_pattern.setdefault(f.pattern, []).append(f)

    @cached_property
    def read_plan(self) -> ReadPlan:
        """What reading a return of this form needs (:mod:`.plan`), worked out on first use."""
        return ReadPlan.of(self)

    # -- references ------------------------------------------------------------------
    def ref(self, pointer: str, from_sheet: str | None = None) -> str:
        """Absolute reference for ``{pointer}`` in a formula: a cell, or the range of a ``*`` column."""
        fields = self.by_pattern.get(pointer) if "*" in pointer else [self.by_pointer.get(pointer)]
        if not fields or fields[0] is None:
            raise LayoutError(f"formula refers to {pointer!r}, which has no input cell")
        first, last = fields[0], fields[-1]
        ref = a1(first.row, first.col, True)
        if last is not first:
            ref += ":" + a1(last.row, last.col, True)
        if from_sheet != first.sheet:
            ref = f"{quote_sheet(first.sheet)}!{ref}"
        return ref

    def formula(self, expr: Expr, sheet: str) -> str:
        """The formula text of an expression written on ``sheet``."""
        return excel(expr, lambda pointer: self.ref(pointer, sheet))

    def kept_formula(self, sheet: str, cell: Placed) -> str:
        """A formula kept as written (``"keep": true``: not evaluated), its ``{/pointer}`` references
        resolved to cells."""
        return _KEPT_REF.sub(lambda m: self.ref(m.group(1), sheet) if m.group(1) else m.group(0), cell.formula or "")

    def cells_at(self, ref: CellRef) -> list[Placed | None]:
        """The placed cells an A1 reference covers, row by row (None where nothing is placed, and
        for the covered parts of a merged block, which clients leave empty)."""
        sheet = next(s for s in self.sheets if s.name == ref.sheet)
        rows = ref.rows or (0, sheet.nrows - 1)
        cols = ref.cols or (0, len(sheet.widths) - 1)
        grid = self.grid[sheet.name]
        return [grid.get((r, c)) for r in range(rows[0], rows[1] + 1) for c in range(cols[0], cols[1] + 1)]

    def rule(self, rule_id: str) -> SumRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise LayoutError(f"check cell names rule {rule_id!r}, which the schema's x-sum does not declare")

    def check_formula(self, rule_id: str, sheet: str, lang: str = "zh") -> str:
        """Live formula for an ``x-sum`` rule (:meth:`SumRule.check`): blank while undecided, then ✔ or ✘."""
        return self.formula(self.rule(rule_id).check_text(lang), sheet)

    # -- lookups ---------------------------------------------------------------------
    def field_for(self, pointer: str) -> Field | None:
        """The field at ``pointer``, or the first field inside it (for errors on objects/arrays)."""
        if pointer in self.by_pointer:
            return self.by_pointer[pointer]
        prefix = pointer.rstrip("/") + "/"
        for f in self.fields:
            if f.pointer.startswith(prefix) or not pointer:
                return f
        return None

    def input_cells(self) -> dict[str, set[tuple[int, int]]]:
        """Every cell (merged ranges expanded) that is an input, per sheet."""
        out: dict[str, set[tuple[int, int]]] = {}
        for f in self.fields:
            cells = out.setdefault(f.sheet, set())
            for r in range(f.row, f.row + f.rowspan):
                for c in range(f.col, f.col + f.colspan):
                    cells.add((r, c))
        return out


def defined_name(pointer: str) -> str:
    tokens = split_pointer(pointer)
    name = NAME_PREFIX + "_".join(tokens)
    if not _NAME_OK.match(name) or len(name) > 250:
        name = NAME_PREFIX + "f_" + canonical_hash(pointer)
    return name


def _label(leaf: Leaf, index: int | None) -> str:
    titles = list(leaf.titles)
    if index is not None and leaf.array_depth:
        titles[leaf.array_depth - 1] += f" 第{index + 1}行"
    return " · ".join(titles) if titles else leaf.pattern


def build_model(schema: dict[str, Any], layout: dict[str, Any], *, auto: bool = False) -> FormModel:
    """Place ``layout`` and bind each input cell to its schema leaf; refuse any mismatch."""
    form = schema.get("x-form", {})
    form_id = str(form.get("id") or "form")
    version = str(form.get("version") or "1")
    sheets = place(layout)
    names = [s.name for s in sheets]
    if META_SHEET in names or len(set(names)) != len(names):
        raise LayoutError(f"sheet names must be unique and not {META_SHEET!r}")
    by_pattern = {leaf.pattern: leaf for leaf in leaves(schema)}
    fields: list[Field] = []
    seen: dict[str, Placed] = {}
    for sheet in sheets:
        for cell in sheet.cells:
            if cell.kind == "text" and cell.pattern and cell.text is None:
                try:
                    cell.text = str(node_at(schema, cell.pattern).get("title", cell.pattern))
                except (KeyError, TypeError) as exc:
                    raise LayoutError(f"label cell refers to {cell.pattern!r}, which the schema lacks") from exc
            if cell.kind != "input":
                continue
            assert cell.field and cell.pattern
            leaf = by_pattern.get(cell.pattern)
            if leaf is None:
                raise LayoutError(f"sheet {sheet.name!r}: input {cell.pattern!r} is not a field of the schema")
            if cell.field in seen:
                raise LayoutError(f"field {cell.field!r} has two input cells")
            seen[cell.field] = cell
            index = int(split_pointer(cell.field)[split_pointer(cell.pattern).index("*")]) \
                if "*" in cell.pattern else None
            fields.append(Field(
                pointer=cell.field, pattern=cell.pattern, schema=leaf.schema, kind=field_kind(leaf.schema),
                label=_label(leaf, index), required=leaf.required, sheet=sheet.name, row=cell.row,
                col=cell.col, rowspan=cell.rowspan, colspan=cell.colspan, name=defined_name(cell.field),
                array=leaf.array, index=index))
    missing = [p for p in by_pattern if not any(f.pattern == p for f in fields)]
    if missing:
        raise LayoutError("the layout has no input cell for: " + ", ".join(missing))
    arrays: dict[str, ArrayArea] = {}
    for f in fields:
        if f.array is None or f.index is None:
            continue
        if f.array not in arrays:
            leaf = by_pattern[f.pattern]
            arrays[f.array] = ArrayArea(f.array, 0, [], defined_name(f.array), f.sheet,
                                        " · ".join(leaf.titles[:leaf.array_depth]) or f.array)
        area = arrays[f.array]
        while len(area.slots) <= f.index:
            area.slots.append([])
        area.slots[f.index].append(f)
    for area in arrays.values():
        area.capacity = len(area.slots)
        patterns = {f.pattern for f in area.slots[0]}
        if any({f.pattern for f in slot} != patterns for slot in area.slots):
            raise LayoutError(f"repeating area {area.pointer!r}: every row needs the same fields")
    all_names = [f.name for f in fields] + [a.name for a in arrays.values()]
    if len(set(n.lower() for n in all_names)) != len(all_names):
        raise LayoutError("two fields map to the same defined name; rename a property")
    # The structure hash covers what decides where a value is read from: sheets and field cells.
    # Prompts, messages and rules may be corrected without invalidating templates already sent out.
    structure = [form_id, version, [s.name for s in sheets], [(f.pointer, f.sheet, f.row, f.col) for f in fields]]
    # every x-sum of the schema, wherever it sits, is a well-formed rule (else the load fails, naming it)
    for where, value in keyword_values(schema, "x-sum"):
        if not isinstance(value, list):
            raise SchemaError(f"{where}: x-sum must be a list of rules")
        for rule in value:
            SumRule.of(rule, where)
    check_warning_rules(schema)  # and every x-warnings a list of well-formed rules, where they may stand
    model = FormModel(
        id=form_id, version=version, title=str(schema.get("title", form_id)), schema=schema,
        layout=layout, hash=canonical_hash(structure), schema_hash=canonical_hash(schema), sheets=sheets,
        fields=fields, arrays=arrays, rules=[SumRule.of(r) for r in schema.get("x-sum", [])], auto_layout=auto,
        styles=layout_styles(layout))
    model.grid = {sheet.name: {(c.row, c.col): c for c in sheet.cells} for sheet in sheets}
    for sheet in sheets:  # parse and resolve every formula now: a bad one fails at load, not at write
        for cell in sheet.cells:
            if cell.kind == "formula" and cell.keep:
                model.kept_formula(sheet.name, cell)  # its pointers have cells, else this fails naming them
            elif cell.kind == "formula":
                expr = on_sheet(parse(cell.formula or ""), sheet.name)
                for pointer in refs(expr):
                    model.ref(pointer, sheet.name)
                for ref in cell_refs(expr):
                    if ref.sheet not in model.grid:
                        raise LayoutError(f"formula {cell.formula!r} refers to sheet {ref.sheet!r}, "
                                          f"which the layout does not have")
                model.formulas[(sheet.name, cell.row, cell.col)] = expr
            elif cell.kind == "check":
                model.check_formula(cell.rule or "", sheet.name)
    _refuse_reading_kept(model)
    _refuse_cycles(model)
    return model


def _refuse_reading_kept(model: FormModel) -> None:
    """An evaluated formula gets its cached value from the formulas it reads: one that reads a formula
    kept as written (not evaluated) is refused at load, naming both."""
    for (sheet, row, col), expr in model.formulas.items():
        for ref in cell_refs(expr):
            for cell in model.cells_at(ref):
                if cell is not None and cell.kind == "formula" and cell.keep:
                    raise LayoutError(f"formula at {sheet}!{a1(row, col)} reads {ref.source}, whose formula "
                                      f"{cell.formula!r} is kept as written and not evaluated; keep this one as "
                                      f"written too (\"keep\": true)")


def _refuse_cycles(model: FormModel) -> None:
    """A formula that (through others) refers to its own cell has no value: refused at load."""
    def needs(key: tuple[str, int, int]) -> list[tuple[str, int, int]]:
        out = []
        for ref in cell_refs(model.formulas[key]):
            for cell in model.cells_at(ref):
                if cell is not None and cell.kind == "formula":
                    out.append((ref.sheet or "", cell.row, cell.col))
        return out

    state: dict[tuple[str, int, int], int] = {}  # 1: being followed, 2: done

    def visit(key: tuple[str, int, int], path: list[str]) -> None:
        if state.get(key) == 2:
            return
        where = f"{key[0]}!{a1(key[1], key[2])}"
        if state.get(key) == 1:
            raise LayoutError("circular formula references: " + " -> ".join([*path, where]))
        state[key] = 1
        for nxt in needs(key):
            visit(nxt, [*path, where])
        state[key] = 2

    for key in model.formulas:
        visit(key, [])


def describe(model: FormModel, *, placed: bool = False) -> str:
    """A text picture of the placed layout, one line per cell: reviewed as a snapshot in tests,
    so a change to the official form's look shows up in a diff.

    ``placed`` draws only what is placed, so that a hand-written layout and one made by
    ``xltemplate design`` compare: no style or look names, and check cells as the formulas they
    write."""
    lines = [f"form {model.id} version {model.version}"]
    for sheet in model.sheets:
        widths = " ".join("-" if w is None else f"{w:g}" for w in sheet.widths)
        lines.append(f"\n== {sheet.name} | columns {widths} | {'landscape' if sheet.landscape else 'portrait'}")
        for cell in sorted(sheet.cells, key=lambda c: (c.row, c.col)):
            ref = a1(cell.row, cell.col)
            if cell.rowspan > 1 or cell.colspan > 1:
                ref += ":" + a1(cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1)
            height = sheet.heights.get(cell.row)
            h = f" h={height:g}" if height and cell.col == min(c.col for c in sheet.cells if c.row == cell.row) \
                else ""
            if cell.kind == "input":
                f = model.by_pointer[cell.field or ""]
                body = f"input   {f.pointer} <{f.kind}> {f.name}"
            elif cell.kind == "text":
                body = "text    " + repr(cell.text)
            elif cell.kind == "formula" and cell.keep:
                body = "formula " + model.kept_formula(sheet.name, cell) + " (kept)"
            elif cell.kind == "formula":
                body = "formula " + model.formula(model.formulas[(sheet.name, cell.row, cell.col)], sheet.name)
            elif cell.kind == "check":
                body = "formula " + model.check_formula(cell.rule or "", sheet.name) if placed \
                    else f"check   {cell.rule}"
            else:
                body = "blank"
            lines.append(f"{ref:<8} {body}{'' if placed else f' [{cell.style}]'}{h}")
    return "\n".join(lines) + "\n"
