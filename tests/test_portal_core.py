"""The portal's plain modules on SQLite and on a real PostgreSQL: the new tables, staff accounts
(argon2, lockout, sessions that expire), department links, intake of one uploaded file, and the
job queue (claimed once, taken over when its process stops beating)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect import accounts, departments, events, files, intake, jobs, links, packages, returns, rounds
from xltemplate.collect.db import core_tables, writing
from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel


@pytest.fixture
def two_departments(tmp_path: Path, db_url: str, wuhai: FormModel) -> Any:
    store = Store(db_url)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021,
                        base_url="https://portal.example/")
    yield store, rounds.rounds(store)[0], issued, tmp_path / "下发"
    store.dispose()


def test_the_new_tables_are_what_core_tables_says(db_url: str) -> None:
    store = Store(db_url)
    inspector = sa.inspect(store.engine)
    for table in core_tables(sa.MetaData()).__dict__.values():
        found = {c["name"] for c in inspector.get_columns(table.name)}
        assert found == {c.name for c in table.columns}, table.name
    store.dispose()


def test_passwords_are_argon2_and_repeated_failures_lock_the_account(db_url: str) -> None:
    store = Store(db_url)
    accounts.add_user(store, "张三", "correct horse 12", "admin")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(store.t.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.authenticate(store, "张三", "correct horse 12").role == "admin"
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed, match="用户名或密码不正确") as failed:
            accounts.authenticate(store, "张三", "wrong")
        assert not failed.value.throttled
    with pytest.raises(accounts.LoginFailed, match="用户名或密码不正确") as failed:  # the right one: still refused
        accounts.authenticate(store, "张三", "correct horse 12")
    assert failed.value.throttled
    th = store.t.login_throttle
    with writing(store.engine) as conn:  # the lock has run out
        conn.execute(th.update().values(locked_until=dt.datetime(2000, 1, 1)))
    assert accounts.authenticate(store, "张三", "correct horse 12").name == "张三"
    with pytest.raises(accounts.AccountError, match="用户名或密码不正确"):  # an unknown name reads the same
        accounts.authenticate(store, "nobody", "correct horse 12")
    with pytest.raises(accounts.AccountError, match="已存在"):
        accounts.add_user(store, "张三", "another password")
    with pytest.raises(accounts.AccountError, match="至少"):
        accounts.add_user(store, "李四", "short")
    store.dispose()


def test_staff_list_accounts_and_reset_a_forgotten_password_which_unlocks_it(db_url: str) -> None:
    from click.testing import CliRunner

    from xltemplate.cli import main

    store = Store(db_url)
    accounts.add_user(store, "张三", "forgotten pass 1", "admin")
    accounts.add_user(store, "李四", "another pass 12")
    accounts.add_user(store, "王审", "reviewer pass 12", "reviewer", office="行政政法科", stages=["初审"])
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(store, "张三", "wrong")
    res = CliRunner().invoke(main, ["users", "--db", db_url])
    heads = ["用户名", "角色", "归口科室", "审核环节", "状态", "最近登录", "锁定至"]
    assert res.exit_code == 0 and res.output.split()[:7] == heads, res.output
    lines = {line.split()[0]: line.split()[1:] for line in res.output.splitlines()[2:]}
    assert lines["张三"][:2] == ["admin", "正常"] and len(lines["张三"]) == 4  # locked: until when (a date and a time)
    assert lines["李四"] == ["staff", "正常"]
    assert lines["王审"] == ["reviewer", "行政政法科", "初审", "正常"]  # a reviewer's 科室 and stages
    res = CliRunner().invoke(main, ["users", "password", "张三", "--db", db_url], input="new password 12\n")
    assert res.exit_code == 0 and "已为用户“张三”设置新密码" in res.output, res.output
    assert accounts.authenticate(store, "张三", "new password 12").name == "张三"  # unlocked, the new one
    with pytest.raises(accounts.AccountError, match="用户名或密码不正确"):
        accounts.authenticate(store, "张三", "forgotten pass 1")
    res = CliRunner().invoke(main, ["users", "password", "王五", "--db", db_url], input="new password 12\n")
    assert res.exit_code == 1 and "错误：没有用户“王五”" in res.output
    res = CliRunner().invoke(main, ["users", "password", "张三", "--db", db_url], input="short\n")
    assert res.exit_code == 1 and "至少" in res.output
    store.dispose()


def test_sessions_expire_when_idle_or_old_and_end_at_logout(db_url: str) -> None:
    store = Store(db_url)
    user = accounts.add_user(store, "staff1", "correct horse 12")
    token, sess = accounts.start_session(store, user, "127.0.0.1")
    assert accounts.session(store, token).user.name == "staff1" and len(sess.csrf) >= 32
    with store.engine.connect() as conn:  # only the hash of the cookie's token is kept
        assert conn.execute(sa.select(store.t.sessions.c.token_hash)).scalar_one() == accounts.digest(token)
    s = store.t.sessions
    with writing(store.engine) as conn:
        conn.execute(s.update().values(expires_at=dt.datetime(2000, 1, 1)))
    assert accounts.session(store, token) is None
    token2, _ = accounts.start_session(store, user)
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=accounts.MAX_HOURS + 1)
    with writing(store.engine) as conn:
        conn.execute(s.update().values(created_at=old))
    assert accounts.session(store, token2) is None  # however busy, a session ends MAX_HOURS after login
    token3, _ = accounts.start_session(store, user)
    accounts.end_session(store, token3)
    assert accounts.session(store, token3) is None and accounts.session(store, "guess") is None
    store.dispose()


def test_distribute_gives_every_department_a_link_and_keeps_only_its_hash(two_departments) -> None:
    store, rnd, issued, folder = two_departments
    with open(folder / "manifest.csv", encoding="utf-8-sig") as fh:
        manifest = list(csv.DictReader(fh))
    tokens = {m["code"]: m["link"].rsplit("/", 1)[1] for m in manifest}
    assert all(m["link"].startswith("https://portal.example/l/") for m in manifest)
    assert all(len(tok) >= 43 for tok in tokens.values())  # 32 random bytes: 256 bits
    with store.engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(sa.select(store.t.links)) for v in row)
        kept = conn.execute(sa.select(store.t.issued.c.file_id)).scalars().all()
    assert not any(tok in dump for tok in tokens.values())
    assert all(kept) and files.get(store, kept[0]).content == (folder / issued[0].file).read_bytes()
    link = links.check(store, tokens["101"])
    assert (link.department_code, link.department, link.round.id) == ("101", "市信访局", rnd.id)
    tok = tokens["101"]
    other = tok[:-1] + ("B" if tok.endswith("A") else "A")  # one character off (never the token itself)
    assert links.check(store, other) is None and links.check(store, "") is None
    new = links.regenerate(store, rnd.id, "101", "张三")
    assert links.check(store, tokens["101"]) is None and links.check(store, new).department_code == "101"
    links.revoke(store, rnd.id, "101", "张三")
    assert links.check(store, new) is None
    rounds.set_status(store, rnd.id, rounds.CLOSED)  # a closed round's link shows its page, takes nothing
    assert not links.check(store, tokens["102"]).open


def test_every_link_of_a_round_regenerated_at_once_in_a_new_package(two_departments) -> None:
    store, rnd, issued, folder = two_departments
    with open(folder / "manifest.csv", encoding="utf-8-sig") as fh:
        old = {m["code"]: m["link"].rsplit("/", 1)[1] for m in csv.DictReader(fh)}
    links.revoke(store, rnd.id, "102", "张三")  # one department has no live link: it gets one too
    revoked, fid = packages.relink(store, rnd, "https://baobiao.example", "张三")
    assert revoked == 1 and links.count_live(store, rnd.id) == 2
    package = zipfile.ZipFile(io.BytesIO(files.get(store, fid).content))
    manifest = list(csv.DictReader(io.StringIO(package.read("manifest.csv").decode("utf-8-sig"))))
    assert [m["code"] for m in manifest] == ["101", "102"] and {m["file"] for m in manifest} == {i.file for i in issued}
    assert all(m["link"].startswith("https://baobiao.example/l/") for m in manifest)
    for m in manifest:
        assert links.check(store, m["link"].rsplit("/", 1)[1]).department_code == m["code"]
        assert package.read(f"模板/{m['file']}") == (folder / m["file"]).read_bytes()
    assert all(links.check(store, tok) is None for tok in old.values())


def test_a_round_with_no_returns_is_deleted_whole_and_one_with_a_return_is_not(two_departments, wuhai, seed0,
                                                                                 tmp_path) -> None:
    store, rnd, _issued, _folder = two_departments
    _revoked, fid = packages.relink(store, rnd, "https://baobiao.example", "张三")
    template_files = [t.file_id for t in rounds.templates_of(store, rnd.id)]
    assert rounds.delete(store, rnd, "管理员", "10.0.0.1") == 2
    assert rounds.get(store, rnd.id) is None and rounds.templates_of(store, rnd.id) == []
    assert rounds.roster_of(store, rnd.id) == [] and links.count_live(store, rnd.id) == 0
    assert all(files.get(store, f) is None for f in [*template_files, fid])
    [ev] = [e for e in events.page(store, round_id=rnd.id) if e.action == "delete_round"]
    assert (ev.actor, ev.detail["departments"], ev.detail["templates"]) == ("管理员", 2, 2)
    # a round with a return is kept, and nothing of it is deleted
    issued2 = distribute(wuhai, read_roster(roster_file(tmp_path / "r2.csv", [["部门代码", "部门名称"],
                                                                             ["101", "市信访局"]])),
                         tmp_path / "out2", store=store, year=2022)
    rnd2 = rounds.rounds(store)[0]
    link = _link(store, "101")
    filled = clerk_fills(tmp_path / "out2" / issued2[0].file, wuhai, as_department(seed0, "市信访局", "101"),
                         tmp_path / "in" / "ok.xlsx").read_bytes()
    assert intake.receive(store, filled, "ok.xlsx", link).status == "valid"
    with pytest.raises(rounds.RoundError, match="已收到 1 份报表，不能删除"):
        rounds.delete(store, rnd2, "管理员")
    assert rounds.get(store, rnd2.id) is not None and len(rounds.templates_of(store, rnd2.id)) == 1
    assert links.count_live(store, rnd2.id) == 1  # its link too


def _link(store: Store, code: str) -> links.Link:
    rnd = rounds.rounds(store)[0]
    return links.check(store, links.regenerate(store, rnd.id, code, "test"))


def test_intake_of_one_upload_through_a_link(two_departments, wuhai, seed0, tmp_path) -> None:
    store, rnd, issued, folder = two_departments
    link = _link(store, "101")
    wrong = as_department(seed0, "市信访局", "101")
    wrong["project"]["function_code"] = "201030"
    bad = clerk_fills(folder / issued[0].file, wuhai, wrong, tmp_path / "in" / "bad.xlsx").read_bytes()
    first = intake.receive(store, bad, "C:\\Users\\clerk\\桌面\\bad.xlsx", link, address="10.0.0.7")
    assert first.status == "invalid" and first.new_return and first.file == "bad.xlsx"
    assert [(e.sheet, e.cell, e.label) for e in first.errors] == [
        ("绩效目标申报表", "D6", "项目基本情况 · 预算功能科目")]
    assert "7位数字" in first.errors[0].message
    annotated = intake.annotated(store, first.submission)
    assert annotated.name == "bad_退回修改.xlsx" and annotated.content.startswith(b"PK")
    good = clerk_fills(folder / issued[0].file, wuhai, as_department(seed0, "市信访局", "101"),
                       tmp_path / "in" / "good.xlsx").read_bytes()
    second = intake.receive(store, good, "good.xlsx", link)
    assert second.status == "valid" and [r.id for r in second.replaced] == [first.submission]
    assert not second.new_return
    again = intake.receive(store, good, "good.xlsx", link)
    assert again.status == "duplicate" and again.submission == second.submission
    [line, other] = departments.status(store, rnd)
    assert (line.status, line.returns) == ("pending", 1) and other.status == "not_returned"
    # the same file through another department's link, and another department's template: refused
    link2 = _link(store, "102")
    for data in (good, clerk_fills(folder / issued[1].file, wuhai, as_department(seed0, "市财政局", "102"),
                                   tmp_path / "in" / "102.xlsx").read_bytes()):
        refused = intake.receive(store, data, "x.xlsx", link if data is not good else link2)
        assert refused.status == "unreadable" and refused.refused == "wrong_department" and refused.submission is None
    # a PDF is refused with what it is, and is no return
    pdf = intake.receive(store, b"%PDF-1.7\n", "scan.pdf", link)
    assert pdf.refused == "pdf" and "PDF" in pdf.errors[0].message
    with store.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(store.submissions)).scalar_one()
        events = conn.execute(sa.select(store.t.events.c.action, store.t.events.c.address, store.t.events.c.detail)
                              .where(store.t.events.c.action.in_(("upload", "upload_refused")))
                              .order_by(store.t.events.c.id)).all()
        file_ids = conn.execute(sa.select(store.submissions.c.file_id)).scalars().all()
    assert count == 2 and all(file_ids)
    assert [e.action for e in events] == ["upload", "upload", "upload", "upload_refused", "upload_refused",
                                          "upload_refused"]
    assert events[0].address == "10.0.0.7"
    assert {e.detail["code"] for e in events[3:]} == {"wrong_department", "pdf"}


def test_a_job_is_claimed_once_and_taken_over_when_its_heartbeat_stops(db_url: str) -> None:
    store = Store(db_url)
    ids = [jobs.enqueue(store, "noop", {"n": n}) for n in range(12)]
    claimed: list[tuple[str, int]] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        while (job := jobs.claim(store, name)) is not None:
            claimed.append((name, job.id))

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(j for _, j in claimed) == ids  # every job once, however many claim at the same time
    assert jobs.claim(store, "late") is None
    job_id, owner = claimed[0][1], claimed[0][0]
    assert jobs.heartbeat(store, job_id, owner, 1, [])
    j = store.t.jobs
    with writing(store.engine) as conn:  # its process died: no heartbeat for longer than STALE
        conn.execute(j.update().where(j.c.id == job_id).values(
            heartbeat_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=jobs.STALE + 5)))
    taken = jobs.claim(store, "rescuer")
    assert taken.id == job_id and taken.attempts == 2
    assert not jobs.heartbeat(store, job_id, owner, 2, [])  # the old owner learns it lost the job
    assert jobs.finish(store, job_id, "rescuer", jobs.DONE, 3, [])
    store.dispose()


def test_a_bulk_job_run_again_imports_nothing_twice(two_departments, wuhai, seed0, tmp_path) -> None:
    store, rnd, issued, folder = two_departments
    members = []
    for n, (i, name) in enumerate(((issued[0], "市信访局"), (issued[1], "市财政局"))):
        data = as_department(seed0, name, i.code, f"项目{n}")
        members.append(clerk_fills(folder / i.file, wuhai, data, tmp_path / "mail" / f"{n}.xlsx").read_bytes())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("附件/0.xlsx", members[0])
        zf.writestr("1.xlsx", members[1])
        zf.writestr("说明.pdf", b"%PDF-1.4")
    job_id = intake.enqueue_bulk(store, rnd, [(archive.getvalue(), "邮件.zip")], "张三")
    worker = jobs.Worker(store, {intake.BULK: intake.run_bulk})
    job = jobs.claim(store, worker.id)
    worker.run_job(job)
    done = jobs.get(store, job_id)
    assert (done.status, done.total, done.done) == ("done", 3, 3)
    assert sorted(r["status"] for r in done.results) == ["unreadable", "valid", "valid"]
    first = returns.query(store, round_id=rnd.id, history=True)
    # the same job run again (its process died after storing): every file is a duplicate
    j = store.t.jobs
    with writing(store.engine) as conn:
        conn.execute(j.update().where(j.c.id == job_id).values(status=jobs.QUEUED))
    worker.run_job(jobs.claim(store, worker.id))
    assert {r["stored"] for r in jobs.get(store, job_id).results} == {"duplicate"}
    assert [r.id for r in returns.query(store, round_id=rnd.id, history=True)] == [r.id for r in first]
    # as with `xltemplate import`: the PDF, which tells no department, waits under 未识别的文件
    assert {d.code: d.status for d in departments.status(store, rnd)} == {"101": "pending", "102": "pending"}
    [pdf] = departments.unrecognized(store, rnd)
    assert pdf.status == "unreadable" and departments.round_totals(store, rnd).unrecognized == 1


def test_a_bulk_upload_over_the_limit_imports_the_first_files_and_says_how_many_were_not(
        two_departments, wuhai, seed0, tmp_path, monkeypatch) -> None:
    store, rnd, issued, folder = two_departments
    monkeypatch.setattr(intake, "MAX_MEMBERS", 2)  # 5,000 in use: the same rule, on a small zip
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for n in range(5):
            data = as_department(seed0, "市信访局", "101", f"项目{n}")
            zf.writestr(f"{n}.xlsx", clerk_fills(folder / issued[0].file, wuhai, data,
                                                 tmp_path / "mail" / f"{n}.xlsx").read_bytes())
    job_id = intake.enqueue_bulk(store, rnd, [(archive.getvalue(), "邮件.zip")], "张三")
    worker = jobs.Worker(store, {intake.BULK: intake.run_bulk})
    worker.run_job(jobs.claim(store, worker.id))
    done = jobs.get(store, job_id)
    assert (done.status, done.total, done.done) == ("done", 3, 3)
    assert [r["file"] for r in done.results] == ["邮件.zip!0.xlsx", "邮件.zip!1.xlsx", "其余 3 个文件"]
    said = done.results[-1]
    assert said["stored"] == "not_imported" and "其余 3 个没有导入，请分批再上传" in said["message"]
    assert len(returns.query(store, round_id=rnd.id, history=True)) == 2


def test_a_roster_can_be_a_workbook(tmp_path, wuhai) -> None:
    import xlsxwriter

    path = tmp_path / "名单.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet()
    for r, row in enumerate([["部门代码", "部门名称"], [101, "市信访局"], ["0102", "市财政局"]]):
        ws.write_row(r, 0, row)
    book.close()
    assert read_roster(path) == [{"部门代码": "101", "部门名称": "市信访局"},
                                 {"部门代码": "0102", "部门名称": "市财政局"}]


def test_threads_finding_a_form_for_the_first_time_all_find_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal imports in many threads at once; the table of bundled forms by id was once
    filled in place, and a thread that came while another filled it found no form (unknown_form)."""
    import time as _time

    from xltemplate.form import forms

    real = forms.load_form

    def slow(*args: Any, **kw: Any) -> Any:
        _time.sleep(0.02)  # widen the window in which the table is being filled
        return real(*args, **kw)

    monkeypatch.setattr(forms, "_BY_ID", {})
    monkeypatch.setattr(forms, "load_form", slow)
    barrier = threading.Barrier(8)
    found: list[Any] = []

    def look() -> None:
        barrier.wait()
        found.append(forms.find_form("wuhai-perf-target"))

    threads = [threading.Thread(target=look) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(found) == 8 and all(m is not None and m.id == "wuhai-perf-target" for m in found)
