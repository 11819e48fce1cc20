"""The two validation engines agree, with our keywords wherever a schema can put them.

Hypothesis builds schemas that place ``x-placeholder``, ``x-ordered-range``, ``x-sum`` and our
``multipleOf`` under ``properties``, ``items``, ``prefixItems``, ``$ref``/``$defs``, ``allOf``,
``anyOf``, ``oneOf``, ``if``/``then``/``else`` and ``not``, with data properties named like our
keywords (``x-ray``, ``x-sum``) and ``const``/``enum`` values holding ``x-`` keys, and instances
near their edges; jsonschema-rs with our custom keywords (``RsEngine``) and the reference
jsonschema (``ReferenceEngine``) must report the same set of (pointer, keyword).  And, built by
hand, each of our keywords in each place fails (and passes) in both engines.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xltemplate.form.schema import join_pointer
from xltemplate.form.validate import ReferenceEngine, RsEngine

PROMPT = "目标1：\n目标2："
NAMES = ["a", "b", "x-ray", "x-sum", "x-placeholder", "t"]
EDGES = st.sampled_from([PROMPT, "2021-12~2021-01", 7.123, "20103O8", {"x-ray": 1}])
VALUES = EDGES | st.sampled_from([PROMPT, " 目标1：目标2： ", "实际内容", "2021-12~2021-01", "2021-01~2021-12", "a~b~c",
                          7.1, 7.123, 0.3, 3, -1, 0, "七万", True, None, {"x-ray": 1}, {}, [], "2010308",
                          "20103O8"])

LEAVES = st.sampled_from([
    {"type": "string", "x-placeholder": PROMPT},
    {"x-placeholder": PROMPT},
    {"type": "string", "x-ordered-range": "~"},
    {"x-ordered-range": "~", "maxLength": 16},
    {"type": "number", "multipleOf": 0.01},
    {"multipleOf": 0.01, "minimum": 0},
    {"type": "string", "pattern": "^[0-9]{7}$"},
    {"type": "integer", "minimum": 0},
    {"enum": ["2010308", 3, {"x-ray": 1}]},
    {"const": {"x-ray": 1}},
    {"type": ["string", "null"]},
    {},
])


def placed(leaf: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A subschema somewhere an applicator puts it."""
    return st.one_of(
        leaf,
        leaf.map(lambda s: {"allOf": [s, {}]}),
        leaf.map(lambda s: {"anyOf": [s, {"type": "number"}]}),
        leaf.map(lambda s: {"oneOf": [s, {"type": "boolean"}]}),
        leaf.map(lambda s: {"if": {"type": "string"}, "then": s}),
        leaf.map(lambda s: {"if": {"type": "number"}, "then": {"minimum": 0}, "else": s}),
        leaf.map(lambda s: {"not": s}),
        leaf.map(lambda s: {"$ref": "#/$defs/shared", "$comment": "shared"} | {"_def": s}),
    )


SUM = {"id": "s", "total": "/t", "parts": ["/a", "/b"]}
SUM_ITEMS = {"id": "i", "total": "/t", "parts": ["/items/*/a"]}


@st.composite
def objects(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    props: dict[str, Any] = {}
    for name in names:
        if depth < 1 and draw(st.integers(0, 4)) == 0:
            props[name] = draw(objects(depth + 1))
        elif depth < 1 and draw(st.integers(0, 2)) == 0:
            kind = draw(st.sampled_from(["items", "prefixItems"]))
            sub = draw(placed(LEAVES))
            props[name] = {"type": "array", kind: sub if kind == "items" else [draw(LEAVES), sub]}
        else:
            props[name] = draw(placed(LEAVES))
    node: dict[str, Any] = {"type": "object", "properties": props}
    if draw(st.booleans()):
        node["required"] = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    if draw(st.booleans()):
        node["additionalProperties"] = False
    rule = draw(st.sampled_from([None, "here", "allOf", "ref", "items"]))
    if rule == "here":
        node["x-sum"] = [SUM]
    elif rule == "allOf":
        node["allOf"] = [{"x-sum": [SUM]}]
    elif rule == "ref":
        node["allOf"] = [{"$ref": "#/$defs/rule"}]
    elif rule == "items":
        node["x-sum"] = [SUM_ITEMS]
        props["items"] = {"type": "array", "items": {"type": "object", "properties": {"a": draw(placed(LEAVES))}}}
    return node


def _hoist(node: Any, defs: dict[str, Any]) -> Any:
    """Move each ``_def`` (the target of a generated ``$ref``) into ``$defs``."""
    if isinstance(node, dict):
        if "_def" in node:
            key = f"d{len(defs)}"
            defs[key] = _hoist(node["_def"], defs)
            return {"$ref": f"#/$defs/{key}"}
        return {k: _hoist(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_hoist(v, defs) for v in node]
    return node


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    defs: dict[str, Any] = {"rule": {"x-sum": [SUM]}}
    root = _hoist(draw(objects()), defs)
    root["$defs"] = defs
    return root


@st.composite
def instances_for(draw: st.DrawFn, node: Any, depth: int = 0) -> Any:
    if not isinstance(node, dict) or depth > 3 or draw(st.integers(0, 6)) == 0:
        return draw(VALUES)
    if node.get("type") == "object" and "properties" in node:
        out = {}
        for name, sub in node["properties"].items():
            if draw(st.integers(0, 3)):
                out[name] = draw(instances_for(sub, depth + 1))
        if draw(st.integers(0, 5)) == 0:
            out["extra"] = draw(VALUES)
        if {"t", "a", "b"} & set(node["properties"]) or "x-sum" in node or "allOf" in node:
            for name in ("t", "a", "b"):
                if draw(st.booleans()):
                    out[name] = draw(st.sampled_from([1, 2, 3, 2.5, 0.5, "七万", True]))
        return out
    if node.get("type") == "array":
        items = node.get("items") or (node.get("prefixItems") or [{}])[0]
        return draw(st.lists(instances_for(items, depth + 1), max_size=3))
    return draw(VALUES)


def _found(engine: Any, instance: Any) -> set[tuple[str, str]]:
    return {(join_pointer(list(f.path)), f.keyword) for f in engine.failures(instance)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_both_engines_report_the_same_failures(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    instance = data.draw(instances_for(schema))
    rs, reference = RsEngine(schema, "zh"), ReferenceEngine(schema, "zh")
    assert _found(rs, instance) == _found(reference, instance), (schema, instance)


# each of our keywords (its schema, a value that fails it, one that passes it) ...
OWN = {
    "x-placeholder": ({"x-placeholder": PROMPT}, " 目标1：目标2： ", "实际内容"),
    "x-ordered-range": ({"x-ordered-range": "~"}, "2021-12~2021-01", "2021-01~2021-12"),
    "multipleOf": ({"multipleOf": 0.01}, 7.123, 7.1),
    "x-sum": ({"x-sum": [SUM]}, {"t": 4, "a": 1, "b": 2}, {"t": 3, "a": 1, "b": 2}),
}
# ... under each place a schema can put it: (wrap the keyword's schema, wrap the value, keyword reported)
PLACES = {
    "properties": (lambda k: {"properties": {"v": k}}, lambda v: {"v": v}, None),
    "property named x-ray": (lambda k: {"properties": {"x-ray": k}, "additionalProperties": False},
                             lambda v: {"x-ray": v}, None),
    "items": (lambda k: {"properties": {"v": {"items": k}}}, lambda v: {"v": [v]}, None),
    "prefixItems": (lambda k: {"properties": {"v": {"prefixItems": [{}, k]}}}, lambda v: {"v": [0, v]}, None),
    "$ref/$defs": (lambda k: {"properties": {"v": {"$ref": "#/$defs/k"}}, "$defs": {"k": k}}, lambda v: {"v": v},
                   None),
    "allOf": (lambda k: {"properties": {"v": {"allOf": [{}, k]}}}, lambda v: {"v": v}, None),
    "if/then": (lambda k: {"properties": {"v": {"if": {"not": {"type": "boolean"}}, "then": k}}},
                lambda v: {"v": v}, None),
    "else": (lambda k: {"properties": {"v": {"if": {"type": "boolean"}, "else": k}}}, lambda v: {"v": v}, None),
    "anyOf": (lambda k: {"properties": {"v": {"anyOf": [k, {"type": "boolean"}]}}}, lambda v: {"v": v}, "anyOf"),
    "oneOf": (lambda k: {"properties": {"v": {"oneOf": [k, {"type": "boolean"}]}}}, lambda v: {"v": v}, "oneOf"),
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("keyword", sorted(OWN))
def test_each_keyword_works_in_each_place_in_both_engines(keyword: str, place: str) -> None:
    own, bad, good = OWN[keyword]
    wrap_schema, wrap_value, reported = PLACES[place]
    schema = {"type": "object", **wrap_schema(own)}
    for engine in (RsEngine(schema, "zh"), ReferenceEngine(schema, "zh")):
        failures = _found(engine, wrap_value(bad))
        keywords = {kw for _p, kw in failures}
        assert (reported or keyword) in keywords, (type(engine).__name__, failures)
        assert not _found(engine, wrap_value(good)), type(engine).__name__
    # "not" turns it round: the value that passes our keyword fails the "not"
    negated = {"type": "object", "properties": {"v": {"not": own}}}
    for engine in (RsEngine(negated, "zh"), ReferenceEngine(negated, "zh")):
        assert _found(engine, {"v": good}) == {("/v", "not")} and not _found(engine, {"v": bad})
