"""Reports from the results database: real returns imported by batch.run, read back from real files."""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from conftest import load_json, new_database, poke

from xltemplate.collect import batch
from xltemplate.collect.report import ReportError, write_report
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel
from xltemplate.xlsx.writer import write_workbook

INJECTION = '=HYPERLINK("http://x","y")'
TOTAL = "项目资金来源(万元) · 项目资金总额"
CONTACT = "项目单位基本情况 · 项目单位负责人及联系电话"


@pytest.fixture(params=["sqlite", "postgresql"])
def report_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    server = request.getfixturevalue("pg_url")
    url = new_database(server, "report")
    name = sa.make_url(url).database
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        yield url
        with contextlib.suppress(sa.exc.SQLAlchemyError), admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _return(path: Path, model: FormModel, data: Any, *, submission_id: str, department: str, code: str) -> Path:
    """A returned workbook as a department sends it back (department in the metadata and on the cover)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = copy.deepcopy(data)
    if "cover" in data:
        data["cover"]["department"] = department
    path.write_bytes(write_workbook(model, data, submission_id=submission_id,
                                    extra_meta={"department": department, "department_code": code}))
    return path


def _indicator_rows(data: dict[str, Any]) -> list[tuple[str, str, str, int, str, str]]:
    """The indicators of ``data`` as the report says them: the schema's titles, not its keys."""
    from xltemplate.form.forms import load_form
    from xltemplate.form.schema import node_at

    schema = load_form("wuhai-perf-target").schema

    def title(*keys: str) -> str:
        return node_at(schema, "/indicators/" + "/".join(keys))["title"]

    return [(title(period), title(period, category), title(period, category, sub), n, item["name"], item["value"])
            for period, cats in data["indicators"].items() for category, subs in cats.items()
            for sub, items in subs.items() for n, item in enumerate(items, start=1)]


@pytest.fixture
def imported(tmp_path: Path, report_db: str, wuhai: FormModel, seed0, seed1) -> Iterator[dict[str, Any]]:
    """A small batch: A valid (with a formula-like text), B sent twice (the later corrected copy is current),
    C invalid, D unreadable."""
    inbox = tmp_path / "in"
    a_data = copy.deepcopy(seed0)
    a_data["unit"]["contact"] = INJECTION
    a = _return(inbox / "a.xlsx", wuhai, a_data, submission_id="A-1", department="市信访局", code="101")
    # B's first copy still has the template's prompts (invalid); the corrected copy is saved later
    b_first = _return(inbox / "b-first.xlsx", wuhai, seed1, submission_id="B-1", department="市财政局", code="102")
    b_fixed = poke(b_first, wuhai, {"/goals/long_term": "保障经费", "/goals/annual": "按时发放聘用人员经费",
                                    "/funding/total": 30, "/funding/request": 30, "/budget_items/0/amount": 30},
                   out=inbox / "b-fixed.xlsx")
    c = _return(inbox / "c.xlsx", wuhai, seed0, submission_id="C-1", department="市教育局", code="12ab")
    poke(c, wuhai, {"/cover/budget_code": "12ab", "/project/attribute": "新建"})
    d = inbox / "d.xlsx"
    d.write_bytes(b"not a workbook at all")
    store = Store(report_db)
    # the corrected copy first: the earlier-saved first copy, received later, must not replace it
    summary = batch.run([a, b_fixed, b_first, c, d], store=store, jobs=1)
    assert summary.total() == {"valid": 2, "invalid": 2, "unreadable": 1, "duplicate": 0, "superseded": 1}
    b_data = copy.deepcopy(seed1)
    b_data["cover"]["department"] = "市财政局"
    b_data["goals"] = {"long_term": "保障经费", "annual": "按时发放聘用人员经费"}
    b_data["funding"] |= {"total": 30, "request": 30}
    b_data["budget_items"][0]["amount"] = 30
    try:
        yield {"store": store, "a": a_data, "b": b_data}
    finally:
        store.dispose()


def _rows(ws: Any) -> list[dict[str, Any]]:
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _check_sheet_basics(ws: Any, n_rows: int) -> None:
    assert ws.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(ws.max_column)
    assert ws.auto_filter.ref == f"A1:{last}{n_rows + 1}"
    head = ws.cell(1, 1)
    assert head.font.b and head.font.name == "宋体"
    assert ws.max_row == n_rows + 1


def test_xlsx_report(imported, tmp_path: Path, wuhai: FormModel, seed0) -> None:
    store, a, b = imported["store"], imported["a"], imported["b"]
    out = tmp_path / "out" / "report.xlsx"
    indicators = _indicator_rows(a) + _indicator_rows(b)
    counts = write_report(store, out)
    assert counts == {"汇总": 2, "项目预算明细": 2, "项目绩效指标": len(indicators), "错误清单": 3}
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "项目预算明细", "项目绩效指标", "错误清单"]
    for name, n in counts.items():
        _check_sheet_basics(wb[name], n)

    ws = wb["汇总"]
    heads = [c.value for c in ws[1]]
    assert heads[:8] == ["记录号", "部门", "部门代码", "报送编号", "审核状态", "评级", "文件", "接收时间"]
    assert heads[8:] == [f.label for f in wuhai.fields if f.array is None]
    assert all(isinstance(r["记录号"], int) for r in _rows(ws))  # what `withdraw` takes
    rows = _rows(ws)
    assert [(r["部门"], r["部门代码"], r["报送编号"], r["文件"]) for r in rows] == [
        ("市信访局", "101", "A-1", "a.xlsx"), ("市财政局", "102", "B-1", "b-fixed.xlsx")]
    assert [r[TOTAL] for r in rows] == [7, 30]  # the corrected copy's figures, not the superseded 24
    assert all(isinstance(r[TOTAL], int | float) for r in rows)
    assert rows[0]["封面 · 预算年度"] == 2021 and rows[0]["封面 · 项目名称"] == seed0["cover"]["project_name"]
    assert rows[0]["项目基本情况 · 项目实施起止时间（年月）"] == "2021-01~2021-12"
    assert isinstance(rows[0]["接收时间"], dt.datetime)
    date_col = heads.index("封面 · 编报时间") + 1
    assert ws.cell(2, date_col).value == dt.datetime(2020, 10, 16)
    assert ws.cell(2, date_col).number_format == "yyyy-mm-dd"
    assert ws.cell(2, date_col).font.name == "宋体"
    # formula injection: a string, protected by the quote prefix, value unchanged
    cell = ws.cell(2, heads.index(CONTACT) + 1)
    assert cell.value == INJECTION and cell.data_type == "s" and cell.quotePrefix
    assert not ws.cell(2, 2).quotePrefix
    # widths follow the content, CJK counted double, long text capped; long headers wrap
    def width(header: str) -> float:
        return ws.column_dimensions[openpyxl.utils.get_column_letter(heads.index(header) + 1)].width

    assert 10 <= width("部门") < 15 and width("项目单位基本情况 · 部门职能") > 60 and width(TOTAL) < 30
    assert ws.row_dimensions[1].height > 15

    budget = _rows(wb["项目预算明细"])
    assert [(r["部门"], r["报送编号"], r["行号"], r["明细项目名称"], r["金额(万元)"], r["区域"]) for r in budget] == [
        ("市信访局", "A-1", 1, "生活补贴", 7, "项目预算明细"),
        ("市财政局", "B-1", 1, "社会化聘用人员经费", 30, "项目预算明细")]

    ws = wb["项目绩效指标"]
    assert [c.value for c in ws[1]] == ["记录号", "部门", "部门代码", "报送编号", "审核状态", "评级", "期间", "类别",
                                        "子类", "区域", "行号", "三级指标", "指标值"]
    assert {r["审核状态"] for r in _rows(ws)} == {"待审核"}
    got = [(r["期间"], r["类别"], r["子类"], r["行号"], r["三级指标"], r["指标值"]) for r in _rows(ws)]
    assert sorted(got) == sorted(indicators)
    first = _rows(ws)[0]
    assert first["部门"] == "市信访局"
    assert first["区域"] == " · ".join(["项目绩效指标", first["期间"], first["类别"], first["子类"]])
    assert {r["期间"] for r in _rows(ws)} == {"年度"} and {"产出指标", "效益指标"} <= {r["类别"] for r in _rows(ws)}

    errors = _rows(wb["错误清单"])
    assert [c.value for c in wb["错误清单"][1]] == ["文件", "部门", "状态", "工作表", "单元格", "项目", "填写的内容",
                                                  "问题"]
    c_errors = {r["单元格"]: r for r in errors if r["文件"] == "c.xlsx"}
    assert set(c_errors) == {wuhai.by_pointer["/cover/budget_code"].cell, wuhai.by_pointer["/project/attribute"].cell}
    field = wuhai.by_pointer["/cover/budget_code"]
    code = c_errors[field.cell]
    assert (code["部门"], code["状态"], code["工作表"], code["填写的内容"]) == \
        ("市教育局", "有错误", field.sheet, "12ab")
    assert "3至12位数字" in code["问题"] and code["项目"] == wuhai.by_pointer["/cover/budget_code"].label
    unreadable = [r for r in errors if r["文件"] == "d.xlsx"]
    assert len(unreadable) == 1 and unreadable[0]["状态"] == "无法读取" and unreadable[0]["问题"]
    assert not [r for r in errors if r["文件"] == "b-first.xlsx"]  # superseded: no longer to be fixed


def test_csv_report(imported, tmp_path: Path) -> None:
    store, a, b = imported["store"], imported["a"], imported["b"]
    out = tmp_path / "report.csv"
    counts = write_report(store, out)
    assert list(counts) == ["汇总", "项目预算明细", "项目绩效指标", "错误清单"]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Chinese right

    def read(path: Path) -> list[dict[str, str]]:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))

    rows = read(out)
    assert [(r["部门"], r["报送编号"], r[TOTAL], r["封面 · 编报时间"]) for r in rows] == [
        ("市信访局", "A-1", "7", "2020-10-16"), ("市财政局", "B-1", "30", "2020-08-19")]
    assert rows[0][CONTACT] == "'" + INJECTION  # OWASP: a leading quote, never a live formula
    assert rows[1][CONTACT] == b["unit"]["contact"]
    assert len(read(tmp_path / "report.项目预算明细.csv")) == counts["项目预算明细"] == 2
    indicators = read(tmp_path / "report.项目绩效指标.csv")
    assert len(indicators) == len(_indicator_rows(a)) + len(_indicator_rows(b))
    errors = read(tmp_path / "report.错误清单.csv")
    assert len(errors) == counts["错误清单"] == 3
    assert {r["状态"] for r in errors} == {"有错误", "无法读取"}


def test_jsonl_report(imported, tmp_path: Path) -> None:
    store, a, b = imported["store"], imported["a"], imported["b"]
    out = tmp_path / "report.jsonl"
    assert write_report(store, out) == {"汇总": 2}
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [set(x) for x in lines] == [{"department", "department_code", "submission_id", "file", "received_at",
                                        "review", "grade", "data"}] * 2
    assert [(x["review"], x["grade"]) for x in lines] == [("pending", None)] * 2
    assert [(x["department"], x["department_code"], x["submission_id"], x["file"]) for x in lines] == [
        ("市信访局", "101", "A-1", "a.xlsx"), ("市财政局", "102", "B-1", "b-fixed.xlsx")]
    assert lines[0]["data"] == a and lines[1]["data"] == b
    assert dt.datetime.fromisoformat(lines[0]["received_at"])


def test_two_forms_need_form(tmp_path: Path, report_db: str, wuhai: FormModel, expense: FormModel, seed0) -> None:
    claim = load_json("expense_claim.json")
    files = [_return(tmp_path / "in" / "w.xlsx", wuhai, seed0, submission_id="W", department="市信访局", code="101"),
             _return(tmp_path / "in" / "e.xlsx", expense, claim, submission_id="E", department="市财政局", code="102")]
    store = Store(report_db)
    try:
        assert batch.run(files, store=store, jobs=1).total()["valid"] == 2
        with pytest.raises(ReportError, match="数据库中有多个表单：expense-claim、wuhai-perf-target，请用 --form 指定"):
            write_report(store, tmp_path / "r.xlsx")
        assert not (tmp_path / "r.xlsx").exists()
        with pytest.raises(ReportError, match="--form"):
            write_report(store, tmp_path / "r.xlsx", lang="en")
        with pytest.raises(ReportError, match=r"\.txt"):
            write_report(store, tmp_path / "r.txt", form="expense-claim")
        counts = write_report(store, tmp_path / "r.xlsx", form="expense-claim", lang="en")
        assert counts == {"Summary": 1, "费用明细": len(claim["items"]), "Errors": 0}
        wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
        summary = _rows(wb["Summary"])
        assert summary[0]["Submission ID"] == "E" and summary[0]["报销合计（元）"] == claim["total"]
        assert summary[0]["是否现金支付"] is False and summary[0]["Department"] == "市财政局"
        items = _rows(wb["费用明细"])
        assert [r["金额（元）"] for r in items] == [i["amount"] for i in claim["items"]]
        assert isinstance(items[0]["日期"], dt.datetime)
        _check_sheet_basics(wb["Errors"], 0)
        assert write_report(store, tmp_path / "w.jsonl", form="wuhai-perf-target") == {"汇总": 1}
    finally:
        store.dispose()


def test_unknown_form_and_empty_database(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ReportError, match="没有任何表单"):
            write_report(store, tmp_path / "r.xlsx")
        with pytest.raises(ReportError, match="找不到表单"):
            write_report(store, tmp_path / "r.xlsx", form="no-such-form")
        # a known form with nothing stored yet: headers only
        counts = write_report(store, tmp_path / "r.xlsx", form="wuhai-perf-target")
        assert counts == {"汇总": 0, "项目预算明细": 0, "项目绩效指标": 0, "错误清单": 0}
    finally:
        store.dispose()


def test_sheet_names_are_legal_and_unique() -> None:
    from xltemplate.collect.report import _sheet_name

    taken: set[str] = set()
    names = [_sheet_name(n, taken) for n in ("汇总", "汇总", "a/b:c*d?[e]", "x" * 40, "x" * 40, "History", "'q'")]
    assert names[:3] == ["汇总", "汇总(2)", "a_b_c_d__e_"]
    assert names[3] == "x" * 31 and names[4] == "x" * 28 + "(2)"
    assert names[5] == "History(2)" and names[6] == "q"
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == len(names)


@pytest.mark.parametrize(("hint", "zh", "en"), [
    ({"name": "plan", "path": ["quarter"], "titles": [{"zh": "季度", "en": "Quarter"}]}, "季度", "Quarter"),
    ({"name": "plan", "path": ["quarter"]}, "分组1", "Group 1"),
    (None, "分组1", "Group 1"),
], ids=["x-table titles", "x-table path names (the database's, not a header)", "no x-table"])
def test_a_new_forms_grouped_table_is_reported_from_its_schema_alone(tmp_path: Path, hint: Any, zh: str,
                                                                      en: str) -> None:
    """A form the package has never seen, with repeating areas grouped under one property: its
    report sheet is named by the schema and its path column is headed by ``x-table``'s titles, else a
    numbered group, with no code of its own; the path's keys are said as the schema's titles."""
    from xltemplate.form.forms import load_form

    rows = {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
        "what": {"title": "事项", "type": "string"}, "cost": {"title": "费用", "type": "number"}}}}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "季度计划",
              "x-form": {"id": "quarter-plan", "version": "1"}, "type": "object", "properties": {
                  "unit": {"title": "单位", "type": "string"},
                  "plan": {"title": "分季计划", "type": "object", **({"x-table": hint} if hint else {}),
                           "properties": {"q1": {"title": "一季度", **rows}, "q2": {"title": "二季度", **rows}}}}}
    path = tmp_path / "quarter-plan.schema.json"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    model = load_form(path)
    data = {"unit": "市财政局", "plan": {"q1": [{"what": "培训", "cost": 3}], "q2": [{"what": "验收", "cost": 2}]}}
    ret = _return(tmp_path / "in" / "q.xlsx", model, data, submission_id="Q-1", department="市财政局", code="102")
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        assert batch.run([ret], store=store, jobs=1, form=str(path)).total()["valid"] == 1
        for lang, group, heads in (("zh", zh, ["记录号", "部门", "部门代码", "报送编号", "审核状态", "评级"]),
                                   ("en", en, ["Record", "Department", "Department code", "Submission ID", "Review",
                                               "Grade"])):
            out = tmp_path / f"{lang}.xlsx"
            counts = write_report(store, out, form=str(path), lang=lang)
            assert counts["分季计划"] == 2
            ws = openpyxl.load_workbook(out)["分季计划"]
            assert [c.value for c in ws[1]] == [*heads, group, "区域" if lang == "zh" else "Area",
                                                "行号" if lang == "zh" else "Row", "事项", "费用"]
            assert [(r[group], r["事项"], r["费用"]) for r in _rows(ws)] == [("一季度", "培训", 3),
                                                                        ("二季度", "验收", 2)]
    finally:
        store.dispose()
