"""Text a spreadsheet could take for a formula, and the one way we write it (formula injection).

Departments type text that reaches the bureau's Excel: a name, a contact, a value in the 汇总.  A
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (the OWASP list) is a
formula to Excel, WPS and LibreOffice when they open a CSV, and becomes one in an xlsx cell that
someone edits and confirms.  So every CSV and workbook we write asks :func:`risky` about each text:

* in a CSV (:func:`csv_text`, :func:`writer`), such text gets a leading single quote ``'``: a CSV
  has no way to say "this is text", and the quote (visible) is the price of safety;
* in an xlsx, it is written with ``write_string`` in a format with ``quote_prefix``: the value is
  unchanged, and Excel keeps it text even when the cell is edited (:func:`xlsx_format`).

Numbers are numbers, not text: ``-5`` written from a number stays ``-5``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def risky(value: str) -> bool:
    """Whether a spreadsheet could take this text for a formula."""
    return value.startswith(RISKY_START)


def csv_text(value: str) -> str:
    """Text as a CSV cell that no spreadsheet evaluates."""
    return "'" + value if risky(value) else value


class _Writer:
    """``csv.writer`` whose every text cell goes through :func:`csv_text`."""

    def __init__(self, fh: IO[str]) -> None:
        self._w = csv.writer(fh)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([csv_text(v) if isinstance(v, str) else v for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh: IO[str]) -> _Writer:
    """A CSV writer over ``fh`` that neutralises every text cell (the only CSV writer we use)."""
    return _Writer(fh)


def xlsx_format(value: str, plain: Any, quoted: Any) -> Any:
    """The xlsxwriter format for text ``value``: ``quoted`` (with ``quote_prefix``) when risky."""
    return quoted if risky(value) else plain
