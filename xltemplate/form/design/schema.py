"""Fields and tables -> the form's schema, starting from the author's edited schema when there is one.

Property names (decision): pointer markers name their own; a field with a title gets ``f1``,
``f2``, ... and a table ``t1``, ``t2``, ... in reading order, and keeps it: the field records the
marker's title as ``x-marker``, and ``--schema`` matches by it (pinyin is not available
offline, and a counter with a recorded identity survives both new markers and edited titles).

Re-design (``--schema EDITED.json``): what a marker says (title if it writes one, type, choices,
bounds, decimals, length, digits, required) is taken from the workbook, and replacing a
different value of the schema is reported; everything else the author wrote in the schema
(descriptions, patterns, messages, placeholders, x-sum rules, minItems, ...) is kept.  A field
whose marker is gone is removed and reported, and so is a rule that refers to it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from ...messages import t
from ..schema import SchemaError, join_pointer, leaves, resolve, split_pointer
from .fields import Column, Fields, Table
from .sheets import Cell

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


def _walk_leaves(schema: dict[str, Any]) -> dict[str, str]:
    """Pattern -> title of every leaf (for reports of removed fields)."""
    try:
        return {leaf.pattern: " · ".join(leaf.titles) or leaf.pattern for leaf in leaves(schema)}
    except SchemaError:
        return {}


class SchemaBuilder:
    """Fields -> the schema, starting from an edited schema when there is one."""

    def __init__(self, fields: Fields, edited: dict[str, Any] | None, lang: str, notes: list[str]):
        self.fields, self.lang, self.notes = fields, lang, notes  # problems go to fields.problems
        self.edited = edited
        self.schema: dict[str, Any] = copy.deepcopy(edited) if edited else {
            "$schema": SCHEMA_URI, "title": "", "type": "object", "additionalProperties": False,
            "properties": {}}
        self.touched: set[str] = set()  # patterns of the leaves and arrays markers made or kept
        self.owners: dict[str, Cell] = {}  # pattern -> the cell that made it (for conflict reports)

    # -- naming -------------------------------------------------------------------------------
    def assign(self) -> None:
        """Decide every field's pattern: pointers as written; titles by the ``x-marker`` of the
        edited schema, else the next ``f<n>`` (fields) / ``t<n>`` (tables)."""
        root = self.schema.get("properties", {})
        explicit = {split_pointer(c.marker.pointer)[0] for c in self.fields.singles if c.marker.pointer}
        explicit |= {split_pointer(tb.columns[0].marker.pointer)[0] for tb in self.fields.tables
                     if tb.columns[0].marker.pointer}
        used = set(root) | explicit
        counters = {"f": _max_number(self.schema, "f"), "t": _max_number(self.schema, "t")}

        def fresh(prefix: str, also: set[str] | None = None) -> str:
            while True:
                counters[prefix] += 1
                name = f"{prefix}{counters[prefix]}"
                if name not in used and name not in (also or set()):
                    used.add(name)
                    return name

        def marked(array: bool) -> dict[str, str]:
            return {sub["x-marker"]: key for key, sub in root.items() if isinstance(sub, dict)
                    and sub.get("x-marker") and (sub.get("type") == "array") == array and key not in explicit}

        leaf_keys, table_keys = marked(False), marked(True)
        seen: dict[tuple[str, ...], Cell] = {}

        def claim(key: tuple[str, ...], cell: Cell) -> bool:
            if key in seen:
                self.fields.problem(cell, t("design_duplicate", self.lang, field=key[-1],
                                            first=self.fields.where(seen[key]), second=self.fields.where(cell)))
                return False
            seen[key] = cell
            return True

        units: list[Any] = sorted([*self.fields.singles, *self.fields.tables], key=lambda u: self.fields.key(u.first))
        for unit in units:  # in reading order, so f1, f2, ... run down the form
            if isinstance(unit, Column):
                m = unit.marker
                if m.pointer:
                    if claim(("pointer", m.pointer), unit.first):
                        unit.pointer = m.pointer
                elif unit.identity and claim(("title", unit.identity), unit.first):
                    unit.pointer = "/" + (leaf_keys.pop(unit.identity, None) or fresh("f"))
                continue
            table = unit
            first = table.columns[0].marker
            if first.pointer:
                tokens = split_pointer(first.pointer)
                table.pointer = join_pointer(tokens[:tokens.index("*")])
                for column in table.columns:
                    if claim(("pointer", column.marker.pointer or ""), column.first):
                        column.pointer = column.marker.pointer or ""
                continue
            table.identity = table.title or "|".join(c.identity for c in table.columns)
            if not claim(("table", table.identity), table.columns[0].first):
                continue
            key = table_keys.pop(table.identity, None)
            table.pointer = "/" + (key or fresh("t"))
            existing = root.get(key, {}).get("items", {}).get("properties", {}) if key else {}
            item_keys = {sub["x-marker"]: k for k, sub in existing.items() if isinstance(sub, dict) and
                         sub.get("x-marker")}
            taken = set(existing)
            for column in table.columns:
                if column.identity and claim(("item", table.pointer, column.identity), column.first):
                    item = item_keys.pop(column.identity, None) or fresh("f", taken)
                    taken.add(item)
                    column.pointer = f"{table.pointer}/*/{item}"

    # -- building -----------------------------------------------------------------------------
    def build(self, form_id: str, version: str, title: str) -> dict[str, Any]:
        schema = self.schema
        schema.setdefault("$schema", SCHEMA_URI)
        schema["type"] = "object"
        schema.setdefault("additionalProperties", False)
        if not schema.get("title"):
            schema["title"] = title
        xform = schema.setdefault("x-form", {})
        xform["id"], xform["version"] = form_id, version
        for column in self.fields.singles:
            if column.pointer:
                self._leaf(column)
        for number, table in enumerate(self.fields.tables, start=1):
            if not table.pointer:
                continue
            node = self._array(table, number)
            if node is None:
                continue
            for column in table.columns:
                if column.pointer:
                    self._leaf(column)
        self._remove_untouched()
        self._required_sections(schema)
        return schema

    def _node(self, tokens: list[str], cell: Cell, kind: str) -> dict[str, Any] | None:
        """The node at ``tokens`` (``*`` steps into a table's items), made on the way: objects for
        plain steps, an array before a ``*``; ``kind`` (leaf or array) is what the last must be."""
        node = self.schema
        for i, token in enumerate(tokens):
            if token == "*":
                node = node.setdefault("items", _object())
                continue
            props = node.setdefault("properties", {})
            last = i == len(tokens) - 1
            want = kind if last else ("array" if tokens[i + 1] == "*" else "object")
            sub = props.get(token)
            if sub is None:
                sub = props[token] = _object() if want == "object" else \
                    {"type": "array", "items": _object()} if want == "array" else {}
            elif "$ref" in sub and want != "leaf":  # a shared definition, made this node's own
                sub = props[token] = copy.deepcopy(resolve(sub, self.schema))
            if sub and _shape(resolve(sub, self.schema)) != want:
                self._conflict(tokens[:i + 1], cell)
                return None
            node = sub
        return node

    def _conflict(self, path: list[str], cell: Cell) -> None:
        pointer = join_pointer(path)
        other = next((c for p, c in self.owners.items() if p.startswith(pointer + "/") or p == pointer), None)
        self.fields.problem(cell, t("design_tree_conflict", self.lang, where=self.fields.where(cell), pointer=pointer,
                                    other=self.fields.where(other) if other else pointer))

    def _array(self, table: Table, number: int) -> dict[str, Any] | None:
        tokens = split_pointer(table.pointer)
        first = table.columns[0].first
        node = self._node(tokens, first, "array")
        if node is None:
            return None
        self.touched.add(table.pointer)
        self.owners.setdefault(table.pointer, first)
        if table.title and (not table.derived or not node.get("title")):
            self._set(node, table.pointer, "title", table.title, report=not table.derived)
        if table.identity:
            node["x-marker"] = table.identity
        self._set(node, table.pointer, "maxItems", table.capacity)
        if not node.get("title"):
            node["title"] = t("design_table_title", self.lang, n=number)
        return node

    def _leaf(self, column: Column) -> None:
        tokens = split_pointer(column.pointer)
        node = self._node(tokens, column.first, "leaf")
        if node is None:
            return
        pattern = column.pointer
        if pattern in self.touched:
            return  # reported as a duplicate
        self.touched.add(pattern)
        self.owners[pattern] = column.first
        m = column.marker
        new = not node
        if column.title and (not column.derived or not node.get("title")):
            self._set(node, pattern, "title", column.title, report=not column.derived)
        if m.pointer is None and column.identity:
            node["x-marker"] = column.identity
        if new and m.kind is None:
            node["type"] = "string"
        for key, value in m.keywords.items():
            if key == "x-messages":  # a default message: one the author wrote wins
                node[key] = {**value, **node.get(key, {})}
            else:
                self._set(node, pattern, key, value)
        if m.kind is None and "enum" not in m.keywords:  # the workbook's own dropdown on the cell: its choices
            choices = self.fields.choices(column.first)
            if choices:
                self._set(node, pattern, "type", "string")
                self._set(node, pattern, "enum", choices)
                self.notes.append(t("design_note_dropdown", self.lang, where=self.fields.where(column.first),
                                    choices="、".join(choices)))
        fmt = column.first.look.get("number_format")
        if fmt and resolve(node, self.schema).get("type") in ("number", "integer"):
            # the cell's number format (0%, #,##0.00): the import reads the number the clerk typed in it,
            # and the 汇总 shows it as typed
            self._set(node, pattern, "x-num-format", fmt)
        parent = self._parent(tokens)
        if m.required and parent is not None:
            required = parent.setdefault("required", [])
            if tokens[-1] not in required:
                required.append(tokens[-1])

    def _parent(self, tokens: list[str]) -> dict[str, Any] | None:
        node: Any = self.schema
        for token in tokens[:-1]:
            node = node.get("items") if token == "*" else node.get("properties", {}).get(token)
            if not isinstance(node, dict):
                return None
        return node

    def _set(self, node: dict[str, Any], pattern: str, key: str, value: Any, report: bool = True) -> None:
        old = resolve(node, self.schema).get(key)
        if report and self.edited is not None and old is not None and old != value:
            self.notes.append(t("design_note_overridden", self.lang, pointer=pattern, keyword=key,
                                old=json.dumps(old, ensure_ascii=False), new=json.dumps(value, ensure_ascii=False)))
        node[key] = value

    def _remove_untouched(self) -> None:
        """Leaves (and tables) of the edited schema that no marker made any more: removed, reported."""
        if self.edited is None:
            return
        titles = _walk_leaves(self.edited)
        gone = [p for p in titles if p not in self.touched]
        for pattern in gone:
            self.notes.append(t("design_note_removed", self.lang, pointer=pattern, title=titles[pattern]))
            self._delete(split_pointer(pattern))
        remaining = set(_walk_leaves(self.schema))
        self._drop_rules(self.schema, [], remaining)
        xform = self.schema.get("x-form", {})
        for key in ("department", "roster"):
            spec = xform.get(key)
            if isinstance(spec, dict):
                for sub, value in list(spec.items()):
                    values = value if isinstance(value, list) else [value]
                    kept = [v for v in values if v in remaining]
                    for v in values:
                        if v not in remaining:
                            self.notes.append(t("design_note_rule_removed", self.lang, rule=f"x-form.{key}.{sub}",
                                                pointer=v))
                    if not kept:
                        del spec[sub]
                    else:
                        spec[sub] = kept if isinstance(value, list) else kept[0]

    def _delete(self, tokens: list[str]) -> None:
        """Remove the leaf at ``tokens``, and every section or table it leaves empty."""
        path: list[tuple[dict[str, Any], str]] = []
        node: Any = self.schema
        for token in tokens:
            if token == "*":
                node = node.get("items", {})
                continue
            props = node.get("properties", {})
            if token not in props:
                return
            if "$ref" in props[token] and len(path) < len(tokens) - 1:
                props[token] = copy.deepcopy(resolve(props[token], self.schema))
            path.append((node, token))
            node = props[token]
        for n, (parent, key) in enumerate(reversed(path)):
            sub = parent["properties"][key]
            inner = sub.get("items", {}) if isinstance(sub.get("items"), dict) else sub
            if n and inner.get("properties"):
                break
            del parent["properties"][key]
            if key in parent.get("required", []):
                parent["required"].remove(key)
                if not parent["required"]:
                    del parent["required"]

    def _drop_rules(self, node: dict[str, Any], tokens: list[str], remaining: set[str]) -> None:
        if "x-sum" in node:
            prefix = join_pointer(tokens)
            kept = []
            for rule in node["x-sum"]:
                refs = [rule.get("total", ""), *rule.get("parts", [])]
                missing = [r for r in refs if prefix + r not in remaining]
                for r in missing:
                    self.notes.append(t("design_note_rule_removed", self.lang, rule=rule.get("id", "x-sum"),
                                        pointer=prefix + r))
                if not missing:
                    kept.append(rule)
            if kept:
                node["x-sum"] = kept
            else:
                del node["x-sum"]
        for key, sub in node.get("properties", {}).items():
            if isinstance(sub, dict):
                self._drop_rules(sub, [*tokens, key], remaining)
        if isinstance(node.get("items"), dict):
            self._drop_rules(node["items"], [*tokens, "*"], remaining)

    def _required_sections(self, node: dict[str, Any]) -> bool:
        """Objects holding a required field become required in their parent (so a blank section is
        reported field by field); returns whether ``node`` holds one."""
        holds = bool(node.get("required")) and node.get("type") == "object"
        for key, sub in node.get("properties", {}).items():
            if not isinstance(sub, dict):
                continue
            if sub.get("type") == "object" and self._required_sections(sub):
                required = node.setdefault("required", [])
                if key not in required:
                    required.append(key)
                holds = True
            elif sub.get("type") == "array" and isinstance(sub.get("items"), dict):
                self._required_sections(sub["items"])
        return holds or bool(node.get("required"))


def _object() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}}


def _shape(node: dict[str, Any]) -> str:
    if node.get("type") == "array" or "items" in node:
        return "array"
    if node.get("type") == "object" or "properties" in node:
        return "object"
    return "leaf"


def _max_number(schema: dict[str, Any], prefix: str) -> int:
    """The largest ``f<n>`` / ``t<n>`` key used anywhere in the schema (new ones count on from it)."""
    best = 0

    def walk(node: Any) -> None:
        nonlocal best
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                m = re.fullmatch(rf"{prefix}(\d+)", key)
                if m:
                    best = max(best, int(m.group(1)))
                walk(sub)
            walk(node.get("items"))

    walk(schema)
    return best
