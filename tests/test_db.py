"""The database grows up: migrations from the previous release, several importers at once.

The concurrency tests use real processes on the real PostgreSQL server of the tests (and on
SQLite), started together at a barrier, many times in a loop."""

from __future__ import annotations

import copy
import datetime as dt
import multiprocessing as mp
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import new_database, poke, write_return

from xltemplate.cli import main
from xltemplate.collect.db import BASELINE, HEAD, engine_for, revision, writing
from xltemplate.collect.importer import ImportResult
from xltemplate.collect.store import Identity, Pending, Store

MIGRATIONS = Path(__file__).resolve().parents[1] / "xltemplate" / "collect" / "migrations"


def _previous_release(url: str) -> sa.Engine:
    """A database as the release before migrations left it: its two tables, no alembic_version,
    a per-form table with some of today's columns, and two current copies of one submission
    (what two racing importers could leave then)."""
    from alembic import command
    from alembic.config import Config

    engine = engine_for(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BASELINE)
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text(
            "CREATE TABLE wuhai_perf_target_fields (submission INTEGER PRIMARY KEY REFERENCES submissions(id), "
            "cover_project_name TEXT, funding_total NUMERIC(24, 6))"))
        rows = [("a" * 64, "S-1", dt.datetime(2020, 10, 16), True), ("b" * 64, "S-1", dt.datetime(2020, 10, 20), True),
                ("c" * 64, "S-2", None, True)]
        for n, (sha, sid, saved, current) in enumerate(rows, start=1):
            conn.execute(sa.text(
                "INSERT INTO submissions (id, sha256, file_name, source, received_at, saved_at, form_id, form_version,"
                " submission_id, department, department_code, status, error_count, is_current, data, errors) VALUES "
                "(:id, :sha, :f, :f, :r, :saved, 'wuhai-perf-target', '2021.1', :sid, '市信访局', '101', 'valid', 0, "
                ":cur, NULL, NULL)"),
                {"id": n, "sha": sha, "f": f"{n}.xlsx", "r": dt.datetime(2020, 11, n), "saved": saved, "sid": sid,
                 "cur": current})
            conn.execute(sa.text("INSERT INTO wuhai_perf_target_fields VALUES (:s, '外派人员生活补贴', 7)"), {"s": n})
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval('submissions_id_seq', 3)"))
    return engine


def test_a_database_of_the_previous_release_upgrades_in_place(db_url, wuhai, seed0, tmp_path) -> None:
    old = _previous_release(db_url)
    with old.connect() as conn:
        assert revision(conn) == BASELINE
    old.dispose()
    store = Store(db_url)
    assert store.upgraded == (BASELINE, HEAD)
    s = store.submissions
    with store.engine.connect() as conn:
        rows = {r.sha256[0]: r for r in conn.execute(sa.select(s))}
        kept = conn.execute(sa.text("SELECT submission, funding_total FROM wuhai_perf_target_fields "
                                    "ORDER BY submission")).all()
    assert len(rows) == 3 and [(k, float(v)) for k, v in kept] == [(1, 7.0), (2, 7.0), (3, 7.0)]
    assert rows["a"].return_key == rows["b"].return_key == "fwuhai-perf-target|sid|S-1"
    # the two current copies of S-1: the later saved one stays current, the other is history
    assert rows["b"].is_current and not rows["a"].is_current and rows["a"].superseded_by == rows["b"].id
    # the per-form table gains today's columns in place, and a new copy of S-1 replaces the current one
    result = ImportResult("new.xlsx", "valid", "wuhai-perf-target", "2021.1", "S-1", seed0)
    outcome = store.record(result, sha256="d" * 64, file_name="new.xlsx", source="new.xlsx", model=wuhai,
                           saved_at=dt.datetime(2020, 12, 1))
    assert outcome.superseded == [rows["b"].id]
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT cover_preparer FROM wuhai_perf_target_fields WHERE submission = :i"),
                            {"i": outcome.id}).scalar_one() == seed0["cover"]["preparer"]
    # through the importer: a copy of S-2 with no department replaces it (one return per template, as
    # before); a copy of S-1 sent by its department, with its project name, replaces the current S-1
    from xltemplate.collect import batch

    seen = []
    files = [write_return(tmp_path / "in" / "s2.xlsx", wuhai, seed0, submission_id="S-2"),
             write_return(tmp_path / "in" / "s1.xlsx", wuhai, seed0 | {"cover": seed0["cover"] | {"preparer": "新"}},
                          submission_id="S-1", department="市信访局", code="101")]
    for f in files:
        poke(f, wuhai, {})  # saved by a client today: later than the copies stored back then
    batch.run(files, store=store, jobs=1, on_done=lambda d, o: seen.append(o))
    assert [o.superseded for o in seen] == [[rows["c"].id], [outcome.id]]
    store.dispose()
    again = Store(db_url)  # nothing left to do
    assert again.upgraded == (HEAD, HEAD)
    again.dispose()


def test_db_upgrade_command(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _previous_release(url).dispose()
    res = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert res.exit_code == 0 and "数据库已升级" in res.output and "原有数据已保留" in res.output
    res = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert res.exit_code == 0 and "已是最新" in res.output and "已升级" not in res.output


# -- two importers storing copies of one return at the same instant --------------------------

def _store_one(url: str, pending: Pending, barrier: mp.Barrier, out: mp.Queue) -> None:
    store = Store(url)
    store._known_hashes()  # both know the database as it was before either stored
    store.tables_for(pending.model)
    barrier.wait()
    out.put(store.record_many([pending])[0].id)
    store.dispose()


@pytest.mark.parametrize("rounds_", [25])
def test_concurrent_importers_never_leave_two_current_copies(db_url, wuhai, seed0, rounds_) -> None:
    Store(db_url).dispose()  # the tables exist; the race is about the rows
    ctx = mp.get_context("fork")
    for n in range(rounds_):
        key = f"fwuhai-perf-target|sid|RACE-{n}"
        copies = []
        for i in range(2):
            data = copy.deepcopy(seed0)
            data["cover"]["preparer"] = f"第{i}份"
            result = ImportResult(f"{i}.xlsx", "valid", "wuhai-perf-target", "2021.1", f"RACE-{n}", data)
            copies.append(Pending(result, uuid.uuid4().hex * 2, f"{i}.xlsx", f"{i}.xlsx", wuhai,
                                  saved_at=dt.datetime(2020, 10, 16, 9, i), identity=Identity(key)))
        barrier, out = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_store_one, args=(db_url, p, barrier, out)) for p in copies]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0, f"round {n}: an importer failed"
        ids = sorted(out.get(timeout=5) for _ in procs)
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, is_current, superseded_by, received_at FROM submissions WHERE return_key = :k ORDER BY id"),
                {"k": key}).all()
        engine.dispose()
        assert [r.id for r in rows] == ids, f"round {n}: a copy was lost"
        current = [r for r in rows if r.is_current]
        assert len(current) == 1, f"round {n}: {len(current)} current copies"
        newest = max(rows, key=lambda r: (r.received_at, r.id))  # received last (the loser retried after)
        other = next(r for r in rows if r.id != newest.id)
        assert current[0].id == newest.id and other.superseded_by == newest.id, f"round {n}"


def test_two_importers_on_a_fresh_postgresql_database_both_succeed(pg_url, tmp_path, wuhai, seed0) -> None:
    """Measured before: they collided creating the per-form tables in 2 of 5 tries."""
    files = [write_return(tmp_path / "in" / f"{i}.xlsx", wuhai, seed0 | {"cover": seed0["cover"] | {
        "preparer": f"第{i}人"}}, submission_id=f"F-{i}") for i in range(2)]
    for attempt in range(5):
        url = new_database(pg_url, "fresh")
        cmd = [sys.executable, "-m", "xltemplate.cli", "import", "--db", url, "-q", "--no-progress", "-j", "1"]
        procs = [subprocess.Popen([*cmd, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in files]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (_out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, f"try {attempt}: {err}"
            assert "Traceback" not in err and "psycopg.errors" not in err and "sqlalchemy" not in err
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM submissions WHERE is_current")).scalar_one() == 2
            assert conn.execute(sa.text("SELECT count(*) FROM wuhai_perf_target_fields")).scalar_one() == 2
        engine.dispose()


def test_sqlite_writers_of_every_process_take_turns_on_the_lock_file(tmp_path) -> None:
    """A write on an SQLite database waits while a writer of another process holds its turn (the
    lock on ``<database>-writer``), and starts once that one is done, rather than meeting SQLite's
    busy wait (which sleeps up to 100 ms a try: under many uploads a few waited seconds)."""
    database = tmp_path / "turns.db"
    engine = engine_for(f"sqlite:///{database}")
    with writing(engine) as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    other = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(database) + '-writer'!r}, os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        entered = threading.Event()

        def write() -> None:
            with writing(engine) as conn:
                entered.set()
                conn.execute(sa.text("INSERT INTO t VALUES (1)"))

        thread = threading.Thread(target=write)
        thread.start()
        assert not entered.wait(0.5), "wrote while another process held the writers' turn"
        other.communicate("done\n", timeout=10)
        assert entered.wait(5)
        thread.join(5)
    finally:
        other.kill()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar_one() == 1
    engine.dispose()


def test_a_thread_writing_one_database_through_two_engines_gets_an_error_not_a_hang(tmp_path) -> None:
    """A second engine on the same file, written inside the first one's turn by the same thread,
    would wait for itself for ever: it gets SQLite's error at once, and writes once the first is done."""
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    first, second = engine_for(url), engine_for(url)
    got: list[BaseException] = []

    def write() -> None:
        with writing(first) as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            try:
                with writing(second):
                    pass
            except sa.exc.OperationalError as exc:
                got.append(exc)
        with writing(second) as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))

    thread = threading.Thread(target=write, daemon=True)  # a hang fails the test, not the run
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the thread waits for itself"
    assert got and "database is locked" in str(got[0])
    with first.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar_one() == 1
    first.dispose()
    second.dispose()


def test_a_statement_on_the_driver_stores_what_sqlalchemy_would_and_fails_as_it_would(db_url) -> None:
    """``Direct`` (the upload's writes): the same row as ``Connection.execute`` makes from the same
    values (JSON with Chinese text, a datetime to the microsecond, None, a boolean), read back alike;
    statement listeners see it; a unique index it breaks raises SQLAlchemy's IntegrityError."""
    from xltemplate.collect.db import Direct

    store = Store(db_url)
    e = store.t.events
    at = dt.datetime(2026, 12, 6, 14, 3, 5, 123456)
    values = {"at": at, "actor": "link:101", "action": "upload", "round_id": None, "submission": None,
              "department_code": "101", "detail": {"file": "报表.xlsx", "n": [1, 2.5, None, True]}, "address": None}
    direct = Direct(e.insert(), store.engine.dialect, list(values))
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    with writing(store.engine) as conn:
        conn.execute(e.insert(), values)
        direct(conn, values)
    assert sum("INSERT INTO events" in sql for sql in seen) == 2
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.at, e.c.actor, e.c.action, e.c.round_id, e.c.department_code, e.c.detail,
                                      e.c.address).order_by(e.c.id)).all()
        raw = conn.execute(sa.text("select at, detail from events order by id")).all()
    assert len(rows) == 2 and rows[0] == rows[1] and rows[1].at == at and rows[1].detail == values["detail"]
    assert raw[0] == raw[1]  # stored alike, not only read back alike
    f = store.t.files
    put = Direct(f.insert(), store.engine.dialect, ["sha256", "kind", "name", "size", "content", "created_at"])
    row = {"sha256": "f" * 64, "kind": "upload", "name": "a.xlsx", "size": 1, "content": b"x", "created_at": at}
    with pytest.raises(sa.exc.IntegrityError), writing(store.engine) as conn:
        put(conn, row)
        put(conn, row)
    store.dispose()
