"""The read plan: what reading a return of one form needs, worked out once per form.

Built from a :class:`~xltemplate.form.model.FormModel` (``model.read_plan``, computed on first
use and then shared by every file of the form) and never changed afterwards.  It holds:

* every field in reading order (the model's order), its index, cell, defined name and coercion;
* the scalar fields with their paths into the instance, and the repeating areas with, per
  template row (slot), the field index and item key of each of its cells;
* the label cells of the layout (by sheet, row and column: the order a sheet is read in), each
  with the model row whose fields carry it along when a client moves rows (its own row, else the
  nearest row with fields above);

Reading one file (:func:`xltemplate.xlsx.reader.read_cells`, then
:func:`xltemplate.collect.importer.extract`) returns its own result objects; nothing per file
is kept here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .coerce import coercer, takes_text
from .excel import a1
from .schema import split_pointer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .model import Field, FormModel

Position = tuple[str, int, int]  # sheet, row, column (0-based)


@dataclass(frozen=True)
class ArrayPlan:
    """A repeating area: its pointer and path, and per template row ``(field index, item key)``;
    ``cells`` gives the raw values of all its fields at once, ``rows`` those of each row (so that
    blank rows, most of a form's, are passed over in one step)."""

    pointer: str
    tokens: tuple[str, ...]
    slots: tuple[tuple[tuple[int, str], ...], ...]
    cells: Callable[[Sequence[Any]], tuple[Any, ...]] = field(repr=False, compare=False, default=tuple)
    rows: tuple[Callable[[Sequence[Any]], tuple[Any, ...]], ...] = field(repr=False, compare=False, default=())

    @classmethod
    def of(cls, pointer: str, slots: tuple[tuple[tuple[int, str], ...], ...]) -> ArrayPlan:
        return cls(pointer, tuple(split_pointer(pointer)), slots, _picker([i for slot in slots for i, _ in slot]),
                   tuple(_picker([i for i, _ in slot]) for slot in slots))


def _picker(indices: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function giving the items at ``indices`` of a sequence, as a tuple (C speed)."""
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    return itemgetter(*indices) if indices else (lambda values: ())


@dataclass(frozen=True)
class LabelCell:
    """A label of the layout: where it is, its text, and the model row that carries it."""

    sheet: str
    row: int
    col: int
    text: str
    squashed: str  # the text without any whitespace: a client may rewrap a label
    anchor: int | None  # model row of the fields it moves with (None: a sheet without fields)
    ref: bytes = b""  # its cell's A1 reference in ASCII, as a sheet's XML writes it


@dataclass(frozen=True)
class ReadPlan:
    """Everything per form that reading a return needs, in the plan's field order (see above)."""

    fields: tuple[Field, ...]
    index: Mapping[str, int]  # field pointer -> index into ``fields``
    home: tuple[Position, ...]  # the model's cell of each field
    order: tuple[int, ...]  # field indices by their cells (sheet, row, column): the order a sheet is read in
    refs: tuple[bytes, ...]  # each field's A1 reference in ASCII, as a sheet's XML writes it
    index_of: Mapping[Position, int]  # field index by its cell
    sheets: tuple[str, ...]  # the sheets that hold fields
    names: tuple[str, ...]  # the defined name of each field
    coercers: tuple[Callable[[Any], Any], ...]  # raw value -> JSON value, per field (coerce.coercer)
    shown: tuple[bool, ...]  # per field: whether it takes the text a clerk saw of a formatted number
    scalars: tuple[tuple[int, tuple[str, ...]], ...]  # fields outside repeating areas, with their paths
    arrays: tuple[ArrayPlan, ...]
    labels: tuple[LabelCell, ...]

    @classmethod
    def of(cls, model: FormModel) -> ReadPlan:
        fields = tuple(model.fields)
        index = {f.pointer: i for i, f in enumerate(fields)}
        in_arrays = {f.pointer for area in model.arrays.values() for slot in area.slots for f in slot}
        scalars = tuple((index[f.pointer], tuple(split_pointer(f.pointer)))
                        for f in fields if f.pointer not in in_arrays)
        arrays = tuple(ArrayPlan.of(pointer, tuple(tuple((index[f.pointer], split_pointer(f.pattern)[-1]) for f in slot)
                                                   for slot in area.slots))
                       for pointer, area in model.arrays.items())
        field_rows = {(f.sheet, f.row) for f in fields}
        labels = []
        for layout in model.sheets:
            rows = sorted(r for s, r in field_rows if s == layout.name)
            for cell in layout.cells:
                if cell.kind == "text" and cell.text:
                    above = [r for r in rows if r <= cell.row] or rows[:1]
                    labels.append(LabelCell(layout.name, cell.row, cell.col, cell.text, "".join(cell.text.split()),
                                            above[-1] if above else None, a1(cell.row, cell.col).encode()))
        home = tuple((f.sheet, f.row, f.col) for f in fields)
        return cls(fields=fields, index=MappingProxyType(index), home=home,
                   index_of=MappingProxyType({cell: i for i, cell in enumerate(home)}),
                   sheets=tuple(dict.fromkeys(f.sheet for f in fields)),
                   order=tuple(sorted(range(len(fields)), key=home.__getitem__)),
                   refs=tuple(a1(f.row, f.col).encode() for f in fields), names=tuple(f.name for f in fields),
                   coercers=tuple(coercer(f) for f in fields), shown=tuple(takes_text(f) for f in fields),
                   scalars=scalars, arrays=arrays,
                   labels=tuple(sorted(labels, key=lambda label: (label.sheet, label.row, label.col))))
