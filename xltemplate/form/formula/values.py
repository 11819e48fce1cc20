"""Excel's values as the form's formulas see them, with LibreOffice's semantics (checked by
``tests/test_rules_libreoffice.py``; Excel recalculates on load, so its own results show there).

Arithmetic is binary floating point; a number joined as text has at most 15 significant digits; an
empty cell is 0 in arithmetic and ``""`` in text; text in arithmetic or as a condition is converted
when it is a plain number or ``TRUE``/``FALSE``, else it is ``#VALUE!``; ``ROUND`` rounds half away
from zero on the 15-digit decimal value (``ROUND(2.675,2)`` is 2.68, although 2.675 is stored as
2.67499999...).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from ..excel import EXCEL_EPOCH, NUMBER


class _Blank:
    """An empty cell."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK = _Blank()


@dataclass(frozen=True)
class XlError:
    code: str  # "#VALUE!", "#DIV/0!"


VALUE_ERROR, DIV0 = XlError("#VALUE!"), XlError("#DIV/0!")


def parse_date(value: Any) -> dt.date | None:
    """A ``YYYY-MM-DD`` text as a date, else None."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def cell_content(kind: str, value: Any) -> int | float | str | dt.date | None:
    """What the cell of a field of ``kind`` holds for a JSON ``value``: the writer writes exactly
    this, and formulas see exactly this (a date is its serial number, yes/no is the text 是/否)."""
    if value is None:
        return None
    if kind == "date" and isinstance(value, str):
        return parse_date(value) or value
    if isinstance(value, bool):
        return ("是" if value else "否") if kind == "boolean" else str(value).lower()
    if isinstance(value, int | float):
        return value
    return str(value)


def scalar(content: Any) -> Any:
    """A cell's content (or a JSON value) as a formula value."""
    if content is None or content is BLANK:
        return BLANK
    if isinstance(content, bool | XlError):
        return content
    if isinstance(content, int | float):
        return float(content)
    if isinstance(content, dt.date):
        return float((content - EXCEL_EPOCH).days)
    if isinstance(content, str):
        return content
    return str(content)  # an object or list where a value belongs: some text


def to_number(v: Any) -> float | XlError:
    """A value in arithmetic."""
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, str) and NUMBER.fullmatch(v.strip()):
        return float(v)
    if isinstance(v, str) and v.strip().upper() in ("TRUE", "FALSE"):
        return 1.0 if v.strip().upper() == "TRUE" else 0.0
    return VALUE_ERROR


def to_logical(v: Any) -> bool | XlError:
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return v != 0
    if isinstance(v, str) and v.strip().upper() in ("TRUE", "FALSE"):
        return v.strip().upper() == "TRUE"
    if isinstance(v, str) and NUMBER.fullmatch(v.strip()):
        return float(v) != 0
    return VALUE_ERROR


def number_text(x: float) -> str:
    """A number as Excel and LibreOffice join it with ``&``: at most 15 significant digits, no
    trailing zeros, decimal notation from 1E-9 to below 1E+15 (outside it, ``1E+20``)."""
    if x == 0:
        return "0"
    d = Decimal(f"{x:.15g}")
    if 1e-9 <= abs(x) < 1e15:
        out = format(d, "f")
        return out.rstrip("0").rstrip(".") if "." in out else out
    mantissa, _, exp = f"{x:.14E}".partition("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E{int(exp):+03d}"


def to_text(v: Any) -> str | XlError:
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return number_text(v)
    return str(v)


def excel_round(x: float, digits: int) -> float:
    """ROUND: half away from zero, on the 15-digit decimal value (ROUND(2.675,2) is 2.68)."""
    if not math.isfinite(x):
        return x
    digits = max(-400, min(400, digits))  # past a float's range either way: nothing left to round
    d = Decimal(f"{x:.15g}")
    with localcontext(Context(prec=1000)):  # room for any quantum a float's range asks for
        return float(abs(d).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP).copy_sign(d))
