"""Hypothesis strategies for form instances, generated from the form model (no form-specific code).

Values are generated in the importer's canonical forms (text without surrounding whitespace or
control characters, dates ``YYYY-MM-DD``, month ranges ``YYYY-MM~YYYY-MM``, amounts with at most
the decimals ``multipleOf`` allows), and the schema's ``x-sum`` rules are then satisfied by
setting each total from its parts (adjusting the last part of a rule whose total another rule
already fixed).  Everything generated is valid against the schema and fits the template.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from xltemplate.form.model import Field, FormModel
from xltemplate.form.schema import node_at, resolve, split_pointer
from xltemplate.form.validate import validate
from xltemplate.form.values import expand, get

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
PUNCT = st.sampled_from(list("，。、；：（）《》“”—…·%+-=@ "))
TEXT_CHAR = st.one_of(CJK, CJK, ASCII, PUNCT, st.just("\n"))


def text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    max_size = min(max_size, 60)
    return st.text(TEXT_CHAR, min_size=max(min_size, 1), max_size=max(max_size, 1)).map(str.strip).filter(
        lambda s: len(s) >= max(min_size, 1))


def value_for(f: Field) -> st.SearchStrategy[Any]:
    s = f.schema
    if f.kind == "enum":
        return st.sampled_from(s["enum"])
    if f.kind == "boolean":
        return st.booleans()
    if f.kind == "integer":
        return st.integers(int(s.get("minimum", -10**6)), int(s.get("maximum", 10**6)))
    if f.kind == "number":
        step = Decimal(repr(s.get("multipleOf", 0.01)))
        lo, hi = Decimal(repr(s.get("minimum", 0))), min(Decimal(repr(s.get("maximum", 10**6))), Decimal(10**6))
        return st.integers(int(lo / step), int(hi / step)).map(lambda n: _num(Decimal(n) * step))
    if f.kind == "date":
        return st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)).map(dt.date.isoformat)
    if f.kind == "month-range":
        month = st.tuples(st.integers(2000, 2099), st.integers(1, 12))
        return st.tuples(month, month).map(sorted).map(
            lambda p: f"{p[0][0]:04d}-{p[0][1]:02d}~{p[1][0]:04d}-{p[1][1]:02d}")
    if "pattern" in s:
        return st.from_regex(s["pattern"], fullmatch=True).filter(lambda v: v == v.strip() and "\n" not in v)
    return text(int(s.get("minLength", 1)), int(s.get("maxLength", 60)))


def _num(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


@st.composite
def instances(draw: st.DrawFn, model: FormModel) -> dict[str, Any]:
    data: dict[str, Any] = {}
    schema = model.schema
    for f in model.fields:
        if f.array is not None:
            continue
        if f.required or draw(st.booleans()):
            _put(data, split_pointer(f.pointer), draw(value_for(f)))
    for pointer, area in model.arrays.items():
        node = node_at(schema, pointer)
        lo = int(node.get("minItems", 0))
        n = draw(st.integers(lo, min(area.capacity, lo + 3)))
        rows = []
        for i in range(n):
            item = {}
            for f in area.slots[i]:
                key = split_pointer(f.pattern)[-1]
                if f.required or draw(st.booleans()):
                    item[key] = draw(value_for(f))
            if not item:
                f = area.slots[i][0]
                item[split_pointer(f.pattern)[-1]] = draw(value_for(f))
            rows.append(item)
        if rows:
            _put(data, split_pointer(pointer), rows)
    _satisfy_required_objects(schema, data)
    _satisfy_sums(model, data)
    assume(validate(model, data) == [])
    return data


def _put(data: dict[str, Any], tokens: list[str], value: Any) -> None:
    node: Any = data
    for t in tokens[:-1]:
        node = node[int(t)] if isinstance(node, list) else node.setdefault(t, {})
    if isinstance(node, list):
        node[int(tokens[-1])] = value
    else:
        node[tokens[-1]] = value


def _satisfy_required_objects(schema: dict[str, Any], data: dict[str, Any]) -> None:
    for key in resolve(schema, schema).get("required", []):
        data.setdefault(key, {})


def _satisfy_sums(model: FormModel, data: dict[str, Any]) -> None:
    fixed: set[str] = set()
    for rule in model.rules:
        parts = [(p, v) for pattern in rule.parts for p, v in expand(data, pattern)]
        total_pointer = rule.total
        if total_pointer not in fixed:
            total = sum((Decimal(repr(v)) for _, v in parts), Decimal(0))
            _put(data, split_pointer(total_pointer), _num(total))
            fixed.add(total_pointer)
            continue
        total = Decimal(repr(get(data, total_pointer)))
        assume(parts)
        others = sum((Decimal(repr(v)) for _, v in parts[:-1]), Decimal(0))
        last = total - others
        assume(last >= 0)
        _put(data, split_pointer(parts[-1][0]), _num(last))
