"""Rows added to a table beyond the ones drawn: ``{.内容:共20行}`` in a table drawn with 5 rows.

The rows are inserted as Excel inserts rows, before the table's last drawn row, so the frame's
closing border stays on the table's last row: everything below moves down, a merged range across
the table (the section label down column A) grows, and every reference to the moved cells, in
formulas, validations, the print area, follows them.  An added row is a copy of a middle row of the
table: its looks, its markers, its formulas (relative rows moved with it, as Excel fills down), its
blanks; a column numbered 1, 2, 3 (序号) is numbered on.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace

from ..excel import a1, parse_a1
from .drawn import Anchor, DrawnBook, DrawnCell, DrawnSheet

#: one end of a reference: a cell, a whole column or a whole row
_END = r"\$?[A-Za-z]{1,3}\$?\d+|\$?[A-Za-z]{1,3}|\$?\d+"
_REF = re.compile(rf"^(?P<sheet>(?:'(?:[^']|'')+'|[^!']+)!)?(?P<a>{_END})(?::(?P<b>{_END}))?$")
_CELL = re.compile(r"^(\$?)([A-Za-z]{1,3})?(\$?)(\d+)?$")


@dataclass(frozen=True)
class Insert:
    """``count`` rows inserted on ``sheet`` before row ``at`` (0-based: the table's last drawn record),
    each record of ``height`` rows a copy of the record at ``like``; the table's rows start at ``first``."""

    sheet: str
    at: int
    count: int
    like: int
    height: int
    first: int


def grow(book: DrawnBook, inserts: list[Insert]) -> DrawnBook:
    """The book with the rows inserted (the lowest last, so each insert's rows are as drawn)."""
    out = copy.deepcopy(book)
    for ins in sorted(inserts, key=lambda i: (i.sheet, -i.at)):
        _insert(out, ins)
    return out


# -- references -----------------------------------------------------------------------------------

def _sheet_name(prefix: str | None, own: str) -> str:
    if not prefix:
        return own
    name = prefix[:-1]
    return name[1:-1].replace("''", "'") if name.startswith("'") else name


def _end_row(end: str) -> int | None:
    m = _CELL.match(end)
    return int(m.group(4)) if m and m.group(4) else None


def _with_row(end: str, row: int) -> str:
    m = _CELL.match(end)
    assert m is not None
    return f"{m.group(1)}{m.group(2) or ''}{m.group(3)}{row}"


def shift_ref(ref: str, own: str, sheet: str, at: int, n: int) -> str:
    """A reference (in a formula on sheet ``own``) after ``n`` rows are inserted before the 0-based
    row ``at`` of ``sheet``: what is below moves down, a range across the insertion grows."""
    m = _REF.match(ref)
    if m is None or _sheet_name(m.group("sheet"), own) != sheet:
        return ref
    first, last = m.group("a"), m.group("b")
    r1 = _end_row(first)
    r2 = _end_row(last) if last else r1
    if r1 is None or r2 is None:
        return ref  # whole columns
    lo, hi = min(r1, r2), max(r1, r2)
    at1 = at + 1  # 1-based
    new_lo = lo + n if lo >= at1 else lo
    new_hi = hi + n if hi >= at1 else hi
    if (new_lo, new_hi) == (lo, hi):
        return ref
    if last is None:
        return (m.group("sheet") or "") + _with_row(first, new_lo)
    a, b = (first, last) if r1 <= r2 else (last, first)
    return f"{m.group('sheet') or ''}{_with_row(a, new_lo)}:{_with_row(b, new_hi)}"


def translate_ref(ref: str, delta: int) -> str:
    """A reference in a formula copied ``delta`` rows down: relative rows move, ``$`` rows stay."""
    m = _REF.match(ref)
    if m is None:
        return ref

    def end(text: str | None) -> str | None:
        if text is None:
            return None
        c = _CELL.match(text)
        if c is None or not c.group(4) or c.group(3):
            return text
        return f"{c.group(1)}{c.group(2) or ''}{int(c.group(4)) + delta}"

    first, last = end(m.group("a")), end(m.group("b"))
    return (m.group("sheet") or "") + (first or "") + (f":{last}" if last else "")


def _formula(parts: tuple[tuple[str, bool], ...], fn: object) -> tuple[tuple[str, bool], ...]:
    return tuple((fn(text) if is_ref else text, is_ref) for text, is_ref in parts)  # type: ignore[operator]


def _shift_cell_formula(cell: DrawnCell, own: str, ins: Insert) -> None:
    if cell.formula_parts is None:
        return
    cell.formula_parts = _formula(cell.formula_parts, lambda r: shift_ref(r, own, ins.sheet, ins.at, ins.count))
    cell.formula = "=" + "".join(text for text, _ in cell.formula_parts)


def _shift_text(text: str | None, own: str, ins: Insert) -> str | None:
    """A validation formula (no leading ``=``) with its references shifted."""
    if not text:
        return text
    return re.sub(r"(?:'(?:[^']|'')+'!|[\w.\u4e00-\u9fff]+!)?\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?",
                  lambda m: shift_ref(m.group(0), own, ins.sheet, ins.at, ins.count), text)


# -- the insertion -------------------------------------------------------------------------------

def _moved(row: int, span: int, ins: Insert) -> tuple[int, int]:
    """(row, rowspan) of a range after the insertion: below moves, across grows."""
    if row >= ins.at:
        return row + ins.count, span
    if row + span - 1 >= ins.at:
        return row, span + ins.count
    return row, span


def _anchor(a: Anchor | None, ins: Insert) -> Anchor | None:
    return None if a is None else replace(a, row=a.row + ins.count) if a.row >= ins.at else a


def _insert(book: DrawnBook, ins: Insert) -> None:
    sheet = next(s for s in book.sheets if s.name == ins.sheet)
    for other in book.sheets:  # every reference to the moved cells follows them
        for cell in other.cells.values():
            _shift_cell_formula(cell, other.name, ins)
        for dv in other.validations:
            dv.formula1 = _shift_text(dv.formula1, other.name, ins)
            dv.formula2 = _shift_text(dv.formula2, other.name, ins)
    cells: dict[tuple[int, int], DrawnCell] = {}
    for cell in sheet.cells.values():
        cell.row, cell.rowspan = _moved(cell.row, cell.rowspan, ins)
        cells[(cell.row, cell.col)] = cell
    like = ins.like if ins.like < ins.at else ins.like + ins.count
    record = [c for c in cells.values() if like <= c.row and c.row + c.rowspan <= like + ins.height]
    for k in range(ins.count // ins.height):
        top = ins.at + k * ins.height
        for src in record:
            cells[(top + src.row - like, src.col)] = _copy(src, top + src.row - like)
    _number_on(cells, ins)
    sheet.cells = dict(sorted(cells.items()))
    _rows(sheet, ins, like)
    for dv in sheet.validations:
        dv.ranges = [(r0 + ins.count if r0 >= ins.at else r0, c0,
                      r1 + ins.count if r1 >= ins.at else r1, c1) for r0, c0, r1, c1 in dv.ranges]
    for picture in sheet.pictures:
        picture.start = _anchor(picture.start, ins) or picture.start
        picture.end = _anchor(picture.end, ins)
    for shape in sheet.shapes:
        shape.start, shape.end = _anchor(shape.start, ins), _anchor(shape.end, ins)
    sheet.covered = [(r + ins.count if r >= ins.at else r, c, text, rng) for r, c, text, rng in sheet.covered]


def _copy(src: DrawnCell, row: int) -> DrawnCell:
    """A cell of the copied record, at ``row``: its look and marker; its formula filled down."""
    out = replace(src, row=row, look=copy.deepcopy(src.look), cached=None)
    if src.formula_parts is not None:
        delta = row - src.row
        out.formula_parts = _formula(src.formula_parts, lambda r: translate_ref(r, delta))
        out.formula = "=" + "".join(text for text, _ in out.formula_parts)
    elif src.value is not None and not (isinstance(src.value, str) and src.value.strip().startswith(("{", "｛"))):
        out.value = None  # a label of one row is not every row's: a blank with its look (序号 are numbered on)
    return out


def _number_on(cells: dict[tuple[int, int], DrawnCell], ins: Insert) -> None:
    """A column numbered 1, 2, 3 down the drawn rows of the table is numbered on through the added rows."""
    last = ins.at + ins.count  # the last drawn record, moved
    for col in {c for _, c in cells}:
        drawn = [cells.get((r, col)) for r in range(ins.first, ins.at, ins.height)] + [cells.get((last, col))]
        values = [c.value for c in drawn if c is not None]
        if len(values) != len(drawn) or not values or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() for v in values):
            continue
        start = int(values[0])
        if [int(v) for v in values] != list(range(start, start + len(values))):
            continue
        for i, r in enumerate(range(ins.first, last + 1, ins.height)):
            cell = cells.get((r, col))
            if cell is not None:
                cell.value = start + i


def _rows(sheet: DrawnSheet, ins: Insert, like: int) -> None:
    """Heights, hidden rows, print area, repeated rows and frozen panes after the insertion."""
    heights = {}
    for key, h in sheet.heights.items():
        r = int(key) - 1
        heights[str((r + ins.count if r >= ins.at else r) + 1)] = h
    for k in range(ins.count):
        h = sheet.heights.get(str(like + (k % ins.height) + 1 - (ins.count if like >= ins.at + ins.count else 0)))
        if h is not None:
            heights[str(ins.at + k + 1)] = h
    sheet.heights = dict(sorted(heights.items(), key=lambda kv: int(kv[0])))
    sheet.hidden_rows = {r + ins.count if r >= ins.at else r for r in sheet.hidden_rows}
    setup = sheet.setup
    if "area" in setup:
        first, _, last = setup["area"].partition(":")
        (r0, c0), (r1, c1) = parse_a1(first) or (0, 0), parse_a1(last or first) or (0, 0)
        r0, span = _moved(r0, r1 - r0 + 1, ins)
        setup["area"] = f"{a1(r0, c0)}:{a1(r0 + span - 1, c1)}"
    if "repeat_rows" in setup:
        lo, hi = (int(n) - 1 for n in setup["repeat_rows"].split(":"))
        lo, span = _moved(lo, hi - lo + 1, ins)
        setup["repeat_rows"] = f"{lo + 1}:{lo + span}"
    if "freeze" in sheet.view:
        r, c = parse_a1(sheet.view["freeze"]) or (0, 0)
        sheet.view["freeze"] = a1(r + ins.count if r > ins.at else r, c)
