"""Batch import into a real database: every outcome, history, no file lost or counted twice, kill-safety."""

from __future__ import annotations

import copy
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import poke, write_return

from xltemplate.collect import batch
from xltemplate.collect.store import Store


def _messy_folder(root: Path, wuhai, seed0, seed1) -> dict[str, Path]:
    """A folder as finance staff receive it: nested folders, a zip with a folder inside, junk."""
    files = {}
    files["a"] = write_return(root / "inbox" / "市信访局.xlsx", wuhai, seed0, submission_id="A-1",
                              department="市信访局", code="101")
    files["c"] = write_return(root / "c.xlsx", wuhai, seed1, submission_id="C-1", department="市财政局",
                              code="102")
    wrong = copy.deepcopy(seed0)
    wrong["project"]["attribute"] = "新建"
    files["b"] = write_return(root / "inbox" / "b-first.xlsx", wuhai, wrong, submission_id="B-1",
                              department="市教育局", code="103")
    # the corrected resubmission of B, saved later (openpyxl stamps the save time)
    files["b2"] = root / "later" / "b-corrected.xlsx"
    files["b2"].parent.mkdir()
    shutil.copy(files["b"], files["b2"])
    poke(files["b2"], wuhai, {"/project/attribute": "新增"})
    files["dup"] = root / "inbox" / "again" / "市信访局(1).xlsx"
    files["dup"].parent.mkdir()
    shutil.copy(files["a"], files["dup"])
    files["junk"] = root / "inbox" / "说明.pdf"
    files["junk"].write_bytes(b"%PDF-1.4 not a workbook")
    (root / "inbox" / ".~lock.市信访局.xlsx#").write_text("lock")  # LibreOffice litter, ignored
    d = write_return(root / "tmp" / "d.xlsx", wuhai, seed0 | {"cover": seed0["cover"] | {"preparer": "赵六"}},
                     submission_id="D-1", department="市民政局", code="104")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(d, "回收/民政局/d.xlsx")
        zf.write(files["a"], "回收/重复/a.xlsx")
    (root / "returns.zip").write_bytes(buf.getvalue())
    shutil.rmtree(root / "tmp")
    return files


def test_a_messy_batch_gets_every_outcome(tmp_path, db_url, wuhai, seed0, seed1) -> None:
    _messy_folder(tmp_path / "in", wuhai, seed0, seed1)
    store = Store(db_url)
    seen: list[str] = []
    summary = batch.run([tmp_path / "in"], store=store, jobs=2, on_done=lambda d, o: seen.append(d.source.name),
                        annotate=tmp_path / "annotated")
    # every file once: 8 sources (5 loose workbooks + pdf + 2 zip members); the lock file ignored
    assert len(seen) == len(set(seen)) == 8
    assert any(n.endswith("returns.zip!回收/民政局/d.xlsx") for n in seen)
    total = summary.total()
    # valid: a, b corrected, d; invalid: b's first copy, c (seed 001 keeps the prompt text)
    assert total == {"valid": 3, "invalid": 2, "unreadable": 1, "duplicate": 2, "superseded": 1}, total
    assert summary.rows["市教育局"]["superseded"] == 1
    s = store.submissions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.submission_id, s.c.status, s.c.is_current, s.c.superseded_by, s.c.id,
                                      s.c.department)).all()
        assert len(rows) == 6  # duplicates are not stored twice
        b = sorted((r for r in rows if r.submission_id == "B-1"), key=lambda r: r.id)
        current = [r for r in b if r.is_current]
        old = [r for r in b if not r.is_current]
        assert [r.status for r in current] == ["valid"] and [r.status for r in old] == ["invalid"]
        assert old[0].superseded_by == current[0].id  # history kept
        departments = {r.department for r in rows if r.status != "unreadable"}
        assert departments == {"市信访局", "市财政局", "市教育局", "市民政局"}
        store.tables_for(wuhai)
        items = conn.execute(sa.select(sa.func.count()).select_from(
            store.meta.tables["wuhai_perf_target_budget_items"])).scalar_one()
        assert items == 5  # one budget row per stored return with data
        table = store.meta.tables["wuhai_perf_target_budget_items"]
        budget = conn.execute(sa.select(s.c.submission_id, table.c.row, table.c.name, table.c.amount, table.c.period)
                              .select_from(table.join(s, table.c.submission == s.c.id))).all()
        seed0_row = (1, seed0["budget_items"][0]["name"], seed0["budget_items"][0]["amount"],
                     seed0["budget_items"][0]["period"])
        seed1_row = (1, seed1["budget_items"][0]["name"], seed1["budget_items"][0]["amount"],
                     seed1["budget_items"][0]["period"])
        # each stored return's row, as the return has it (B twice: the first copy and the correction)
        assert sorted((r.submission_id, r.row, r.name, r.amount, r.period) for r in budget) == sorted(
            [("A-1", *seed0_row), ("B-1", *seed0_row), ("B-1", *seed0_row), ("C-1", *seed1_row), ("D-1", *seed0_row)])
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == ["b-first_退回修改.xlsx", "c_退回修改.xlsx"]
    # a rerun changes nothing
    again = batch.run([tmp_path / "in"], store=store, jobs=2)
    assert again.total()["duplicate"] == 8 and again.files == 8
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s)).scalar_one() == 6
    store.dispose()


def test_one_bad_file_never_changes_the_others(tmp_path, wuhai, seed0) -> None:
    good = write_return(tmp_path / "in" / "good.xlsx", wuhai, seed0, submission_id="G")
    alone = batch.run([good], store=Store(f"sqlite:///{tmp_path / 'a.db'}"), jobs=1)
    (tmp_path / "in" / "broken.xlsx").write_bytes(good.read_bytes()[:3000])
    (tmp_path / "in" / "empty.xlsx").write_bytes(b"")
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    mixed = batch.run([tmp_path / "in"], store=store, jobs=2)
    assert alone.total()["valid"] == mixed.total()["valid"] == 1
    assert mixed.total()["unreadable"] == 2


def test_a_broken_zip_is_one_unreadable_result(tmp_path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    results = []
    batch.run([tmp_path / "bad.zip"], jobs=1, on_done=lambda d, o: results.append(d.result))
    assert [r.status for r in results] == ["unreadable"]
    assert "压缩包" in results[0].errors[0].message


def test_gbk_member_names_from_windows_zips(tmp_path, wuhai, seed0) -> None:
    src = write_return(tmp_path / "x.xlsx", wuhai, seed0)
    gbk = "回收/市信访局.xlsx".encode("gbk")
    stand_in = b"Q" * len(gbk)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(stand_in.decode(), src.read_bytes())
    # the name's bytes in GBK with no UTF-8 flag, as Windows' built-in zip writes them
    (tmp_path / "w.zip").write_bytes(buf.getvalue().replace(stand_in, gbk))
    names = [s.name for s in batch.collect([tmp_path / "w.zip"])]
    assert names == [f"{tmp_path / 'w.zip'}!回收/市信访局.xlsx"]


def test_killed_midway_loses_nothing_and_a_rerun_finishes(tmp_path, wuhai) -> None:
    from xltemplate.collect.distribute import distribute

    n = 1200
    roster = [{"code": f"{i:05d}", "name": f"单位{i}"} for i in range(n)]
    distribute(wuhai, roster, tmp_path / "in")
    (tmp_path / "in" / "manifest.csv").unlink()
    db = tmp_path / "r.db"
    cmd = [sys.executable, "-m", "xltemplate.cli", "import", str(tmp_path / "in"), "--db", str(db), "-q",
           "--no-progress", "--jobs", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = sa.create_engine(f"sqlite:///{db}")
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            with engine.connect() as conn:
                stored = conn.execute(sa.text("select count(*) from submissions")).scalar_one()
        except sa.exc.OperationalError:
            stored = 0
        if stored >= 100:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert 100 <= stored < n, "the import finished before it could be killed; make the batch larger"
    with engine.connect() as conn:
        after_kill = conn.execute(sa.text("select count(*) from submissions")).scalar_one()
        assert after_kill >= stored
        orphans = conn.execute(sa.text(
            "select count(*) from wuhai_perf_target_fields f left join submissions s on s.id = f.submission "
            "where s.id is null")).scalar_one()
        assert orphans == 0
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1  # blank templates are invalid returns
    with engine.connect() as conn:
        total, distinct = conn.execute(sa.text("select count(*), count(distinct sha256) from submissions")).one()
        ids = conn.execute(sa.text("select count(distinct submission_id) from submissions")).scalar_one()
    assert total == distinct == ids == n
    assert "重复" in done.stderr
    engine.dispose()


@pytest.mark.parametrize("jobs", [1, 2])
def test_cli_import_folder_summary_and_exit_code(tmp_path, wuhai, seed0, jobs) -> None:
    from click.testing import CliRunner

    from xltemplate.cli import main

    write_return(tmp_path / "in" / "ok.xlsx", wuhai, seed0, submission_id="S", department="市信访局")
    res = CliRunner().invoke(main, ["import", str(tmp_path / "in"), "--db", str(tmp_path / "x.db"),
                                    "--jobs", str(jobs)])
    assert res.exit_code == 0, res.output
    assert "市信访局" in res.output and "检查无误" in res.output
    (tmp_path / "in" / "bad.xlsx").write_bytes(b"nope")
    res = CliRunner().invoke(main, ["import", str(tmp_path / "in"), "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 1 and "bad.xlsx" in res.output and "无法读取" in res.output


def test_a_file_that_kills_its_worker_is_reported_and_the_batch_goes_on(tmp_path, wuhai, seed0, monkeypatch) -> None:
    """A crash inside a native reader takes the whole worker process down; the batch finds the file
    that does it (running the lost ones one by one), reports it, and imports the rest."""
    for i in range(20):
        write_return(tmp_path / "in" / f"r{i:02d}.xlsx", wuhai, seed0, submission_id=f"S-{i}")
    (tmp_path / "in" / "r07-crash.xlsx").write_bytes(b"PK whatever")
    real = batch.work

    def fragile(source, job=None):
        if Path(source.name).name.startswith("r07-crash"):
            os._exit(70)  # as a segfault in native code would end the process
        return real(source, job)

    monkeypatch.setattr(batch, "work", fragile)  # the forked workers inherit it
    seen = []
    summary = batch.run([tmp_path / "in"], jobs=2, on_done=lambda d, o: seen.append((d.source.name, d.result)))
    assert len(seen) == len({n for n, _ in seen}) == 21
    crashed = [r for n, r in seen if Path(n).name.startswith("r07-crash")]
    assert [r.errors[0].code for r in crashed] == ["crashed"] and "崩溃" in crashed[0].errors[0].message
    assert summary.total()["valid"] == 20 and summary.total()["unreadable"] == 1


def test_a_file_that_hangs_its_worker_is_stopped_and_reported(tmp_path, wuhai, seed0, monkeypatch) -> None:
    for i in range(10):
        write_return(tmp_path / "in" / f"r{i:02d}.xlsx", wuhai, seed0, submission_id=f"S-{i}")
    (tmp_path / "in" / "r03-hang.xlsx").write_bytes(b"PK whatever")
    real = batch.work

    def stuck(source, job=None):
        if Path(source.name).name.startswith("r03-hang"):
            time.sleep(3600)
        return real(source, job)

    monkeypatch.setattr(batch, "work", stuck)
    monkeypatch.setattr(batch, "FILE_TIMEOUT", 1.0)
    seen = []
    started = time.time()
    summary = batch.run([tmp_path / "in"], jobs=2, on_done=lambda d, o: seen.append((d.source.name, d.result)))
    assert time.time() - started < 60
    assert len(seen) == len({n for n, _ in seen}) == 11
    hung = [r for n, r in seen if Path(n).name.startswith("r03-hang")]
    assert [r.errors[0].code for r in hung] == ["timeout"]
    assert summary.total()["valid"] == 10


def test_an_import_with_spawned_workers_stores_what_forked_ones_do(tmp_path, wuhai, seed0, seed1) -> None:
    """A bureau's office PC often runs Windows, where worker processes are spawned (a fresh
    interpreter each, nothing inherited): everything a worker needs travels in the job, so an
    import into a round (rounds, issued templates, published versions in the job) stores the same
    with ``spawn`` as with ``fork``."""
    from test_rounds import as_department, clerk_fills, roster_file

    from xltemplate.collect.distribute import distribute, read_roster

    stored = {}
    for method in ("fork", "spawn"):
        root = tmp_path / method
        store = Store(f"sqlite:///{root / 'r.db'}")
        roster = roster_file(root / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"]])
        issued = distribute(wuhai, read_roster(roster), root / "下发", store=store, year=2021)
        for n, (i, seed) in enumerate(zip(issued, (seed0, seed1), strict=True)):
            data = as_department(seed, i.name, i.code)
            data["cover"]["year"] = 2021
            clerk_fills(root / "下发" / i.file, wuhai, data, root / "回收" / f"{n}.xlsx")
        for k in range(6):  # more files than one task holds, so both workers take some
            shutil.copy(root / "回收" / "0.xlsx", root / "回收" / f"copy{k}.xlsx")
            poke(root / "回收" / f"copy{k}.xlsx", wuhai, {"/unit/contact": f"联系人{k}"})
        seen: list[str] = []
        summary = batch.run([root / "回收"], store=store, jobs=2, start_method=method,
                            on_done=lambda d, o, seen=seen: seen.append(d.department_code))
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(store.submissions.c.status, store.submissions.c.department_code,
                                          store.submissions.c.round_id, store.submissions.c.is_current)
                                .order_by(store.submissions.c.file_name)).all()
        stored[method] = (summary.total(), sorted(seen), [tuple(r) for r in rows])
        store.dispose()
    assert stored["spawn"] == stored["fork"]
    total, seen, rows = stored["spawn"]
    assert (total["valid"], total["invalid"], total["superseded"]) == (7, 1, 6)  # seed1 keeps its prompts
    assert len(rows) == 8 and {r[2] for r in rows} == {1} and seen.count("101") == 7
    assert sum(1 for r in rows if r[1] == "101" and r[3]) == 1  # one current copy of 101's return
