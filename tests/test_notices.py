"""Notices by e-mail, sent to a real SMTP server on loopback (aiosmtpd, started here), on SQLite and
on the real PostgreSQL: who is told what when a round opens, a return is received, sent back or
approved; the link in each one works and is kept nowhere in the clear; a server that refuses and
then accepts is tried again and every try recorded; one that refuses for good is given up with
its answer; the reviewers' digest goes once a day; and an upload answers as fast with the mail
server down (or hanging) as with it up."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import smtpserver
import sqlalchemy as sa
from starlette.testclient import TestClient
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect import (
    accounts,
    departments,
    events,
    intake,
    links,
    mail,
    notices,
    reminders,
    reviews,
    rounds,
    settings,
)
from xltemplate.collect.db import writing
from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel
from xltemplate.web.app import create_app

BASE = "https://portal.example.gov.cn"
ROSTER = [["部门代码", "部门名称", "联系人", "邮箱"],
          ["101", "市信访局", "李杰", "xfj@example.gov.cn; li.jie@example.gov.cn"],
          ["102", "市财政局", "王某", "czj@example.gov.cn"],
          ["103", "市教育局", "", ""]]


def configure(store: Store, server: smtpserver.Server, **extra: Any) -> None:
    mail.configure(store, mail.settings_of({"host": server.host, "port": server.port, "security": "none",
                                            "from": "乌海市财政局绩效科 <jxk@czj.example.gov.cn>", **extra}))
    settings.put(store, settings.BASE_URL, BASE)


@pytest.fixture
def smtp() -> Any:
    with smtpserver.running() as server:
        yield server


def open_round(store: Store, model: FormModel, tmp_path: Path, rows: list[list[str]] = ROSTER,
               deadline: dt.date = dt.date(2030, 11, 30)) -> tuple[rounds.Round, list[Any], Path]:
    roster = roster_file(tmp_path / "名单.csv", rows)
    issued = distribute(model, read_roster(roster), tmp_path / "下发", store=store, year=2021, deadline=deadline)
    return rounds.rounds(store)[0], issued, tmp_path / "下发"


def link_of(body: str) -> str:
    found = re.search(re.escape(BASE) + r"/l/([A-Za-z0-9_-]{40,})", body)
    assert found, body
    return found.group(1)


def test_a_round_opened_tells_each_department_with_an_address_its_templates_deadline_and_link(
        db_url: str, smtp: smtpserver.Server, wuhai: FormModel, tmp_path: Path) -> None:
    store = Store(db_url)
    configure(store, smtp)
    rnd, issued, _ = open_round(store, wuhai, tmp_path)
    assert rounds.emails_of(store, rnd.id, "101") == ["xfj@example.gov.cn", "li.jie@example.gov.cn"]
    queued = notices.of_round(store, rnd.id)
    assert sorted((m.department_code, m.kind, m.status) for m in queued) == [
        ("101", "round_opened", "queued"), ("102", "round_opened", "queued")]  # 103 has no address
    assert all(notices.LINK_MARK in m.body for m in queued)  # the queue holds no link
    assert notices.drain(store) == 2
    got = smtp.box.wait(2)
    [xfj] = smtp.box.to("xfj@example.gov.cn")
    assert xfj.rcpt_tos == ["xfj@example.gov.cn", "li.jie@example.gov.cn"]
    assert xfj.subject == f"【{rnd.name}】请报送，截止 2030-11-30"
    assert xfj.body.startswith("市信访局：") and "截止日期 2030-11-30" in xfj.body
    assert issued[0].file in xfj.body  # its template, by name
    assert "市财政局" not in xfj.body
    token = link_of(xfj.body)
    link = links.check(store, token)
    assert link is not None and (link.department_code, link.round.id) == ("101", rnd.id)
    other = link_of(smtp.box.to("czj@example.gov.cn")[0].body)
    assert links.check(store, other).department_code == "102" and other != token
    with store.engine.connect() as conn:  # neither the messages nor anything else keeps the link in the clear
        for table in ("messages", "links", "events", "jobs"):
            dump = " ".join(str(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).all())
            assert token not in dump and other not in dump, table
    sent = {m.department_code: m for m in notices.of_round(store, rnd.id)}
    assert sent["101"].status == "sent" and sent["101"].answer.startswith("250 2.0.0 Ok") and sent["101"].sent_at
    assert len(got) == 2
    # staff revoking the department's links ends the one in the mail too
    links.revoke(store, rnd.id, "101", "张三")
    assert links.check(store, token) is None
    store.dispose()


def test_a_return_received_tells_the_department_it_passed_or_where_its_errors_are(
        db_url: str, smtp: smtpserver.Server, wuhai: FormModel, seed0: dict, tmp_path: Path) -> None:
    store = Store(db_url)
    configure(store, smtp)
    rnd, issued, folder = open_round(store, wuhai, tmp_path)
    notices.drain(store)
    link = links.check(store, links.regenerate(store, rnd.id, "101", "张三"))
    wrong = as_department(seed0, "市信访局", "101")
    wrong["project"]["function_code"] = "201030"
    wrong["funding"]["request"] = "七万"
    bad = clerk_fills(folder / issued[0].file, wuhai, wrong, tmp_path / "in" / "bad.xlsx").read_bytes()
    receipt = intake.receive(store, bad, "绩效目标表.xlsx", link)
    assert receipt.status == "invalid"
    notices.drain(store)
    [invalid] = [m for m in smtp.box.wait(3) if "错误" in m.subject]
    project = receipt.project
    assert invalid.subject == f"【{rnd.name}】已收到“{project}”，有 {len(receipt.errors)} 处错误需要改正"
    assert invalid.rcpt_tos == ["xfj@example.gov.cn", "li.jie@example.gov.cn"]
    assert "绩效目标申报表!D6 项目基本情况 · 预算功能科目：" in invalid.body and "7位数字" in invalid.body
    assert "七万" not in invalid.subject and "绩效目标表.xlsx" in invalid.body
    assert links.check(store, link_of(invalid.body)).department_code == "101"
    good = clerk_fills(folder / issued[0].file, wuhai, as_department(seed0, "市信访局", "101"),
                       tmp_path / "in" / "good.xlsx").read_bytes()
    assert intake.receive(store, good, "good.xlsx", link).status == "valid"
    notices.drain(store)
    valid = smtp.box.wait(4)[-1]
    assert valid.subject == f"【{rnd.name}】已收到“{project}”，检查通过" and "机器检查通过" in valid.body
    # the same file again is no new return: nothing is said
    intake.receive(store, good, "good.xlsx", link)
    assert notices.drain(store) == 0
    # switched off for the round: an upload tells nobody
    notices.set_reach(store, rnd.id, {k: k != notices.RECEIVED for k in notices.SWITCHABLE}, [3, 0], "张三")
    wrong["cover"]["preparer"] = "又一次"
    again = clerk_fills(folder / issued[0].file, wuhai, wrong, tmp_path / "in" / "again.xlsx").read_bytes()
    assert intake.receive(store, again, "again.xlsx", link).status == "invalid"
    assert notices.drain(store) == 0 and len(smtp.box.messages) == 4
    kinds = [m.kind for m in notices.of_department(store, rnd.id, "101")]
    assert kinds == ["received", "received", "round_opened"]
    store.dispose()


TIMELINESS = "/indicators/annual/output/timeliness/0/value"  # seed 000: 按季度发放


def test_a_review_decision_tells_the_department_each_reason_at_its_cell_and_the_final_approval(
        db_url: str, smtp: smtpserver.Server, wuhai: FormModel, seed0: dict, tmp_path: Path) -> None:
    store = Store(db_url)
    configure(store, smtp)
    roster = roster_file(tmp_path / "名单.csv", ROSTER)
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021,
                        deadline=dt.date(2030, 11, 30), stages="初审,复审")
    rnd, folder = rounds.rounds(store)[0], tmp_path / "下发"
    staff = accounts.add_user(store, "财政局张三", "correct horse 12", "staff")
    link = links.check(store, links.regenerate(store, rnd.id, "102", "张三"))

    def send(name: str) -> int:  # each copy says something else when it should be fixed
        data = as_department(seed0, "市财政局", "102")
        data["indicators"]["annual"]["output"]["timeliness"][0]["value"] = f"每季度末前发放（{name}）"
        path = clerk_fills(folder / issued[1].file, wuhai, data, tmp_path / "in" / name)
        return intake.receive(store, path.read_bytes(), name, link).submission

    sid = send("first.xlsx")
    notices.drain(store)
    before = len(smtp.box.messages)
    reviews.decide(store, sid, reviews.RETURNED, user=staff,
                   reasons=[(TIMELINESS, "指标值应写明发放时限"), (None, "请附上会议纪要")])
    notices.drain(store)
    [back] = smtp.box.wait(before + 1)[before:]
    assert back.subject.endswith("被退回修改") and back.rcpt_tos == ["czj@example.gov.cn"]
    assert "经初审，退回修改" in back.body
    at_cell = "绩效目标申报表!H34 项目绩效指标 · 年度 · 产出指标 · 时效指标 第1行 · 指标值：指标值应写明发放时限"
    assert at_cell in back.body
    assert "整份报表 ：请附上会议纪要" in back.body
    assert links.check(store, link_of(back.body)).department_code == "102"
    # the correction is approved at 初审 (nobody is told: it only moves on), then at 复审: 审核通过
    again = send("second.xlsx")
    notices.drain(store)
    before = len(smtp.box.messages)
    reviews.decide(store, again, reviews.APPROVED, user=staff)
    assert notices.drain(store) == 0
    reviews.decide(store, again, reviews.APPROVED, user=staff, grade="良")
    notices.drain(store)
    [ok] = smtp.box.wait(before + 1)[before:]
    assert ok.subject.endswith("审核通过") and "已复审通过，评定等级：良" in ok.body
    # a decision that fails after its hook ran queues nothing: the notice is the decision's
    third = send("third.xlsx")
    notices.drain(store)

    def fails(store: Store, conn: Any, decided: Any) -> None:
        raise RuntimeError("the review failed")

    reviews.HOOKS.append(fails)
    try:
        with pytest.raises(RuntimeError):
            reviews.decide(store, third, reviews.RETURNED, user=staff, reasons=[(None, "x")])
    finally:
        reviews.HOOKS.remove(fails)
    assert notices.drain(store) == 0 and reviews.show(store, third).state == "pending"
    store.dispose()


def test_each_reviewer_gets_the_returns_waiting_at_their_stages_and_科室_once_a_day(
        db_url: str, smtp: smtpserver.Server, wuhai: FormModel, seed0: dict, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_url)
    configure(store, smtp)
    rows = [[*ROSTER[0], "归口科室"], [*ROSTER[1], "行政政法科"], [*ROSTER[2], "经济建设科"]]
    issued = distribute(wuhai, read_roster(roster_file(tmp_path / "名单.csv", rows)), tmp_path / "下发", store=store,
                        year=2021, deadline=dt.date(2030, 11, 30), stages="初审,复审")
    rnd, folder = rounds.rounds(store)[0], tmp_path / "下发"
    for i, (code, name) in enumerate((("101", "市信访局"), ("102", "市财政局"))):
        link = links.check(store, links.regenerate(store, rnd.id, code, "张三"))
        path = clerk_fills(folder / issued[i].file, wuhai, as_department(seed0, name, code), tmp_path / f"{code}.xlsx")
        assert intake.receive(store, path.read_bytes(), path.name, link).status == "valid"
    made = {
        "li": accounts.add_user(store, "行政政法科李", "correct horse 12", "reviewer", office="行政政法科",
                                stages=["初审"]),
        "perf": accounts.add_user(store, "绩效科赵", "correct horse 12", "reviewer", stages=["复审"]),
        "viewer": accounts.add_user(store, "只读钱", "correct horse 12", "viewer"),
        "quiet": accounts.add_user(store, "经济建设科王", "correct horse 12", "reviewer", office="经济建设科"),
    }
    for key, address in (("li", "li@example.gov.cn"), ("perf", "zhao@example.gov.cn"),
                         ("viewer", "qian@example.gov.cn")):
        accounts.set_email(store, made[key].name, address)  # 经济建设科王 has no address: no digest
    notices.drain(store)
    before = len(smtp.box.messages)
    day = dt.date(2030, 11, 28)
    assert reminders.digests(store, day, when=dt.datetime(2030, 11, 28, reminders.REMIND_HOUR - 1, 59)) == []
    at_nine = dt.datetime(2030, 11, 28, reminders.REMIND_HOUR, 0)
    assert len(reminders.digests(store, day, when=at_nine)) == 1  # 绩效科赵 holds 复审 only: nothing waits there yet
    assert reminders.digests(store, day, when=at_nine) == []  # once a day
    notices.drain(store)
    [got] = smtp.box.wait(before + 1)[before:]
    assert got.rcpt_tos == ["li@example.gov.cn"] and "市信访局" in got.body and "市财政局" not in got.body
    assert "初审" in got.body
    said = [events.sentence(e) for e in events.page(store, limit=50) if e.action == "mail_sent" and
            not e.department_code]  # the audit log names the reviewer's address, not a department
    assert said and "发送邮件（待审核汇总）给 li@example.gov.cn；邮件服务器答复：250" in said[0], said
    # ``remind`` (cron, where no server runs) sends the day's digests too: the next day's here
    monkeypatch.setattr(reminders, "now_local", lambda: dt.datetime(2030, 11, 29, 10, 0))
    from click.testing import CliRunner

    from xltemplate.cli import main

    res = CliRunner().invoke(main, ["remind", "--db", db_url], env=smtp.env())
    assert "审核人员的待审核汇总：今天发出 1 封" in res.output, res.output
    [again] = smtp.box.wait(before + 2)[before + 1:]
    assert again.rcpt_tos == ["li@example.gov.cn"]
    store.dispose()


def test_a_server_that_refuses_then_accepts_is_tried_again_and_every_try_recorded(
        db_url: str, smtp: smtpserver.Server, wuhai: FormModel, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notices, "BACKOFF", (0.3, 0.3, 0.3))
    store = Store(db_url)
    configure(store, smtp)
    smtp.box.refuse, smtp.box.answer = 2, "451 4.7.1 Greylisted, try again later"
    rnd, _, _ = open_round(store, wuhai, tmp_path, ROSTER[:2])
    worker = notices.worker(store)
    worker.start()
    try:
        [got] = smtp.box.wait(1, timeout=20)
        end = time.monotonic() + 10
        while notices.of_round(store, rnd.id)[0].status != "sent" and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        worker.stop()
        worker.join(10)
    [m] = notices.of_round(store, rnd.id)
    assert smtp.box.refused == 2 and got.rcpt_tos == ["xfj@example.gov.cn", "li.jie@example.gov.cn"]
    assert (m.status, m.attempts) == ("sent", 3) and m.answer.startswith("250")
    # each try made a link, and the two that failed were revoked: only the delivered one works
    k = store.t.links
    with store.engine.connect() as conn:
        made = conn.execute(sa.select(k.c.revoked_at, k.c.revoked_by).where(k.c.created_by == notices.SYSTEM)).all()
    assert sorted(r.revoked_by or "" for r in made) == ["", notices.SYSTEM, notices.SYSTEM]
    assert links.check(store, link_of(got.body)) is not None
    # a final refusal is given up at once, with the server's words, in the audit log too
    smtp.box.refuse, smtp.box.answer = 1, "550 5.1.1 Mailbox unavailable"
    with writing(store.engine) as conn:
        mid = notices.queue(store, conn, notices.REMINDER_NOW, recipients=["gone@example.gov.cn"], subject="催报",
                            body="正文", round_id=rnd.id, code="101")
    notices.drain(store)
    failed = notices.get(store, mid)
    assert (failed.status, failed.attempts) == ("failed", 1) and "550 5.1.1 Mailbox unavailable" in failed.answer
    # refused for now every time: given up after the last try, with the last answer
    smtp.box.refuse, smtp.box.answer = 10, "421 4.3.2 Service shutting down"
    with writing(store.engine) as conn:
        mid = notices.queue(store, conn, notices.REMINDER_NOW, recipients=["x@example.gov.cn"], subject="s",
                            body="b", round_id=rnd.id, code="101")
    end = time.monotonic() + 20
    while notices.get(store, mid).status not in ("sent", "failed") and time.monotonic() < end:
        notices.drain(store)
        time.sleep(0.1)
    given_up = notices.get(store, mid)
    assert (given_up.status, given_up.attempts) == ("failed", 4) and "421 4.3.2" in given_up.answer
    ev = store.t.events
    with store.engine.connect() as conn:
        logged = conn.execute(sa.select(ev.c.action, ev.c.detail).where(ev.c.action.like("mail_%"))
                              .order_by(ev.c.id)).all()
    assert [e.action for e in logged] == ["mail_sent", "mail_failed", "mail_failed"]
    assert logged[0].detail["to"] == ["xfj@example.gov.cn", "li.jie@example.gov.cn"]
    assert "550 5.1.1" in logged[1].detail["answer"]
    store.dispose()


def test_the_reviewers_digest_goes_once_a_day_and_only_when_something_waits(
        db_url: str, smtp: smtpserver.Server) -> None:
    store = Store(db_url)
    configure(store, smtp)
    waiting = [notices.Waiting("2021年度 绩效目标", "市信访局", "外派人员生活补贴", "初审",
                               dt.datetime(2020, 11, 20, 2, 0))]
    day = dt.date(2030, 11, 28)
    assert notices.digest(store, "审核员甲", "shen@example.gov.cn", [], day) is None
    first = notices.digest(store, "审核员甲", "shen@example.gov.cn", waiting, day)
    assert first is not None and notices.digest(store, "审核员甲", "shen@example.gov.cn", waiting, day) is None
    assert notices.digest(store, "审核员甲", "shen@example.gov.cn", waiting, day + dt.timedelta(days=1))
    notices.drain(store)
    got = smtp.box.wait(2)
    assert got[0].subject == "【报表收集平台】待审核报表 1 份" and "市信访局 · 外派人员生活补贴（初审" in got[0].body
    store.dispose()


def test_without_mail_settings_nothing_is_queued_and_pages_say_so(wuhai: FormModel, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    mail.configure(store, mail.load({}))
    rnd, _, _ = open_round(store, wuhai, tmp_path)
    assert notices.of_round(store, rnd.id) == []
    status = notices.mail_status(store)
    assert not status.configured and status.text.startswith("邮件未配置")
    store.dispose()


def _timed_uploads(app: Any, token: str, files: list[bytes]) -> list[float]:
    took = []
    with TestClient(app) as client:
        for data in files:
            started = time.perf_counter()
            answer = client.post(f"/l/{token}/upload", files={"file": ("报表.xlsx", data)})
            took.append(time.perf_counter() - started)
            assert answer.status_code == 200 and "有错误" in answer.text
    return took


def test_an_upload_answers_as_fast_with_the_mail_server_down_or_hanging_as_with_it_up(
        smtp: smtpserver.Server, wuhai: FormModel, seed0: dict, tmp_path: Path) -> None:
    """Measured in this run: five uploads each (corrections of one return, so the page is the same
    size every time) with the mail server up, refusing connections, and taking them and never
    answering (a 5 s time-out); the median answer of each is compared."""
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    store = Store(db)
    rnd, issued, folder = open_round(store, wuhai, tmp_path)
    token = links.regenerate(store, rnd.id, "101", "张三")
    store.dispose()
    counter = iter(range(1000))

    def files(n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            k = next(counter)
            data = as_department(seed0, "市信访局", "101", "外派人员生活补贴")  # each a correction of the one return
            data["project"]["function_code"] = "201030"
            data["cover"]["preparer"] = f"填报人{k}"
            out.append(clerk_fills(folder / issued[0].file, wuhai, data, tmp_path / "in" / f"{k}.xlsx").read_bytes())
        return out

    def app_with(host: str, port: int) -> Any:
        app = create_app(db, tmp_path / "data")
        configure(app.state.portal.store, smtpserver.Server(host, port, smtp.box, smtp.controller), timeout=5)
        return app

    _timed_uploads(app_with(smtp.host, smtp.port), token, files(1))  # the first upload of a process builds things
    up = _timed_uploads(app_with(smtp.host, smtp.port), token, files(5))
    down = _timed_uploads(app_with("127.0.0.1", smtpserver.free_port()), token, files(5))
    with smtpserver.silent() as (host, port):
        hanging = _timed_uploads(app_with(host, port), token, files(5))
    print(f"upload answer, median of 5: mail up {statistics.median(up):.3f} s, refused "
          f"{statistics.median(down):.3f} s, hanging {statistics.median(hanging):.3f} s")
    assert statistics.median(down) < statistics.median(up) * 1.5 + 0.15
    assert statistics.median(hanging) < statistics.median(up) * 1.5 + 0.15
    assert max(hanging) < 2  # never the mail server's 5 s time-out
    check = Store(db)
    found = {m.status for m in notices.of_round(check, rnd.id) if m.kind == "received"}
    assert "sent" in found and found & {"retrying", "queued"}  # up: sent; down: waiting to be tried again
    assert departments.one(check, rnd, "101").returns == 1
    check.dispose()
