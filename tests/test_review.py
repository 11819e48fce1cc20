"""Review and send back (审核) on SQLite and on a real PostgreSQL: states and stages, reasons at the
cells the clerk's copy used, the correction and what it changed, who may decide, the refusals,
two reviewers deciding at the same instant, the 汇总 of approved returns, the command line, and
a database of the previous release upgraded in place."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import poke
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.cli import main
from xltemplate.collect import accounts, departments, events, intake, links, returns, reviews, rounds
from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.report import write_report
from xltemplate.collect.reviews import APPROVED, RETURNED, ReviewError
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel

SOCIAL = "/indicators/annual/benefit/social/0/value"  # seed 000: 有效维护, no number
TIMELINESS = "/indicators/annual/output/timeliness/0/value"  # seed 000: 按季度发放


@pytest.fixture
def bureau(tmp_path: Path, db_url: str, wuhai: FormModel) -> Any:
    """A round of two stages (初审, 复审) for two departments of two 科室, and its reviewers."""
    store = Store(db_url)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称", "归口科室"],
                                               ["101", "市信访局", "行政政法科"], ["102", "市财政局", "经济建设科"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021, stages="初审,复审")
    people = {
        "li": accounts.add_user(store, "行政政法科李", "correct horse 12", "reviewer", office="行政政法科",
                                stages=["初审"]),
        "wang": accounts.add_user(store, "经济建设科王", "correct horse 12", "reviewer", office="经济建设科"),
        "perf": accounts.add_user(store, "绩效科赵", "correct horse 12", "reviewer", stages=["复审"]),
        "viewer": accounts.add_user(store, "只读钱", "correct horse 12", "viewer"),
        "staff": accounts.add_user(store, "经办孙", "correct horse 12", "staff"),
    }
    yield store, rounds.rounds(store)[0], issued, tmp_path / "下发", people
    store.dispose()


def _send(store: Store, folder: Path, issued: Any, wuhai: FormModel, data: dict[str, Any], out: Path,
          code: str = "101", slots: dict[str, Any] | None = None) -> intake.Receipt:
    """A clerk fills the department's template and uploads it through the department's link (the
    file is kept, as the portal keeps it); ``slots`` typed straight into template cells after."""
    rnd = rounds.rounds(store)[0]
    template = folder / next(i.file for i in issued if i.code == code)
    path = clerk_fills(template, wuhai, data, out)
    if slots:
        poke(path, wuhai, slots)
    link = links.check(store, links.regenerate(store, rnd.id, code, "test"))
    return intake.receive(store, path.read_bytes(), out.name, link)


def test_a_return_is_reviewed_stage_by_stage_and_approved_with_a_grade(bureau, wuhai, seed0, tmp_path) -> None:
    store, rnd, issued, folder, people = bureau
    assert rnd.stages == ["初审", "复审"]
    got = _send(store, folder, issued, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "a.xlsx")
    assert got.status == "valid" and [w.cell for w in got.warnings] == ["H34", "G40", "H40", "H43", "G46", "H46"]
    sid = got.submission
    review = reviews.show(store, sid)
    assert (review.state, review.stage, review.stage_name, review.office) == ("pending", 0, "初审", "行政政法科")
    assert review.grades == ["优", "良", "中", "差"] and not review.resubmitted
    [dept, other] = departments.status(store, rnd)
    assert (dept.status, dept.counts.pending, other.status) == ("pending", 1, "not_returned")
    # the 复审 reviewer of the 绩效科 cannot take the first stage, nor one of another 科室 any stage
    for who in ("perf", "wang", "viewer"):
        with pytest.raises(ReviewError) as refused:
            reviews.decide(store, sid, APPROVED, user=people[who])
        assert refused.value.kind == "forbidden", who
    after = reviews.decide(store, sid, APPROVED, user=people["li"], grade="良")
    assert (after.state, after.stage, after.stage_name, after.grade) == ("pending", 1, "复审", "良")
    with pytest.raises(ReviewError) as refused:  # the 初审 reviewer holds no 复审
        reviews.decide(store, sid, APPROVED, user=people["li"])
    assert refused.value.kind == "forbidden" and "复审" in refused.value.message()
    done = reviews.decide(store, sid, APPROVED, user=people["perf"], grade="优")
    assert (done.state, done.grade) == ("approved", "优")
    assert [(d.stage_name, d.decision, d.grade, d.actor) for d in done.history] == [
        ("初审", "approved", "良", "行政政法科李"), ("复审", "approved", "优", "绩效科赵")]
    [dept, _] = departments.status(store, rnd)
    assert (dept.status, dept.counts.approved) == ("approved", 1)
    totals = departments.round_totals(store, rnd)
    assert (totals.approved, totals.pending, totals.approved_returns) == (1, 0, 1)
    with pytest.raises(ReviewError, match="已审核通过") as again:
        reviews.decide(store, sid, APPROVED, user=people["staff"])
    assert again.value.kind == "conflict"
    assert [e.detail["decision"] for e in events.of_return(store, sid) if e.action == "review"] == [APPROVED] * 2


def test_a_reason_sits_at_the_cell_the_clerks_copy_used_and_the_correction_shows_what_changed(
        bureau, wuhai, seed0, tmp_path) -> None:
    store, rnd, issued, folder, people = bureau
    data = as_department(seed0, "市信访局", "101")
    social = data["indicators"]["annual"]["benefit"].pop("social")[0]
    # the clerk left the first two rows of 社会效益指标 empty and wrote in the third: the value is the
    # data's first row, read at the third row's cell
    third = {f"/indicators/annual/benefit/social/2/{k}": v for k, v in social.items()}
    got = _send(store, folder, issued, wuhai, data, tmp_path / "a.xlsx", slots=third)
    sid = got.submission
    moved = wuhai.by_pointer["/indicators/annual/benefit/social/2/value"].cell
    assert moved != wuhai.by_pointer[SOCIAL].cell
    assert next((w.cell, w.label) for w in got.warnings if w.pointer == SOCIAL) == (
        moved, "项目绩效指标 · 年度 · 效益指标 · 社会效益指标 第3行 · 指标值")  # as an error would be
    back = reviews.decide(store, sid, RETURNED, user=people["li"], reasons=[
        (SOCIAL, "指标值应有数值，如 ≥95%"), (TIMELINESS, "写明发放时限"), (None, "成本指标与预算不符")])
    assert back.state == "returned" and back.stage == 0
    assert [(r.pointer, r.sheet, r.cell, r.label, r.value, r.text) for r in back.reasons] == [
        (SOCIAL, "绩效目标申报表", moved, "项目绩效指标 · 年度 · 效益指标 · 社会效益指标 第3行 · 指标值", "有效维护",
         "指标值应有数值，如 ≥95%"),
        (TIMELINESS, "绩效目标申报表", "H34", "项目绩效指标 · 年度 · 产出指标 · 时效指标 第1行 · 指标值", "按季度发放",
         "写明发放时限"),
        (None, None, None, None, None, "成本指标与预算不符")]
    [dept, _] = departments.status(store, rnd)
    assert (dept.status, dept.counts.returned) == ("returned", 1)
    # the clerk's page and the annotated copy carry the reasons, at the same cells
    assert [r.cell for r in reviews.reasons_of(store, sid)] == [moved, "H34", None]
    copy_ = intake.annotated(store, sid)
    book = openpyxl.load_workbook(__import__("io").BytesIO(copy_.content))
    assert book.sheetnames[0] == "审核意见"
    listed = [(r[2] or None, r[5], r[6]) for r in book["审核意见"].iter_rows(min_row=2, values_only=True)]
    assert listed[:3] == [(f"原 {moved}，本表 H43", "指标值应有数值，如 ≥95%", "审核意见"),
                          ("H34", "写明发放时限", "审核意见"), (None, "成本指标与预算不符", "审核意见")]  # then 提示
    # the correction: the annotated copy itself, corrected (a number at 社会效益指标) and uploaded
    fixed = tmp_path / "fixed.xlsx"
    fixed.write_bytes(copy_.content)
    f = wuhai.by_pointer[SOCIAL]  # the annotated copy is the form again: the first row
    poke(fixed, wuhai, {SOCIAL: "≥95%"})
    link = links.check(store, links.regenerate(store, rnd.id, "101", "test"))
    second = intake.receive(store, fixed.read_bytes(), "fixed.xlsx", link)
    assert second.status == "valid" and [r.id for r in second.replaced] == [sid]
    new = reviews.show(store, second.submission)
    assert (new.state, new.stage, new.resubmitted, new.reviewed) == ("pending", 0, True, sid)
    assert [(c.pointer, c.label, c.cell, c.old, c.new) for c in new.changes] == [
        (SOCIAL, f.label, f.cell, "有效维护", "≥95%")]
    assert [(r.pointer, r.changed) for r in new.earlier_reasons] == [(SOCIAL, True), (TIMELINESS, False), (None, None)]
    assert [d.return_id for d in new.history] == [sid]  # every decision on every copy of the return
    assert SOCIAL not in {w.pointer for w in new.warnings}  # 有效维护's warning is gone with it
    # history keeps both copies; the audit log has the decision with its reasons
    assert {r.id for r in returns.query(store, round_id=rnd.id, history=True)} == {sid, second.submission}
    [logged] = [e for e in events.of_return(store, sid) if e.action == "review"]
    assert logged.actor == "行政政法科李" and [r["cell"] for r in logged.detail["reasons"]] == [moved, "H34", None]


def test_what_cannot_be_reviewed_is_refused_in_words(bureau, wuhai, seed0, tmp_path) -> None:
    store, _rnd, issued, folder, people = bureau
    wrong = as_department(seed0, "市信访局", "101")
    wrong["project"]["function_code"] = "201030"
    bad = _send(store, folder, issued, wuhai, wrong, tmp_path / "bad.xlsx").submission
    with pytest.raises(ReviewError, match="1 处错误") as refused:
        reviews.decide(store, bad, APPROVED, user=people["staff"])
    assert refused.value.kind == "invalid"
    good = _send(store, folder, issued, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "a.xlsx").submission
    with pytest.raises(ReviewError, match="已被更新的报送"):  # the invalid copy is history now
        reviews.decide(store, bad, RETURNED, user=people["staff"], reasons=[(None, "x")])
    for kw, words in (({"decision": RETURNED}, "至少一条审核意见"),
                      ({"decision": APPROVED, "reasons": [(None, "好")]}, "要退回请选"),
                      ({"decision": APPROVED, "grade": "甲"}, "不在表单规定的评级中"),
                      ({"decision": RETURNED, "reasons": [("/no/such", "x")]}, "表单中没有“/no/such”"),
                      ({"decision": RETURNED, "reasons": [(SOCIAL, "  ")]}, "不能为空"),
                      ({"decision": "maybe"}, "审核结论只能是")):
        decision = kw.pop("decision")
        with pytest.raises(ReviewError, match=words):
            reviews.decide(store, good, decision, user=people["li"], **kw)
    assert reviews.show(store, good).state == "pending" and not reviews.show(store, good).history
    returns.withdraw(store, good, "测试", "张三")
    with pytest.raises(ReviewError, match="已撤回"):
        reviews.decide(store, good, APPROVED, user=people["staff"])
    with pytest.raises(ReviewError) as missing:
        reviews.decide(store, 999_999, APPROVED, user=people["staff"])
    assert missing.value.kind == "missing"


def _decide_at_once(url: str, sid: int, name: str, decision: str, barrier: Any, out: Any) -> None:
    """One reviewer's process: it reads the return, waits until the other has read it too, then
    records its decision."""
    import contextlib

    from xltemplate.collect import db as db_module

    store = Store(url)
    real = db_module.writing

    @contextlib.contextmanager
    def together(engine: Any) -> Any:
        barrier.wait(30)  # both have made every check; now both write
        with real(engine) as conn:
            yield conn

    reviews.writing = together
    user = accounts.user(store, name)
    try:
        reviews.decide(store, sid, decision, user=user, reasons=[(None, "意见")] if decision == RETURNED else ())
        out.put(("ok", name))
    except ReviewError as exc:
        out.put((exc.kind, exc.key))
    finally:
        store.dispose()


def test_two_reviewers_deciding_at_once_leave_one_decision(bureau, wuhai, seed0, tmp_path) -> None:
    """The same return approved by one reviewer and sent back by another at the same instant, many
    times: exactly one decision is recorded each time, the other is told it was decided already."""
    store, _rnd, issued, folder, _people = bureau
    ctx = mp.get_context("spawn")
    for n in range(3):
        data = as_department(seed0, "市信访局", "101", project=f"项目{n}")
        sid = _send(store, folder, issued, wuhai, data, tmp_path / f"p{n}.xlsx").submission
        barrier, out = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_decide_at_once, args=(store.url, sid, who, decision, barrier, out))
                 for who, decision in (("行政政法科李", APPROVED), ("经办孙", RETURNED))]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        answers = sorted(out.get(timeout=10) for _ in procs)
        assert [a[0] for a in answers] == ["conflict", "ok"], answers
        assert answers[0][1] == "review_already_decided"
        with store.engine.connect() as conn:
            recorded = conn.execute(sa.select(store.t.reviews.c.actor).where(
                store.t.reviews.c.submission == sid)).scalars().all()
        assert recorded == [answers[1][1]]
        state = reviews.show(store, sid).state
        assert state == ("pending" if answers[1][1] == "行政政法科李" else "returned")  # the winner's decision


def test_the_summary_can_hold_the_approved_returns_alone(bureau, wuhai, seed0, tmp_path) -> None:
    store, rnd, issued, folder, people = bureau
    a = _send(store, folder, issued, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "a.xlsx")
    b = _send(store, folder, issued, wuhai, as_department(seed0, "市财政局", "102"), tmp_path / "b.xlsx", code="102")
    reviews.decide(store, a.submission, APPROVED, user=people["li"], grade="良")
    reviews.decide(store, a.submission, APPROVED, user=people["perf"])
    write_report(store, tmp_path / "all.xlsx")
    write_report(store, tmp_path / "approved.xlsx", approved_only=True)
    every = openpyxl.load_workbook(tmp_path / "all.xlsx")
    rows = {r[2]: r for r in every["汇总"].iter_rows(min_row=2, values_only=True)}
    assert (rows["101"][4], rows["101"][5], rows["102"][4], rows["102"][5]) == ("审核通过", "良", "待审核", None)
    status = list(every["报送情况"].iter_rows(values_only=True))
    assert status[0][2:5] == ("状态", "报送份数（项目）", "其中审核通过") and status[0][7] == "归口科室"
    assert [(r[0], r[2], r[4], r[7]) for r in status[1:]] == [("101", "审核通过", 1, "行政政法科"),
                                                            ("102", "待审核", 0, "经济建设科")]
    approved = openpyxl.load_workbook(tmp_path / "approved.xlsx")
    assert approved.sheetnames[:3] == ["汇总（审核通过）", "项目预算明细（审核通过）", "项目绩效指标（审核通过）"]
    assert [(r[2], r[4], r[5]) for r in approved["汇总（审核通过）"].iter_rows(min_row=2, values_only=True)] == [
        ("101", "审核通过", "良")]
    assert {r[2] for r in approved["项目绩效指标（审核通过）"].iter_rows(min_row=2, values_only=True)} == {"101"}
    assert b.submission not in {r[0] for r in approved["汇总（审核通过）"].iter_rows(min_row=2, values_only=True)}
    frequent = departments.frequent_warnings(store, rnd)
    assert frequent[0].code == "indicator-value-number" and (frequent[0].returns, frequent[0].times) == (2, 8)
    # counted again whenever the round's returns change (the page keeps the count between changes)
    returns.withdraw(store, b.submission, "报错了", "经办孙")
    assert (departments.frequent_warnings(store, rnd)[0].returns, departments.frequent_warnings(store, rnd)[0].times
            ) == (1, 4)
    returns.restore(store, b.submission, "经办孙")
    assert departments.frequent_warnings(store, rnd)[0].returns == 2


def test_the_review_commands(bureau, wuhai, seed0, tmp_path) -> None:
    store, _rnd, issued, folder, _people = bureau
    sid = _send(store, folder, issued, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "a.xlsx").submission
    url = store.url

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, "--db", url])

    listed = run("review", "list", "--state", "pending")
    assert listed.exit_code == 0 and "市信访局" in listed.output and "待审核（初审）" in listed.output
    assert json.loads(run("review", "list", "--json", "--office", "经济建设科").output) == []
    refused = run("review", "approve", str(sid), "--by", "经济建设科王")
    assert refused.exit_code == 1 and "不能审核“市信访局”（归口科室：行政政法科）在“初审”环节" in refused.output
    assert run("review", "approve", str(sid), "--by", "没有这人").exit_code == 1
    back = run("review", "return", str(sid), "--by", "行政政法科李", "--reason", f"{SOCIAL}: 请写明数值",
               "--reason", "成本指标与预算不符")
    assert back.exit_code == 0, back.output
    assert "已退回" in back.output
    assert "H43 项目绩效指标 · 年度 · 效益指标 · 社会效益指标 第1行 · 指标值：请写明数值" in back.output
    shown = json.loads(run("review", "show", str(sid), "--json").output)
    assert shown["state"] == "returned" and shown["return"] == sid
    assert [(r["cell"], r["text"]) for r in shown["reasons"]] == [("H43", "请写明数值"), (None, "成本指标与预算不符")]
    assert [h["decision"] for h in shown["history"]] == ["returned"] and len(shown["warnings"]) == 6
    text = run("review", "show", str(sid)).output
    assert "审核意见：" in text and "初审 退回修改" in text and "行政政法科李" in text
    assert run("review", "approve", str(sid), "--by", "经办孙").exit_code == 1  # sent back: waits for the department
    status = json.loads(run("status", "--json").output)
    assert [d["status"] for d in status["departments"]] == ["returned", "not_returned"]
    assert {k: status["totals"][k] for k in ("not_returned", "invalid", "unreadable", "returned", "pending",
                                             "approved")} == {"not_returned": 1, "invalid": 0, "unreadable": 0,
                                                               "returned": 1, "pending": 0, "approved": 0}
    users = CliRunner().invoke(main, ["users", "add", "新审核员", "--role", "reviewer", "--office", "行政政法科",
                                      "--stage", "初审", "--stage", "复审", "--db", url], input="correct horse 12\n")
    assert users.exit_code == 0, users.output
    assert accounts.user(store, "新审核员").stages == ("初审", "复审")
    wrong = CliRunner().invoke(main, ["users", "add", "乙", "--role", "staff", "--office", "行政政法科", "--db", url],
                               input="correct horse 12\n")
    assert wrong.exit_code == 1 and "只有审核人员" in wrong.output


def test_a_database_of_the_previous_release_upgrades_and_its_valid_returns_wait_for_review(db_url, tmp_path) -> None:
    """A database at 0005 with a round, a valid and an invalid current return: after the upgrade the
    valid one is 待审核 at the round's one stage (审核), the invalid one stays 有错误."""
    from alembic import command
    from alembic.config import Config
    from test_db import MIGRATIONS

    from xltemplate.collect.db import HEAD, engine_for, revision

    engine = engine_for(db_url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(sa.text("INSERT INTO rounds (id, name, form_id, form_version, status, roster_kind, created_at) "
                             "VALUES (1, '2021年度', 'wuhai-perf-target', '2021.1', 'open', 'departments', "
                             "'2020-10-01 00:00:00')"))
        conn.execute(sa.text("INSERT INTO roster (round_id, line, code, name) VALUES (1, 2, '101', '市信访局'), "
                             "(1, 3, '102', '市财政局')"))
        for n, (code, status, errors) in enumerate((("101", "valid", 0), ("102", "invalid", 1)), start=1):
            conn.execute(sa.text(
                "INSERT INTO submissions (id, sha256, file_name, source, received_at, form_id, form_version, "
                "department, department_code, status, error_count, is_current, round_id, return_key) VALUES "
                "(:id, :sha, :f, :f, '2020-11-01 00:00:00', 'wuhai-perf-target', '2021.1', :d, :c, :s, :e, :cur, 1, "
                ":k)"), {"id": n, "sha": str(n) * 64, "f": f"{n}.xlsx", "d": code, "c": code, "s": status, "e": errors,
                         "cur": True, "k": f"r1|d{code}|kx"})
    with engine.connect() as conn:
        assert revision(conn) == "0005"
    engine.dispose()
    store = Store(db_url)
    assert store.upgraded == ("0005", HEAD)
    rnd = rounds.find_round(store, "2021年度")
    assert rnd.stages == ["审核"]
    assert [(d.code, d.status) for d in departments.status(store, rnd)] == [("101", "pending"), ("102", "invalid")]
    staff = accounts.add_user(store, "经办", "correct horse 12", "staff")
    assert reviews.decide(store, 1, APPROVED, user=staff).state == "approved"  # one stage: approved at once
    store.dispose()


def test_a_hook_runs_inside_the_decision_and_its_failure_undoes_it(bureau, wuhai, seed0, tmp_path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a notice to the department will be queued (issue 18): inside the decision's transaction."""
    store, _rnd, issued, folder, people = bureau
    sid = _send(store, folder, issued, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "a.xlsx").submission
    seen: list[Any] = []

    def notice(store_: Store, conn: sa.Connection, done: reviews.Decided) -> None:
        count = conn.execute(sa.select(sa.func.count()).select_from(store_.t.reviews).where(
            store_.t.reviews.c.submission == done.return_id)).scalar_one()
        seen.append((done.decision, done.final, done.stage_name, [r.cell for r in done.reasons], count))
        if done.decision == RETURNED:
            raise RuntimeError("the notice could not be queued")

    monkeypatch.setattr(reviews, "HOOKS", [])
    reviews.on_decision(notice)
    with pytest.raises(RuntimeError):
        reviews.decide(store, sid, RETURNED, user=people["li"], reasons=[(SOCIAL, "数值")])
    assert reviews.show(store, sid).state == "pending" and not reviews.show(store, sid).history  # undone
    reviews.decide(store, sid, APPROVED, user=people["li"])
    assert seen == [("returned", False, "初审", ["H43"], 1), ("approved", False, "初审", [], 1)]


def test_a_round_created_in_the_browser_takes_stages_and_offices(tmp_path, db_url, wuhai) -> None:
    from xltemplate.collect import packages

    store = Store(db_url)
    roster = "部门代码,部门名称,office\n101,市信访局,行政政法科\n".encode()
    rnd, _fid = packages.open_round(store, wuhai, roster, "名单.csv", tmp_path, name=None, year=2021, deadline=None,
                                    actor="张三", base_url=None, stages="初审，复审")
    assert rnd.stages == ["初审", "复审"] and rounds.offices(store, rnd.id) == {"101": "行政政法科"}
    with pytest.raises(rounds.RoundError, match="审核环节"):
        rounds.stage_names("初审,,复审")
    store.dispose()


def test_warnings_are_their_own_list_in_the_import_line(tmp_path, wuhai, seed0) -> None:
    from conftest import write_return

    path = write_return(tmp_path / "in" / "a.xlsx", wuhai, seed0)
    res = CliRunner().invoke(main, ["import", str(path), "--no-db", "--json", "-"])
    line = json.loads(next(x for x in res.output.splitlines() if x.startswith("{")))
    assert "提示：绩效目标申报表!H34" in res.output  # said on the terminal too
    assert line["status"] == "valid" and line["return"]["errors"] == []
    warned = line["return"]["warnings"]
    assert [(w["cell"], w["value"], w["code"]) for w in warned][:1] == [("H34", "按季度发放", "indicator-value-number")]
    assert set(warned[0]) >= {"sheet", "cell", "pointer", "label", "value", "message", "code"}
