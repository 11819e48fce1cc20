"""The typed per-form tables: each form's scalar fields as columns of ``<form>_fields`` and each
repeating area as rows of ``<form>_<table>``, named by pointer so every version of a form stores
into the same tables (a version that adds a field adds its column); and the rows a return puts
into them.  Made or extended under the schema lock, so two importers using a new form at once
never collide."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..form.model import FormModel
from ..form.schema import node_at, split_pointer
from .db import schema_lock

Rows = dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]  # (table, columns) -> value tuples


def _ident(text: str) -> str:
    out = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_").lower() or "x"
    return out if not out[0].isdigit() else "t_" + out


_RESERVED = {"id", "submission", "row", "label"}


def column_name(tokens: Sequence[str], reserved: Iterable[str] = ()) -> str:
    """The column of a pointer: its tokens joined by ``_``, with a short hash of the pointer
    when that is not already a plain lower-case identifier (so the name never depends on which
    other fields a form version has)."""
    joined = "_".join(tokens)
    name = _ident(joined)
    if name != joined or name in _RESERVED or name in set(reserved):
        name = f"{name}_{hashlib.sha256(joined.encode()).hexdigest()[:6]}"
    return name


_COLUMN_TYPES = {"number": lambda: sa.Numeric(24, 6, asdecimal=False), "integer": sa.BigInteger,
                 "boolean": sa.Boolean, "date": sa.Date}


def _column_type(kind: str) -> Any:
    return _COLUMN_TYPES.get(kind, sa.Text)()


def _typed(kind: str, value: Any) -> Any:
    """The value for a typed column, or None when the (invalid) value does not fit the type."""
    if value is None:
        return None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63 else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    return value if isinstance(value, str) else str(value)


def _dig(data: Any, tokens: list[str]) -> Any:
    node = data
    for token in tokens:
        if not isinstance(node, dict):
            return None
        node = node.get(token)
    return node


@dataclass
class _ArrayPath:
    table: str
    tokens: list[str]  # pointer of the area
    fixed: dict[str, Any]  # path columns and label
    cols: list[tuple[str, str, str]]  # item key, column, kind

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of its rows, in the order :meth:`Store._data_rows` gives the values."""
        return ("submission", "row", *self.fixed, *(col for _k, col, _kind in self.cols))


@dataclass
class _Plan:
    """How one form version's data goes into the per-form tables."""

    scalars: list[tuple[str, list[str], str]]  # column, pointer tokens, kind
    arrays: list[_ArrayPath]

    @property
    def scalar_columns(self) -> tuple[str, ...]:
        return ("submission", *(col for col, _t, _k in self.scalars))


@dataclass
class FormTables:
    """The per-form tables (shared by every version of the form) and each version's plan."""

    fields: sa.Table
    arrays: dict[str, sa.Table]
    plans: dict[str, _Plan]  # by model hash
    columns: dict[str, set[str]]  # table name -> columns in the database


def _design(model: FormModel) -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, Any]], _Plan]:
    """The columns one form version needs: (scalar column -> (kind, comment)), array tables
    (name -> {"path": [...], "items": {column: kind}}), and its plan."""
    in_arrays = {f.pattern for f in model.fields if f.array}
    scalar_cols: dict[str, tuple[str, str]] = {}
    scalars = []
    for f in model.fields:
        if f.pattern in in_arrays:
            continue
        tokens = split_pointer(f.pointer)
        name = column_name(tokens)
        scalar_cols[name] = (f.kind, f.label[:250])
        scalars.append((name, tokens, f.kind))
    prefix = _ident(model.id)
    groups: dict[str, dict[str, Any]] = {}
    arrays: list[_ArrayPath] = []
    for pointer, area in model.arrays.items():
        tokens = split_pointer(pointer)
        top = tokens[0]
        hint = node_at(model.schema, "/" + top).get("x-table", {})
        path = tokens[1:]
        table_name = _ident(hint.get("name", top))
        path_names = [_ident(n) for n in hint.get("path", [])][:len(path)]
        path_names += [f"k{i + 1}" for i in range(len(path_names), len(path))]
        full = f"{prefix}_{table_name}"
        group = groups.setdefault(full, {"path": path_names, "items": {}})
        if group["path"] != path_names:  # areas of another depth under the same property
            full = f"{prefix}_{_ident('_'.join(tokens))}"
            group = groups.setdefault(full, {"path": path_names, "items": {}})
        cols = []
        for f in area.slots[0]:
            key = split_pointer(f.pattern)[-1]
            col = column_name([key], path_names)
            group["items"][col] = f.kind
            cols.append((key, col, f.kind))
        fixed = dict(zip(path_names, path, strict=True)) | {"label": area.label}
        arrays.append(_ArrayPath(full, tokens, fixed, cols))
    return scalar_cols, groups, _Plan(scalars, arrays)


def tables_for(engine: sa.Engine, meta: sa.MetaData, forms: dict[str, FormTables], model: FormModel) -> FormTables:
    """The per-form tables, created or extended for this version of the form when needed."""
    known = forms.get(model.id)
    if known is not None and model.hash in known.plans:
        return known
    scalar_cols, groups, plan = _design(model)
    prefix = _ident(model.id)
    with schema_lock(engine) as conn:
        inspector = sa.inspect(conn)
        existing = {name: {c["name"] for c in inspector.get_columns(name)}
                    for name in inspector.get_table_names() if name.startswith(prefix + "_")}
        fields = _table(meta, conn, existing, f"{prefix}_fields", [
            sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                      primary_key=True)],
            {name: (kind, comment) for name, (kind, comment) in scalar_cols.items()})
        arrays = dict(known.arrays) if known else {}
        for name, group in groups.items():
            fixed = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                               nullable=False, index=True),
                     *(sa.Column(p, sa.String(100)) for p in group["path"]),
                     sa.Column("label", sa.Text),
                     sa.Column("row", sa.Integer, nullable=False)]
            arrays[name] = _table(meta, conn, existing, name, fixed,
                                  {col: (kind, None) for col, kind in group["items"].items()})
    tables = FormTables(fields, arrays, dict(known.plans) if known else {}, {n: set(c) for n, c in existing.items()})
    tables.plans[model.hash] = plan
    forms[model.id] = tables
    return tables


def _table(meta: sa.MetaData, conn: sa.Connection, existing: dict[str, set[str]], name: str,
           fixed: list[sa.Column], wanted: dict[str, tuple[str, str | None]]) -> sa.Table:
    """The table ``name`` with at least the ``wanted`` columns: created, or extended in place."""
    have = existing.get(name)
    if have is None:
        columns = [sa.Column(c, _column_type(kind), comment=comment) for c, (kind, comment) in wanted.items()]
        table = sa.Table(name, meta, *fixed, *columns, extend_existing=True)
        table.create(conn)
        existing[name] = {c.name for c in table.columns}
        return table
    missing = [c for c in wanted if c not in have]
    for col in missing:
        column = sa.Column(col, _column_type(wanted[col][0]))
        conn.execute(sa.text(f'ALTER TABLE "{name}" ADD COLUMN "{col}" '
                             f"{column.type.compile(dialect=conn.dialect)}"))
        have.add(col)
    if name in meta.tables:
        table = meta.tables[name]
        for col in missing:
            table.append_column(sa.Column(col, _column_type(wanted[col][0])), replace_existing=True)
        return table
    return sa.Table(name, meta, autoload_with=conn)


def data_rows(out: Rows, tables: FormTables, model: FormModel, sid: int, data: dict[str, Any]) -> None:
    """The typed rows of one return (submission ``sid``), added to ``out`` by table and columns."""
    plan = tables.plans[model.hash]
    out.setdefault((tables.fields.name, plan.scalar_columns), []).append(
        (sid, *(_typed(kind, _dig(data, tokens)) for _c, tokens, kind in plan.scalars)))
    for path in plan.arrays:
        items = _dig(data, path.tokens)
        if not isinstance(items, list):
            continue
        target = out.setdefault((path.table, path.columns), [])
        fixed = tuple(path.fixed.values())
        for n, item in enumerate(items, start=1):
            if isinstance(item, dict):
                target.append((sid, n, *fixed, *(_typed(kind, item.get(key)) for key, _c, kind in path.cols)))
