"""Validation: jsonschema draft 2020-12 plus the rule keywords of ours, errors in clerk's words.

Our keywords, each implemented once (a function yielding :class:`Problem`\\ s) and run by both
engines wherever the schema puts them (``properties``, ``items``, ``prefixItems``, ``$ref``/``$defs``,
``allOf``, ``anyOf``, ``oneOf``, ``if``/``then``/``else``, ``not``, ...), with the applicator's
usual meaning (a failure inside an ``anyOf`` branch is the ``anyOf``'s failure):

* ``x-sum``: a list of rules (:class:`~xltemplate.form.sums.SumRule`); pointers are relative to
  the object carrying the keyword, ``*`` spans an array.  Its verdict is the live check's own
  expression evaluated over the instance (see :mod:`.rules` for non-numbers: an absent part is 0,
  the rule is undecided while the total is absent or anything is not a number).  The error sits
  at the total.
* ``x-ordered-range``: on a string ``start<sep>end``, the start must not be after the end.
* ``x-placeholder``: the template's prompt text, left unchanged, is an error.
* ``x-distinct``: on an object, a list of pointers (relative to it) whose values must not be the
  same (texts compared without their whitespace); absent or empty ones are not compared.  The
  error sits at the first pointer.
* ``x-warnings``: a list of rules ``{"id", "schema", "message", "at"?}`` whose failures are
  *warnings* (提示), never errors: each rule's ``schema`` (self-contained, any keywords, ours
  included) is applied to the instance carrying the keyword, and when the instance fails it, one
  warning with the rule's ``message`` sits at ``at`` (a pointer relative to that instance; default
  the instance itself).  :func:`warnings` finds them; :func:`validate` never reports them.  They
  stand where a value is always checked (``properties``, ``items``, ``$defs``, ``allOf``), never
  inside ``anyOf``/``oneOf``/``not``/``if`` (the form refuses that at load: whether the branch is
  taken would then depend on a warning).
* ``multipleOf`` is replaced by a decimal check (``7.1`` is a multiple of ``0.01``; in binary
  floating point it is not).

Messages: ``x-messages`` on a field (``{"pattern": {"zh": ..., "en": ...}}``) override ours; ours
are in the catalog (:mod:`xltemplate.messages.cells`).

Two engines give the same :class:`Failure` records: ``"rs"`` (default) is jsonschema-rs (about
100x faster) with our keywords registered as its custom keywords; ``"jsonschema"`` is the reference
Python implementation extended with the same keywords, and with ``pattern`` read as ECMA-262 (as
jsonschema-rs and JSON Schema read it: ``\\d`` is ASCII, ``$`` is the very end).  The tests hold
the two to the same results, on data-driven cases and on generated schemas.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from ..messages import t
from .model import FormModel
from .schema import WARNINGS, join_pointer, keyword_values, node_at, resolve, split_pointer, text
from .sums import SumRule
from .values import MISSING, get


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
        """Its fields as a dict (as stored): a shallow copy, its values being plain ones."""
        return dict(self.__dict__)

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


def decimal_places(step: Any) -> int | None:
    """n when ``step`` is 10**-n (0.01 -> 2, 1 -> 0), else None: a ``multipleOf`` that says
    "at most n decimals"."""
    try:
        d = Decimal(repr(step)).normalize()
    except InvalidOperation:
        return None
    exponent = d.as_tuple().exponent
    return -exponent if d.as_tuple().digits == (1,) and isinstance(exponent, int) and exponent <= 0 else None


# -- our keywords, once ---------------------------------------------------------------------------

@dataclass
class Problem:
    """One failure of one of our keywords: ``path`` (tokens) below the instance that carries it."""

    message: str
    path: tuple[str, ...] = ()
    limit: Any = None
    instance: Any = MISSING


class SumRules(list):  # type: ignore[type-arg]
    """An ``x-sum`` value with its rules compiled: (raw rule, :class:`SumRule`) pairs."""

    @classmethod
    def of(cls, rules: Any) -> SumRules:
        return rules if isinstance(rules, SumRules) else cls((r, SumRule.of(r)) for r in rules)


def x_sum(rules: list[dict[str, Any]] | SumRules, instance: Any, lang: str) -> Iterator[Problem]:
    if not isinstance(instance, dict):
        return
    for raw, rule in SumRules.of(rules):
        verdict = rule.judge(instance)
        if verdict is not None and not verdict.ok:
            yield Problem(rule.describe(verdict, lang), tuple(split_pointer(rule.total)), raw,
                          get(instance, rule.total))


def x_ordered_range(sep: str, instance: Any, lang: str) -> Iterator[Problem]:
    if isinstance(instance, str) and instance.count(sep) == 1:
        start, end = (part.strip() for part in instance.split(sep))
        if start and end and start > end:
            yield Problem(t("x-ordered-range", lang))


def _squash(value: str) -> str:
    return "".join(value.split()).replace("…", "⋯").replace("...", "⋯")


def x_placeholder(prompt: str, instance: Any, lang: str) -> Iterator[Problem]:
    if isinstance(instance, str) and _squash(instance) == _squash(prompt):
        yield Problem(t("x-placeholder", lang))


def x_distinct(pointers: list[str], instance: Any, lang: str) -> Iterator[Problem]:
    if not isinstance(instance, dict):
        return
    seen: dict[Any, str] = {}
    for pointer in pointers:
        value = get(instance, pointer, None)
        if value in (None, "", [], {}):
            continue
        key = "".join(value.split()) if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if key in seen:
            yield Problem(t("x-distinct", lang), tuple(split_pointer(seen[key])), None, get(instance, seen[key]))
            return
        seen[key] = pointer


def multiple_of(step: Any, instance: Any, lang: str) -> Iterator[Problem]:
    if not _num(instance):
        return
    try:
        ok = Decimal(repr(instance)) % Decimal(repr(step)) == 0
    except InvalidOperation:
        ok = False
    if not ok:
        yield Problem(f"{instance!r} is not a multiple of {step}")


OWN = {"x-sum": x_sum, "x-ordered-range": x_ordered_range, "x-placeholder": x_placeholder, "x-distinct": x_distinct}
KEYWORDS = {**OWN, "multipleOf": multiple_of}  # what both engines run with our implementation


# -- the reference engine -------------------------------------------------------------------------

@lru_cache(maxsize=256)
def ecma(pattern: str) -> re.Pattern[str]:
    """An ECMA-262 ``pattern`` as a Python regex: ``\\d``/``\\w`` ASCII, ``$`` only at the very end,
    ``.`` not matching line terminators."""
    out, i, in_class = [], 0, False
    classes = {"d": "0-9", "w": "A-Za-z0-9_"}
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in classes:
                out.append(classes[nxt] if in_class else f"[{classes[nxt]}]")
            elif nxt in "DW" and not in_class:
                out.append(f"[^{classes[nxt.lower()]}]")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or out[-1] == "["
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = r"\Z"
        elif ch == ".":
            ch = "[^\n\r\u2028\u2029]"
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# -- warnings: rules whose failures are 提示, never errors ------------------------------------------



def x_warnings(rules: list[dict[str, Any]], instance: Any, lang: str, fails: Any) -> Iterator[Problem]:
    """One warning per rule whose ``schema`` the instance fails (``fails(rule, instance)``, decided by
    the engine at hand), at the rule's ``at``."""
    for rule in rules:
        if fails(rule, instance):
            at = rule.get("at", "")
            yield Problem(text(rule["message"], lang) if rule.get("message") else t("x-warnings", lang),
                          tuple(split_pointer(at)), rule, get(instance, at, None) if at else MISSING)


def has_warnings(model: FormModel) -> bool:
    """Whether the form has any warning rule (worked out once, kept on the model)."""
    found = model.memo.get("has_warnings")
    if found is None:
        found = model.memo["has_warnings"] = next(keyword_values(model.schema, WARNINGS), None) is not None
    return bool(found)


def _reference_keyword(name: str, lang: str) -> Any:
    fn = KEYWORDS[name]

    def keyword(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
        for p in fn(value, instance, lang):
            yield ValidationError(p.message, path=deque(p.path), validator_value=value if p.limit is None else p.limit,
                                  instance=instance if p.instance is MISSING else p.instance)

    return keyword


VALIDATORS = {
    lang: validators.extend(Draft202012Validator, {**{k: _reference_keyword(k, lang) for k in KEYWORDS},
                                                   "pattern": _pattern})
    for lang in ("zh", "en")
}


def _reference_warnings(schema: dict[str, Any], lang: str) -> Any:
    """The reference validator class of ``schema`` with ``x-warnings``: each rule's schema compiled
    once, when the engine is made (the rules are the schema's own objects)."""
    checks = {id(rule): VALIDATORS[lang](rule["schema"], format_checker=FormatChecker(formats=("date",)))
              for _where, rules in keyword_values(schema, WARNINGS) for rule in rules}

    def fails(rule: dict[str, Any], instance: Any) -> bool:
        return not checks[id(rule)].is_valid(instance)

    def keyword(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
        for p in x_warnings(value, instance, lang, fails):
            yield ValidationError(p.message, path=deque(p.path), validator_value=p.limit,
                                  instance=instance if p.instance is MISSING else p.instance)

    return validators.extend(VALIDATORS[lang], {WARNINGS: keyword})


# -- describing a failure -------------------------------------------------------------------------

def describe(error: Failure, leaf: dict[str, Any], lang: str) -> str:
    """The message a clerk reads for one failure."""
    kw, limit, value = error.keyword, error.limit, error.instance
    custom = leaf.get("x-messages", {}).get(kw) if isinstance(leaf, dict) else None
    if custom:
        return text(custom, lang)
    if kw in OWN:
        return error.message
    if kw == "required":
        return t("required", lang)
    if kw == "type":
        want = limit[0] if isinstance(limit, list) else limit
        name = t(f"type_{want}", lang) if f"type_{want}" in _TYPE_KEYS else want
        return t("type", lang, name=name, value=value)
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return t(kw, lang, limit=_fmt(limit))
    if kw == "multipleOf":
        n = decimal_places(limit)
        if n:
            return t("multipleOf_decimals", lang, n=n)
        return t("multipleOf", lang, limit=_fmt(limit))
    if kw == "minLength":
        return t("minLength", lang, limit=limit)
    if kw == "maxLength":
        return t("maxLength", lang, limit=limit, n=len(value) if isinstance(value, str) else "?")
    if kw == "pattern":
        return t("pattern", lang)
    if kw in ("enum", "const"):
        choices = t("choices_sep", lang).join(map(str, limit if kw == "enum" else [limit]))
        return t("enum", lang, choices=choices)
    if kw == "format":
        return t("format_date", lang) if limit == "date" else t("format", lang, limit=limit)
    if kw in ("minItems", "maxItems"):
        return t(kw, lang, limit=limit)
    if kw in ("additionalProperties", "unevaluatedProperties"):
        return t("not_a_field", lang)
    return error.message


_TYPE_KEYS = {f"type_{k}" for k in ("number", "integer", "string", "boolean", "object", "array")}


@dataclass
class Failure:
    """One failed keyword, whichever engine found it."""

    path: tuple[Any, ...]
    keyword: str
    limit: Any
    instance: Any
    message: str = ""  # final text for our own keywords, the engine's English otherwise


# -- the engines ----------------------------------------------------------------------------------

def _rs_keyword(name: str, lang: str) -> type:
    """Our keyword as a jsonschema-rs custom keyword: a failure travels as JSON in the error's message
    (path below the instance, limit, instance, text), which :class:`RsEngine` reads back."""
    fn = KEYWORDS[name]

    class Keyword:
        def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: list[Any]) -> None:
            self.value = value
            self.compiled = SumRules.of(value) if name == "x-sum" else value  # once per validator

        def iter_errors(self, instance: Any) -> Iterator[ValueError]:
            for p in fn(self.compiled, instance, lang):
                yield _rs_error(p, self.value if p.limit is None else p.limit)

        def validate(self, instance: Any) -> None:
            for error in self.iter_errors(instance):
                raise error

    Keyword.__name__ = f"Keyword_{name}"
    return Keyword


def _rs_error(problem: Any, limit: Any) -> ValueError:
    """One of our keywords' problems as jsonschema-rs carries it: its fields as JSON in the message,
    which :class:`RsEngine` reads back."""
    return ValueError(json.dumps({"path": problem.path, "limit": limit,
                                  "instance": None if problem.instance is MISSING else problem.instance,
                                  "own": problem.instance is not MISSING, "message": problem.message},
                                 ensure_ascii=False))


def _rs_warnings(lang: str) -> type:
    """``x-warnings`` as a jsonschema-rs custom keyword: each rule's schema compiled once, with our
    keywords."""

    class Keyword:
        def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: list[Any]) -> None:
            self.value = value
            self.checks = {id(rule): jsonschema_rs.validator_for(
                rule["schema"], validate_formats=True, keywords={k: _rs_keyword(k, lang) for k in KEYWORDS})
                for rule in value}

        def iter_errors(self, instance: Any) -> Iterator[ValueError]:
            def fails(rule: dict[str, Any], inst: Any) -> bool:
                return not self.checks[id(rule)].is_valid(inst)

            for p in x_warnings(self.value, instance, lang, fails):
                yield _rs_error(p, p.limit)

        def validate(self, instance: Any) -> None:
            for error in self.iter_errors(instance):
                raise error

    return Keyword


class RsEngine:
    """jsonschema-rs, with our keywords as its custom keywords (so they work wherever a schema may be);
    ``warnings``: with ``x-warnings`` too (the engine :func:`warnings` runs)."""

    def __init__(self, schema: dict[str, Any], lang: str, warnings: bool = False):
        self.custom = jsonschema_rs.ValidationErrorKind.Custom
        keywords: dict[str, Any] = {k: _rs_keyword(k, lang) for k in KEYWORDS}
        if warnings:
            keywords[WARNINGS] = _rs_warnings(lang)
        self.rs = jsonschema_rs.validator_for(schema, validate_formats=True, keywords=keywords)

    def failures(self, instance: Any) -> list[Failure]:
        out = []
        for e in self.rs.iter_errors(instance):
            path = tuple(e.instance_path)
            if isinstance(e.kind, self.custom):
                p = json.loads(e.kind.message)
                inst = p["instance"] if p["own"] else e.instance
                out.append(Failure((*path, *p["path"]), e.kind.keyword, p["limit"], inst, p["message"]))
                continue
            kw, limit = e.kind.name, e.kind.value
            if kw == "required":
                path, limit = (*path, limit), None
            out.append(Failure(path, kw, limit, e.instance, e.message))
        return out


class ReferenceEngine:
    """Everything through the reference jsonschema implementation, extended with our keywords."""

    def __init__(self, schema: dict[str, Any], lang: str, warnings: bool = False):
        lang = lang if lang in VALIDATORS else "zh"
        cls = _reference_warnings(schema, lang) if warnings else VALIDATORS[lang]
        self.v = cls(schema, format_checker=FormatChecker(formats=("date",)))

    def failures(self, instance: Any) -> list[Failure]:
        out = []
        for e in self.v.iter_errors(instance):
            path = tuple(e.absolute_path)
            if e.validator == "required" and isinstance(e.instance, dict):
                missing = [p for p in e.validator_value if p not in e.instance and f"{p!r} is a required" in e.message]
                out += [Failure((*path, p), "required", None, None, e.message) for p in missing[:1]]
                continue
            if e.validator == "dependentRequired" and isinstance(e.instance, dict):  # as jsonschema-rs: at the field
                missing = [d for deps in e.validator_value.values() for d in deps
                           if d not in e.instance and f"{d!r} is a dependency" in e.message]
                out += [Failure((*path, d), "required", None, None, e.message) for d in missing[:1]]
                continue
            out.append(Failure(path, str(e.validator), e.validator_value, e.instance, e.message))
        return out


ENGINES = {"rs": RsEngine, "jsonschema": ReferenceEngine}


def engine_for(model: FormModel, lang: str, engine: str = "rs", warnings: bool = False) -> Any:
    """The compiled validator of ``model`` (compiled once per model, engine, language, and whether it
    runs the warning rules; kept on the model)."""
    key = ("validator", engine, lang, warnings)
    found = model.memo.get(key)
    if found is None:
        found = model.memo[key] = ENGINES[engine](model.schema, lang, warnings)
    return found


#: keywords about fields still to be filled: not checked on a partial instance (a prefill)
PARTIAL_SKIPS = ("required", "minItems", "minProperties", "dependentRequired", "dependencies")


def validate(model: FormModel, instance: Any, lang: str = "zh", locate: Any = None,
             engine: str = "rs", partial: bool = False) -> list[Issue]:
    """Every problem in ``instance``, as :class:`Issue` objects in sheet/cell order.

    ``locate(pointer) -> Field | None`` maps a data pointer to the field that holds it, placed
    where its value was read (the importer's knows which template row each array item came from
    and where a client moved each cell): the issue names that cell, and the form's own cell as
    ``form_cell`` when it differs.  A ``partial`` instance (a prefill, to be completed by the
    department) is not held to the rules about what is still to come: :data:`PARTIAL_SKIPS`, and
    an ``x-sum`` rule whose total and parts are not all given
    (:meth:`~xltemplate.form.sums.SumRule.complete`).
    """
    checked = scaffold(model, instance)
    return _errors(model, engine_for(model, lang, engine).failures(checked), checked, lang, locate, partial)


def check(model: FormModel, instance: Any, lang: str = "zh", locate: Any = None,
          engine: str = "rs") -> tuple[list[Issue], list[Issue]]:
    """The errors (as :func:`validate`) and the warnings (as :func:`warnings`) of ``instance``, from
    one run of the schema: the engine that runs the ``x-warnings`` rules runs every other keyword
    too, so its failures are parted rather than the schema run twice (the importer's way)."""
    checked = scaffold(model, instance)
    if not isinstance(instance, dict) or not has_warnings(model):
        return _errors(model, engine_for(model, lang, engine).failures(checked), checked, lang, locate), []
    failures = engine_for(model, lang, engine, warnings=True).failures(checked)
    return (_errors(model, [f for f in failures if f.keyword != WARNINGS], checked, lang, locate),
            _warnings(model, [f for f in failures if f.keyword == WARNINGS], lang, locate))


def _errors(model: FormModel, failures: list[Failure], checked: Any, lang: str, locate: Any,
            partial: bool = False) -> list[Issue]:
    """The failures of every keyword but ``x-warnings`` as issues (see :func:`validate`)."""
    keyed = []
    for failure in failures:
        if partial and (failure.keyword in PARTIAL_SKIPS or (failure.keyword == "x-sum"
                                                             and not _complete(failure, checked))):
            continue
        position, issue, node = _placed(model, failure, locate, lang)
        custom = bool(node.get("x-messages", {}).get(failure.keyword)) if isinstance(node, dict) else False
        keyed.append((position, issue.pointer, issue.code, issue, custom))
    # one cell, one message: where the schema author wrote a message for a failing keyword
    # (e.g. the pattern of 预算功能科目), it stands for that cell's other single-field failures
    # (minLength, ...); rule keywords, which concern several fields, are always kept
    authored = {k[1] for k in keyed if k[4]}
    keyed = [k for k in keyed if k[4] or k[1] not in authored or k[2] in OWN]
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def _placed(model: FormModel, failure: Failure, locate: Any, lang: str,
            message: str | None = None) -> tuple[tuple[int, int, int], Issue, dict[str, Any]]:
    """A failure as an :class:`Issue` at the cell its value was read from (its sort position, and
    the schema node it concerns)."""
    pointer = join_pointer(list(failure.path))
    field = locate(pointer) if locate else model.field_for(pointer)
    exact = field is not None and field.pointer.count("/") == pointer.count("/")
    # an error on a section or an array lands on its first cell, labelled by the section
    node = field.schema if exact else _node(model, pointer)
    value = None if failure.keyword == "required" or isinstance(failure.instance, dict | list) \
        else failure.instance
    home = model.by_pointer.get(field.pointer) if field else None  # the form's cell, if locate moved it
    issue = Issue(sheet=field.sheet if field else None, cell=field.cell if field else None, pointer=pointer,
                  label=field.label if exact else str(node.get("title", pointer)), value=value,
                  message=message if message is not None else describe(failure, node, lang), code=failure.keyword,
                  form_cell=home.cell if home is not None and field is not None and home.cell != field.cell
                  else None)
    order = {s.name: i for i, s in enumerate(model.sheets)}
    position = (order.get(field.sheet, 99), field.row, field.col) if field else (99, 0, 0)
    return position, issue, node


def warnings(model: FormModel, instance: Any, lang: str = "zh", locate: Any = None,
             engine: str = "rs") -> list[Issue]:
    """The warnings (提示) of ``instance``: one per ``x-warnings`` rule it fails, at the cell its value
    was read from (``locate`` as for :func:`validate`), in sheet/cell order; ``code`` is the rule's
    ``id``.  A warning never makes a return invalid."""
    if not isinstance(instance, dict) or not has_warnings(model):
        return []
    failures = engine_for(model, lang, engine, warnings=True).failures(scaffold(model, instance))
    return _warnings(model, [f for f in failures if f.keyword == WARNINGS], lang, locate)  # the rest: validate()


def _warnings(model: FormModel, failures: list[Failure], lang: str, locate: Any) -> list[Issue]:
    """The failures of ``x-warnings`` rules as issues (see :func:`warnings`)."""
    keyed = []
    for failure in failures:
        rule = failure.limit if isinstance(failure.limit, dict) else {}
        position, issue, _ = _placed(model, failure, locate, lang, failure.message)
        issue.code = str(rule.get("id") or WARNINGS)
        keyed.append((position, issue.pointer or "", issue.code, issue))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def _complete(failure: Failure, instance: Any) -> bool:
    """Whether the x-sum rule of ``failure`` has its total and every part given."""
    rule = SumRule.of(failure.limit)
    depth = len(split_pointer(rule.total))
    return rule.complete(get(instance, join_pointer(list(failure.path[:len(failure.path) - depth])), None))


def scaffold(model: FormModel, instance: Any, arrays: bool = True) -> Any:
    """A copy of ``instance`` with every absent *required* object (and array) put in as empty.

    So a blank section is reported field by field ("项目单位 必填") rather than once for the
    section, and an empty repeating area as "至少填写 1 行" at its first row.  Without arrays it
    is the shape the importer returns: required sections always present, even when empty.
    """
    found = model.memo.get("skeleton")
    if found is None:
        found = model.memo["skeleton"] = _skeleton(model.schema)
    return _fill_in(found, instance, arrays)


def _skeleton(schema: dict[str, Any]) -> dict[str, Any]:
    """For each object node: {key: (required kind or None, child skeleton)}."""

    def build(node: dict[str, Any]) -> dict[str, Any]:
        node = resolve(node, schema)
        required = set(node.get("required", ()))
        out = {}
        for name, sub in node.get("properties", {}).items():
            sub = resolve(sub, schema)
            kind = sub.get("type") if name in required and sub.get("type") in ("object", "array") else None
            out[name] = (kind, build(sub) if "properties" in sub else {})
        return out

    return build(schema)


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


__all__ = ["Failure", "Issue", "Problem", "decimal_places", "describe", "scaffold", "validate", "warnings"]
