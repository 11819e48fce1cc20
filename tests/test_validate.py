"""Validation: data-driven cases (tests/cases/validate.json) plus checks on the bundled form.

Case file, JSON-Schema-Test-Suite style: ``[{"description", "schema", "tests": [{"description",
"data", "valid", "errors"?, "xfail"?}]}]``.  ``errors``, when given, lists *every* expected issue
as ``{"pointer", "code", "message_contains"?, "message_contains_en"?, "label"?}``.  Each schema is
loaded as a form with the automatic layout; every test runs in Chinese and in English.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import _put, instances

from xltemplate.form.forms import load_form
from xltemplate.form.model import FormModel
from xltemplate.form.schema import split_pointer
from xltemplate.form.validate import Issue, check, validate, warnings

HERE = Path(__file__).parent
CASES = json.loads((HERE / "cases" / "validate.json").read_text(encoding="utf-8"))


def params() -> list[Any]:
    out = []
    for case in CASES:
        for test in case["tests"]:
            marks = [pytest.mark.xfail(strict=True, reason=test["xfail"])] if "xfail" in test else []
            out.append(pytest.param(case, test, id=f"{case['description']} - {test['description']}", marks=marks))
    return out


def case_model(tmp_path: Path, schema: dict[str, Any]) -> FormModel:
    schema = copy.deepcopy(schema)
    schema.setdefault("x-form", {"id": "case", "version": "1"})
    path = tmp_path / "case.schema.json"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    return load_form(path)


def matches(issue: Issue, expected: dict[str, Any], lang: str) -> bool:
    if issue.pointer != expected["pointer"] or issue.code != expected["code"]:
        return False
    if "label" in expected and issue.label != expected["label"]:
        return False
    key = "message_contains" if lang == "zh" else "message_contains_en"
    return key not in expected or expected[key] in issue.message


def check_errors(issues: list[Issue], expected: list[dict[str, Any]], lang: str) -> None:
    """Every expected error matches one issue, and no issue is left over."""
    left = list(issues)
    for want in expected:
        hit = next((i for i in left if matches(i, want, lang)), None)
        assert hit is not None, f"[{lang}] no issue like {want}; got {[i.as_dict() for i in issues]}"
        left.remove(hit)
    assert not left, f"[{lang}] unexpected issues: {[i.as_dict() for i in left]}"


def test_cases_are_well_formed() -> None:
    ids = [f"{c['description']} - {t['description']}" for c in CASES for t in c["tests"]]
    assert len(ids) == len(set(ids)), "descriptions are test ids and must be unique"
    for case in CASES:
        assert case["schema"]["type"] == "object", case["description"]
        for test in case["tests"]:
            assert {"description", "data", "valid"} <= test.keys(), test
            if "errors" in test:
                assert test["valid"] is not bool(test["errors"]), test


@pytest.mark.parametrize("engine", ["rs", "jsonschema"])
@pytest.mark.parametrize(("case", "test"), params())
def test_validate(tmp_path: Path, case: dict[str, Any], test: dict[str, Any], engine: str) -> None:
    """Both engines (jsonschema-rs + our keywords, and the reference jsonschema) give the same issues."""
    model = case_model(tmp_path, case["schema"])
    for lang in ("zh", "en"):
        issues = validate(model, copy.deepcopy(test["data"]), lang, engine=engine)
        assert (not issues) == test["valid"], f"[{lang}] {[i.as_dict() for i in issues]}"
        if "errors" in test:
            check_errors(issues, test["errors"], lang)


# -- the bundled form ------------------------------------------------------------------------


@cache
def _seed() -> str:
    return (HERE / "data" / "seed_000.json").read_text(encoding="utf-8")


@pytest.fixture
def form() -> FormModel:
    return load_form("wuhai-perf-target")


@pytest.fixture
def seed() -> dict[str, Any]:
    return json.loads(_seed())


def test_seed_is_valid(form: FormModel, seed: dict[str, Any]) -> None:
    assert validate(form, seed) == []
    assert validate(form, seed, "en") == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_funding_total_mismatch_gives_two_sum_errors(form: FormModel, seed: dict[str, Any], lang: str) -> None:
    seed["funding"]["total"] = 8
    issues = validate(form, seed, lang)
    assert [i.code for i in issues] == ["x-sum", "x-sum"]
    assert {i.pointer for i in issues} == {"/funding/total"}
    field = form.by_pointer["/funding/total"]
    for issue in issues:
        assert (issue.sheet, issue.cell, issue.value) == (field.sheet, field.cell, 8)
        assert "7" in issue.message and "8" in issue.message
        assert "{sum}" not in issue.message and "{total}" not in issue.message
    messages = sorted(i.message for i in issues)
    if lang == "zh":
        assert messages == sorted([
            "项目资金总额应等于 上年度项目资金结转 + 本年度预算申请 + 本年度安排其他资金（三项合计 7，总额 8）",
            "项目预算明细合计（7）应等于项目资金总额（8）"])
    else:
        assert messages == sorted([
            "The project total must equal carry-over + this year's request + other funds "
            "(parts add up to 7, total is 8)",
            "The budget detail sum (7) must equal the project total (8)"])


def test_function_code_custom_pattern_message(form: FormModel, seed: dict[str, Any]) -> None:
    seed["project"]["function_code"] = "201030"
    issues = validate(form, seed)
    by_code = {i.code: i for i in issues}
    assert set(by_code) == {"pattern"}  # the authored pattern message stands for minLength too
    assert all(i.pointer == "/project/function_code" for i in issues)
    assert by_code["pattern"].message.startswith("预算功能科目应为7位数字")
    assert by_code["pattern"].label == "项目基本情况 · 预算功能科目"
    en = {i.code: i for i in validate(form, seed, "en")}
    assert en["pattern"].message.startswith("The budget function code must be 7 digits")


def test_function_code_full_width_is_a_pattern_error_without_coercion(form: FormModel, seed: dict[str, Any]) -> None:
    seed["project"]["function_code"] = "２０１０３０８"  # coerce folds it; validate alone must not pass it
    assert [i.code for i in validate(form, seed)] == ["pattern"]


@pytest.mark.parametrize(("section", "key", "label"), [
    ("project", "overview", "项目基本情况 · 项目概况"),
    ("cover", "project_name", "封面 · 项目名称"),
    ("funding", "total", "项目资金来源(万元) · 项目资金总额"),
])
def test_missing_required_field(form: FormModel, seed: dict[str, Any], section: str, key: str, label: str) -> None:
    del seed[section][key]
    pointer = f"/{section}/{key}"
    [issue] = validate(form, seed)
    assert (issue.code, issue.pointer, issue.label, issue.value) == ("required", pointer, label, None)
    assert issue.message == "必填，不能为空"
    assert (issue.sheet, issue.cell) == (form.by_pointer[pointer].sheet, form.by_pointer[pointer].cell)
    [en] = validate(form, seed, "en")
    assert (en.code, en.pointer, en.label) == ("required", pointer, label)
    assert en.message == "Required; this cell must not be empty"


def test_missing_section_is_reported_field_by_field(form: FormModel, seed: dict[str, Any]) -> None:
    del seed["sign_off"]
    issues = validate(form, seed)
    assert {(i.code, i.pointer) for i in issues} == {("required", "/sign_off/preparer"),
                                                      ("required", "/sign_off/date")}


def test_english_messages_are_english(form: FormModel, seed: dict[str, Any]) -> None:
    seed["funding"]["total"] = 7.123
    seed["project"]["period"] = "2021-12~2021-01"
    seed["goals"]["annual"] = "目标1：\n目标2：\n目标3：\n⋯⋯"
    seed["cover"]["prepared_on"] = "2020-02-30"
    issues = validate(form, seed, "en")
    codes = sorted(i.code for i in issues)
    assert codes == sorted(["multipleOf", "x-sum", "x-sum", "x-ordered-range", "x-placeholder", "format"])
    for issue in issues:
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in issue.message), issue.message


JUNK = st.one_of(st.none(), st.text(max_size=30), st.integers(-10**6, 10**6),
                 st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["无", "", " ", "201030", "/"]))


@pytest.mark.parametrize("name", ["wuhai-perf-target", "expense-claim"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_one_run_gives_the_errors_and_warnings_of_two(name: str, data: st.DataObject) -> None:
    """``check`` (the importer's one run of the schema) parts its failures into exactly what
    ``validate`` and ``warnings`` report each on their own, on valid data and on data spoiled anywhere."""
    model = load_form(name)
    instance = data.draw(instances(model))
    for f in data.draw(st.lists(st.sampled_from([f for f in model.fields if f.array is None]), max_size=5)):
        _put(instance, split_pointer(f.pointer), data.draw(JUNK))
    assert check(model, instance) == (validate(model, instance), warnings(model, instance))
