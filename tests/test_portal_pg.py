"""Several portal processes sharing nothing but a real PostgreSQL database: two servers take
uploads of the same return at the same moment, many times, and exactly one copy is current each
time; a bulk-import job whose server is killed midway is finished by another server, and no file
is imported twice."""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import load_json, new_database
from portal_server import add_user, cli, login, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.form.forms import load_form


@pytest.fixture
def pg_db(pg_url: str) -> str:
    return new_database(pg_url, "p")


def _round(db: str, folder: Path) -> dict[str, str]:
    roster = roster_file(folder / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"]])
    res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(folder / "下发"), "--db", db,
              "--year", "2021", cwd=folder)
    assert res.returncode == 0, res.stderr
    with open(folder / "下发" / "manifest.csv", encoding="utf-8-sig") as fh:
        return next(csv.DictReader(fh))


def _current(db: str) -> list[Any]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, return_key FROM submissions WHERE is_current")).all()
    engine.dispose()
    return list(rows)


def test_two_servers_take_the_same_return_at_once_and_one_copy_is_current(pg_db: str, tmp_path: Path) -> None:
    line = _round(pg_db, tmp_path)
    model = load_form("wuhai-perf-target")
    template = tmp_path / "下发" / line["file"]
    a, b = start(pg_db, tmp_path / "a"), start(pg_db, tmp_path / "b")
    try:
        for n in range(20):
            copies = []
            for side in ("甲", "乙"):  # two different copies of one return (one project), written separately
                data = as_department(load_json("seed_000.json"), "市信访局", "101")
                data["cover"]["preparer"] = f"{side}{n}"
                copies.append(clerk_fills(template, model, data, tmp_path / "in" / f"{n}{side}.xlsx").read_bytes())
            barrier = threading.Barrier(2)
            answers: list[httpx.Response] = []

            def send(server: Any, data: bytes, barrier: threading.Barrier = barrier,
                     answers: list[httpx.Response] = answers) -> None:
                barrier.wait()
                answers.append(httpx.post(server.url + line["link"] + "/upload", files={"file": ("r.xlsx", data)},
                                          timeout=60))

            threads = [threading.Thread(target=send, args=(srv, data)) for srv, data in zip((a, b), copies,
                                                                                          strict=True)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert [r.status_code for r in answers] == [200, 200]
            assert all("检查无误" in r.text for r in answers)
            current = _current(pg_db)
            assert len(current) == 1, (n, current)
        assert "服务器处理时出了问题" not in a.output() + b.output()
    finally:
        a.stop()
        b.stop()


def test_a_job_of_a_killed_server_is_finished_by_another_and_nothing_is_imported_twice(pg_db: str,
                                                                                        tmp_path: Path) -> None:
    line = _round(pg_db, tmp_path)
    model = load_form("wuhai-perf-target")
    filled = clerk_fills(tmp_path / "下发" / line["file"], model,
                         as_department(load_json("seed_000.json"), "市信访局", "101"), tmp_path / "one.xlsx")
    original = filled.read_bytes()
    archive = io.BytesIO()
    count = 800
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for n in range(count):  # each a distinct file (its own zip comment), all copies of one return
            member = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(original)) as src, \
                    zipfile.ZipFile(member, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in src.infolist():
                    dst.writestr(info, src.read(info))
                dst.comment = f"copy {n}".encode()
            zf.writestr(f"邮件/{n:04d}.xlsx", member.getvalue())
    add_user(pg_db, "staff")
    env = {"XLTEMPLATE_JOB_STALE": "3"}
    first = start(pg_db, tmp_path / "first", env)
    second = None
    try:
        staff = login(first, "staff")
        res = staff.post("/rounds/1/upload", data={"csrf": staff.csrf},
                         files=[("files", ("邮件.zip", archive.getvalue()))])
        assert res.status_code == 303
        job_url = res.headers["location"]
        engine = sa.create_engine(pg_db)
        end = time.monotonic() + 60
        done = 0
        while time.monotonic() < end and done < 20:
            with engine.connect() as conn:
                done = conn.execute(sa.text("SELECT done FROM jobs")).scalar() or 0
            time.sleep(0.05)
        assert 20 <= done < count, done
        first.kill()  # the process dies mid-job (SIGKILL: no goodbye, no clean-up)
        with engine.connect() as conn:
            stored_by_first = conn.execute(sa.text("SELECT COUNT(*) FROM submissions")).scalar_one()
        second = start(pg_db, tmp_path / "second", env)
        staff2 = login(second, "staff")
        end = time.monotonic() + 120
        while time.monotonic() < end:
            with engine.connect() as conn:
                job = conn.execute(sa.text("SELECT status, attempts, done, total, results FROM jobs")).one()
            if job.status == "done":
                break
            time.sleep(0.2)
        assert (job.status, job.attempts, job.done, job.total) == ("done", 2, count, count)
        with engine.connect() as conn:
            shas = conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT sha256) FROM submissions")).one()
            current = conn.execute(sa.text("SELECT COUNT(*) FROM submissions WHERE is_current")).scalar_one()
        engine.dispose()
        assert tuple(shas) == (count, count) and current == 1  # every file once, one current copy of the return
        stored = [r["stored"] for r in job.results]
        assert stored.count("duplicate") == stored_by_first > 0  # what the dead process had stored is not redone
        page = staff2.get(job_url).text
        assert "已完成" in page and "被接手继续" in page
    finally:
        first.kill()
        if second is not None:
            second.stop()
