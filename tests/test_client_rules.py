"""The client's rules (xltemplate.xlsx.validation) say what the schema says, and nothing more.

* A translated pattern accepts exactly the pattern's language: checked against jsonschema-rs
  (ECMA-262, what the import uses) on generated strings, without a client; and in LibreOffice,
  whose own data-validation check ("mark invalid data") is asked about each value typed into the
  cells of real templates: the bundled forms and a form with one field per kind of pattern.
* A pattern a formula cannot state gets the length rule only, with an alert that promises nothing
  more; it never refuses what the import accepts (a 2021年1月-2021年12月 month range).
* Number alerts list exactly the conditions the cell checks, and the cell checks them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xltemplate.form import coerce
from xltemplate.form.forms import load_form
from xltemplate.form.layout import auto_layout
from xltemplate.form.model import Field, FormModel, build_model
from xltemplate.form.validate import ecma, validate
from xltemplate.form.values import MISSING
from xltemplate.xlsx.pattern import PatternRule, translate
from xltemplate.xlsx.validation import field_validation
from xltemplate.xlsx.writer import write_template

TRANSLATED = [
    r"^[0-9]{7}$", r"^[0-9]{3,12}$", r"^[0-9]{6}$", r"^[A-Z]{2}[0-9]{6}$", r"^(0[1-9]|1[0-2])$",
    r"^(新增|延续)$", r"^\d+$", r"^[A-Z]{2}-?[0-9]{3}$", r"^[0-9]{2,4}[A-Z]$", r'^[A-Z"]{2}$', r"^\w{1,3}$",
    r"^[a-c\-_]{2}\.x$", r"^(?:AB|C[0-9])$", r"^[0-9]*$",
    r"^(?:[|)a]|b)$", r"^\|\)?$",  # a bar or a parenthesis in a class or escaped is no structure
]
UNTRANSLATED = [
    r"^[A-Z]+[0-9]+$",  # two parts of variable length
    r"[0-9]{3}",  # not anchored: "contains three digits"
    r"^a|b$",  # (^a)|(b$)
    r"^[^0-9]{2}$", r"^.{3}$", r"^\s+$", r"^[0-9]{4}-(0[1-9]|1[0-2])~[0-9]{4}-(0[1-9]|1[0-2])$",
]
TOO_LONG = r"^[A-Za-z_][A-Za-z0-9_]*$"  # translated, but the formula passes Excel's 255 characters


def schema_accepts(pattern: str, value: str) -> bool:
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(value)


@pytest.mark.parametrize("pattern", TRANSLATED)
def test_translated_patterns_are_translated(pattern: str) -> None:
    assert translate(pattern) is not None


@pytest.mark.parametrize("pattern", UNTRANSLATED)
def test_other_patterns_are_not(pattern: str) -> None:
    assert translate(pattern) is None


def _noise(pattern: str) -> st.SearchStrategy[str]:
    """Strings near the pattern's language: its own characters and the usual intruders."""
    chars = sorted({c for c in pattern if c.isprintable()} | set("0123456789OAZaz .e+-２ "))
    return st.text(st.sampled_from(chars), max_size=14)


@pytest.mark.parametrize("pattern", TRANSLATED)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_translated_pattern_accepts_exactly_its_language(pattern: str, data: st.DataObject) -> None:
    rule = translate(pattern)
    assert rule is not None
    value = data.draw(st.one_of(st.from_regex(ecma(pattern), fullmatch=True), _noise(pattern)))
    assert rule.matches(value) == schema_accepts(pattern, value), value


# -- a form with one field per kind of rule ---------------------------------------------------------

PROBE_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "校验样例", "x-form": {"id": "client-rules", "version": "1"},
    "properties": {
        **{f"p{i}": {"title": f"模式{i}", "type": "string", "pattern": p} for i, p in enumerate(TRANSLATED)},
        "code7": {"title": "七位码", "type": "string", "pattern": "^[0-9]{7}$", "minLength": 7, "maxLength": 7},
        "digits5": {"title": "五位以内", "type": "string", "pattern": r"^\d+$", "maxLength": 5},
        "two_var": {"title": "两段", "type": "string", "pattern": "^[A-Z]+[0-9]+$", "maxLength": 8},
        "contains": {"title": "含数字", "type": "string", "pattern": "[0-9]{3}"},
        "ident": {"title": "标识", "type": "string", "pattern": TOO_LONG, "maxLength": 20},
        "period": {"title": "期间", "type": "string", "format": "month-range", "maxLength": 40,
                   "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])~[0-9]{4}-(0[1-9]|1[0-2])$",
                   "x-messages": {"pattern": {"zh": "起止时间应写成 开始年月~结束年月", "en": "start~end"}}},
        "amount": {"title": "金额", "type": "number", "minimum": 0, "maximum": 100000000, "multipleOf": 0.01},
        "rate": {"title": "比率", "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "quarter": {"title": "季度量", "type": "number", "multipleOf": 0.25},
        "five": {"title": "五的倍数", "type": "integer", "minimum": 0, "multipleOf": 5},
        "year": {"title": "年度", "type": "integer", "minimum": 2000, "maximum": 2100},
    },
}


@pytest.fixture(scope="module")
def probe_form() -> FormModel:
    schema = copy.deepcopy(PROBE_SCHEMA)
    return build_model(schema, auto_layout(schema), auto=True)


def _samples(rule: PatternRule) -> list[str]:
    """The shortest and longest strings of each alternative, and each with a character wrong (at the
    ends and the middle), one too few or too many, or a space around it; plus the classic impostors
    of a digit code."""
    out = {"1e+006", " 123456", "1234.56", "2010308", "20103O8", "２０１０３０８"}
    for alt in rule.alternatives:
        for pick, extra in ((0, 0), (-1, 0), (len, 2)):
            s = ""
            for seg in alt.segments:
                n = seg.low + (extra if seg.high is None or seg.high > seg.low + extra else 0)
                ch = seg.chars[pick] if isinstance(pick, int) else seg.chars[len(seg.chars) // 2]
                s += ch * n
            if not s:
                continue
            out |= {s, s[:-1], s + s[-1], " " + s, s + " ", s + "a"}
            for i in sorted({0, 1, len(s) // 2, len(s) - 2, len(s) - 1} & set(range(len(s)))):
                for bad in ("O", " ", ".", "２", "0"):
                    out.add(s[:i] + bad + s[i + 1:])
    return sorted(v for v in out if v)


def _client_pattern(f: Field) -> PatternRule | None:
    """The pattern the client checks for ``f``, if it checks one."""
    if field_validation(f, "=list", "zh")["validate"] != "custom" or f.kind != "string":
        return None
    return translate(f.schema["pattern"])


def _import_accepts(model: FormModel, f: Field, raw: Any) -> bool:
    value = coerce.coerce(raw, f)
    if value is MISSING:
        return True
    data: dict[str, Any] = {}
    node: Any = data
    tokens = f.pointer.strip("/").split("/")
    for i, token in enumerate(tokens[:-1]):
        if isinstance(node, list):
            node.append({})
            node = node[0]
        else:
            node = node.setdefault(token, [] if "/" + "/".join(tokens[:i + 1]) in model.arrays else {})
    node[tokens[-1]] = value
    return not [i for i in validate(model, data) if i.pointer == f.pointer]


def _schema_accepts(f: Field, value: Any) -> bool:
    keep = ("type", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum")
    schema = {k: v for k, v in f.schema.items() if k in keep}
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    ok = jsonschema_rs.validator_for(schema).is_valid(value)
    step = f.schema.get("multipleOf")
    if ok and step is not None and isinstance(value, int | float):
        from decimal import Decimal

        ok = Decimal(repr(value)) % Decimal(repr(step)) == 0
    return ok


def _length_ok(f: Field, value: str) -> bool:
    return int(f.schema.get("minLength", 0)) <= len(value) <= int(f.schema.get("maxLength", 32767))


def _probe_plan(model: FormModel) -> dict[str, tuple[Field, list[Any]]]:
    """The fields whose rule is more than a length (patterns, month ranges, numbers), first rows only."""
    plan = {}
    for f in model.fields:
        if f.index or (f.kind == "string" and "pattern" not in f.schema):
            continue
        rule = _client_pattern(f)
        if rule is not None:
            values: list[Any] = list(_samples(rule))
            values += [2010308, 1234.56]  # numbers pasted into a code cell
        elif f.kind in ("number", "integer"):
            values = [0, 7, 7.1, 7.12, 7.123, -1, 0.25, 0.5, 0.3, 1, 5, 12, 15, 2000, 2021, 2021.5, 2101, 1e8, 1e8 + 1]
        elif f.kind in ("string", "month-range"):
            n = int(f.schema.get("maxLength", 40))
            values = ["AB12", "12AB", "a" * n, "a" * (n + 1), "2021-01~2021-12", "2021年1月-2021年12月",
                      "2021.1-2021.12", "x1234y"]
        else:
            continue
        plan[f.name] = (f, values)
    return plan


def _check_in_libreoffice(model: FormModel, tmp_path: Path) -> list[tuple[str, Any, bool, bool]]:
    import libreoffice as lo

    lo.require()
    src = tmp_path / f"{model.id}.xlsx"
    src.write_bytes(write_template(model))
    plan = _probe_plan(model)
    got = lo.check_validation(src, {name: values for name, (_f, values) in plan.items()})
    wrong = []
    for name, (f, values) in plan.items():
        accepted, _formula = got[name]
        translated = _client_pattern(f) is not None
        for value, ok in zip(values, accepted, strict=True):
            if translated or f.kind in ("number", "integer"):
                typed = coerce.text(value, f) if translated and not isinstance(value, str) else value
                want = _schema_accepts(f, typed)
                if ok and translated and not _import_accepts(model, f, value):
                    wrong.append((f.pointer, value, ok, "accepted by the client, refused on import"))
            else:
                want = _length_ok(f, value)
                if _import_accepts(model, f, value) and not ok:
                    wrong.append((f.pointer, value, ok, "accepted on import, refused by the client"))
            if ok != want:
                wrong.append((f.pointer, value, ok, want))
    return wrong


def test_libreoffice_checks_exactly_the_rules_of_the_probe_form(probe_form: FormModel, tmp_path: Path) -> None:
    wrong = _check_in_libreoffice(probe_form, tmp_path)
    assert not wrong, wrong


@pytest.mark.parametrize("form", ["wuhai-perf-target", "expense-claim"])
def test_libreoffice_checks_exactly_the_rules_of_the_bundled_forms(form: str, tmp_path: Path) -> None:
    model = load_form(form)
    assert any(f.kind == "string" and "pattern" in f.schema for f in model.fields)
    wrong = _check_in_libreoffice(model, tmp_path)
    assert not wrong, wrong


# -- what the alerts say ------------------------------------------------------------------------

def _alert(model: FormModel, pointer: str, lang: str = "zh") -> dict[str, Any]:
    return field_validation(model.by_pointer[pointer], "=list", lang)


def test_the_function_code_alert_is_the_authors_and_the_rule_is_the_pattern() -> None:
    model = load_form("wuhai-perf-target")
    dv = _alert(model, "/project/function_code")
    assert dv["validate"] == "custom" and "FIND(MID(D6" in dv["value"] and "ISNUMBER(--" not in dv["value"]
    assert dv["error_message"] == "预算功能科目应为7位数字，如 2010308"


def test_an_untranslated_pattern_promises_only_the_length(probe_form: FormModel) -> None:
    assert translate(TOO_LONG) is not None and translate(TOO_LONG).formula("A1") is None  # type: ignore[union-attr]
    for pointer in ("/two_var", "/contains", "/period", "/ident"):
        dv = _alert(probe_form, pointer)
        assert dv["validate"] == "length"
        assert "收表时检查" in dv["error_message"], dv
        assert "起止时间应写成" not in dv["error_message"]
        assert "checked when the form is collected" in _alert(probe_form, pointer, "en")["error_message"]


@pytest.mark.parametrize(("pointer", "zh", "en"), [
    ("/amount", "请输入数字（不小于 0、不大于 100000000、最多 2 位小数）",
     "Enter a number (at least 0, at most 100000000, at most 2 decimals)"),
    ("/rate", "请输入数字（大于 0、小于 1）", "Enter a number (more than 0, less than 1)"),
    ("/quarter", "请输入数字（0.25 的整数倍）", "Enter a number (a multiple of 0.25)"),
    ("/five", "请输入整数（不小于 0、5 的整数倍）", "Enter a whole number (at least 0, a multiple of 5)"),
    ("/year", "请输入整数（不小于 2000、不大于 2100）", "Enter a whole number (at least 2000, at most 2100)"),
    ("/digits5", "应为至少1位数字；最多 5 个字", "Must be at least 1 digit(s); At most 5 characters"),
    ("/p4", "应为“0”，接着1位字符（1–9 之一），或“1”，接着1位字符（0–2 之一）",
     "Must be “0”, then 1 character(s) (one of 1–9), or “1”, then 1 character(s) (one of 0–2)"),
    ("/p5", "只能填写：新增、延续", "Must be one of: 新增, 延续"),
    ("/p3", "应为2位大写字母，接着6位数字", "Must be 2 capital letter(s), then 6 digit(s)"),
])
def test_alerts_say_what_is_checked(probe_form: FormModel, pointer: str, zh: str, en: str) -> None:
    assert _alert(probe_form, pointer)["error_message"] == zh
    assert _alert(probe_form, pointer, "en")["error_message"] == en


def test_every_translated_formula_fits_excels_limit(probe_form: FormModel) -> None:
    for f in probe_form.fields:
        dv = field_validation(f, "=list", "zh")
        if dv["validate"] == "custom":
            assert len(dv["value"]) <= 256, (f.pointer, len(dv["value"]))
        json.dumps(dv, default=str)
