"""The database: typed tables staff can query, history of resubmissions, idempotent storing."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from xltemplate.collect.importer import ImportResult
from xltemplate.collect.store import Store, db_url


def _result(data, sid="S-1", status="valid"):
    return ImportResult(file="x.xlsx", status=status, form="wuhai-perf-target", version="2021.1",
                        submission_id=sid, data=data)


def test_scalars_and_arrays_land_in_typed_queryable_tables(db_url, wuhai, seed0, seed1) -> None:
    store = Store(db_url)
    store.record(_result(seed0, "A"), sha256="a" * 64, file_name="a.xlsx", source="a.xlsx", model=wuhai,
                 department="市信访局")
    store.record(_result(seed1, "B", "invalid"), sha256="b" * 64, file_name="b.xlsx", source="b.xlsx", model=wuhai)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select s.department, f.funding_total, f.project_function_code, f.cover_prepared_on "
            "from submissions s join wuhai_perf_target_fields f on f.submission = s.id order by s.id")).all()
        assert rows[0][0] == "市信访局" and float(rows[0][1]) == 7 and rows[0][2] == "2010308"
        assert str(rows[0][3]) == "2020-10-16"
        cost = conn.execute(sa.text(
            "select i.name, i.value from wuhai_perf_target_indicators i join submissions s on s.id = i.submission "
            "where s.submission_id = 'B' and i.period = 'annual' and i.subcategory = 'cost' order by i.row")).all()
        assert [tuple(r) for r in cost] == [("工资", "19.2"), ("福利和社保", "3.6"), ("津贴", "1.2")]
        budget = conn.execute(sa.text("select name, amount, row from wuhai_perf_target_budget_items "
                                      "order by submission")).all()
        assert [(r[0], float(r[1]), r[2]) for r in budget] == [("生活补贴", 7.0, 1), ("社会化聘用人员经费", 24.0, 1)]
    store.dispose()


def test_identical_file_changes_nothing(db_url, wuhai, seed0) -> None:
    store = Store(db_url)
    first = store.record(_result(seed0), sha256="c" * 64, file_name="a", source="a", model=wuhai)
    again = store.record(_result(seed0), sha256="c" * 64, file_name="a", source="a", model=wuhai)
    assert first.status == "valid" and again.status == "duplicate"
    fresh = Store(db_url)  # another run, another process: the database remembers
    assert fresh.record(_result(seed0), sha256="c" * 64, file_name="a", source="a", model=wuhai).status == "duplicate"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from submissions")).scalar_one() == 1
    store.dispose()
    fresh.dispose()


def test_the_copy_received_last_is_current_whatever_the_file_says(db_url, wuhai, seed0) -> None:
    """Which copy counts follows receipt: a copy received later replaces one received earlier even
    when the file says it was saved before it (a clock running ahead, or a forged date)."""
    store = Store(db_url)
    monday, tuesday = dt.datetime(2020, 10, 19, 9), dt.datetime(2020, 10, 20, 9)
    first = store.record(_result(seed0, "S"), sha256="d" * 64, file_name="v2", source="v2", model=wuhai,
                         saved_at=dt.datetime(2099, 1, 1), received_at=monday)
    second = store.record(_result(seed0, "S", "invalid"), sha256="e" * 64, file_name="v1", source="v1",
                          model=wuhai, saved_at=dt.datetime(2020, 10, 16), received_at=tuesday)
    assert second.current is True and second.superseded == [first.id]
    s = store.submissions
    with store.engine.connect() as conn:
        rows = {r.file_name: r for r in conn.execute(sa.select(s.c.file_name, s.c.is_current, s.c.superseded_by))}
    assert rows["v1"].is_current and not rows["v2"].is_current and rows["v2"].superseded_by == second.id
    # another copy from Monday's batch, imported only now: received earlier, it replaces nothing
    stale = store.record(_result(seed0, "S"), sha256="f" * 64, file_name="v0", source="v0", model=wuhai,
                         saved_at=dt.datetime(2099, 1, 1), received_at=monday)
    assert stale.current is False
    store.dispose()


def test_db_url_defaults_to_a_sqlite_file() -> None:
    assert db_url(None) == "sqlite:///xltemplate.db"
    assert db_url("results.db") == "sqlite:///results.db"
    assert db_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_two_importers_on_one_database_never_store_a_file_twice(db_url, wuhai, seed0) -> None:
    first, second = Store(db_url), Store(db_url)
    second._known_hashes()  # the second importer started before the first stored the file
    assert first.record(_result(seed0), sha256="f" * 64, file_name="a", source="a", model=wuhai).status == "valid"
    assert second.record(_result(seed0), sha256="f" * 64, file_name="a", source="a", model=wuhai).status == "duplicate"
    with first.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from submissions")).scalar_one() == 1
    first.dispose()
    second.dispose()


def test_the_lookup_of_current_copies_uses_an_index(db_url, wuhai, seed0) -> None:
    """The store's own statement, as it runs for every batch: without an index on the identity of
    returns each batch would scan every submission, and import would slow down as the database
    grows."""
    store = Store(db_url)
    for n in range(30):
        store.record(_result(seed0, f"S-{n}"), sha256=f"{n:064d}", file_name="a", source="a", model=wuhai)
    plan = store.current_lookup_plan()
    assert "ux_submissions_current_return" in plan or "ix_submissions_return" in plan, plan
    assert "SCAN submissions" not in plan and "Seq Scan" not in plan, plan
    store.dispose()


def test_a_value_the_database_cannot_hold_makes_the_file_unreadable_not_the_batch_fail(db_url, wuhai, seed0) -> None:
    """A row the database refuses (here an order number past a 64-bit integer) is stored on its own
    as unreadable, with the reason; the other files of the batch are stored as they are."""
    from xltemplate.collect.store import Pending

    store = Store(db_url)
    good = Pending(_result(seed0, "G"), "d" * 64, "g.xlsx", "g.xlsx", wuhai, seq=1)
    bad = Pending(_result(seed0, "H"), "e" * 64, "h.xlsx", "h.xlsx", wuhai, seq=2**70)
    for batch in ([bad], [good, bad]):
        outcomes = store.record_many(batch)
        assert outcomes[-1].status == "unreadable", outcomes
        with store.engine.connect() as conn:
            errors = conn.execute(sa.text("select errors from submissions where sha256 = :s"), {"s": "e" * 64}).scalar()
            assert "db_refused" in str(errors)
            conn.execute(sa.text("delete from submissions where sha256 = :s"), {"s": "e" * 64})
            conn.commit()
        store._known = None
    assert outcomes[0].status == "valid"
    store.dispose()
