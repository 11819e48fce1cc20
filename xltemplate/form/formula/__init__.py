"""The form's formulas, evaluated once: one expression tree per layout formula or live check.

One expression tree serves three purposes: the formula text the writer puts into the workbook
(:func:`excel`), the value a client shows before it recalculates, cached by the writer in prefilled
copies (:func:`evaluate` over the cells as written), and, for an ``x-sum`` rule
(:mod:`xltemplate.form.sums`), the import's verdict.  So a new form's formulas get correct cached
values, and the live ✔/✘ a clerk sees is the verdict the import reaches.

* :mod:`.values`: Excel's values (an empty cell, error codes) and its conversions;
* :mod:`.parse`: the formula subset, its expression nodes and the formula text they emit;
* :mod:`.evaluate`: the evaluator, with LibreOffice's semantics.
"""

from __future__ import annotations

from .evaluate import Cells, evaluate
from .parse import (
    FUNCTIONS,
    RANGE_FUNCTIONS,
    SUBSET,
    Call,
    CellRef,
    Expr,
    FormulaError,
    Group,
    Logical,
    Neg,
    Num,
    Op,
    Ref,
    Text,
    cell_refs,
    excel,
    nodes,
    on_sheet,
    parse,
    refs,
)
from .values import BLANK, DIV0, VALUE_ERROR, XlError, cell_content, excel_round, number_text, parse_date

__all__ = ["BLANK", "DIV0", "FUNCTIONS", "RANGE_FUNCTIONS", "SUBSET", "VALUE_ERROR", "Call", "CellRef", "Cells",
           "Expr", "FormulaError", "Group", "Logical", "Neg", "Num", "Op", "Ref", "Text", "XlError", "cell_content",
           "cell_refs", "evaluate", "excel", "excel_round", "nodes", "number_text", "on_sheet", "parse", "parse_date",
           "refs"]
