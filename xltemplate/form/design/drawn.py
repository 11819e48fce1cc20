"""What was read from a drawn workbook, in the form's own words: the neutral picture that
:mod:`xltemplate.xlsx.drawn` makes of a bureau's ``.xlsx`` and design works on.

Nothing here knows a file format: looks are the layout's look dictionaries
(:mod:`xltemplate.form.looks`), widths and heights are the layout's units, positions are 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A problem found in the workbook: (sheet, row, col, text), so all are listed in reading order.
Problem = tuple[str, int, int, str]


class DesignError(ValueError):
    """The workbook cannot become a form; ``problems`` lists every reason, each at its cell."""

    def __init__(self, problems: list[str], head: str = ""):
        super().__init__("\n".join([head, *problems] if head else problems))
        self.problems = problems
        self.head = head


@dataclass
class DrawnCell:
    """One cell, or a merged range (by its top-left), as drawn: its value and its whole look."""

    row: int
    col: int
    rowspan: int
    colspan: int
    look: dict[str, Any]
    value: Any = None  # text, number, bool, date or datetime; None for an empty cell
    formula: str | None = None  # ``=...`` when the cell holds a formula
    #: the formula split into (text, is a cell or range reference) parts; None when it cannot be split
    formula_parts: tuple[tuple[str, bool], ...] | None = None
    array_formula: bool = False
    cached: Any = None  # the formula's value when the workbook was saved (a date as its serial)


@dataclass
class Anchor:
    """Where a drawing object's corner is: a cell (0-based) and an offset into it, in EMU."""

    row: int
    col: int
    dy: int = 0
    dx: int = 0


@dataclass
class DrawnPicture:
    """A picture on a sheet (a logo, a seal), anchored as drawn."""

    image: bytes
    format: str  # png, jpeg, gif, bmp, emf, wmf
    start: Anchor
    end: Anchor | None  # the opposite corner, for a picture anchored at two cells
    size: tuple[int, int]  # width, height in EMU
    position: str  # twoCell (moves and sizes with cells), oneCell (moves), absolute
    name: str = ""
    description: str = ""


@dataclass
class DrawnShape:
    """A drawing object the template does not carry (a text box, a shape, a chart), for the notes."""

    kind: str  # textbox | shape | chart | group | line | picture
    start: Anchor | None
    end: Anchor | None
    text: str = ""


@dataclass
class DrawnValidation:
    """A data validation of the drawn sheet, in the file's words."""

    ranges: list[tuple[int, int, int, int]]  # (first row, first col, last row, last col), 0-based
    type: str  # whole | decimal | list | date | time | textLength | custom
    operator: str = "between"
    formula1: str | None = None  # as stored: no leading "="
    formula2: str | None = None
    allow_blank: bool = True
    dropdown: bool = True
    prompt_title: str = ""
    prompt: str = ""
    error_title: str = ""
    error: str = ""
    error_style: str = "stop"
    show_prompt: bool = True
    show_error: bool = True


@dataclass
class DrawnSheet:
    """One visible sheet as drawn."""

    name: str
    cells: dict[tuple[int, int], DrawnCell]  # by top-left
    hidden: bool = False  # a hidden sheet (a list of codes a formula looks up): kept hidden
    #: text written into the hidden part of a merged range: (row, col, text, the range)
    covered: list[tuple[int, int, str, str]] = field(default_factory=list)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    view: dict[str, Any] = field(default_factory=dict)  # the layout's freeze, zoom, tab_color, view
    #: column widths as the file stores them (characters of the workbook's font, padding included); None
    #: for a column of the sheet's default width
    widths: list[float | None] = field(default_factory=list)
    heights: dict[str, float] = field(default_factory=dict)  # row heights in points as stored, by 1-based row
    default_width: float | None = None  # the sheet's default column width as stored, if it gives one
    base_width: int | None = None  # the sheet's base column width in characters, if not Excel's 8
    default_height: float | None = None  # the sheet's default row height in points, if not 15
    setup: dict[str, Any] = field(default_factory=dict)  # the layout's ``print``
    # what the template will not carry, for the author's notes
    pictures: list[DrawnPicture] = field(default_factory=list)
    shapes: list[DrawnShape] = field(default_factory=list)  # not carried: listed in the notes
    validations: list[DrawnValidation] = field(default_factory=list)
    comments: int = 0
    conditional: bool = False
    header_picture: bool = False
    gradients: list[str] = field(default_factory=list)  # cells with a gradient fill


@dataclass
class DrawnBook:
    """The workbook: its visible sheets in order, and what the rest of it holds."""

    name: str  # the file's name, for messages
    sheets: list[DrawnSheet]
    font: dict[str, Any]  # the workbook's default font (its Normal style): {"name", "size"}
    sheet_names: list[str]  # every sheet, visible or not, in the workbook's order
    title: str = ""  # the document's title property
    hidden_sheets: list[str] = field(default_factory=list)  # sheets not carried: chart sheets, our metadata
    reserved_sheets: list[str] = field(default_factory=list)  # visible sheets named like our metadata sheet
