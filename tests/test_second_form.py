"""A second, unrelated form: new data, no new code."""

from __future__ import annotations

import copy

from conftest import load_json, poke

from xltemplate.collect.importer import import_workbook


def test_expense_claim_generates_fills_and_round_trips(expense, make_filled) -> None:
    data = load_json("expense_claim.json")
    assert expense.auto_layout
    result = import_workbook(make_filled(expense, data))
    assert result.status == "valid", result.errors
    assert result.data == data


def test_expense_claim_rules_and_types_are_checked_at_cells(expense, make_filled) -> None:
    data = load_json("expense_claim.json")
    path = poke(make_filled(expense, copy.deepcopy(data)), expense,
                {"/total": 1000, "/items/1/category": "打车", "/claimant/employee_no": "12345"})
    errors = {e.code: e for e in import_workbook(path).errors}
    assert errors["x-sum"].cell == expense.by_pointer["/total"].cell
    assert errors["enum"].cell == expense.by_pointer["/items/1/category"].cell
    assert errors["pattern"].cell == expense.by_pointer["/claimant/employee_no"].cell
