"""Form versions side by side: a bureau corrects its form during a round, and returns made from the
earlier version are still read by that version's own layout, into the same tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.importer import import_workbook
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form

ROOT = Path(__file__).resolve().parents[1]


def _layout_cells(layout: dict[str, Any]):
    def walk(items):
        for item in items:
            if "label" in item:
                yield item["label"]
            if "rows" in item:
                yield from walk(item["rows"])
            else:
                yield from item.get("cells", [])

    for sheet in layout["sheets"]:
        yield from walk(sheet["rows"])


def write_form(folder: Path, version: str, *, corrected: bool) -> Path:
    """The bundled form as a bureau's own form ``test-form``; the corrected version fixes the
    wording of a label, adds a dropdown value and replaces 项目实施必要性及可行性 with 项目可行性."""
    schema = json.loads((ROOT / "schemas" / "wuhai-perf-target.schema.json").read_text(encoding="utf-8"))
    layout = json.loads((ROOT / "templates" / "wuhai-perf-target.layout.json").read_text(encoding="utf-8"))
    schema["x-form"] |= {"id": "test-form", "version": version}
    if corrected:
        project = schema["properties"]["project"]
        project["properties"]["attribute"]["enum"].append("调整")
        del project["properties"]["necessity"]
        project["properties"]["feasibility"] = {"title": "项目可行性", "type": "string", "maxLength": 2000}
        project["required"] = [r if r != "necessity" else "feasibility" for r in project["required"]]
        for cell in _layout_cells(layout):
            if cell.get("text") == "项目单位基本情况":
                cell["text"] = "项目单位基本信息"
            if cell.get("title") == "/project/necessity":
                cell["title"] = "/project/feasibility"
            if cell.get("field") == "/project/necessity":
                cell["field"] = "/project/feasibility"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test-form.schema.json"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    (folder / "test-form.layout.json").write_text(json.dumps(layout, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def earlier_return(tmp_path: Path, db_url: str, seed0: dict[str, Any]):
    """Round opened on version 1 of test-form; a department returns version 1; then the bureau
    corrects the form to version 2 in place (same file)."""
    path = write_form(tmp_path / "forms", "1", corrected=False)
    v1 = load_form(path)
    store = Store(db_url)
    roster = roster_file(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"]])
    [issued] = distribute(v1, read_roster(roster), tmp_path / "out", store=store)
    filled = clerk_fills(tmp_path / "out" / issued.file, v1, as_department(seed0, "市信访局", "101"),
                         tmp_path / "in" / "v1.xlsx")
    (tmp_path / "v1").mkdir()
    for name in ("test-form.schema.json", "test-form.layout.json"):  # what version 1 was, for the last test
        (tmp_path / "v1" / name).write_bytes((tmp_path / "forms" / name).read_bytes())
    v2_path = write_form(tmp_path / "forms", "2", corrected=True)
    yield store, v2_path, filled
    store.dispose()


def test_a_return_of_the_earlier_version_is_read_by_its_own_layout(earlier_return, seed0, tmp_path) -> None:
    store, v2_path, filled = earlier_return
    v2 = load_form(v2_path)
    assert v2.version == "2"
    # without the earlier version known, the corrected label would make the return unreadable
    alone = import_workbook(filled, v2)
    assert alone.status == "unreadable" and alone.errors[0].code == "old_version"
    [(done, outcome)] = _import(store, filled, v2_path)
    result = done.result
    assert result.status == "valid", result.errors
    assert result.version == "1" and result.data["project"]["necessity"] == seed0["project"]["necessity"]
    notes = done.notes
    assert [n["pointer"] for n in notes] == ["/project/necessity"] and "当前 2 版已没有这一项" in notes[0]["message"]
    s = store.submissions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.form_version, s.c.notes).where(s.c.id == outcome.id)).one()
        kept = conn.execute(sa.text("SELECT project_necessity FROM test_form_fields WHERE submission = :i"),
                            {"i": outcome.id}).scalar_one()
    assert row.form_version == "1" and row.notes[0]["pointer"] == "/project/necessity"
    assert kept == seed0["project"]["necessity"]
    # staff see it in the report
    from xltemplate.collect.report import write_report

    counts = write_report(store, tmp_path / "汇总.xlsx", form=str(v2_path))
    assert counts["版本提示"] == 1 and counts["汇总"] == 1


def _import(store: Store, path: Path, form: Path) -> list[Any]:
    from xltemplate.collect import batch

    seen: list[Any] = []
    batch.run([path], store=store, form=str(form), jobs=1, on_done=lambda d, o: seen.append((d, o)))
    return seen


def test_a_return_of_the_corrected_version_lands_in_the_same_tables(earlier_return, seed0, tmp_path) -> None:
    store, v2_path, filled = earlier_return
    _import(store, filled, v2_path)
    v2 = load_form(v2_path)
    roster = roster_file(tmp_path / "r2.csv", [["code", "name"], ["102", "市财政局"]])
    [issued] = distribute(v2, read_roster(roster), tmp_path / "out2", store=store, round_name="第二轮")
    data = as_department(seed0, "市财政局", "102")
    data["project"]["attribute"] = "调整"  # the new dropdown value
    data["project"]["feasibility"] = data["project"].pop("necessity")
    new = clerk_fills(tmp_path / "out2" / issued.file, v2, data, tmp_path / "in" / "v2.xlsx")
    [(done, _outcome)] = _import(store, new, v2_path)
    assert done.result.status == "valid" and done.result.version == "2" and not done.notes
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT project_attribute, project_necessity, project_feasibility "
                                    "FROM test_form_fields ORDER BY submission")).all()
    assert [tuple(r) for r in rows] == [("新增", seed0["project"]["necessity"], None),
                                        ("调整", None, seed0["project"]["necessity"])]


def test_earlier_versions_kept_in_files_beside_the_schema(earlier_return, tmp_path) -> None:
    _store, v2_path, filled = earlier_return
    history = v2_path.parent / "test-form"
    history.mkdir()
    for src, dst in (("test-form.schema.json", "1.schema.json"), ("test-form.layout.json", "1.layout.json")):
        (history / dst).write_bytes((tmp_path / "v1" / src).read_bytes())
    result = import_workbook(filled, load_form(v2_path))
    assert result.status == "valid" and result.version == "1"
