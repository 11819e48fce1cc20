"""Results into a real database: SQLite by default (embedded, nothing to set up), PostgreSQL by URL.

Tables (SQLAlchemy Core, created on first use):

* ``submissions``: one row per imported file: file name and source, sha256 (unique), received
  and saved times, form id/version, submission id, department, status, data and errors as JSON,
  ``is_current`` and ``superseded_by`` for resubmissions.
* ``submission_errors``: one row per error (sheet, cell, pointer, label, value, message, code).
* ``<form>_fields``: one row per submission with every scalar field as a typed column
  (``funding_total``, ``project_function_code``, ...).
* ``<form>_<table>``: one table per repeating area, or per group of areas with the same item
  fields under one top-level property (the 18 indicator areas share ``indicators``, with columns
  ``period``/``category``/``subcategory`` naming the area: ``x-table`` in the schema).

Every file is one transaction: a crash loses nothing already committed and a rerun skips what is
there (identical files by sha256).  A file with the submission id of an earlier one supersedes it
(the later *saved* copy wins, else the later received); the earlier stays, ``is_current`` false.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ..form.model import FormModel
from ..form.schema import node_at, split_pointer
from .importer import ImportResult

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
DEFAULT_DB = "sqlite:///xltemplate.db"


def db_url(text: str | None) -> str:
    """A SQLAlchemy URL; a bare path means a SQLite file."""
    if not text:
        return DEFAULT_DB
    return text if "://" in text else f"sqlite:///{text}"


def _ident(text: str) -> str:
    out = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_").lower() or "x"
    return out if not out[0].isdigit() else "t_" + out


@dataclass
class Outcome:
    """What storing one file did."""

    status: str  # valid | invalid | unreadable | duplicate
    id: int | None = None
    superseded: list[int] = field(default_factory=list)  # earlier submissions this one replaced
    current: bool = True  # False when an even later copy was already stored


@dataclass
class _FormTables:
    fields: sa.Table
    scalar_paths: list[tuple[str, list[str], str]]  # column, pointer tokens, field kind
    array_paths: list[tuple[sa.Table, list[str], dict[str, Any], list[tuple[str, str, str]]]]
    fields_insert: Any = None
    array_inserts: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fields_insert = self.fields.insert()
        inserts = {id(t): t.insert() for t, *_ in self.array_paths}
        self.array_inserts = [inserts[id(t)] for t, *_ in self.array_paths]


def _dig(data: Any, tokens: list[str]) -> Any:
    node = data
    for token in tokens:
        if not isinstance(node, dict):
            return None
        node = node.get(token)
    return node


_COLUMN_TYPES = {"number": sa.Numeric(24, 6, asdecimal=False), "integer": sa.BigInteger(), "boolean": sa.Boolean(),
                 "date": sa.Date()}


def _typed(kind: str, value: Any) -> Any:
    """The value for a typed column, or None when the (invalid) value does not fit the type."""
    if value is None:
        return None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    return value if isinstance(value, str) else str(value)


class Store:
    def __init__(self, url: str | None = None):
        self.url = db_url(url)
        self.engine = sa.create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.meta = sa.MetaData()
        self.submissions = sa.Table(
            "submissions", self.meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("file_name", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("received_at", sa.DateTime, nullable=False),
            sa.Column("saved_at", sa.DateTime),
            sa.Column("form_id", sa.String(200)),
            sa.Column("form_version", sa.String(50)),
            sa.Column("submission_id", sa.String(200)),
            sa.Column("department", sa.Text),
            sa.Column("department_code", sa.String(100)),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("error_count", sa.Integer, nullable=False, default=0),
            sa.Column("is_current", sa.Boolean, nullable=False, default=True),
            sa.Column("superseded_by", sa.Integer, sa.ForeignKey("submissions.id")),
            sa.Column("data", JSONType),
            sa.Column("errors", JSONType),
            # the resubmission lookup of every insert: without it, each file scans the whole form
            sa.Index("ix_submissions_lookup", "submission_id", "form_id", "is_current"),
            sa.Index("ix_submissions_form", "form_id", "status", "is_current"),
        )
        self.errors = sa.Table(
            "submission_errors", self.meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                      nullable=False, index=True),
            *(sa.Column(name, sa.Text) for name in ("sheet", "cell", "pointer", "label", "value", "message", "code")),
        )
        self.meta.create_all(self.engine)
        self._forms: dict[str, _FormTables] = {}
        self._known: set[str] | None = None

    # -- per-form tables -----------------------------------------------------------------
    def tables_for(self, model: FormModel) -> _FormTables:
        if model.id in self._forms:
            return self._forms[model.id]
        prefix = _ident(model.id)
        in_arrays = {f.pattern for f in model.fields if f.array}
        columns: dict[str, str] = {}
        kinds: dict[str, str] = {}
        cols = [sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                          primary_key=True)]
        for f in model.fields:
            if f.pattern in in_arrays:
                continue
            name = _ident("_".join(split_pointer(f.pointer)))
            while name in columns.values() or name == "submission":
                name += "_"
            columns[f.pointer], kinds[f.pointer] = name, f.kind
            cols.append(sa.Column(name, _COLUMN_TYPES.get(f.kind, sa.Text()), comment=f.label[:250]))
        fields = sa.Table(f"{prefix}_fields", self.meta, *cols)
        groups: dict[str, dict[str, Any]] = {}
        for pointer, area in model.arrays.items():
            tokens = split_pointer(pointer)
            top = tokens[0]
            hint = node_at(model.schema, "/" + top).get("x-table", {})
            table_name = _ident(hint.get("name", top))
            path = tokens[1:]
            group = groups.setdefault(table_name, {"areas": [], "depth": len(path), "hint": hint, "items": {}})
            if group["depth"] != len(path):
                table_name = _ident("_".join(tokens))
                group = groups.setdefault(table_name, {"areas": [], "depth": len(path), "hint": {}, "items": {}})
            group["areas"].append((pointer, path, area))
            for f in area.slots[0]:
                group["items"].setdefault(split_pointer(f.pattern)[-1], f.kind)
        arrays = []
        for table_name, group in groups.items():
            path_names = [_ident(n) for n in group["hint"].get("path", [])]
            path_names += [f"k{i + 1}" for i in range(len(path_names), group["depth"])]
            item_cols = {key: _ident(key) if _ident(key) not in (*path_names, "id", "submission", "row", "label")
                         else _ident(key) + "_" for key in group["items"]}
            table = sa.Table(
                f"{prefix}_{table_name}", self.meta,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                          nullable=False, index=True),
                *(sa.Column(n, sa.String(100)) for n in path_names),
                sa.Column("label", sa.Text),
                sa.Column("row", sa.Integer, nullable=False),
                *(sa.Column(col, _COLUMN_TYPES.get(group["items"][key], sa.Text())) for key, col in item_cols.items()),
            )
            for pointer, path, area in group["areas"]:
                fixed = dict(zip(path_names, path, strict=True)) | {"label": area.label}
                arrays.append((table, split_pointer(pointer), fixed,
                               [(key, col, group["items"][key]) for key, col in item_cols.items()]))
        self.meta.create_all(self.engine)
        scalars = [(col, split_pointer(pointer), kinds[pointer]) for pointer, col in columns.items()]
        self._forms[model.id] = _FormTables(fields, scalars, arrays)
        return self._forms[model.id]

    # -- writing -------------------------------------------------------------------------
    def _known_hashes(self) -> set[str]:
        """Hashes already stored, loaded once: most files of a rerun are known."""
        if self._known is None:
            with self.engine.connect() as conn:
                self._known = set(conn.execute(sa.select(self.submissions.c.sha256)).scalars())
        return self._known

    def _statements(self) -> dict[str, Any]:
        """Statements built once: building them per file costs more than running them."""
        if not hasattr(self, "_stmts"):
            s = self.submissions
            self._stmts = {
                "exists": sa.select(s.c.id).where(s.c.sha256 == sa.bindparam("sha")),
                "insert": s.insert().returning(s.c.id),
                "errors": self.errors.insert(),
                "current": sa.select(s.c.id, s.c.saved_at, s.c.received_at).where(
                    s.c.form_id == sa.bindparam("form"), s.c.submission_id == sa.bindparam("sid"),
                    s.c.is_current.is_(True)),
            }
        return self._stmts

    def record(self, result: ImportResult, *, sha256: str, file_name: str, source: str,
               model: FormModel | None, saved_at: dt.datetime | None = None,
               received_at: dt.datetime | None = None, department: str | None = None,
               department_code: str | None = None) -> Outcome:
        """Store one result in its own transaction; identical files change nothing."""
        st = self._statements()
        received_at = received_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)  # UTC, like saved_at
        tables = self.tables_for(model) if model is not None and result.data is not None else None
        if sha256 in self._known_hashes():
            return Outcome("duplicate")
        try:
            return self._record(result, st, sha256=sha256, file_name=file_name, source=source, tables=tables,
                                saved_at=saved_at, received_at=received_at, department=department,
                                department_code=department_code)
        except sa.exc.IntegrityError:  # stored meanwhile by another importer: the unique sha256 says so
            with self.engine.connect() as conn:
                if conn.execute(st["exists"], {"sha": sha256}).first() is None:
                    raise
            self._known_hashes().add(sha256)
            return Outcome("duplicate")

    def _record(self, result: ImportResult, st: dict[str, Any], *, sha256: str, file_name: str, source: str,
                tables: _FormTables | None, saved_at: dt.datetime | None, received_at: dt.datetime,
                department: str | None, department_code: str | None) -> Outcome:
        with self.engine.begin() as conn:
            errors = [e.as_dict() for e in result.errors]
            new_id = conn.execute(st["insert"], {
                "sha256": sha256, "file_name": file_name, "source": source, "received_at": received_at,
                "saved_at": saved_at, "form_id": result.form, "form_version": result.version,
                "submission_id": result.submission_id, "department": department,
                "department_code": department_code, "status": result.status, "error_count": len(errors),
                "is_current": True, "superseded_by": None, "data": result.data, "errors": errors,
            }).scalar_one()
            outcome = Outcome(result.status, new_id)
            if errors:
                keys = ("sheet", "cell", "pointer", "label", "value", "message", "code")
                conn.execute(st["errors"], [
                    {"submission": new_id, **{k: None if e[k] is None else str(e[k]) for k in keys}} for e in errors])
            if tables is not None:
                self._insert_data(conn, tables, new_id, result.data or {})
            if result.submission_id and result.form:
                self._supersede(conn, result.form, result.submission_id, new_id, outcome)
        self._known_hashes().add(sha256)
        return outcome

    def _insert_data(self, conn: Any, tables: _FormTables, sid: int, data: dict[str, Any]) -> None:
        row: dict[str, Any] = {"submission": sid}
        for column, tokens, kind in tables.scalar_paths:
            row[column] = _typed(kind, _dig(data, tokens))
        conn.execute(tables.fields_insert, [row])
        batches: dict[int, list[dict[str, Any]]] = {}
        for index, (_table, tokens, fixed, cols) in enumerate(tables.array_paths):
            items = _dig(data, tokens)
            if not isinstance(items, list):
                continue
            for n, item in enumerate(items, start=1):
                if isinstance(item, dict):
                    rec = {"submission": sid, "row": n, **fixed}
                    for key, col, kind in cols:
                        rec[col] = _typed(kind, item.get(key))
                    batches.setdefault(index, []).append(rec)
        merged: dict[Any, list[dict[str, Any]]] = {}
        for index, rows in batches.items():
            merged.setdefault(tables.array_inserts[index], []).extend(rows)
        for stmt, rows in merged.items():
            conn.execute(stmt, rows)

    def _supersede(self, conn: Any, form_id: str, submission_id: str, new_id: int, outcome: Outcome) -> None:
        """Of the current copies of one submission (same form and submission id), keep the newest."""
        rows = conn.execute(self._statements()["current"], {"form": form_id, "sid": submission_id}).all()
        if len(rows) < 2:
            return
        newest = max(rows, key=lambda r: (r.saved_at or r.received_at, r.received_at, r.id))
        older = [r.id for r in rows if r.id != newest.id]
        s = self.submissions
        conn.execute(s.update().where(s.c.id.in_(older)).values(is_current=False, superseded_by=newest.id))
        if newest.id == new_id:
            outcome.superseded = older
        else:
            outcome.current = False

    # -- reading -------------------------------------------------------------------------
    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
