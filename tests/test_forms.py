"""Where forms come from: bundled ids, schema paths, and a form file changed on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xltemplate.form import forms
from xltemplate.form.forms import FormNotFound, find_form, load_form

ROOT = Path(__file__).resolve().parents[1]


def _copy(tmp_path: Path, title: str) -> Path:
    schema = json.loads((ROOT / "schemas" / "expense-claim.schema.json").read_text(encoding="utf-8"))
    schema["title"] = title
    path = tmp_path / "claim.schema.json"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_form_file_changed_on_disk_is_read_again_within_the_recheck_time(tmp_path, monkeypatch) -> None:
    path = _copy(tmp_path, "第一版")
    assert load_form(path).title == "第一版"
    monkeypatch.setattr(forms, "RECHECK_SECONDS", 3600.0)
    _copy(tmp_path, "第二版")
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    assert load_form(path).title == "第一版"  # looked at again only after RECHECK_SECONDS
    monkeypatch.setattr(forms, "RECHECK_SECONDS", 0.0)
    assert load_form(path).title == "第二版"


def test_bundled_forms_by_id_and_unknown_ones() -> None:
    assert find_form("wuhai-perf-target").title == "乌海市财政支出预算绩效目标申报表"
    assert find_form("no-such-form") is None
    with pytest.raises(FormNotFound, match="找不到表单"):
        load_form("no-such-form")
