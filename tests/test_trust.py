"""Nothing a file says about itself decides anything (issue 14, points 1 and 3): which copy of a
return counts follows the order the bureau received them in; a template we never issued, or one
whose signature is not the one it was issued with, is no department's; such files wait for staff
under 未识别的文件; one link cannot fill the disk.  Real servers and real files throughout."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import secrets
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from portal_server import cli, login
from test_portal_http import Site
from test_rounds import as_department, clerk_fills

from xltemplate.collect import departments, files, intake, links, returns, rounds
from xltemplate.collect.store import Store


def rewrite(data: bytes, edit: Any) -> bytes:
    """The workbook with parts rewritten: ``edit(name, bytes) -> bytes``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def saved(data: bytes, when: dt.datetime) -> bytes:
    """The file as a PC whose clock says ``when`` saves it (docProps/core.xml)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return rewrite(data, lambda n, d: re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, d)
                   if n == "docProps/core.xml" else d)


def meta(data: bytes, key: str, value: str) -> bytes:
    """One metadata value changed where the importer reads it first (the document property) and in
    the hidden sheet's shared strings: a forger who edits what he sees."""
    def edit(name: str, part: bytes) -> bytes:
        if name == "docProps/custom.xml":
            return re.sub(rf'(name="xltemplate\.{key}"[^>]*><vt:lpwstr>)[^<]*'.encode(), rb"\g<1>" + value.encode(),
                          part)
        return part
    return rewrite(data, edit)


@pytest.fixture
def site(tmp_path: Path) -> Any:
    s = Site(tmp_path)
    yield s
    s.server.stop()


def _current(db: str, code: str | None) -> list[Any]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, file_name, department_code, is_current FROM submissions WHERE is_current AND "
            + ("department_code = :c" if code else "department_code IS NULL") + " ORDER BY id"), {"c": code}).all()
    engine.dispose()
    return list(rows)


def test_a_forged_or_clock_skewed_file_from_the_mail_never_takes_a_departments_place(site: Site) -> None:
    mail = site.folder / "邮件"
    mail.mkdir()
    # 1. a copy of 101's template whose submission id was never issued, dated 2099
    forged = meta(site.filled("101", "市信访局"), "submission_id", uuid.uuid4().hex)
    (mail / "伪造.xlsx").write_bytes(saved(forged, dt.datetime(2099, 1, 1)))
    # 2. 101's own template, filled on a PC whose clock runs far ahead
    ahead = site.filled("101", "市信访局", project="时钟超前的项目")
    (mail / "超前.xlsx").write_bytes(saved(ahead, dt.datetime(2099, 1, 1)))
    res = cli("import", str(mail), "--db", site.db, "-q", "--no-progress", cwd=site.folder)
    assert res.returncode == 0, res.stderr
    [stranger] = _current(site.db, None)
    assert stranger.file_name == "伪造.xlsx"  # no department's: it waits for staff
    [mine] = _current(site.db, "101")
    assert mine.file_name == "超前.xlsx"
    # the clerk corrects the project through the link, on a PC with the right time (saved before 2099)
    fixed = saved(site.filled("101", "市信访局", project="时钟超前的项目"), dt.datetime(2020, 11, 20))
    answer = site.upload("101", fixed, "更正.xlsx")
    assert answer.status_code == 200 and "现以这一份为准" in answer.text
    [now] = _current(site.db, "101")
    assert now.file_name == "更正.xlsx" and now.id != mine.id  # received later: it counts
    # the dashboard agrees with what it lists: one unrecognised file, and 101 has its one return
    c = login(site.server, "staff")
    page = c.get("/rounds/1").text
    assert "未识别的文件（1 份）" in page and "伪造.xlsx" in page and "未识别的文件 1 份" in page
    # staff look at it and give it to 102 (whose it turned out to be): it is 102's, and the panel is empty
    answer = c.post(f"/returns/{stranger.id}/assign", data={"csrf": c.csrf, "department": "102"})
    assert answer.status_code == 303 and answer.headers["location"] == "/rounds/1"
    page = c.get("/rounds/1").text
    c.close()
    assert "未识别的文件（" not in page and [r.id for r in _current(site.db, "102")] == [stranger.id]


def test_a_template_whose_signature_is_not_the_issued_one_tells_no_department(site: Site) -> None:
    """Every path checks it: the mail import, a bulk upload, and a link (where the link decides)."""
    real = site.filled("101", "市信访局")
    forged = meta(real, "signature", "0" * 32)  # a template whose identity was rewritten
    (site.folder / "邮件2").mkdir()
    (site.folder / "邮件2" / "改签名.xlsx").write_bytes(forged)
    assert cli("import", str(site.folder / "邮件2"), "--db", site.db, "-q", "--no-progress",
               cwd=site.folder).returncode == 0
    [stranger] = _current(site.db, None)
    store = Store(site.db)
    try:
        [found] = departments.unrecognized(store, rounds.rounds(store)[0])
        assert found.id == stranger.id and found.notes[0]["code"] == "forged"
        assert "签名" in found.notes[0]["message"]
    finally:
        store.dispose()
    # through 102's link the same forged file is 102's own (the link, not the file, says whose): the
    # copy waiting from the mail is taken as 102's, and leaves the unrecognised files
    answer = site.upload("102", forged, "改签名.xlsx")
    assert answer.status_code == 200 and "现以这一份为准" in answer.text
    assert [r.id for r in _current(site.db, "102")] == [stranger.id] and _current(site.db, None) == []
    other = meta(real, "signature", "1" * 32)
    assert site.upload("102", other, "又一份.xlsx").status_code == 200
    assert len(_current(site.db, "102")) == 1  # the same project again: the later upload replaced it
    # the genuine file is 101's, by the template it was issued from
    assert site.upload("101", real).status_code == 200 and len(_current(site.db, "101")) == 1


def test_staff_assign_or_discard_an_unrecognised_file_and_the_counters_follow(db_url: str, tmp_path: Path,
                                                                              wuhai: Any, seed0: Any) -> None:
    from test_rounds import roster_file

    from xltemplate.collect import batch
    from xltemplate.collect.distribute import distribute, read_roster

    store = Store(db_url)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021)
    rnd = rounds.rounds(store)[0]
    template = tmp_path / "下发" / issued[0].file
    a = clerk_fills(template, wuhai, as_department(seed0, "市信访局", "101"), tmp_path / "in" / "a.xlsx")
    forged_a = tmp_path / "in" / "forged-a.xlsx"
    forged_a.write_bytes(meta(a.read_bytes(), "submission_id", "not-ours"))
    junk = tmp_path / "in2" / "forged-b.xlsx"
    junk.parent.mkdir()
    junk.write_bytes(meta(a.read_bytes(), "submission_id", "not-ours-either"))
    batch.run([forged_a], store=store, jobs=1)
    [waiting] = departments.unrecognized(store, rnd)
    assert departments.round_totals(store, rnd).unrecognized == 1
    assigned = returns.assign(store, waiting.id, "101", "张三")
    assert (assigned.department_code, assigned.department, assigned.current) == ("101", "市信访局", True)
    assert assigned.project == seed0["cover"]["project_name"]
    assert departments.unrecognized(store, rnd) == [] and departments.round_totals(store, rnd).unrecognized == 0
    assert {d.code: d.status for d in departments.status(store, rnd)}["101"] == "pending"
    # a later copy of the same project, assigned too, replaces it (received later)
    batch.run([junk], store=store, jobs=1)
    [later] = departments.unrecognized(store, rnd)
    again = returns.assign(store, later.id, "101", "张三")
    assert again.current and not returns.one(store, assigned.id).current
    # a department not on the roster is refused by name; discarding needs a reason and empties the panel
    batch.run([_copy(a, tmp_path / "in3" / "c.xlsx", "still-not-ours")], store=store, jobs=1)
    [third] = departments.unrecognized(store, rnd)
    with pytest.raises(rounds.RoundError, match="999"):
        returns.assign(store, third.id, "999")
    with pytest.raises(rounds.RoundError):
        returns.discard(store, third.id, " ")
    returns.discard(store, third.id, "邮件里混进来的旧文件", "张三")
    assert departments.unrecognized(store, rnd) == [] and departments.round_totals(store, rnd).unrecognized == 0
    with pytest.raises(rounds.RoundError):
        returns.assign(store, assigned.id, "102")  # a return of a department is not for the panel
    store.dispose()


def _copy(src: Path, out: Path, sid: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(meta(src.read_bytes(), "submission_id", sid))
    return out


# -- one link cannot fill the disk ----------------------------------------------------------------

@pytest.fixture
def one_link(db_url: str, tmp_path: Path, wuhai: Any) -> Any:
    from test_rounds import roster_file

    from xltemplate.collect.distribute import distribute, read_roster

    store = Store(db_url)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"]])
    issued = distribute(wuhai, read_roster(roster), tmp_path / "下发", store=store, year=2021)
    rnd = rounds.rounds(store)[0]
    token = links.regenerate(store, rnd.id, "101", "test")
    yield store, token, tmp_path / "下发" / issued[0].file
    store.dispose()


def test_a_refused_file_is_kept_as_its_head_hash_and_size(one_link: Any) -> None:
    store, token, _template = one_link
    big = b"%PDF-1.7\n" + secrets.token_bytes(3 * 1024 * 1024)
    receipt = intake.receive(store, big, "扫描件.pdf", links.check(store, token))
    assert receipt.refused == "pdf"
    f = store.t.files
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(f.c.kind, f.c.size, f.c.full_size, sa.func.length(f.c.content))
                           .where(f.c.id == receipt.file_id)).one()
    assert row.kind == files.REFUSED and row.full_size == len(big)
    assert row.size == intake.REFUSED_HEAD and row[3] == intake.REFUSED_HEAD
    stored = files.get(store, receipt.file_id)
    assert files.download_name("未收下的文件_1", stored.content) == "未收下的文件_1.pdf"


def test_a_link_takes_so_many_uploads_and_bytes_a_day(one_link: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store, token, _template = one_link
    monkeypatch.setattr(links, "UPLOADS_PER_DAY", 3)
    monkeypatch.setattr(links, "BYTES_PER_DAY", 10_000)
    for n in range(3):
        intake.receive(store, b"not a workbook %d" % n, f"{n}.xlsx", links.check(store, token))
    link = links.check(store, token)
    assert (link.uploads_today, link.room_for(1)) == (3, "uploads")
    with pytest.raises(links.QuotaReached):  # two uploads that passed the check together: one counts
        intake.receive(store, b"one more", "x.xlsx", link)
    monkeypatch.setattr(links, "UPLOADS_PER_DAY", 100)
    assert links.check(store, token).room_for(20_000) == "bytes"


def test_over_http_the_quota_is_said_in_chinese_before_the_body_is_read(tmp_path: Path) -> None:
    s = Site(tmp_path, env={"XLTEMPLATE_LINK_UPLOADS_PER_DAY": "2"})
    try:
        for _ in range(2):
            assert s.upload("101", b"not a workbook").status_code == 200
        answer = s.upload("101", s.filled("101", "市信访局"))
        assert answer.status_code == 429 and "上限" in answer.text and "明天" in answer.text
    finally:
        s.server.stop()


def test_the_body_of_an_upload_is_read_only_once_it_holds_a_slot(tmp_path: Path) -> None:
    """Uploads waiting for a slot hold no body in memory: the server asks for no byte of it.  Uploads
    are checked one at a time per process: one whose body is in waits for the turn to be checked."""
    from test_rounds import roster_file

    from xltemplate.collect.distribute import distribute, read_roster
    from xltemplate.form.forms import load_form
    from xltemplate.web.app import CHECKS_AT_ONCE, UPLOAD_SLOTS, create_app

    db = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(db)
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"]])
    distribute(load_form("wuhai-perf-target"), read_roster(roster), tmp_path / "下发", store=store, year=2021)
    token = links.regenerate(store, rounds.rounds(store)[0].id, "101", "test")
    store.dispose()
    app = create_app(db, tmp_path / "data", run_jobs=False)
    boundary = "xtboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\nnot a workbook\r\n--{boundary}--\r\n").encode()

    async def run() -> tuple[bool, bool, int, bool, bool, int]:
        asked = asyncio.Event()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            asked.set()
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": f"/l/{token}/upload", "raw_path": f"/l/{token}/upload".encode(),
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 80),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode()),
                             (b"content-type", f"multipart/form-data; boundary={boundary}".encode())], "app": app}
        async with app.router.lifespan_context(app):
            slots = app.state.portal.upload_slots
            for _ in range(UPLOAD_SLOTS):
                await slots.acquire()  # every slot busy
            task = asyncio.create_task(app(scope, receive, send))
            await asyncio.sleep(0.5)
            read_while_busy = asked.is_set()
            slots.release()
            await asyncio.wait_for(task, 30)
            for _ in range(UPLOAD_SLOTS - 1):
                slots.release()
            first = (read_while_busy, asked.is_set(), sent[0]["status"])
            # the turn to be checked taken: the body is read, the answer waits for the turn
            asked.clear()
            sent.clear()
            checking = app.state.portal.checking
            for _ in range(CHECKS_AT_ONCE):
                await checking.acquire()
            task = asyncio.create_task(app(scope, receive, send))
            await asyncio.sleep(0.5)
            read, answered = asked.is_set(), bool(sent)
            for _ in range(CHECKS_AT_ONCE):
                checking.release()
            await asyncio.wait_for(task, 30)
        return (*first, read, answered, sent[0]["status"])

    read_while_busy, read_after, status, read, answered_in_turn, later = asyncio.run(run())
    assert not read_while_busy and read_after and status == 200
    assert read and not answered_in_turn and later == 200
