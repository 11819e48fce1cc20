"""Collection rounds on SQLite and on a real PostgreSQL: who was asked, which returns belong
together (projects), where each department stands, withdrawals, years and closed rounds."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import poke

from xltemplate.cli import main
from xltemplate.collect import batch, departments, events, returns, rounds
from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.importer import import_workbook
from xltemplate.collect.report import write_report
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel
from xltemplate.form.values import get, leaves_of


def roster_file(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def clerk_fills(template: Path, model: FormModel, data: dict[str, Any], out: Path) -> Path:
    """A department clerk types ``data`` into the issued template and saves it (openpyxl)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    values = {p: v for p, v in leaves_of(data) if p in model.by_pointer}
    return poke(template, model, values, out)


def as_department(seed: dict[str, Any], name: str, code: str, project: str | None = None) -> dict[str, Any]:
    data = copy.deepcopy(seed)
    data["cover"]["department"] = name
    data["cover"]["budget_code"] = code
    data["unit"]["name"] = name
    if project is not None:
        data["cover"]["project_name"] = project
    return data


def import_all(store: Store, *paths: Path, round_name: str | None = None) -> list[Any]:
    seen: list[Any] = []
    batch.run(list(paths), store=store, jobs=1, round_name=round_name,
              on_done=lambda d, o: seen.append((d, o)))
    return seen


def current_returns(store: Store, rnd: rounds.Round) -> list[returns.Return]:
    return returns.query(store, round_id=rnd.id)


@pytest.fixture
def one_department(tmp_path: Path, db_url: str, wuhai: FormModel) -> tuple[Store, rounds.Round, Path]:
    store = Store(db_url)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称", "联系人"], ["101", "市信访局", "李杰"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021)
    rnd = rounds.rounds(store)[0]
    yield store, rnd, tmp_path / "下发" / issued[0].file
    store.dispose()


def test_distribute_records_the_round_its_roster_and_every_template(one_department, wuhai) -> None:
    store, rnd, template = one_department
    assert (rnd.form_id, rnd.form_version, rnd.year, rnd.status) == (wuhai.id, wuhai.version, 2021, "open")
    assert rnd.name == f"2021年度 {wuhai.title}"
    [line] = rounds.roster_of(store, rnd.id)
    assert (line.code, line.name, line.contact) == ("101", "市信访局", "李杰")
    assert line.columns == {"部门代码": "101", "部门名称": "市信访局", "联系人": "李杰"}
    t = store.t
    with store.engine.connect() as conn:
        issued = conn.execute(sa.select(t.issued)).one()
        published = conn.execute(sa.select(t.form_versions.c.version, t.form_versions.c.hash)).all()
    assert (issued.department_code, issued.department, issued.round_id) == ("101", "市信访局", rnd.id)
    assert published == [(wuhai.version, wuhai.hash)]
    # the year is written into the template: the cover's 年度 and the metadata
    wb = openpyxl.load_workbook(template)
    year = wuhai.by_pointer["/cover/year"]
    assert wb[year.sheet].cell(year.row + 1, year.col + 1).value == 2021
    assert wb.custom_doc_props["xltemplate.year"].value == "2021"


def test_two_projects_of_one_department_are_both_current(one_department, wuhai, seed0, tmp_path) -> None:
    store, rnd, template = one_department
    a = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "回收" / "a.xlsx")
    b = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101", "社会化聘用人员经费"),
                    tmp_path / "回收" / "b.xlsx")
    seen = import_all(store, a, b)
    assert [d.result.status for d, _ in seen] == ["valid", "valid"]
    assert all(o.current and not o.superseded for _, o in seen)
    rows = current_returns(store, rnd)
    assert sorted(r.project for r in rows) == ["外派人员生活补贴", "社会化聘用人员经费"]
    [dept] = departments.status(store, rnd)
    assert (dept.status, dept.returns, dept.counts.pending) == ("pending", 2, 2)
    # a corrected copy of one project (full-width letters and a stray space in its name) replaces only it
    fixed = as_department(seed0, "市信访局", "101", "外派人员 生活补贴")
    fixed["cover"]["preparer"] = "王晓东"
    c = clerk_fills(template, wuhai, fixed, tmp_path / "回收" / "c.xlsx")
    [(_done, outcome)] = import_all(store, c)
    replaced = next(r.id for r in rows if r.project == "外派人员生活补贴")
    assert outcome.superseded == [replaced] and outcome.current
    after = current_returns(store, rnd)
    assert len(after) == 2 and {r.id for r in after} == {outcome.id} | {r.id for r in rows if r.id != replaced}
    # the 汇总 has one row per current valid return
    counts = write_report(store, tmp_path / "汇总.xlsx")
    assert counts["汇总"] == 2
    wb = openpyxl.load_workbook(tmp_path / "汇总.xlsx")
    heads = [c.value for c in wb["汇总"][1]]
    preparers = sorted(r[heads.index("封面 · 编报人")] for r in wb["汇总"].iter_rows(min_row=2, values_only=True))
    assert preparers == ["王晓东", "王晓西"]


def test_a_form_without_key_keeps_one_return_per_template(tmp_path, db_url, expense) -> None:
    store = Store(db_url)
    roster = roster_file(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"]])
    [issued] = distribute(expense, read_roster(roster), tmp_path / "out", store=store)
    data = json.loads((Path(__file__).parent / "data" / "expense_claim.json").read_text(encoding="utf-8"))
    template = tmp_path / "out" / issued.file
    first = clerk_fills(template, expense, data, tmp_path / "in" / "1.xlsx")
    data["claimant"]["name"] = data["claimant"]["name"] + "二"
    second = clerk_fills(template, expense, data, tmp_path / "in" / "2.xlsx")
    seen = import_all(store, first, second)
    assert seen[1][1].superseded == [seen[0][1].id]  # same template: the later copy replaces the earlier
    store.dispose()


def test_a_roster_of_projects_keeps_a_renamed_project_one_return(tmp_path, db_url, wuhai, seed0) -> None:
    store = Store(db_url)
    roster = roster_file(tmp_path / "r.csv", [
        ["部门代码", "部门名称", "项目名称"], ["101", "市信访局", "外派人员生活补贴"],
        ["101", "市信访局", "社会化聘用人员经费"], ["102", "市财政局", "财政信息化运维"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "out", store=store)
    rnd = rounds.rounds(store)[0]
    assert rnd.roster_kind == "projects"
    assert [(i.code, i.project) for i in issued] == [
        ("101", "外派人员生活补贴"), ("101", "社会化聘用人员经费"), ("102", "财政信息化运维")]
    assert len({i.file for i in issued}) == 3
    template = tmp_path / "out" / issued[0].file
    first = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "in" / "1.xlsx")
    renamed = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101", "驻外人员生活补贴"),
                          tmp_path / "in" / "2.xlsx")
    seen = import_all(store, first, renamed)
    assert seen[1][1].superseded == [seen[0][1].id]
    rows = current_returns(store, rnd)
    assert [(r.department_code, r.project) for r in rows] == [("101", "驻外人员生活补贴")]
    status = {d.code: d for d in departments.status(store, rnd)}
    assert list(status) == ["101", "102"]  # a department once, however many projects it was asked for
    assert (status["101"].status, status["101"].returns) == ("pending", 1)
    assert status["102"].status == "not_returned"
    store.dispose()


def test_who_has_not_returned(tmp_path, db_url, wuhai, seed0) -> None:
    store = Store(db_url)
    roster = roster_file(tmp_path / "r.csv", [["code", "name", "contact"], ["101", "市信访局", "李杰"],
                                              ["102", "市财政局", "王某 1351473****"], ["103", "市教育局", ""]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "out", store=store)
    rnd = rounds.rounds(store)[0]
    good = clerk_fills(tmp_path / "out" / issued[0].file, wuhai, as_department(seed0, "市信访局", "101"),
                       tmp_path / "in" / "a.xlsx")
    wrong = as_department(seed0, "市教育局", "103")
    wrong["project"]["function_code"] = "20103O8"
    bad = clerk_fills(tmp_path / "out" / issued[2].file, wuhai, wrong, tmp_path / "in" / "c.xlsx")
    import_all(store, good, bad)
    lines = departments.status(store, rnd)
    assert [(d.code, d.status, d.returns, d.counts.pending, d.counts.invalid) for d in lines] == [
        ("101", "pending", 1, 1, 0), ("102", "not_returned", 0, 0, 0), ("103", "invalid", 1, 0, 1)]
    assert lines[0].last_sent is not None and lines[1].last_sent is None
    totals = departments.totals(lines)
    assert (totals.departments, totals.sent, totals.not_returned, totals.pending, totals.invalid) == (3, 2, 1, 1, 1)
    counts = write_report(store, tmp_path / "汇总.xlsx")
    assert counts["报送情况"] == 3 and counts["未报送"] == 1
    wb = openpyxl.load_workbook(tmp_path / "汇总.xlsx")
    missing = list(wb["未报送"].iter_rows(values_only=True))
    assert missing == [("部门代码", "部门", "联系人"), ("102", "市财政局", "王某 1351473****")]
    table = list(wb["报送情况"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[3], r[4]) for r in table] == [("101", "待审核", 1, 0), ("102", "未报送", 0, 0),
                                                         ("103", "有错误", 1, 0)]
    # the command line says the same
    url = store.url
    store.dispose()
    res = CliRunner().invoke(main, ["status", "--db", url])
    assert res.exit_code == 0, res.output
    assert "市财政局  未报送" in res.output and "未报送 1" in res.output and rnd.name in res.output
    data = json.loads(CliRunner().invoke(main, ["status", "--db", url, "--json"]).output)
    assert [d["status"] for d in data["departments"]] == ["pending", "not_returned", "invalid"]
    assert set(data["totals"]) >= {"not_returned", "invalid", "unreadable", "returned", "pending", "approved"}


def test_a_withdrawn_return_leaves_report_and_status_and_can_be_restored(one_department, wuhai, seed0,
                                                                         tmp_path) -> None:
    store, rnd, template = one_department
    a = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "in" / "a.xlsx")
    test_copy = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101", "测试"),
                            tmp_path / "in" / "t.xlsx")
    seen = import_all(store, a, test_copy)
    wrong_id = seen[1][1].id
    row = returns.withdraw(store, wrong_id, "测试用的副本", "张三")
    assert row.withdrawn_by == "张三" and row.withdraw_reason == "测试用的副本" and row.withdrawn_at
    [dept] = departments.status(store, rnd)
    assert (dept.returns, dept.counts.pending) == (1, 1)
    assert write_report(store, tmp_path / "r.xlsx")["汇总"] == 1
    history = returns.query(store, round_id=rnd.id, history=True)
    assert {r.id for r in history} == {seen[0][1].id, wrong_id}  # it stays in history
    assert [e.action for e in events.of_return(store, wrong_id)] == ["withdraw"]
    with pytest.raises(rounds.RoundError, match="已经撤回"):
        returns.withdraw(store, wrong_id, "again")
    returns.restore(store, wrong_id, "李四")
    assert departments.status(store, rnd)[0].returns == 2
    assert [(e.action, e.actor) for e in events.of_return(store, wrong_id)] == [("withdraw", "张三"),
                                                                                     ("restore", "李四")]
    # from the command line
    url = store.url
    store.dispose()
    res = CliRunner().invoke(main, ["withdraw", str(wrong_id), "--reason", "误报", "--db", url])
    assert res.exit_code == 0 and "已撤回报送" in res.output
    res = CliRunner().invoke(main, ["withdraw", "99999", "--reason", "x", "--db", url])
    assert res.exit_code == 1 and "没有编号为 99999 的报送" in res.output
    res = CliRunner().invoke(main, ["returns", "--db", url, "--history"])
    assert res.exit_code == 0 and "已撤回" in res.output


def test_a_template_of_another_year_or_round_is_refused_by_name(tmp_path, db_url, wuhai, seed0) -> None:
    store = Store(db_url)
    roster = read_roster(roster_file(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"]]))
    [old] = distribute(wuhai, roster, tmp_path / "2021", store=store, year=2021, round_name="2021年度")
    [new] = distribute(wuhai, roster, tmp_path / "2022", store=store, year=2022, round_name="2022年度")
    data = as_department(seed0, "市信访局", "101")
    late = clerk_fills(tmp_path / "2021" / old.file, wuhai, data | {"cover": data["cover"] | {"year": 2021}},
                       tmp_path / "in" / "old.xlsx")
    [(done, _)] = import_all(store, late, round_name="2022年度")
    assert done.result.status == "unreadable" and done.result.errors[0].code == "other_year"
    assert "2021 年度" in done.result.errors[0].message and "2022 年度" in done.result.errors[0].message
    # without --round the template's own round takes it
    [(done, _outcome)] = import_all(store, late)
    assert done.result.status == "valid" and done.identity.round_id == rounds.find_round(store, "2021年度").id
    # a round that is closed takes no more returns
    rounds.set_status(store, "2022年度", rounds.CLOSED)
    fresh = clerk_fills(tmp_path / "2022" / new.file, wuhai, data, tmp_path / "in" / "new.xlsx")
    [(done, _)] = import_all(store, fresh)
    assert done.result.errors[0].code == "round_closed" and "2022年度" in done.result.errors[0].message
    store.dispose()


def test_rounds_command_lists_and_closes(tmp_path, db_url, wuhai) -> None:
    roster = roster_file(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"], ["102", "市财政局"]])
    res = CliRunner().invoke(main, ["distribute", "wuhai-perf-target", "--roster", str(roster), "-o",
                                    str(tmp_path / "out"), "--db", db_url, "--year", "2027", "--deadline",
                                    "2026-12-31"])
    assert res.exit_code == 0, res.output
    assert "已记录收集轮次“2027年度 乌海市财政支出预算绩效目标申报表”" in res.output
    with open(tmp_path / "out" / "manifest.csv", encoding="utf-8-sig") as fh:
        manifest = list(csv.DictReader(fh))
    assert {m["round"] for m in manifest} == {"2027年度 乌海市财政支出预算绩效目标申报表"}
    junk = tmp_path / "in" / "说明.xlsx"  # a return of no department: a line of its own in status
    junk.parent.mkdir()
    junk.write_bytes(b"not a workbook")
    assert CliRunner().invoke(main, ["import", str(junk), "--db", db_url, "--no-progress"]).exit_code == 1
    res = CliRunner().invoke(main, ["rounds", "--db", db_url])
    assert res.exit_code == 0 and "2026-12-31" in res.output and "进行中" in res.output
    [line] = [x for x in res.output.splitlines() if "进行中" in x]
    assert line.split()[-3] == "2", line  # the roster's departments, not the lines of status
    listed = json.loads(CliRunner().invoke(main, ["rounds", "--db", db_url, "--json"]).output)
    assert [(r["year"], r["deadline"], r["status"]) for r in listed] == [(2027, "2026-12-31", "open")]
    res = CliRunner().invoke(main, ["rounds", "--db", db_url, "close", listed[0]["name"]])
    assert res.exit_code == 0 and "已关闭" in res.output
    res = CliRunner().invoke(main, ["distribute", "wuhai-perf-target", "--roster", str(roster), "-o",
                                    str(tmp_path / "again"), "--db", db_url, "--round", listed[0]["name"]])
    assert res.exit_code == 1 and "已有名为" in res.output and not (tmp_path / "again").exists()
    assert res.output.startswith("错误：未生成任何文件")  # not blaming the roster, nor in English
    res = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "typo.db")])
    assert res.exit_code == 1 and "找不到数据库文件" in res.output and not (tmp_path / "typo.db").exists()
    res = CliRunner().invoke(main, ["distribute", "wuhai-perf-target", "--roster", str(roster), "-o",
                                    str(tmp_path / "x"), "--db", db_url, "--deadline", "31.12.2026"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.output


def test_next_years_round_carries_continuing_projects_forward(tmp_path, db_url, wuhai, seed0) -> None:
    store = Store(db_url)
    roster = read_roster(roster_file(tmp_path / "r.csv", [["code", "name"], ["101", "市信访局"], ["102", "市财政局"]]))
    issued = distribute(wuhai, roster, tmp_path / "2026", store=store, year=2026, round_name="2026")
    going = as_department(seed0, "市信访局", "101")
    going["cover"]["year"] = 2026
    going["project"]["period"] = "2026-01~2028-12"  # continues into 2027
    done_2026 = as_department(seed0, "市信访局", "101", "已完成的项目")
    done_2026["cover"]["year"] = 2026
    done_2026["project"]["period"] = "2026-01~2026-12"  # finished: not carried
    import_all(store, clerk_fills(tmp_path / "2026" / issued[0].file, wuhai, going, tmp_path / "in" / "a.xlsx"),
               clerk_fills(tmp_path / "2026" / issued[0].file, wuhai, done_2026, tmp_path / "in" / "b.xlsx"))
    new = distribute(wuhai, roster, tmp_path / "2027", store=store, year=2027, round_name="2027", carry_from="2026")
    assert [(i.code, i.project, i.carried_from is not None) for i in new] == [
        ("101", None, False), ("101", "外派人员生活补贴", True), ("102", None, False)]
    carried = tmp_path / "2027" / new[1].file
    blank = import_workbook(carried)
    data = blank.data
    assert data["cover"]["year"] == 2027 and data["project"]["attribute"] == "延续"
    for pointer in ("/unit", "/project/function_code", "/project/overview", "/goals/long_term",
                    "/indicators/long_term"):
        assert get(data, pointer) == get(going, pointer), pointer
    assert "funding" not in data or not data["funding"]  # this year's amounts are the department's to type
    assert {e.pointer for e in blank.errors} >= {"/funding/total", "/goals/annual"}
    # the department types this year's figures into the carried template: a valid return of the new round
    this_year = {k: going[k] for k in ("funding", "budget_items", "sign_off")}
    this_year["goals"] = {"annual": going["goals"]["annual"]}
    this_year["indicators"] = {"annual": going["indicators"]["annual"]}
    this_year["cover"] = {k: going["cover"][k] for k in ("preparer", "prepared_on")}
    filled = clerk_fills(carried, wuhai, this_year, tmp_path / "in" / "2027.xlsx")
    [(done, _)] = import_all(store, filled)
    assert done.result.status == "valid", done.result.errors
    assert done.identity.round_id == rounds.find_round(store, "2027").id
    assert done.identity.return_key.endswith(f"|sid|{new[1].submission_id}")  # a project template: its id
    status = {d.code: d for d in departments.status(store, rounds.find_round(store, "2027"))}
    assert (status["101"].status, status["102"].status) == ("pending", "not_returned")
    store.dispose()


@pytest.mark.parametrize(("lang", "said"), [("zh", "错误：没有编号为 999 的报送"),
                                            ("en", "Error: There is no return with id 999")])
def test_a_return_that_is_not_there_is_said_in_the_users_language(db_url, lang, said) -> None:
    Store(db_url).dispose()
    res = CliRunner().invoke(main, ["--lang", lang, "withdraw", "999", "--reason", "重复", "--db", db_url])
    assert res.exit_code == 1 and res.output.strip() == said, res.output
