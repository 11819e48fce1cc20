"""The metadata a template carries, and where: defined here once for the writer and the reader.

Every workbook we write says what it is in two places, so that a client dropping one leaves the
other: custom document properties ``xltemplate.<key>`` (``docProps/custom.xml``) and the very
hidden sheet ``_xltemplate``.  The sheet's first row is ``xltemplate | <format version>``; each
later row is ``key | value`` in columns A and B, up to the first empty key (at most
``MAX_ROWS``); the dropdown lists of enum fields start in column ``LISTS_COL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..form.model import META_SHEET

#: The very hidden sheet (a form's own sheets may not use the name): owned by the form model, which
#: refuses a layout that takes it.
SHEET = META_SHEET
#: Custom document properties are named ``PREFIX + key``.
PREFIX = "xltemplate."
#: Version of this layout, written as the property ``xltemplate.format`` and in the sheet's A1:B1.
FORMAT_VERSION = 1
FORMAT_KEY = "format"
MAGIC = "xltemplate"
#: The sheet's key/value rows are read up to this many (a hostile sheet cannot make us read more).
MAX_ROWS = 32
#: Column (0-based) of the first dropdown list on the sheet; A:B hold the metadata, C is a gap.
LISTS_COL = 3

#: What identifies a template: the writer sets these afresh for every workbook it writes (an
#: annotated copy takes them from the model, not from the return it annotates).  Other keys come
#: from the caller (``extra_meta``): who a template was issued to (``department``,
#: ``department_code``), the bureau's ``signature``, a round's own.
IDENTITY = ("form_id", "form_version", "layout_hash", "schema_hash", "submission_id", "generator")


def sheet_rows(meta: dict[str, str]) -> list[tuple[str, str]]:
    """The rows of the metadata sheet for ``meta``: the format row, then one row per key."""
    if len(meta) >= MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS - 1} metadata keys fit the metadata sheet")
    return [(MAGIC, str(FORMAT_VERSION)), *((k, str(v)) for k, v in meta.items())]


def from_rows(rows: Iterable[list[Any]]) -> dict[str, str]:
    """The metadata from the sheet's cell rows (as a reader returns them), the format row skipped."""
    out: dict[str, str] = {}
    for n, row in enumerate(rows):
        if n == 0:
            continue
        if n > MAX_ROWS or not row or not isinstance(row[0], str) or not row[0]:
            break
        value = row[1] if len(row) > 1 else None
        if isinstance(value, float) and value.is_integer():  # a client that retyped "1" as a number
            value = int(value)
        out[row[0]] = "" if value is None else str(value)
    return out


def properties(meta: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """The custom document properties for ``meta``: one per key, then the format version."""
    for key, value in meta.items():
        yield PREFIX + key, value
    yield PREFIX + FORMAT_KEY, FORMAT_VERSION
