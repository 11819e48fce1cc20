"""Validation: jsonschema draft 2020-12 plus the rule keywords of ours, errors in clerk's words.

Our keywords are small functions in the jsonschema style (``validator, value, instance, schema``):

* ``x-sum``: a list of rules ``{"id", "total": POINTER, "parts": [POINTER...], "message"}``;
  pointers are relative to the object carrying the keyword, ``*`` spans an array.  Absent parts
  count as 0; the rule is skipped while the total is absent or any value is not a number
  (those get their own errors).  The error sits at the total.
* ``x-ordered-range``: on a string ``start<sep>end``, the start must not be after the end.
* ``x-placeholder``: the template's prompt text, left unchanged, is an error.
* ``multipleOf`` is replaced by a decimal check (``7.1`` is a multiple of ``0.01``; in binary
  floating point it is not).

Messages: ``x-messages`` on a field (``{"pattern": {"zh": ..., "en": ...}}``) override ours.

Two engines give the same :class:`Failure` records: ``"rs"`` (default) runs the standard
keywords in jsonschema-rs (about 100x faster) and our keywords in Python at the places the schema
declares them; ``"jsonschema"`` runs everything through the reference Python implementation,
extended with our keywords.  The tests hold the two to the same results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import _unset as _UNSET

from .model import FormModel
from .schema import join_pointer, node_at, resolve, split_pointer, text
from .values import MISSING, expand, get


@dataclass
class Issue:
    """One problem, at a cell when there is one."""

    sheet: str | None
    cell: str | None
    pointer: str | None
    label: str | None
    value: Any
    message: str
    code: str
    #: the template's own cell for this field when the value was read elsewhere (rows inserted by a
    #: client moved it): ``cell`` is always where the value was actually read
    form_cell: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of_file(cls, message: str, code: str) -> Issue:
        """A problem of the whole file (no sheet, no cell)."""
        return cls(sheet=None, cell=None, pointer=None, label=None, value=None, message=message, code=code)


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    """A number as a clerk writes it: no float noise, no trailing zeros, no rounding."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        text = format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def x_sum(validator: Any, rules: list[dict[str, Any]], instance: Any, schema: dict[str, Any],
          lang: str = "zh") -> Iterator:
    if not isinstance(instance, dict):
        return
    for rule in rules:
        total = get(instance, rule["total"], MISSING)
        if not _num(total):
            continue
        parts = [v for p in rule["parts"] for _, v in expand(instance, p)]
        if not all(_num(v) for v in parts):
            continue
        found = sum((Decimal(repr(v)) for v in parts), Decimal(0))
        if abs(Decimal(repr(total)) - found) >= Decimal("0.005"):
            template = text(rule.get("message", "{total} ≠ {sum}"), lang)
            msg = template.replace("{sum}", _fmt(found)).replace("{total}", _fmt(total))
            yield ValidationError(msg, path=deque(split_pointer(rule["total"])), instance=total,
                                  validator_value=rule)


def x_ordered_range(validator: Any, sep: str, instance: Any, schema: dict[str, Any],
                    lang: str = "zh") -> Iterator:
    if isinstance(instance, str) and instance.count(sep) == 1:
        start, end = (part.strip() for part in instance.split(sep))
        if start and end and start > end:
            yield ValidationError("开始时间晚于结束时间" if lang == "zh" else
                                  "The start is after the end")


def _squash(value: str) -> str:
    return "".join(value.split()).replace("…", "⋯").replace("...", "⋯")


def x_placeholder(validator: Any, prompt: str, instance: Any, schema: dict[str, Any],
                  lang: str = "zh") -> Iterator:
    if isinstance(instance, str) and _squash(instance) == _squash(prompt):
        yield ValidationError("仍是模板中的提示文字，请改为实际内容" if lang == "zh" else
                              "Still the template's prompt text; replace it with the real content")


def multiple_of(validator: Any, step: Any, instance: Any, schema: dict[str, Any]) -> Iterator:
    if not _num(instance):
        return
    try:
        ok = Decimal(repr(instance)) % Decimal(repr(step)) == 0
    except InvalidOperation:
        ok = False
    if not ok:
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


OWN = {"x-sum": x_sum, "x-ordered-range": x_ordered_range, "x-placeholder": x_placeholder}
VALIDATORS = {
    lang: validators.extend(Draft202012Validator, {**{k: partial(f, lang=lang) for k, f in OWN.items()},
                                                   "multipleOf": multiple_of})
    for lang in ("zh", "en")
}

_TYPES = {"zh": {"number": "数字", "integer": "整数", "string": "文字", "boolean": "是/否", "object": "一组内容",
                 "array": "列表"},
          "en": {"number": "a number", "integer": "a whole number", "string": "text", "boolean": "yes/no",
                 "object": "a group", "array": "a list"}}


def decimals(step: Any) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def describe(error: Failure, leaf: dict[str, Any], lang: str) -> str:
    """The message a clerk reads for one failure."""
    kw, limit, value = error.keyword, error.limit, error.instance
    custom = leaf.get("x-messages", {}).get(kw) if isinstance(leaf, dict) else None
    if custom:
        return text(custom, lang)
    if kw in OWN:
        return error.message
    zh = lang == "zh"
    if kw == "required":
        return "必填，不能为空" if zh else "Required; this cell must not be empty"
    if kw == "type":
        want = limit[0] if isinstance(limit, list) else limit
        name = _TYPES[lang if lang in _TYPES else "zh"].get(want, want)
        return f"应填写{name}，现在是“{value}”" if zh else f"Expected {name}, found “{value}”"
    if kw == "minimum":
        return f"不能小于 {_fmt(limit)}" if zh else f"Must not be less than {_fmt(limit)}"
    if kw == "maximum":
        return f"不能大于 {_fmt(limit)}" if zh else f"Must not be more than {_fmt(limit)}"
    if kw == "exclusiveMinimum":
        return f"必须大于 {_fmt(limit)}" if zh else f"Must be more than {_fmt(limit)}"
    if kw == "exclusiveMaximum":
        return f"必须小于 {_fmt(limit)}" if zh else f"Must be less than {_fmt(limit)}"
    if kw == "multipleOf":
        if Decimal(repr(limit)).normalize().as_tuple().digits == (1,) and limit < 1:  # 0.1, 0.01, ...
            n = decimals(limit)
            return f"最多保留 {n} 位小数" if zh else f"At most {n} decimal places"
        return f"应为 {_fmt(limit)} 的整数倍" if zh else f"Must be a multiple of {_fmt(limit)}"
    if kw == "minLength":
        return f"至少 {limit} 个字" if zh else f"At least {limit} characters"
    if kw == "maxLength":
        n = len(value) if isinstance(value, str) else "?"
        return f"不能超过 {limit} 个字（现有 {n} 个字）" if zh else f"At most {limit} characters (has {n})"
    if kw == "pattern":
        return "格式不正确" if zh else "Wrong format"
    if kw in ("enum", "const"):
        choices = "、".join(map(str, limit if kw == "enum" else [limit]))
        return (f"只能填写：{choices}（请从下拉列表选择）" if zh else f"Must be one of: {choices} (use the dropdown)")
    if kw == "format":
        if limit == "date":
            return ("不是有效日期，请写成 2020-10-16 或 2020年10月16日" if zh else
                    "Not a valid date; write e.g. 2020-10-16")
        return f"格式应为 {limit}" if zh else f"Expected format {limit}"
    if kw == "minItems":
        return f"至少填写 {limit} 行" if zh else f"Fill in at least {limit} row(s)"
    if kw == "maxItems":
        return f"最多填写 {limit} 行" if zh else f"At most {limit} row(s)"
    if kw in ("additionalProperties", "unevaluatedProperties"):
        return "表单中没有这一项" if zh else "Not a field of this form"
    return error.message


@dataclass
class Failure:
    """One failed keyword, whichever engine found it."""

    path: tuple[Any, ...]
    keyword: str
    limit: Any
    instance: Any
    message: str = ""  # final text for our own keywords, the engine's English otherwise


def _schema_nodes(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pattern, resolved node) for every object, array and leaf of the schema."""

    def walk(node: dict[str, Any], tokens: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        node = resolve(node, schema)
        yield join_pointer(tokens), node
        for key, sub in node.get("properties", {}).items():
            yield from walk(sub, [*tokens, key])
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], [*tokens, "*"])

    yield from walk(schema, [])


def _strip(node: Any) -> Any:
    """The schema without ``multipleOf`` (ours is decimal) and our ``x-`` keywords."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items()
                if k != "multipleOf" and not (k.startswith("x-") and k not in ("x-form",))}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


class RsEngine:
    """jsonschema-rs for the standard keywords, our keyword functions where the schema uses them."""

    def __init__(self, schema: dict[str, Any], lang: str):
        import jsonschema_rs

        self.rs = jsonschema_rs.validator_for(_strip(schema), validate_formats=True)
        self.lang = lang
        self.own = [(pattern, kw, node[kw], node) for pattern, node in _schema_nodes(schema)
                    for kw in (*OWN, "multipleOf") if kw in node]

    def failures(self, instance: Any) -> list[Failure]:
        out = []
        for e in self.rs.iter_errors(instance):
            kw = e.kind.name
            limit = e.kind.value
            path = tuple(e.instance_path)
            if kw == "required":
                path, limit = (*path, limit), None
            out.append(Failure(path, kw, limit, e.instance, e.message))
        for pattern, kw, value, node in self.own:
            fn = OWN.get(kw, multiple_of)
            for pointer, inst in expand(instance, pattern):
                for err in (fn(None, value, inst, node, lang=self.lang) if kw in OWN
                            else fn(None, value, inst, node)):
                    path = (*split_pointer(pointer), *err.path)
                    limit = err.validator_value if err.validator_value is not _UNSET else value
                    out.append(Failure(path, kw, limit, err.instance if err.path else inst, err.message))
        return out


class ReferenceEngine:
    """Everything through the reference jsonschema implementation, extended with our keywords."""

    def __init__(self, schema: dict[str, Any], lang: str):
        cls = VALIDATORS.get(lang, VALIDATORS["zh"])
        self.v = cls(schema, format_checker=FormatChecker(formats=("date",)))

    def failures(self, instance: Any) -> list[Failure]:
        out = []
        for e in self.v.iter_errors(instance):
            path = tuple(e.absolute_path)
            if e.validator == "required" and isinstance(e.instance, dict):
                missing = [p for p in e.validator_value if p not in e.instance and f"{p!r} is a required" in e.message]
                out += [Failure((*path, p), "required", None, None, e.message) for p in missing[:1]]
                continue
            out.append(Failure(path, str(e.validator), e.validator_value, e.instance, e.message))
        return out


ENGINES = {"rs": RsEngine, "jsonschema": ReferenceEngine}


def engine_for(model: FormModel, lang: str, engine: str = "rs") -> Any:
    key = ("engine", engine, lang)
    if key not in model.cache:
        model.cache[key] = ENGINES[engine](model.schema, lang)
    return model.cache[key]


def validate(model: FormModel, instance: Any, lang: str = "zh", locate: Any = None,
             engine: str = "rs") -> list[Issue]:
    """Every problem in ``instance``, as :class:`Issue` objects in sheet/cell order.

    ``locate(pointer) -> Field | None`` maps a data pointer to the field that holds it (the
    importer passes one that knows which template row each array item came from).
    """
    order = {s.name: i for i, s in enumerate(model.sheets)}
    keyed = []
    for failure in engine_for(model, lang, engine).failures(scaffold(model.schema, instance)):
        pointer = join_pointer(list(failure.path))
        field = locate(pointer) if locate else model.field_for(pointer)
        exact = field is not None and field.pointer.count("/") == pointer.count("/")
        # an error on a section or an array lands on its first cell, labelled by the section
        node = field.schema if exact else _node(model, pointer)
        value = None if failure.keyword == "required" or isinstance(failure.instance, dict | list) \
            else failure.instance
        issue = Issue(sheet=field.sheet if field else None, cell=field.cell if field else None, pointer=pointer,
                      label=field.label if exact else str(node.get("title", pointer)), value=value,
                      message=describe(failure, node, lang), code=failure.keyword)
        position = (order.get(field.sheet, 99), field.row, field.col) if field else (99, 0, 0)
        custom = bool(node.get("x-messages", {}).get(failure.keyword)) if isinstance(node, dict) else False
        keyed.append((position, pointer, issue.code, issue, custom))
    # one cell, one message: where the schema author wrote a message for a failing keyword
    # (e.g. the pattern of 预算功能科目), it stands for that cell's other single-field failures
    # (minLength, ...); rule keywords, which concern several fields, are always kept
    authored = {k[1] for k in keyed if k[4]}
    keyed = [k for k in keyed if k[4] or k[1] not in authored or k[2] in OWN]
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def scaffold(schema: dict[str, Any], instance: Any, arrays: bool = True) -> Any:
    """A copy of ``instance`` with every absent *required* object (and array) put in as empty.

    So a blank section is reported field by field ("项目单位 必填") rather than once for the
    section, and an empty repeating area as "至少填写 1 行" at its first row.  Without arrays it
    is the shape the importer returns: required sections always present, even when empty.
    """
    return _fill_in(_skeleton(schema), instance, arrays)


_SKELETONS: dict[int, Any] = {}


def _skeleton(schema: dict[str, Any]) -> dict[str, Any]:
    """For each object node: {key: (required kind or None, child skeleton)}, worked out once."""
    key = id(schema)
    if key not in _SKELETONS:

        def build(node: dict[str, Any]) -> dict[str, Any]:
            node = resolve(node, schema)
            required = set(node.get("required", ()))
            out = {}
            for name, sub in node.get("properties", {}).items():
                sub = resolve(sub, schema)
                kind = sub.get("type") if name in required and sub.get("type") in ("object", "array") else None
                out[name] = (kind, build(sub) if "properties" in sub else {})
            return out

        _SKELETONS[key] = (schema, build(schema))  # keep the schema alive so its id stays unique
    return _SKELETONS[key][1]


def _fill_in(skeleton: dict[str, Any], value: Any, arrays: bool = True) -> Any:
    if not isinstance(value, dict) or not skeleton:
        return value
    out = dict(value)
    for name, (kind, child) in skeleton.items():
        if name in out:
            if child:
                out[name] = _fill_in(child, out[name], arrays)
        elif kind == "object":
            out[name] = _fill_in(child, {}, arrays)
        elif kind == "array" and arrays:
            out[name] = []
    return out


def _node(model: FormModel, pointer: str) -> dict[str, Any]:
    try:
        return node_at(model.schema, pointer)
    except (KeyError, TypeError, IndexError):
        return {}
