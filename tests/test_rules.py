"""The form's rules (xltemplate.form.formula, xltemplate.form.sums): the formula subset, its evaluation, and sum rules.

``tests/cases/formulas.json`` holds a small form, data sets and layout formulas; ``expected``
records what LibreOffice computes for each formula on each data set (written by
``tests/test_rules_libreoffice.py`` with ``XLTEMPLATE_UPDATE_SNAPSHOTS=1``, checked there against
the live client).  Here the evaluator must give exactly those values.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from xltemplate.form.formula import XlError, evaluate, excel, excel_round, number_text, parse
from xltemplate.form.layout import LayoutError
from xltemplate.form.model import FormModel, build_model
from xltemplate.form.sums import SumRule
from xltemplate.form.validate import validate

CASES_FILE = Path(__file__).parent / "cases" / "formulas.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def formula_layout(schema: dict[str, Any], formulas: list[str]) -> dict[str, Any]:
    """One sheet: a row per field (label, input), the repeating rows, a row per formula, the check."""
    items = schema["properties"]["items"]
    rows: list[dict[str, Any]] = [{"cells": [{"title": f"/{k}"}, {"field": f"/{k}"}]}
                                  for k in schema["properties"] if k != "items"]
    rows.append({"repeat": items["maxItems"], "cells": [{"field": "/items/*/x"}, {"field": "/items/*/label"}]})
    rows += [{"cells": [{"text": f"公式{i + 1}"}, {"formula": f}]} for i, f in enumerate(formulas)]
    rows.append({"cells": [{"text": "校验"}, {"check": "s"}]})
    return {"sheets": [{"name": "公式", "columns": [12, 40], "rows": rows}]}


def formula_model() -> FormModel:
    return build_model(copy.deepcopy(CASES["schema"]), formula_layout(CASES["schema"], CASES["formulas"]))


def formula_cells(model: FormModel) -> list[tuple[str, str, tuple[str, int, int]]]:
    """(formula template, its A1 cell, model key) for every formula cell, in layout order."""
    sheet = model.sheets[0]
    placed = [c for c in sheet.cells if c.kind == "formula"]
    return [(c.formula or "", f"B{c.row + 1}", (sheet.name, c.row, c.col)) for c in placed]


def same(a: Any, b: Any) -> bool:
    """Client values compare equal: numbers to 12 significant digits, an empty text and no value alike."""
    a, b = ("" if a is None else a), ("" if b is None else b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    return a == b


def shown(value: Any) -> Any:
    """An evaluated value as a workbook's cached value reads back (errors as their codes)."""
    if isinstance(value, XlError):
        return value.code
    return value


@pytest.mark.parametrize("dataset", sorted(CASES["datasets"]))
def test_the_evaluator_computes_what_libreoffice_computes(dataset: str) -> None:
    from xltemplate.xlsx.writer import _cells, _contents

    model = formula_model()
    cells = _cells(model, _contents(model, CASES["datasets"][dataset]))
    wrong = []
    for formula, _cell, key in formula_cells(model):
        want = CASES["expected"][dataset][formula]
        got = shown(evaluate(model.formulas[key], cells))
        if not same(got, want):
            wrong.append((formula, got, want))
    assert not wrong, wrong


def test_formulas_outside_the_subset_are_refused_at_load_naming_them() -> None:
    schema = copy.deepcopy(CASES["schema"])
    for formula, why in [("=VLOOKUP({/a},1,2)", "VLOOKUP"), ("=MIN({/items/*/x})", "MIN"),
                         ("=Budget+{/a}", "'Budget'"), ("={/items/*/x}", "spans several cells"),
                         ("=B1:B3+1", "B1:B3 spans several cells"), ("='无此表'!B1", "sheet '无此表'"),
                         ("=B11+1", "circular formula references: 公式!B11 -> 公式!B11"),
                         ('=SUM({/a},"3")', "text '3' as an argument of SUM"),
                         ('=({/a}>1)&""', "logical value joined"), ("=SUM({/a}", "expected ')'"),
                         ("={/nope}", "no input cell"), ("=1 % 2", "'% 2'")]:
        with pytest.raises(LayoutError) as exc:
            build_model(schema, formula_layout(schema, [formula]))
        assert why in str(exc.value), (formula, str(exc.value))
        assert formula in str(exc.value) or why in ("no input cell", "circular") or why.startswith("circular")


def test_formula_text_is_the_authors_with_references_resolved() -> None:
    model = formula_model()
    keys = {f: key for f, _c, key in formula_cells(model)}
    a = model.by_pointer["/a"].cell
    assert model.formula(model.formulas[keys["={/t}&\"\""]], "公式") == f'=${"B"}${model.by_pointer["/t"].row + 1}&""'
    assert model.formula(model.formulas[keys["=({/a}+{/b})*2"]], "公式").startswith(f"=(${a[0]}${a[1:]}+")
    # braces inside a text are text, not a reference
    expr = parse('={/a}&"{/b}"')
    assert excel(expr, lambda p: "X") == '=X&"{/b}"'


@pytest.mark.parametrize(("x", "text"), [(7.0, "7"), (0.1 + 0.2, "0.3"), (1 / 3, "0.333333333333333"),
                                         (7.005 - 7, "0.00499999999999989"), (1e-8, "0.00000001"),
                                         (123456.789, "123456.789"), (-2.5, "-2.5"), (1e20, "1E+20")])
def test_numbers_join_as_text_with_15_significant_digits(x: float, text: str) -> None:
    assert number_text(x) == text


# -- sum rules: one verdict for the live check, the cached value and validation ----------------

RULE = {"id": "s", "total": "/total", "parts": ["/a", "/items/*/x"], "ok": "✔", "fail": "✘",
        "message": "合计 {sum}，总额 {total}"}
SUM_CASES = [
    # (instance, verdict: None undecided / True holds / False fails)
    ({"total": 7, "a": 7}, True),
    ({"total": 7, "a": 3, "items": [{"x": 4}]}, True),
    ({"total": 7}, False),  # absent parts count as 0
    ({"a": 7}, None),  # no total yet
    ({"total": 8, "a": "七万"}, None),  # a part that is not a number: its own type error, not the rule
    ({"total": "八", "a": 8}, None),
    ({"total": 8, "a": True}, None),  # yes/no is not a number
    ({"total": 7, "a": None, "items": [{"x": 7}]}, True),  # null is an empty cell
    ({"total": 0.3, "a": 0.1, "items": [{"x": 0.2}]}, True),  # binary fractions do not matter
    ({"total": 7, "a": 3.5, "items": [{"x": 3.505}]}, False),  # 0.005 off is off
    ({"total": 7, "a": 3.5, "items": [{"x": 3.496}]}, True),  # 0.004 is within the tolerance
    ({"total": 7, "a": 3.5, "items": [{"x": 3.495}]}, False),
    ({"total": 7, "items": [{"x": 7}, {"label": "无金额"}]}, True),  # a row without an amount counts 0
]


@pytest.mark.parametrize(("instance", "verdict"), SUM_CASES)
def test_one_verdict_for_check_cell_and_validation(instance: dict[str, Any], verdict: bool | None) -> None:
    """The live check's cached value (over the cells as written) and the import's verdict (over the
    instance) are the same expression: they agree on every case, non-numbers included."""
    from xltemplate.xlsx.writer import _cells, _contents

    schema = copy.deepcopy(CASES["schema"])
    schema["x-sum"] = [RULE]
    model = build_model(schema, formula_layout(schema, []))
    rule = SumRule.of(RULE)
    judged = rule.judge(instance)
    assert (None if judged is None else judged.ok) == verdict
    cached = evaluate(rule.check_text("zh"), _cells(model, _contents(model, instance)))
    assert cached == {None: "", True: "✔", False: "✘"}[verdict]
    sums = [i for i in validate(model, instance) if i.code == "x-sum"]
    assert bool(sums) == (verdict is False)
    if sums:
        assert sums[0].pointer == "/total" and "{sum}" not in sums[0].message


def test_malformed_sum_rules_are_refused_at_load_wherever_they_sit() -> None:
    from xltemplate.form.schema import SchemaError

    schema = copy.deepcopy(CASES["schema"])
    schema["properties"]["items"]["items"]["allOf"] = [{"x-sum": [{"total": "/x"}]}]
    with pytest.raises(SchemaError, match="parts"):
        build_model(schema, formula_layout(schema, []))


@pytest.mark.parametrize(("x", "digits", "expected"), [
    (1e30, 2, 1e30), (-1e30, 2, -1e30), (1.5e300, 10, 1.5e300), (2.5, 10**9, 2.5), (12345.0, -10**9, 0.0),
    (1234.5, -2, 1200.0),
])
def test_round_of_any_size_gives_a_number_not_an_exception(x: float, digits: int, expected: float) -> None:
    """ROUND of a number with more digits than the decimal context holds (a clerk types 1E+30 into
    an amount summed by a rounded rule) is the number itself, as in Excel: never an exception that
    turns a whole return into an internal error."""
    assert excel_round(x, digits) == expected
