"""Data-driven coercion cases (tests/cases/coerce.json), JSON-Schema-Test-Suite style.

Each case: ``kind`` picks a minimal field schema (or the case's own ``schema``), ``raw`` is the cell
value (``{"$date": ...}`` / ``{"$datetime": ...}`` for Excel dates), ``expected`` the JSON value
(``{"absent": true}`` for an empty cell).  A case with ``xfail`` documents a known bug.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xltemplate.form.coerce import coerce
from xltemplate.form.model import Field
from xltemplate.form.values import MISSING

CASES = json.loads((Path(__file__).parent / "cases" / "coerce.json").read_text(encoding="utf-8"))

MONTH_RANGE_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])~[0-9]{4}-(0[1-9]|1[0-2])$"

#: kind in the cases -> (Field.kind, schema)
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "string": ("string", {"type": "string"}),
    "string-pattern": ("string", {"type": "string", "pattern": "^[0-9]{7}$"}),
    "number": ("number", {"type": "number"}),
    "integer": ("integer", {"type": "integer"}),
    "date": ("date", {"type": "string", "format": "date"}),
    "month-range": ("month-range", {"type": "string", "format": "month-range", "pattern": MONTH_RANGE_PATTERN}),
    "enum": ("enum", {"type": "string", "enum": ["新增", "延续"]}),
    "boolean": ("boolean", {"type": "boolean"}),
}


def raw_value(raw: Any) -> Any:
    if isinstance(raw, dict) and "$date" in raw:
        return dt.date.fromisoformat(raw["$date"])
    if isinstance(raw, dict) and "$datetime" in raw:
        return dt.datetime.fromisoformat(raw["$datetime"])
    return raw


def field(case: dict[str, Any]) -> Field:
    kind, schema = KINDS[case["kind"]]
    return Field(pointer="/x", pattern="/x", schema=case.get("schema", schema), kind=kind)


def params() -> list[Any]:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
        out.append(pytest.param(case, id=case["description"], marks=marks))
    return out


def test_cases_are_well_formed() -> None:
    descriptions = [c["description"] for c in CASES]
    assert len(descriptions) == len(set(descriptions)), "descriptions are test ids and must be unique"
    for case in CASES:
        assert case["kind"] in KINDS, case
        assert {"description", "kind", "raw", "expected"} <= case.keys(), case


@pytest.mark.parametrize("case", params())
def test_coerce(case: dict[str, Any]) -> None:
    got = coerce(raw_value(case["raw"]), field(case))
    expected = case["expected"]
    if expected == {"absent": True}:
        assert got is MISSING
        return
    assert got is not MISSING
    assert got == expected
    assert type(got) is type(expected), f"{got!r} is {type(got).__name__}, expected {type(expected).__name__}"


def _same_as_coerce(model: Any, value: Any) -> None:
    from xltemplate.form.coerce import coercer

    for f in model.fields:
        got, expected = coercer(f)(value), coerce(value, f)
        assert got == expected or (got is MISSING and expected is MISSING), (f.pointer, value)


@pytest.mark.parametrize("value", ["a\r\nb", " x\ry ", "\u3000市信访局\u3000", "", " \t\r\n", "7", "２０１０３０８",
                                   "2020年10月16日", 7.0, 7.5, 0, True, dt.datetime(2020, 10, 16), dt.date(2020, 1, 1)])
def test_the_per_field_coercer_gives_what_coerce_gives(wuhai, value) -> None:
    """The read plan coerces with ``coercer(f)`` (a short way for plain text): the same result as
    ``coerce`` for every field of the form, whatever the cell holds."""
    _same_as_coerce(wuhai, value)


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.sampled_from(" \t\r\n\u3000ab预算１2.-:年月")))
def test_the_per_field_coercer_gives_what_coerce_gives_for_any_text(wuhai, value) -> None:
    _same_as_coerce(wuhai, value)
