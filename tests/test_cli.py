"""The command line: a thin shell with plain messages and meaningful exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import DATA

from xltemplate.cli import main
from xltemplate.form.forms import load_form


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_forms_schema_fields() -> None:
    out = run("forms").output
    assert "wuhai-perf-target" in out and "乌海市财政支出预算绩效目标申报表" in out and "expense-claim" in out
    schema = json.loads(run("schema", "wuhai-perf-target").output)
    assert schema["x-form"]["id"] == "wuhai-perf-target"
    fields = json.loads(run("fields", "wuhai-perf-target", "--json").output)
    year = next(f for f in fields if f["pointer"] == "/cover/year")
    f = load_form("wuhai-perf-target").by_pointer["/cover/year"]
    assert (year["sheet"], year["cell"], year["name"], year["type"]) == (f.sheet, f.cell, "xt_cover_year", "integer")
    assert any(f["type"] == "array" and f["capacity"] == 8 for f in fields)


def test_generate_fill_import(tmp_path) -> None:
    blank, filled, out = tmp_path / "t.xlsx", tmp_path / "f.xlsx", tmp_path / "r.jsonl"
    assert run("generate", "wuhai-perf-target", "-o", str(blank)).exit_code == 0
    assert run("fill", "wuhai-perf-target", str(DATA / "seed_000.json"), "-o", str(filled)).exit_code == 0
    res = run("import", str(filled), "--json", str(out), "--no-db")
    assert res.exit_code == 0
    line = json.loads(out.read_text(encoding="utf-8"))
    assert line["status"] == "valid" and line["return"]["form"] == "wuhai-perf-target"
    assert line["return"]["data"] == json.loads((DATA / "seed_000.json").read_text(encoding="utf-8"))
    res = run("import", str(filled), str(blank), "--json", str(out), "--db", str(tmp_path / "r.db"))
    assert res.exit_code == 1
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["status"] for x in lines] == ["valid", "invalid"]
    err = lines[1]["return"]["errors"][0]
    assert set(err) >= {"sheet", "cell", "pointer", "label", "value", "message"}
    year = load_form("wuhai-perf-target").by_pointer["/cover/year"]
    assert "必填" in res.output and f"{year.sheet}!{year.cell}" in res.output


def test_bad_input_gets_a_sentence_not_a_traceback(tmp_path) -> None:
    res = CliRunner().invoke(main, ["generate", "no-such-form", "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 1 and "找不到表单" in res.output and "Traceback" not in res.output
    big = json.loads((DATA / "seed_000.json").read_text(encoding="utf-8"))
    big["budget_items"] = big["budget_items"] * 9
    data = tmp_path / "big.json"
    data.write_text(json.dumps(big, ensure_ascii=False), encoding="utf-8")
    res = CliRunner().invoke(main, ["fill", "wuhai-perf-target", str(data), "-o", str(tmp_path / "y.xlsx")])
    assert res.exit_code == 1 and "8 行" in res.output and "big.json" in res.output
    assert not (tmp_path / "y.xlsx").exists()
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"not a workbook")
    res = CliRunner().invoke(main, ["--lang", "en", "import", str(garbage), "--no-db"])
    assert res.exit_code == 1 and "garbage.xlsx" in res.output and "Cannot read" in res.output


def test_report_command(tmp_path) -> None:
    filled = tmp_path / "in" / "f.xlsx"
    filled.parent.mkdir()
    assert run("fill", "wuhai-perf-target", str(DATA / "seed_000.json"), "-o", str(filled)).exit_code == 0
    db = str(tmp_path / "r.db")
    assert run("import", str(tmp_path / "in"), "--db", db).exit_code == 0
    res = run("report", "--db", db, "-o", str(tmp_path / "汇总.xlsx"))
    assert res.exit_code == 0 and (tmp_path / "汇总.xlsx").is_file()
    res = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "nope.db"), "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 1 and "nope.db" in res.output and not (tmp_path / "nope.db").exists()


def test_fill_as_an_issued_template_carries_its_identity(tmp_path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("code,name\n101,市信访局\n", encoding="utf-8")
    assert run("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(tmp_path / "out"),
               "--year", "2021").exit_code == 0
    issued = tmp_path / "out" / "101_市信访局.xlsx"
    filled = tmp_path / "in" / "f.xlsx"
    assert run("fill", "wuhai-perf-target", str(DATA / "seed_000.json"), "--as", str(issued),
               "-o", str(filled)).exit_code == 0
    from xltemplate.collect.importer import import_workbook

    template, copy = import_workbook(issued, with_meta=True), import_workbook(filled, with_meta=True)
    assert copy[0].status == "valid" and copy[0].submission_id == template[0].submission_id
    assert {k: copy[1][k] for k in ("department", "department_code", "year")} == \
        {"department": "市信访局", "department_code": "101", "year": "2021"}
    res = run("status")  # the default database in the current folder
    assert "市信访局  待审核" not in res.output
    assert run("import", str(filled)).exit_code == 0
    assert "市信访局  待审核" in run("status").output
