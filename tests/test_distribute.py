"""distribute: a roster becomes prefilled templates, each identifying its department and submission."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from xltemplate.cli import main
from xltemplate.collect.distribute import RosterError, distribute, plan, read_roster
from xltemplate.collect.importer import import_workbook
from xltemplate.form.values import leaves_of


def _roster(path, rows, encoding="utf-8-sig"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_one_template_per_department_with_manifest(wuhai, tmp_path) -> None:
    roster = _roster(tmp_path / "名单.csv", [
        ["部门代码", "部门名称", "联系人", "/unit/supervisor", "主管部门负责人及联系电话"],
        ["101", "市信访局", "李杰 1814730****", "乌海市人民政府办公室", "李业勋 1351473****"],
        ["102", "市财政局", "王某", "乌海市人民政府", ""],
    ], encoding="gb18030")  # as Excel saves CSV on a Chinese Windows
    issued = distribute(wuhai, read_roster(roster), tmp_path / "out")
    assert [i.file for i in issued] == ["101_市信访局.xlsx", "102_市财政局.xlsx"]
    assert len({i.submission_id for i in issued}) == 2
    with open(tmp_path / "out" / "manifest.csv", encoding="utf-8-sig") as fh:
        manifest = list(csv.DictReader(fh))
    assert [(m["code"], m["file"], m["submission_id"]) for m in manifest] == \
        [(i.code, i.file, i.submission_id) for i in issued]
    result, meta = import_workbook(tmp_path / "out" / issued[0].file, with_meta=True)
    assert result.submission_id == issued[0].submission_id
    assert (meta["department"], meta["department_code"]) == ("市信访局", "101")
    assert result.data["unit"] == {"name": "市信访局", "contact": "李杰 1814730****",
                                   "supervisor": "乌海市人民政府办公室", "supervisor_contact": "李业勋 1351473****"}
    assert result.data["cover"] == {"department": "市信访局", "budget_code": "101"}
    second = import_workbook(tmp_path / "out" / issued[1].file)
    assert "supervisor_contact" not in second.data["unit"]  # an empty roster cell stays empty


def test_a_long_roster_s_copies_are_made_by_several_processes_in_roster_order(wuhai, tmp_path, monkeypatch) -> None:
    """The copies of a long roster are made by worker processes in batches: every file is there,
    under the name and submission id decided beforehand, with the hash the manifest gives, in the
    roster's order, and reads back as its department's template."""
    import hashlib

    from xltemplate.collect import distribute as dist

    monkeypatch.setattr(dist, "PARALLEL_FROM", 10)
    monkeypatch.setattr(dist, "RENDER_BATCH", 7)  # several batches, the last one short
    rows = [{"code": f"{200 + n}", "name": f"第{n}单位", "contact": f"联系人{n}"} for n in range(40)]
    seen = []
    issued = distribute(wuhai, rows, tmp_path / "out", jobs=2, progress=seen.append)
    assert [i.code for i in issued] == [r["code"] for r in rows] and sum(seen) == 40
    for i in issued:
        assert hashlib.sha256((tmp_path / "out" / i.file).read_bytes()).hexdigest() == i.sha256
    for i in (issued[0], issued[20], issued[-1]):
        result, meta = import_workbook(tmp_path / "out" / i.file, with_meta=True)
        assert (result.submission_id, meta["department_code"]) == (i.submission_id, i.code)
        assert result.data["unit"]["contact"] == f"联系人{int(i.code) - 200}"
    with open(tmp_path / "out" / "manifest.csv", encoding="utf-8-sig") as fh:
        assert [(m["file"], m["sha256"]) for m in csv.DictReader(fh)] == [(i.file, i.sha256) for i in issued]


def test_fast_and_full_writers_give_the_same_workbook_content(wuhai, tmp_path) -> None:
    """Text-only rosters use the marker skeleton; a number column forces full writes. Same data back."""
    text_only = [{"code": "101", "name": "市信访局", "contact": "<李杰> & \"王\""}]
    with_number = [dict(text_only[0], **{"/funding/other": "0.5"})]
    fast = distribute(wuhai, text_only, tmp_path / "fast")
    full = distribute(wuhai, with_number, tmp_path / "full")
    a = import_workbook(tmp_path / "fast" / fast[0].file).data
    b = import_workbook(tmp_path / "full" / full[0].file).data
    assert a["unit"]["contact"] == "<李杰> & \"王\""  # XML-escaped in the skeleton, read back intact
    assert b.pop("funding") == {"other": 0.5} and a.pop("funding") == {}
    assert a == b


@pytest.mark.parametrize(("rows", "words"), [
    ([["code", "name", "no_such_field"], ["1", "a"]], "no_such_field"),
    ([["name"], ["a"]], "部门代码"),
    ([["code", "name"], ["12", "a"]], "3至12位数字"),  # the code goes to 部门预算代码, whose pattern it fails
    ([["code", "name"], ["101", "a"], ["101", "b"]], "不止一次"),
    ([["code", "name", "项目名称"], ["101", "a", "甲项目"], ["102", "b", "甲项目"], ["101", "a", "甲项目"]],
     "101 出现了不止一次（同一项目）"),
    ([["code", "name", "/funding/total"], ["101", "a", "很多"]], "应为数字"),
])
def test_bad_rosters_are_refused_before_anything_is_written(wuhai, tmp_path, rows, words) -> None:
    roster = read_roster(_roster(tmp_path / "r.csv", rows))
    with pytest.raises(RosterError) as exc:
        plan(wuhai, roster, "r.csv")
    assert words in str(exc.value) and "r.csv" in str(exc.value)


@pytest.mark.parametrize(("code", "name", "contact"), [
    ("单位编码", "单位名称", "联系人"), ("单位代码", "单位名称", "联系电话"), ("部门编号", "部门名称", "联系方式"),
    ("部门编码", "部门（单位）名称", "联系人及电话"), ("预算单位编码", "预算单位名称", "经办人"),
    ("Code", "Name", "Contact"),
])
def test_the_header_names_bureaus_use_are_understood(wuhai, tmp_path, code, name, contact) -> None:
    """A roster as a bureau keeps it (单位编码, 单位名称, 联系电话, and a 序号 column of its own) is taken:
    the code, name and contact reach their cells, the 序号 fills none."""
    rows = [["序号", code, name, contact], ["1", "101", "市信访局", "李杰 139"], ["2", "102", "市财政局", ""]]
    roster = read_roster(_roster(tmp_path / "r.csv", rows))
    planned = plan(wuhai, roster, "r.csv")
    assert [(c, n) for c, n, _data in planned] == [("101", "市信访局"), ("102", "市财政局")]
    assert planned[0][2]["unit"] == {"name": "市信访局", "contact": "李杰 139"}
    assert planned[0][2]["cover"] == {"department": "市信访局", "budget_code": "101"}
    assert "1" not in [v for _p, v in leaves_of(planned[0][2])]  # the 序号 went nowhere


def test_a_roster_of_projects_lists_a_department_once_per_project(wuhai, tmp_path) -> None:
    rows = [["code", "name", "项目名称"], ["101", "a", "甲项目"], ["101", "a", "乙项目"], ["102", "b", "甲项目"]]
    assert [code for code, _name, _data in plan(wuhai, read_roster(_roster(tmp_path / "r.csv", rows)), "r.csv")] \
        == ["101", "101", "102"]


def test_cli_distribute(wuhai, tmp_path) -> None:
    roster = _roster(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"], ["102", "市/财政局"]])
    res = CliRunner().invoke(main, ["distribute", "wuhai-perf-target", "--roster", str(roster), "-o",
                                    str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["101_市信访局.xlsx", "102_市_财政局.xlsx", "manifest.csv"]
    bad = _roster(tmp_path / "bad.csv", [["code", "name", "x"], ["101", "a", "1"]])
    res = CliRunner().invoke(main, ["distribute", "wuhai-perf-target", "--roster", str(bad), "-o",
                                    str(tmp_path / "out2")])
    assert res.exit_code == 1 and "“x”" in res.output and not (tmp_path / "out2").exists()


def test_roster_columns_can_fill_rows_of_a_repeating_area(wuhai, tmp_path) -> None:
    """A column names one cell, so a repeating area's field is named by its row; both writers."""
    text_only = [{"code": "101", "name": "市信访局", "/budget_items/0/name": "生活补贴",
                  "/budget_items/1/name": "交通费", "/budget_items/1/period": "2021-01~2021-06"}]
    with_amounts = [dict(text_only[0], **{"/budget_items/0/amount": "5", "/budget_items/1/amount": "2.5"})]
    fast = distribute(wuhai, text_only, tmp_path / "fast")
    full = distribute(wuhai, with_amounts, tmp_path / "full")
    assert import_workbook(tmp_path / "fast" / fast[0].file).data["budget_items"] == [
        {"name": "生活补贴"}, {"name": "交通费", "period": "2021-01~2021-06"}]
    assert import_workbook(tmp_path / "full" / full[0].file).data["budget_items"] == [
        {"name": "生活补贴", "amount": 5}, {"name": "交通费", "amount": 2.5, "period": "2021-01~2021-06"}]


@pytest.mark.parametrize(("column", "words"), [
    ("/budget_items/*/name", ["重复区域“项目预算明细”的一列", "/budget_items/0/name（第1行）"]),
    ("/budget_items/8/name", ["只有 8 行", "/budget_items/0/name 到 /budget_items/7/name"]),
    ("/funding", ["一组内容“项目资金来源(万元)”", "/funding/total"]),
    ("明细项目名称", ["重复区域“项目预算明细”的一列", "/budget_items/0/name"]),
    ("/no/such", ["不是表单中的字段"]),
])
def test_a_column_that_names_no_cell_is_refused_saying_what_to_write(wuhai, column, words) -> None:
    with pytest.raises(RosterError) as exc:
        plan(wuhai, [{"code": "101", "name": "市信访局", column: "x"}], "名单.csv")
    message = str(exc.value)
    assert f"列“{column}”" in message and "名单.csv" in message
    for word in words:
        assert word in message, message


def test_roster_problems_in_english(wuhai) -> None:
    with pytest.raises(RosterError) as exc:
        plan(wuhai, [{"code": "101", "name": "a", "/budget_items/*/name": "x"}], "r.csv", lang="en")
    assert "repeating area" in str(exc.value) and "/budget_items/0/name (row 1)" in str(exc.value)


def test_prefills_are_checked_as_partial_instances(wuhai, tmp_path) -> None:
    """What a department still fills in does not block a prefill; the values given are checked,
    and a sum rule only when its total and every part are given."""
    base = {"code": "101", "name": "市信访局"}
    # the total alone: the parts are still to come (the old check counted them as 0 and refused it)
    [(_c, _n, data)] = plan(wuhai, [base | {"/funding/total": "7"}])
    assert data["funding"] == {"total": 7}
    # total and amount of one budget row that differ: the rule over a repeating column is never complete
    plan(wuhai, [base | {"/funding/total": "7", "/budget_items/0/amount": "3"}])
    # total and all three parts given, and they do not add up: refused, naming the rule
    with pytest.raises(RosterError) as exc:
        plan(wuhai, [base | {"/funding/total": "10", "/funding/carryover": "1", "/funding/request": "2",
                             "/funding/other": "3"}], "r.csv")
    assert "r.csv 第2行：项目资金来源(万元) · 项目资金总额“10”" in str(exc.value)
    assert "三项合计 6，总额 10" in str(exc.value)
    # a value given is still held to its own rules, and so is a row's field
    with pytest.raises(RosterError) as exc:
        plan(wuhai, [base | {"/funding/total": "7.123", "/budget_items/0/period": "2021-12~2021-01"}], "r.csv")
    assert "最多保留两位小数" in str(exc.value) and "开始时间晚于结束时间" in str(exc.value)
    issued = distribute(wuhai, [base | {"/funding/total": "7"}], tmp_path / "out")
    back = import_workbook(tmp_path / "out" / issued[0].file)
    assert back.data["funding"] == {"total": 7}
    assert any(e.code == "x-sum" for e in back.errors)  # the import checks everything, when the form comes back


def test_fast_copies_are_the_zip_zipfile_writes_and_open_everywhere(wuhai, tmp_path) -> None:
    """A fast copy reuses the skeleton's compressed parts and writes its own zip headers: the
    result is byte for byte the zip ``zipfile`` writes of the same members (so every reader that
    takes zipfile's output takes it), differs between departments only in the marked parts, and
    opens in openpyxl and calamine."""
    import io
    import zipfile

    import openpyxl
    from python_calamine import CalamineWorkbook

    rows = [{"code": "101", "name": "市信访局", "contact": "李杰 <1814730>"}, {"code": "102", "name": "市财政局"}]
    issued = distribute(wuhai, rows, tmp_path / "out")
    books = [(tmp_path / "out" / i.file).read_bytes() for i in issued]
    for book in books:
        src = zipfile.ZipFile(io.BytesIO(book))
        assert src.testzip() is None
        again = io.BytesIO()
        with zipfile.ZipFile(again, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info.filename))
        assert again.getvalue() == book
        wb = openpyxl.load_workbook(io.BytesIO(book))
        assert wb[wuhai.sheets[0].name].protection.sheet
        assert CalamineWorkbook.from_filelike(io.BytesIO(book)).sheet_names[:2] == [s.name for s in wuhai.sheets]
    a, b = (zipfile.ZipFile(io.BytesIO(x)) for x in books)
    changed = {i.filename for i in a.infolist() if a.read(i.filename) != b.read(i.filename)}
    assert changed == {"xl/sharedStrings.xml", "docProps/custom.xml"}
    assert import_workbook(tmp_path / "out" / issued[0].file).data["unit"]["contact"] == "李杰 <1814730>"
