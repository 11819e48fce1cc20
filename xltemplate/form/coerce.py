"""Raw cell values -> JSON values, by each field's schema.

What clerks' workbooks really hold: numbers stored as text, full-width digits, stray spaces,
Excel date serials, '2020年10月16日' text, empty strings.  Each coercion is lossless or not done:
when a value cannot be read as the schema's type, the (trimmed) original is kept and the
validator reports it at its cell.  Empty cells become *absent*, never ``""``.

Decisions: text is trimmed of leading/trailing whitespace (ideographic space included) and
``\\r\\n`` becomes ``\\n``; full-width digits and letters are folded to ASCII only for numbers,
dates, month ranges, enums and text with a ``pattern`` (codes), never in free text; integral
numbers become integers (7.0 -> 7); month ranges become ``YYYY-MM~YYYY-MM``; dates ``YYYY-MM-DD``.

A formatted number in a text field (:func:`takes_text`) is the text the clerk saw: the importer
renders it by the cell's number format before coercion (:mod:`.numfmt`).  A number field whose
schema gives a percent format (``x-num-format``, e.g. ``0%``) also reads text typed as a
percentage (``95%`` in a cell formatted as text is 0.95), exactly, by decimal arithmetic.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .excel import EXCEL_EPOCH, NUMBER
from .values import MISSING

if TYPE_CHECKING:
    from .model import Field

_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x2212: 0x2D}
_YM = r"(\d{4})\s*(?:年|[-./])\s*(\d{1,2})\s*月?"
_MONTH_RANGE = re.compile(rf"^{_YM}\s*(?:~|-|—|–|－|～|至|到|——)+\s*{_YM}$")
_DATE = re.compile(r"^(\d{4})\s*(?:年|[-./])\s*(\d{1,2})\s*(?:月|[-./])\s*(\d{1,2})\s*日?$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def fold(text: str) -> str:
    """Full-width ASCII -> ASCII (digits, letters, punctuation)."""
    return text.translate(_FULLWIDTH)


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def number(value: Any) -> Any:
    """int/float from a cell value, or the value unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = fold(value).strip().replace(" ", "")
        if _GROUPED.match(text):
            text = text.replace(",", "")
        if NUMBER.fullmatch(text):
            parsed = float(text) if any(c in text for c in ".eE") else int(text)
            if isinstance(parsed, int) or math.isfinite(parsed):
                return number(parsed)
        return _clean(value)  # not a number: kept (trimmed) for the validator to report
    return value


def date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return (EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()
    if isinstance(value, str):
        text = fold(value).strip()
        m = _DATE.match(text) or (re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text))
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                return text
        return text
    return value


def month_range(value: Any) -> Any:
    if isinstance(value, str):
        text = fold(value).strip()
        m = _MONTH_RANGE.match(text)
        if m:
            y1, m1, y2, m2 = (int(g) for g in m.groups())
            if 1 <= m1 <= 12 and 1 <= m2 <= 12:
                return f"{y1:04d}-{m1:02d}~{y2:04d}-{m2:02d}"
        return text
    return value


def text(value: Any, f: Field) -> Any:
    if isinstance(value, str):
        out = _clean(value)
        return fold(out) if "pattern" in f.schema else out
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value)
    return value


def enum(value: Any, f: Field) -> Any:
    choices = f.schema["enum"]
    if isinstance(value, str):
        cleaned = _clean(value)
        if cleaned in choices:
            return cleaned
        folded = unicodedata.normalize("NFKC", cleaned)
        for choice in choices:
            if isinstance(choice, str) and unicodedata.normalize("NFKC", choice) == folded:
                return choice
        coerced = number(cleaned)
        return coerced if coerced in choices and not isinstance(coerced, str) else cleaned
    return number(value)


def boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = fold(value).strip().lower()
        if key in ("是", "true", "yes", "y", "1", "√", "✓"):
            return True
        if key in ("否", "false", "no", "n", "0", "×"):
            return False
        return value.strip()
    return value


def coerce(value: Any, f: Field) -> Any:
    """The JSON value for a raw cell value (``MISSING`` for an empty cell).

    Whatever the cell held, the result is a JSON value: a date in a number cell becomes its ISO
    text, so the validator reports it instead of anything failing on a type it cannot hold."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return MISSING
    out = _by_kind(value, f)
    if isinstance(out, str | bool | int) or (isinstance(out, float) and math.isfinite(out)):
        return out
    if isinstance(out, dt.datetime):
        return out.isoformat(sep=" ")
    if isinstance(out, dt.date | dt.time):
        return out.isoformat()
    return str(out)


def _by_kind(value: Any, f: Field) -> Any:
    kind = f.kind
    if kind in ("number", "integer"):
        return number(value)
    if kind == "date":
        return date(value)
    if kind == "month-range":
        return month_range(text(value, f))
    if kind == "enum":
        return enum(value, f)
    if kind == "boolean":
        return boolean(value)
    return text(value, f)


def takes_text(f: Field) -> bool:
    """Whether a number in this field's cell is read as the text the clerk saw (text fields, month
    ranges, and choices that are all text) rather than as the number stored."""
    if f.kind in ("string", "month-range"):
        return True
    return f.kind == "enum" and all(isinstance(c, str) for c in f.schema.get("enum", ()))


_PERCENT = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*[%％]$")


def percent(value: Any) -> Any:
    """A number, with text typed as a percentage (``95%``) read as its fraction (0.95)."""
    if isinstance(value, str):
        m = _PERCENT.match(fold(value).strip().replace(",", ""))
        if m:
            return number(float(Decimal(m.group(1)) / 100))
    return number(value)


def coercer(f: Field) -> Callable[[Any], Any]:
    """``coerce`` for one field, as a function of the raw value: plain text (no ``pattern``), the
    commonest kind of cell, takes a short way to the same result; everything else is ``coerce``."""
    if f.kind in ("number", "integer") and "%" in str(f.schema.get("x-num-format", "")):
        return lambda value: MISSING if value is None or (isinstance(value, str) and not value.strip()) \
            else coerce(percent(value), f)
    if f.kind != "string" or "pattern" in f.schema:
        return lambda value: coerce(value, f)

    def plain(value: Any) -> Any:
        if type(value) is not str:
            return coerce(value, f)
        if "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        value = value.strip()
        return value if value else MISSING

    return plain
