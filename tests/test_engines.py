"""The two validation engines agree, with our keywords wherever a schema can put them.

Hypothesis builds schemas that place ``x-placeholder``, ``x-ordered-range``, ``x-sum`` and our
``multipleOf`` under ``properties``, ``items``, ``prefixItems``, ``$ref``/``$defs``, ``allOf``,
``anyOf``, ``oneOf``, ``if``/``then``/``else`` and ``not``, with data properties named like our
keywords (``x-ray``, ``x-sum``) and ``const``/``enum`` values holding ``x-`` keys, and instances
near their edges; jsonschema-rs with our custom keywords (``RsEngine``) and the reference
jsonschema (``ReferenceEngine``) must report the same set of (pointer, keyword).
"""

from __future__ import annotations

from typing import Any

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


def test_the_generator_reaches_our_keywords_under_every_applicator() -> None:
    """The property above is only as good as what it generates: each of our keywords fails, in the
    generated cases, through each place a schema can put it (jsonschema-rs's schema path), and the
    conditional applicators fail because of them."""
    through: set[tuple[str, str]] = set()
    own = ("x-placeholder", "x-ordered-range", "x-sum", "multipleOf")
    places = ("properties", "items", "prefixItems", "$defs", "allOf", "then", "else")

    @settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        schema = data.draw(schemas())
        instance = data.draw(instances_for(schema))
        for e in RsEngine(schema, "zh").rs.iter_errors(instance):
            kw = getattr(e.kind, "keyword", e.kind.name)
            through.update((kw, step) for step in e.schema_path if isinstance(step, str) and step in places)
            through.add((kw, "-"))

    collect()
    for kw in own:
        assert (kw, "properties") in through, kw
    for place in ("items", "prefixItems", "$defs", "allOf", "then", "else"):
        assert any((kw, place) in through for kw in own), place
    assert {("anyOf", "-"), ("oneOf", "-"), ("not", "-"), ("const", "-")} <= through
