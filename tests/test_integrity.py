"""Template integrity: the bureau's keyed signature, and templates filled in by another department."""

from __future__ import annotations

import copy

from click.testing import CliRunner
from conftest import write_return
from corpus import _meta

from xltemplate.cli import main
from xltemplate.collect.distribute import distribute
from xltemplate.collect.importer import import_workbook
from xltemplate.collect.integrity import signer
from xltemplate.xlsx.writer import write_workbook

KEY = "财政局的密钥-2021"


def _signed(tmp_path, wuhai, seed0, **kw):
    data = copy.deepcopy(seed0)
    data["cover"]["budget_code"] = "101"
    path = tmp_path / "r.xlsx"
    path.write_bytes(write_workbook(wuhai, data, submission_id="101-abc", sign=signer(KEY),
                                    extra_meta={"department": "市信访局", "department_code": "101"}, **kw))
    return path


def test_a_signed_template_checks_out_with_the_key(tmp_path, wuhai, seed0) -> None:
    path = _signed(tmp_path, wuhai, seed0)
    assert import_workbook(path, key=KEY).status == "valid"
    assert import_workbook(path).status == "valid"  # without a key nothing is checked


def test_a_forged_template_is_reported(tmp_path, wuhai, seed0) -> None:
    path = _signed(tmp_path, wuhai, seed0)
    path.write_bytes(_meta(path.read_bytes(), "submission_id", "102-xyz"))  # identity edited by hand
    result = import_workbook(path, key=KEY)
    assert [e.code for e in result.errors] == ["forged"] and "篡改" in result.errors[0].message
    wrong_key = import_workbook(_signed(tmp_path, wuhai, seed0), key="another key")
    assert [e.code for e in wrong_key.errors] == ["forged"]


def test_an_unsigned_template_is_reported_when_a_key_is_expected(tmp_path, wuhai, seed0) -> None:
    path = write_return(tmp_path / "u.xlsx", wuhai, seed0, submission_id="X")
    result = import_workbook(path, key=KEY)
    assert [e.code for e in result.errors] == ["unsigned"]


def test_a_template_copied_from_another_department(tmp_path, wuhai, seed0) -> None:
    data = copy.deepcopy(seed0)
    data["cover"]["department"] = "市财政局"  # filled in by another department on 市信访局's template
    path = tmp_path / "c.xlsx"
    path.write_bytes(write_workbook(wuhai, data, submission_id="101-abc",
                                    extra_meta={"department": "市信访局", "department_code": "101"}))
    error = next(e for e in import_workbook(path).errors if e.code == "other_department")
    assert error.cell == wuhai.by_pointer["/cover/department"].cell
    assert "市信访局" in error.message and "市财政局" in error.message


def test_distributed_templates_are_signed_by_both_writers(tmp_path, wuhai) -> None:
    roster = [{"code": "101", "name": "市信访局"}]
    fast = distribute(wuhai, roster, tmp_path / "fast", key=KEY)
    full = distribute(wuhai, [dict(roster[0], **{"/funding/other": "1"})], tmp_path / "full", key=KEY)
    for folder, issued in (("fast", fast), ("full", full)):
        result = import_workbook(tmp_path / folder / issued[0].file, key=KEY)
        assert not [e for e in result.errors if e.code in ("forged", "unsigned")], folder


def test_cli_key_from_the_environment(tmp_path) -> None:
    out = tmp_path / "t.xlsx"
    env = {"XLTEMPLATE_KEY": KEY}
    assert CliRunner().invoke(main, ["generate", "wuhai-perf-target", "-o", str(out)], env=env).exit_code == 0
    res = CliRunner().invoke(main, ["import", str(out), "--no-db"], env=env)
    assert "forged" not in res.output and "篡改" not in res.output
    res = CliRunner().invoke(main, ["import", str(out), "--no-db", "--key", "wrong"])
    assert "篡改" in res.output and res.exit_code == 1


def test_debug_shows_a_traceback(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XLTEMPLATE_DEBUG", "")  # --debug sets it; monkeypatch restores it afterwards
    res = CliRunner().invoke(main, ["--debug", "generate", "no-such-form", "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 1 and "Traceback" in res.output
