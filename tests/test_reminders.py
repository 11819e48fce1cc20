"""催报 against a real SMTP server on loopback (aiosmtpd, started here): who is reminded (未报送, 有错误,
无法读取; never 通过), on which days, once a day whoever sends it (two ``serve`` processes and
``xltemplate remind`` at once on the real PostgreSQL), what ``remind`` prints, and the 催报清单 and
the message to paste for a department without mail."""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path
from typing import Any

import openpyxl
import portal_server
import pytest
import smtpserver
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import new_database
from test_notices import BASE, configure, link_of, open_round
from test_rounds import as_department, clerk_fills

from xltemplate.cli import main
from xltemplate.collect import intake, links, mail, notices, reminders, rounds, settings
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel

ROSTER = [["部门代码", "部门名称", "联系人", "邮箱", "归口科室"],
          ["101", "市信访局", "李杰", "xfj@example.gov.cn", "行政政法科"],
          ["102", "市财政局", "王某", "czj@example.gov.cn", "综合科"],
          ["103", "市教育局", "赵某", "", "科教文科"],
          ["104", "市民政局", "", "mzj@example.gov.cn; mzj2@example.gov.cn", "社会保障科"]]


def _returns(store: Store, rnd: rounds.Round, issued: list[Any], folder: Path, wuhai: FormModel, seed0: dict,
             tmp_path: Path) -> None:
    """101 sends a return with errors, 102 a valid one; 103 and 104 send nothing."""
    wrong = as_department(seed0, "市信访局", "101")
    wrong["project"]["function_code"] = "201030"
    link = links.check(store, links.regenerate(store, rnd.id, "101", "张三"))
    intake.receive(store, clerk_fills(folder / issued[0].file, wuhai, wrong, tmp_path / "in" / "1.xlsx").read_bytes(),
                   "1.xlsx", link)
    link = links.check(store, links.regenerate(store, rnd.id, "102", "张三"))
    intake.receive(store, clerk_fills(folder / issued[1].file, wuhai, as_department(seed0, "市财政局", "102"),
                                      tmp_path / "in" / "2.xlsx").read_bytes(), "2.xlsx", link)


def test_remind_reminds_who_has_not_returned_or_must_correct_once_a_day(
        wuhai: FormModel, seed0: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(db)
    mail.configure(store, mail.load({}))
    rnd, issued, folder = open_round(store, wuhai, tmp_path, ROSTER, deadline=reminders.today() + dt.timedelta(days=3))
    settings.put(store, settings.BASE_URL, BASE)
    _returns(store, rnd, issued, folder, wuhai, seed0, tmp_path)
    store.dispose()
    monkeypatch.setattr(reminders, "REMIND_HOUR", 0)
    with smtpserver.running() as server:
        env = server.env()
        dry = CliRunner().invoke(main, ["remind", "--db", db, "--dry-run"], env=env)
        assert dry.exit_code == 0, dry.output
        assert not server.box.messages
        head, *lines = dry.output.splitlines()
        assert head == f"轮次“{rnd.name}”："
        assert [line.split()[0] for line in lines] == ["101", "103", "104"]  # 102 passed: not reminded
        assert "将发送（试运行，未发送）" in lines[0] and "有错误" in lines[0]
        assert "（无邮箱）" in lines[1] and "名单中没有该部门的邮箱" in lines[1]
        res = CliRunner().invoke(main, ["remind", "--db", db], env=env)
        assert res.exit_code == 0, res.output
        got = server.box.wait(2)
        sent = {m.rcpt_tos[0]: m for m in got}
        assert set(sent) == {"xfj@example.gov.cn", "mzj@example.gov.cn"}
        assert sent["mzj@example.gov.cn"].rcpt_tos == ["mzj@example.gov.cn", "mzj2@example.gov.cn"]
        xfj = sent["xfj@example.gov.cn"]
        deadline = (reminders.today() + dt.timedelta(days=3)).isoformat()
        assert xfj.subject == f"【{rnd.name}】催报：将于 {deadline} 截止，还有 3 天"
        assert "贵部门目前：有错误" in xfj.body and "1 处错误" in xfj.body and "D6" in xfj.body
        assert "尚未报送" in sent["mzj@example.gov.cn"].body
        check = Store(db)
        assert links.check(check, link_of(xfj.body)).department_code == "101"
        out = res.output.splitlines()[1:]
        assert "101 市信访局 → xfj@example.gov.cn：催报（有错误）已发送：250 2.0.0 Ok" in out[0]
        assert "103 市教育局 → （无邮箱）" in out[1]
        # the same day again: nobody is reminded twice
        again = CliRunner().invoke(main, ["remind", "--db", db], env=env)
        assert again.exit_code == 0 and again.output.count("今天已催报过，不再发送") == 2, again.output
        time.sleep(0.5)
        assert len(server.box.messages) == 2
        # a day not in the plan: nothing is due
        notices.set_reach(check, rnd.id, {k: True for k in notices.SWITCHABLE}, [5, 1], "张三")
        none = CliRunner().invoke(main, ["remind", "--db", db], env=env)
        assert none.exit_code == 0 and "现在没有到期的催报" in none.output
        # without mail: said on every line, and the command fails for the timer's log
        nomail = CliRunner().invoke(main, ["remind", "--db", db, "--round", rnd.name], env={})
        assert "现在没有到期的催报" in nomail.output
        notices.set_reach(check, rnd.id, {k: True for k in notices.SWITCHABLE}, [3], "张三")
        with check.engine.begin() as conn:
            conn.execute(check.t.mail_claims.delete())
        nomail = CliRunner().invoke(main, ["remind", "--db", db], env={"XLTEMPLATE_MAIL_CONFIG": "/nonexistent"})
        assert nomail.exit_code == 1 and nomail.output.count("未发送：邮件未配置") == 2, nomail.output
        check.dispose()


def test_staff_remind_the_departments_they_tick_and_the_hour_and_plan_decide_what_is_due(
        wuhai: FormModel, seed0: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    with smtpserver.running() as server:
        configure(store, server)
        deadline = reminders.today()
        rnd, issued, folder = open_round(store, wuhai, tmp_path, ROSTER, deadline=deadline)
        notices.drain(store)
        opened = len(server.box.wait(3))  # the round-opened notices of 101, 102, 104
        _returns(store, rnd, issued, folder, wuhai, seed0, tmp_path)
        notices.drain(store)
        before = len(server.box.wait(opened + 2))
        lines = reminders.send_now(store, rnd, ["102", "104"], "张三")
        assert [(line.code, line.outcome) for line in lines] == [("104", "queued")]  # 102 passed: not reminded
        assert [line.outcome for line in reminders.send_now(store, rnd, ["104"], "张三")] == ["already"]
        notices.drain(store)
        [got] = server.box.wait(before + 1)[before:]
        assert got.rcpt_tos == ["mzj@example.gov.cn", "mzj2@example.gov.cn"]
        assert f"今天（{deadline.isoformat()}）截止" in got.subject
        # the plan's day, before and after the hour
        at8 = dt.datetime.combine(deadline, dt.time(8, 0)).astimezone()
        monkeypatch.setattr(reminders, "REMIND_HOUR", 9)
        assert reminders.due(store, at8) == []
        assert [r.id for r in reminders.due(store, at8 + dt.timedelta(hours=1))] == [rnd.id]
        assert reminders.due(store, at8 + dt.timedelta(days=1, hours=1)) == []  # after the deadline
        rounds.set_status(store, rnd.id, rounds.CLOSED)
        assert reminders.due(store, at8 + dt.timedelta(hours=1)) == []  # a closed round reminds nobody
    store.dispose()


def test_the_chase_list_and_the_message_to_paste(wuhai: FormModel, seed0: dict, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    mail.configure(store, mail.load({}))
    rnd, issued, folder = open_round(store, wuhai, tmp_path, ROSTER)
    _returns(store, rnd, issued, folder, wuhai, seed0, tmp_path)
    book = openpyxl.load_workbook(io.BytesIO(reminders.chase_list(store, rnd, [], BASE, "张三")))
    rows = list(book["催报清单"].iter_rows(values_only=True))
    assert rows[0] == ("部门代码", "部门", "归口科室", "联系人", "邮箱", "状态", "需要做什么", "专用链接",
                       "催报消息（可直接粘贴）")
    by_code = {r[0]: r for r in rows[1:]}
    assert set(by_code) == {"101", "103", "104"}  # with none ticked: all who need reminding
    assert by_code["101"][1:6] == ("市信访局", "行政政法科", "李杰", "xfj@example.gov.cn", "有错误")
    assert "1 处错误" in by_code["101"][6] and by_code["103"][6] == "尚未报送"
    assert by_code["104"][4] == "mzj@example.gov.cn；mzj2@example.gov.cn"
    for code, row in by_code.items():
        token = link_of(row[7])
        assert links.check(store, token).department_code == code
        assert row[8].startswith(f"【催报】{row[1]}：“{rnd.name}”") and row[7] in row[8]
    ticked = openpyxl.load_workbook(io.BytesIO(reminders.chase_list(store, rnd, ["102"], BASE, "张三")))
    [only] = list(ticked.active.iter_rows(min_row=2, values_only=True))
    assert only[0] == "102" and only[5] == "待审核" and not only[7]  # a department that passed gets no link
    text = reminders.chase_text(store, rnd, "103", BASE, "张三")
    assert text.startswith("【催报】市教育局：") and "尚未报送" in text
    assert links.check(store, link_of(text)).department_code == "103"
    links.revoke(store, rnd.id, "103", "张三")  # staff stopped its links: no message makes a new one
    assert "已停用" in reminders.chase_text(store, rnd, "103", BASE, "张三")
    store.dispose()


def test_two_servers_and_remind_at_once_on_postgresql_remind_each_department_once(
        pg_url: str, wuhai: FormModel, tmp_path: Path) -> None:
    db = new_database(pg_url, "remind")
    store = Store(db)
    mail.configure(store, mail.load({}))
    rows = [["部门代码", "部门名称", "邮箱"]] + [[f"2{n:02d}", f"部门{n}", f"d{n}@example.gov.cn"] for n in range(12)]
    rnd, _, _ = open_round(store, wuhai, tmp_path, rows, deadline=reminders.today() + dt.timedelta(days=3))
    settings.put(store, settings.BASE_URL, BASE)
    with smtpserver.running() as server:
        env = server.env() | {"XLTEMPLATE_REMIND_HOUR": "0", "XLTEMPLATE_REMIND_EVERY": "0.2"}
        one = portal_server.start(db, tmp_path / "a", env)
        two = portal_server.start(db, tmp_path / "b", env)
        try:
            cli = portal_server.cli("remind", "--db", db, cwd=tmp_path, env=env)  # the servers' mail settings
            got = server.box.wait(12, timeout=60)
            time.sleep(3)  # both servers keep checking: nothing more may come
            assert len(server.box.messages) == 12, [m.rcpt_tos for m in server.box.messages]
        finally:
            one.stop()
            two.stop()
    assert sorted(m.rcpt_tos[0] for m in got) == sorted(f"d{n}@example.gov.cn" for n in range(12))
    assert cli.returncode == 0, cli.stdout + cli.stderr
    printed = [line for line in cli.stdout.splitlines() if "→" in line] or ["（没有到期）"]
    assert all(("已发送" in line or "今天已催报过" in line) for line in printed if "→" in line), cli.stdout
    c = store.t.mail_claims
    with store.engine.connect() as conn:
        claims = conn.execute(sa.select(c.c.department_code, c.c.day, c.c.claimed_by).where(
            c.c.kind == notices.REMINDER)).all()
    assert len(claims) == 12 and {r.day for r in claims} == {reminders.today()}
    kinds = [m.kind for m in notices.of_round(store, rnd.id)]
    assert kinds.count(notices.REMINDER) == 12
    store.dispose()
