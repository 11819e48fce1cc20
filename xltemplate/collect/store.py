"""Results into a real database: SQLite by default (embedded, nothing to set up), PostgreSQL by URL.

Tables (see :mod:`xltemplate.collect.db` for the core ones):

* ``submissions``: one row per imported file: file name and source, sha256 (unique), received
  and saved times, form id/version, submission id, department, status, data and errors as JSON,
  the round, the identity of the return (``return_key``), ``is_current`` and ``superseded_by``.
* ``submission_errors``: one row per error (sheet, cell, pointer, label, value, message, code).
* ``<form>_fields``, ``<form>_<table>``: the typed per-form tables (:mod:`.formtables`).

**Identity and history.** Each stored file carries the identity of the return it is a copy of
(:class:`Identity`, worked out by :mod:`xltemplate.collect.identity`). Of all copies of one
return, the one the bureau received last is current (:mod:`xltemplate.collect.current`: the save
time a client writes into a file orders only copies received together); the others stay, with
``is_current`` false and ``superseded_by`` set. A partial unique index (one current row per
``return_key``) makes this hold whatever importers run at once: a transaction that loses the
race fails on the index, is rolled back and retried, and then sees the winner.

**Exactly once.** The unique sha256 makes storing idempotent: an identical file changes nothing,
and a rerun after a crash stores what the crash lost. Several files go into one transaction
(:meth:`Store.record_many`), so a kill loses at most one batch, which a rerun redoes.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..form.model import FormModel
from ..form.validate import Issue
from ..messages import message
from . import files, formtables
from .checkcode import code_of
from .current import Arriving, Decision, Stored, decide, order
from .db import DEFAULT_DB, CoreTables, Direct, core_tables, db_url, engine_for, on_driver, upgrade, writing
from .formtables import FormTables, Rows
from .importer import ImportResult

__all__ = ["DEFAULT_DB", "Identity", "Outcome", "Pending", "Store", "db_url"]

ERROR_KEYS = ("sheet", "cell", "pointer", "label", "value", "message", "code")
_NEW = 2**62  # a copy of the batch sorts after every stored copy received at the same moment
RETRIES = 8  # a batch that loses a race (same file or same return stored meanwhile) is retried


@dataclass(frozen=True)
class Identity:
    """Which return a file is a copy of, and whose.

    ``return_key`` is None for a file that belongs to no return (nothing identifies it): it is
    stored, current, and never replaces anything.  ``also`` lists other keys whose current copy
    this file replaces too (a copy with no project name yet, made from the same template)."""

    return_key: str | None
    round_id: int | None = None
    department: str | None = None
    department_code: str | None = None
    key_text: str | None = None
    also: tuple[str, ...] = ()


def default_identity(result: ImportResult) -> Identity:
    """The identity when no round says otherwise: the form and the template's submission id."""
    if result.submission_id and result.form:
        return Identity(f"f{result.form}|sid|{result.submission_id}")
    return Identity(None)


@dataclass
class Outcome:
    """What storing one file did."""

    status: str  # valid | invalid | unreadable | duplicate
    id: int | None = None
    superseded: list[int] = field(default_factory=list)  # earlier submissions this one replaced
    current: bool = True  # False when a later copy is stored (before, or in the same batch)
    earlier: int = 0  # how many of ``superseded`` were stored before this batch

    @property
    def to_history(self) -> int:
        """Copies this file put into history: those stored earlier it replaced, and itself when a
        later copy is stored (a copy replaced within one batch is counted once, by itself)."""
        return self.earlier + (0 if self.current else 1)


@dataclass
class Pending:
    """One result waiting to be stored."""

    result: ImportResult
    sha256: str
    file_name: str
    source: str
    model: FormModel | None = None
    saved_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    identity: Identity | None = None
    notes: list[dict[str, Any]] | None = None
    file_id: int | None = None  # the file it came in, when kept (``files``, the portal)
    file: tuple[bytes, str] | None = None  # (content, name): keep the file too, in the same transaction
    seq: int | None = None  # its place among the files received with it (one import run, one bulk upload)


#: Called inside the transaction that stores a batch, with its outcomes: whatever must commit or
#: roll back with them (the portal's audit line, the uploaded file).
Within = Callable[[sa.Connection, list[Outcome]], None]


def _insert_rows(conn: sa.Connection, rows: Rows) -> None:
    """Plain rows into tables with one driver-level ``executemany`` per table and set of columns:
    the typed per-form rows are many per file, and SQLAlchemy's per-row parameter handling cost
    more than the inserts themselves.  Values are already of the column's type (:func:`_typed`);
    SQLite gets dates as the ISO text SQLAlchemy's Date type stores there (db.py's adapter)."""
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for (table, columns), values in rows.items():
        if values:
            sql = (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
                   f"VALUES ({', '.join([mark] * len(columns))})")
            on_driver(conn, sql, values, many=True)


def _refused(exc: Exception) -> bool:
    """Whether the database refused a value (not a lock, a lost connection or a bug of ours)."""
    if isinstance(exc, sa.exc.IntegrityError | sa.exc.OperationalError):
        return False
    if isinstance(exc, OverflowError):
        return True
    return isinstance(exc, sa.exc.DataError) or isinstance(getattr(exc, "orig", None), ValueError | OverflowError)


class Store:
    """The results database. ``upgrade`` (default) brings an older database to the current layout."""

    def __init__(self, url: str | None = None, *, upgrade_db: bool = True):
        self.url = db_url(url)
        self.engine = engine_for(self.url)
        if upgrade_db:
            self.upgraded = upgrade(self.engine)
        self.meta = sa.MetaData()
        self.t: CoreTables = core_tables(self.meta)
        self.submissions = self.t.submissions
        self.errors = self.t.errors
        self._forms: dict[str, FormTables] = {}
        #: values of this database the domain modules keep for the life of the store (the signing key,
        #: statements built once: see :meth:`prepared`)
        self.memo: dict[str, Any] = {}
        self._known: set[str] | None = None
        s = self.submissions
        self._insert = s.insert().returning(s.c.id, sort_by_parameter_order=True)
        self._point = s.update().where(s.c.id == sa.bindparam("b_id")).values(superseded_by=sa.bindparam("b_by"))
        self._retire = s.update().where(s.c.id.in_(sa.bindparam("ids", expanding=True))).values(is_current=False)
        self._exists = sa.select(s.c.sha256).where(s.c.sha256.in_(sa.bindparam("shas", expanding=True)))
        self._current = sa.select(s.c.id, s.c.return_key, s.c.saved_at, s.c.received_at, s.c.received_seq).where(
            s.c.return_key.in_(sa.bindparam("keys", expanding=True)), s.c.is_current.is_(True))
        if self.engine.dialect.name == "postgresql":
            self._current = self._current.with_for_update()

    def prepared(self, name: str, build: Callable[[], Any]) -> Any:
        """A statement of this database's tables built once (``build()``) and kept: the hot paths
        (an upload) pay SQLAlchemy's statement construction once per process, not per request."""
        found = self.memo.get(name)
        if found is None:
            found = self.memo[name] = build()
        return found

    def direct(self, name: str, build: Callable[[], Any], keys: Sequence[str]) -> Direct:
        """A statement built once (``build()``) and run on the driver's cursor with parameters
        ``keys`` (:class:`~xltemplate.collect.db.Direct`): an upload's writes, once per process."""
        return self.prepared(f"direct:{name}:{','.join(keys)}", lambda: Direct(build(), self.engine.dialect, keys))

    # -- per-form tables -----------------------------------------------------------------
    def tables_for(self, model: FormModel) -> FormTables:
        """The per-form tables, created or extended for this version of the form when needed."""
        return formtables.tables_for(self.engine, self.meta, self._forms, model)

    # -- writing -------------------------------------------------------------------------
    def _known_hashes(self) -> set[str]:
        """Hashes already stored, loaded once: most files of a rerun are known."""
        if self._known is None:
            with self.engine.connect() as conn:
                self._known = set(conn.execute(sa.select(self.submissions.c.sha256)).scalars())
        return self._known

    def record(self, result: ImportResult, *, sha256: str, file_name: str, source: str,
               model: FormModel | None, saved_at: dt.datetime | None = None,
               received_at: dt.datetime | None = None, department: str | None = None,
               department_code: str | None = None, identity: Identity | None = None,
               notes: list[dict[str, Any]] | None = None) -> Outcome:
        """Store one result in its own transaction; identical files change nothing."""
        if identity is None:
            base = default_identity(result)
            identity = Identity(base.return_key, department=department, department_code=department_code)
        return self.record_many([Pending(result, sha256, file_name, source, model, saved_at, received_at,
                                         identity, notes)])[0]

    def record_many(self, items: Sequence[Pending], within: Within | None = None) -> list[Outcome]:
        """Store several results in one transaction (retried as a whole when it loses a race);
        an outcome per item, in order.  A result the database refuses (a value it cannot hold) is
        stored on its own, as unreadable with the reason, and never stops the others.  ``within``
        runs inside the storing transaction (each try)."""
        for item in items:
            if item.model is not None and item.result.data is not None:
                self.tables_for(item.model)
        for attempt in range(RETRIES):
            try:
                return self._record_batch(items, within)
            except sa.exc.IntegrityError:
                self._refresh_known([i.sha256 for i in items])
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
            except (sa.exc.DataError, sa.exc.StatementError, OverflowError) as exc:  # (SQLite's driver
                if not _refused(exc):  # raises OverflowError for an integer past 64 bits, unwrapped)
                    raise
                if len(items) == 1:
                    return [self._record_refused(items[0], within)]
                return [out for item in items for out in self.record_many([item], within)]
        return self._record_batch(items, within)  # the last try lets its error through

    def _refresh_known(self, shas: list[str]) -> None:
        with self.engine.connect() as conn:
            self._known_hashes().update(conn.execute(self._exists, {"shas": shas}).scalars())

    def _record_refused(self, item: Pending, within: Within | None = None) -> Outcome:
        """A result whose values the database would not take: kept as unreadable, with the reason."""
        lang = "zh"
        issue = Issue(None, None, None, None, None, message("db_refused", lang), "db_refused")
        refused = ImportResult(file=item.result.file, status="unreadable", errors=[issue])
        plain = Pending(refused, item.sha256, item.file_name[:1000], item.source[:4000], None, item.saved_at,
                        item.received_at, Identity(None), file_id=item.file_id)
        return self._record_batch([plain], within)[0]

    def _record_batch(self, items: Sequence[Pending], within: Within | None = None) -> list[Outcome]:
        known = self._known_hashes()
        outcomes: list[Outcome | None] = [None] * len(items)
        fresh: list[int] = []
        seen: set[str] = set()
        for n, item in enumerate(items):
            if item.sha256 in known or item.sha256 in seen:
                outcomes[n] = Outcome("duplicate")
            else:
                seen.add(item.sha256)
                fresh.append(n)
        if not fresh and within is None:
            return [o or Outcome("duplicate") for o in outcomes]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # UTC, like saved_at
        batch = [items[n] for n in fresh]
        # everything that needs no database is made before the write lock is taken (its holder
        # keeps every other writer waiting): the rows, with each return's index in the batch
        # where its id will be
        rows = [self._row(item, now) for item in batch]
        by_index: Rows = {}
        errors = by_index.setdefault((self.errors.name, ("submission", *ERROR_KEYS)), [])
        for k, item in enumerate(batch):
            errors += [(k, *(None if v is None else str(v) for v in (d[key] for key in ERROR_KEYS)))
                       for d in rows[k]["errors"]]
            if item.model is not None and item.result.data is not None:
                self._data_rows(by_index, item.model, k, item.result.data)
        with writing(self.engine) as conn:
            plan = self._decide(conn, batch, now)
            if plan.retired:  # first out of the way of the unique index, then the new current rows
                conn.execute(self._retire, {"ids": sorted(plan.retired)})
            for k, row in enumerate(rows):
                row["is_current"] = plan.current[k]
                row["superseded_by"] = plan.old_winner.get(k)
                if batch[k].file is not None:
                    content, name = batch[k].file
                    row["file_id"] = files.put(self, conn, content, name, files.UPLOAD, batch[k].sha256)
            if len(rows) == 1:  # an upload: on the driver's cursor (a batch: SQLAlchemy's many-row INSERT)
                new_ids = [self.direct("submissions.insert", lambda: self._insert, list(rows[0]))(conn, rows[0])[0][0]]
            else:
                new_ids = conn.execute(self._insert, rows).scalars().all() if rows else []
            pointers = [{"b_id": old, "b_by": new_ids[k]} for old, k in plan.retired.items()]
            pointers += [{"b_id": new_ids[k], "b_by": new_ids[w]} for k, w in plan.new_winner.items()]
            if pointers:
                conn.execute(self._point, pointers)
            _insert_rows(conn, {key: [(new_ids[v[0]], *v[1:]) for v in values] for key, values in by_index.items()})
            for k, n in enumerate(fresh):
                replaced = [old for old, by in plan.retired.items() if by == k]
                earlier = len(replaced)
                replaced += [new_ids[j] for j, by in plan.new_winner.items() if by == k]
                outcomes[n] = Outcome(items[n].result.status, new_ids[k], replaced, plan.current[k], earlier)
            if within is not None:
                within(conn, [o or Outcome("duplicate") for o in outcomes])
        known.update(item.sha256 for item in batch)
        return [o or Outcome("duplicate") for o in outcomes]

    def _row(self, item: Pending, now: dt.datetime) -> dict[str, Any]:
        r, ident = item.result, item.identity or default_identity(item.result)
        errors = [e.as_dict() for e in r.errors]
        return {"sha256": item.sha256, "file_name": item.file_name, "source": item.source,
                "received_at": item.received_at or now, "saved_at": item.saved_at, "form_id": r.form,
                "form_version": r.version, "submission_id": r.submission_id, "department": ident.department,
                "department_code": ident.department_code, "status": r.status, "error_count": len(errors),
                "is_current": ident.return_key is None, "superseded_by": None, "data": r.data, "errors": errors,
                "round_id": ident.round_id, "return_key": ident.return_key, "key_text": ident.key_text,
                "notes": item.notes or None, "file_id": item.file_id, "received_seq": item.seq,
                "warnings": [w.as_dict() for w in r.warnings] or None,
                # a copy that passed the machine check waits for its review at the first stage
                "review": "pending" if r.status == "valid" else None,
                "review_stage": 0 if r.status == "valid" else None,

                "check_code": code_of(r.data) if r.data is not None else None}

    def _data_rows(self, out: Rows, model: FormModel, sid: int, data: dict[str, Any]) -> None:
        formtables.data_rows(out, self.tables_for(model), model, sid, data)

    def _decide(self, conn: sa.Connection, batch: list[Pending], now: dt.datetime) -> Decision:
        """Of the copies of each return (those stored and those of the batch), which is current
        (:func:`~xltemplate.collect.current.decide`: by when the bureau received them).

        Decided before anything is written, so the batch inserts each row as it ends up; should
        another importer store a copy of one of these returns meanwhile, the unique index fails
        the insert and the whole batch is retried with it in view."""
        idents = [item.identity or default_identity(item.result) for item in batch]
        arriving = [Arriving(ident.return_key, order(item.received_at or now, item.saved_at, item.seq, _NEW + k),
                             ident.also) for k, (item, ident) in enumerate(zip(batch, idents, strict=True))]
        wanted: dict[str, None] = {}
        for ident in idents:
            if ident.return_key is not None:
                wanted[ident.return_key] = None
                wanted.update(dict.fromkeys(ident.also))
        stored = [Stored(row.id, row.return_key, order(row.received_at, row.saved_at, row.received_seq, row.id))
                  for row in conn.execute(self._current, {"keys": list(wanted)})] if wanted else []
        return decide(stored, arriving)

    def reinstate(self, conn: sa.Connection, submission: int, now: dt.datetime) -> list[int]:
        """Make a stored copy current again (its file received anew: the latest receipt counts),
        inside the caller's transaction; the copies it replaces."""
        s = self.submissions
        key = conn.execute(sa.select(s.c.return_key).where(s.c.id == submission)).scalar()
        rivals: list[int] = []
        if key is not None:
            rivals = list(conn.execute(sa.select(s.c.id).where(s.c.return_key == key, s.c.is_current.is_(True),
                                                               s.c.id != submission)).scalars())
            if rivals:
                conn.execute(s.update().where(s.c.id.in_(rivals)).values(is_current=False, superseded_by=submission))
        conn.execute(s.update().where(s.c.id == submission).values(is_current=True, superseded_by=None,
                                                                    received_at=now, received_seq=None))
        return rivals

    # -- reading -------------------------------------------------------------------------
    def current_lookup_plan(self) -> str:
        """How the database runs the store's own lookup of the current copies of returns (the
        query of every batch stored): its query plan, for tests and benchmarks that must see it
        use an index as the database grows.  PostgreSQL is asked with sequential scans off, so the
        plan says whether an index can serve the query, not what the planner picks for a table
        of a few rows."""
        stmt = self._current.params(keys=["r1|sid|a", "r1|d101|kx"])
        with self.engine.connect() as conn:
            sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan TO off")
                rows = conn.exec_driver_sql("EXPLAIN " + sql).all()
                conn.rollback()
        return "; ".join(str(row[-1]) for row in rows)

    def dispose(self) -> None:
        self.engine.dispose()
