"""Excel's own conventions, owned here once: A1 cell references, the date epoch, and what a plain
number looks like as text.

A1 conversions are :mod:`xlsxwriter.utility`'s; this module adds the strictness a reader needs
(a reference that is not one is ``None``, never a guess).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell

from .errors import LayoutError

#: Day 0 of Excel's 1900 date system as it computes (serial 1 is 1900-01-01; the phantom
#: 1900-02-29 makes every later serial count from 1899-12-30).
EXCEL_EPOCH = dt.date(1899, 12, 30)
#: A number as Excel takes it when typed: sign, digits, a point, an exponent (no grouping).
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_A1 = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})")

__all__ = ["EXCEL_EPOCH", "NUMBER", "a1", "col_index", "col_letter", "col_range", "parse_a1", "parse_range",
           "quote_sheet"]


def col_letter(col: int) -> str:
    """0-based column index -> Excel letters (0 -> ``A``)."""
    return xl_col_to_name(col)


def col_index(letters: str) -> int:
    """Excel column letters -> 0-based index (``A`` -> 0); :class:`LayoutError` when they are not."""
    text = str(letters).strip().upper()
    if not re.fullmatch(r"[A-Z]{1,3}", text):
        raise LayoutError(f"{letters!r} is not a column like \"E\"")
    n = 0
    for ch in text:
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_range(text: str) -> range:
    """``E`` or ``I:XFD`` -> the 0-based columns it names."""
    first, _, last = str(text).partition(":")
    return range(col_index(first), col_index(last or first) + 1)


def a1(row: int, col: int, absolute: bool = False) -> str:
    """0-based (row, col) -> ``C5`` (``$C$5`` when ``absolute``)."""
    return xl_rowcol_to_cell(row, col, absolute, absolute)


@lru_cache(maxsize=8192)
def parse_a1(ref: str) -> tuple[int, int] | None:
    """``C5`` / ``$C$5`` / ``c5`` -> 0-based (row, col); None when it is not a cell reference."""
    text = ref.strip().upper()
    if not _A1.fullmatch(text):
        return None
    row, col = xl_cell_to_rowcol(text)
    return (row, col) if row >= 0 else None


def quote_sheet(name: str) -> str:
    """A sheet name as a formula names it: ``'预算 表'``."""
    return "'" + name.replace("'", "''") + "'"


def parse_range(ref: str, sheet: str = "") -> tuple[int, int, int, int]:
    """``B15`` or ``B15:C16`` -> (row, col, rowspan, colspan), 0-based."""
    first, colon, last = ref.partition(":")
    start, end = parse_a1(first), parse_a1(last if colon else first)
    if start is None or end is None or end[0] < start[0] or end[1] < start[1]:
        raise LayoutError(f"sheet {sheet!r}: {ref!r} is not a cell or range like \"B15\" or \"B15:C16\"")
    return start[0], start[1], end[0] - start[0] + 1, end[1] - start[1] + 1
