"""JSON Schema side of a form: loading, local ``$ref`` resolution, leaf discovery, hashing.

A *leaf* is a scalar field the clerk types into one cell. Its *pattern* is a JSON pointer
where ``*`` stands for an array index (``/budget_items/*/amount``). Only local references
(``#/$defs/...``) are resolved; siblings of ``$ref`` override the referenced schema, which is
how a field gives a shared definition its own ``title`` and ``description``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import SchemaError as JsonSchemaError

#: Keywords of ours that the schema may carry (documented in the README).
OWN_KEYWORDS = (
    "x-form", "x-sum", "x-ordered-range", "x-placeholder", "x-messages", "x-num-format", "x-capacity",
    "x-distinct", "x-warnings",
)
WARNINGS = "x-warnings"
#: where a warning rule may not stand: whether such a branch is taken would depend on it
_NOT_UNDER = {"anyOf", "oneOf", "not", "if", "then", "else", "contains", "dependentSchemas"}


class SchemaError(ValueError):
    """The schema itself is unusable (not a form author's typo we can guess around)."""


@dataclass(frozen=True)
class Leaf:
    """One scalar field of the schema."""

    pattern: str  # JSON pointer, ``*`` for array indexes
    schema: dict[str, Any]  # resolved (refs merged) leaf schema
    titles: tuple[str, ...]  # titles from the root's child down to the leaf
    required: bool  # required within its parent object
    array: str | None  # pattern of the enclosing array (``/budget_items``), if any
    max_items: int | None
    array_depth: int = 0  # how many of ``titles`` belong to the array and its parents


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read and check a draft 2020-12 schema; raise :class:`SchemaError` with the file named."""
    path = Path(path)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read schema: {exc}") from exc
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # jsonschema.SchemaError carries a long message
        raise SchemaError(f"{path}: not a valid JSON Schema: {getattr(exc, 'message', exc)}") from exc
    if schema.get("type") != "object":
        raise SchemaError(f"{path}: a form schema must describe an object at its root")
    return schema


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def split_pointer(pointer: str) -> list[str]:
    if pointer in ("", "/"):
        return []
    if not pointer.startswith("/"):
        raise SchemaError(f"not a JSON pointer: {pointer!r}")
    return [unescape(t) for t in pointer[1:].split("/")]


def join_pointer(tokens: list[str] | tuple[Any, ...]) -> str:
    return "".join("/" + escape(str(t)) for t in tokens)


def resolve(node: dict[str, Any], root: dict[str, Any], _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return ``node`` with a local ``$ref`` merged in (siblings win)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    if not ref.startswith("#/") or ref in _seen:
        raise SchemaError(f"only acyclic local $ref are supported, got {ref!r}")
    target: Any = root
    for token in split_pointer(ref[1:]):
        try:
            target = target[token]
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"$ref {ref!r} points nowhere") from exc
    merged = dict(resolve(target, root, (*_seen, ref)))
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def leaves(schema: dict[str, Any]) -> Iterator[Leaf]:
    """Walk the schema's properties depth-first, in declaration order."""

    def walk(node: dict[str, Any], tokens: list[str], titles: tuple[str, ...], required: bool,
             array: str | None, max_items: int | None, depth: int = 0) -> Iterator[Leaf]:
        node = resolve(node, schema)
        kind = node.get("type")
        title = node.get("title")
        here = (*titles, title) if title and tokens else titles
        if kind == "object" or "properties" in node:
            req = set(node.get("required", ()))
            for key, sub in node.get("properties", {}).items():
                yield from walk(sub, [*tokens, key], here, key in req, array, max_items, depth)
        elif kind == "array":
            if array is not None:
                raise SchemaError(f"{join_pointer(tokens)}: arrays inside arrays are not supported")
            items = node.get("items")
            if not isinstance(items, dict):
                raise SchemaError(f"{join_pointer(tokens)}: an array needs an 'items' schema")
            yield from walk(items, [*tokens, "*"], here, True, join_pointer(tokens), node.get("maxItems"),
                            len(here))
        else:
            yield Leaf(join_pointer(tokens), node, here, required, array, max_items, depth)

    yield from walk(schema, [], (), True, None, None)


#: keywords whose value is a map of names to subschemas (the names are data, not keywords)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
#: keywords whose value is a subschema, or a list of subschemas
_SCHEMA_VALUES = ("items", "prefixItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "contains",
                  "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
                  "additionalItems", "contentSchema")


def subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, schema) for ``node`` and every schema inside it, by keyword position only: the
    names under ``properties`` are data (a property may be called ``x-ray``), and the values of
    ``enum``, ``const``, ``default`` or ``examples`` are never walked."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in _SCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                yield from subschemas(sub, f"{where}/{key}/{escape(name)}")
    for key in _SCHEMA_VALUES:
        value = node.get(key)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                yield from subschemas(sub, f"{where}/{key}/{i}")
        else:
            yield from subschemas(value, f"{where}/{key}")


def keyword_values(schema: dict[str, Any], keyword: str) -> Iterator[tuple[str, Any]]:
    """(location, value) of every use of ``keyword`` in the schema, at keyword positions."""
    for where, node in subschemas(schema):
        if keyword in node:
            yield f"{where}/{keyword}", node[keyword]


def node_at(schema: dict[str, Any], pattern: str) -> dict[str, Any]:
    """The resolved sub-schema at a pattern pointer (``*`` steps into ``items``)."""
    node = resolve(schema, schema)
    for token in split_pointer(pattern):
        if token == "*" or (token.isdigit() and node.get("type") == "array"):
            node = resolve(node["items"], schema)
        else:
            node = resolve(node["properties"][token], schema)
    return node


def field_kind(leaf_schema: dict[str, Any]) -> str:
    """The coercion/cell kind of a leaf: enum, date, month-range, number, integer, boolean, string."""
    if "enum" in leaf_schema:
        return "enum"
    kind = leaf_schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string":
        fmt = leaf_schema.get("format")
        if fmt in ("date", "month-range"):
            return fmt
        return "string"
    if kind in ("number", "integer", "boolean"):
        return kind
    raise SchemaError(f"unsupported leaf type {kind!r}")


def text(value: Any, lang: str) -> str:
    """A ``{"zh": ..., "en": ...}`` text (or a plain string, taken as Chinese) in ``lang``."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or next(iter(value.values()), ""))
    return str(value)


def canonical_hash(*docs: Any) -> str:
    """sha256 of the canonical JSON of ``docs`` (first 16 hex digits)."""
    blob = json.dumps(docs, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def check_warning_rules(schema: dict[str, Any]) -> None:
    """Every ``x-warnings`` of the schema is a list of well-formed rules standing where a value is
    always checked; else :class:`SchemaError` naming the place."""
    for where, rules in keyword_values(schema, WARNINGS):
        tokens = where.split("/")
        if any(tok in _NOT_UNDER and tokens[i - 1] not in _SCHEMA_MAPS for i, tok in enumerate(tokens) if i):
            raise SchemaError(f"{where}: x-warnings may not stand inside anyOf, oneOf, not, if/then/else, "
                              f"contains or dependentSchemas")
        if not isinstance(rules, list):
            raise SchemaError(f"{where}: x-warnings must be a list of rules")
        for n, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("schema"), dict):
                raise SchemaError(f"{where}/{n}: a warning rule needs a schema (an object)")
            if not isinstance(rule.get("message", ""), str | dict) or not isinstance(rule.get("at", ""), str):
                raise SchemaError(f"{where}/{n}: message is a text (or zh/en texts), at a pointer")
            if "$ref" in json.dumps(rule["schema"]):
                raise SchemaError(f"{where}/{n}: a warning rule's schema stands alone (no $ref)")
            try:
                Draft202012Validator.check_schema(rule["schema"])
            except JsonSchemaError as exc:
                raise SchemaError(f"{where}/{n}: not a valid JSON Schema: {exc.message}") from exc
