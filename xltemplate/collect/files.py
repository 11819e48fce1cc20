"""Stored files: every uploaded return, issued template and annotated copy lives in the database
(table ``files``), so that any server process can serve any download and nothing needs a shared
folder.

A file is stored under a generated id, never under a name a client gave: the name kept beside it
is only what a download is offered as (its folder parts and unsafe characters removed).  The same
bytes of the same kind are stored once (unique ``kind, sha256``), whoever sends them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from .store import Store

UPLOAD, TEMPLATE, ANNOTATED, PACKAGE = "upload", "template", "annotated", "package"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


@dataclass(frozen=True)
class StoredFile:
    id: int
    name: str
    kind: str
    sha256: str
    content: bytes


def safe_name(name: str | None, default: str = "file.xlsx") -> str:
    """The last part of a client's file name (either kind of slash), with unsafe characters removed."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")[:150]
    return base or default


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def put(store: Store, conn: sa.Connection, content: bytes, name: str, kind: str, sha256: str | None = None) -> int:
    """Store ``content`` (once per kind and content) inside the caller's transaction; its id."""
    f = store.t.files
    sha = sha256 or hashlib.sha256(content).hexdigest()
    try:
        with conn.begin_nested():  # stored already (or by another process at this moment): found below
            return int(conn.execute(f.insert().returning(f.c.id), {
                "sha256": sha, "kind": kind, "name": safe_name(name), "size": len(content), "content": content,
                "created_at": _now()}).scalar_one())
    except sa.exc.IntegrityError:
        return int(conn.execute(sa.select(f.c.id).where(f.c.kind == kind, f.c.sha256 == sha)).scalar_one())


def put_many(store: Store, conn: sa.Connection, items: list[tuple[bytes, str, str]]) -> list[int]:
    """Several files (content, name, kind) in one transaction; their ids, in order.  One statement
    for all of them (the templates of a round are each new); should any be stored already, one by
    one instead."""
    if not items:
        return []
    f = store.t.files
    now = _now()
    rows = [{"sha256": hashlib.sha256(content).hexdigest(), "kind": kind, "name": safe_name(name),
             "size": len(content), "content": content, "created_at": now} for content, name, kind in items]
    try:
        with conn.begin_nested():
            return [int(i) for i in conn.execute(f.insert().returning(f.c.id, sort_by_parameter_order=True),
                                                 rows).scalars()]
    except sa.exc.IntegrityError:
        return [put(store, conn, content, name, kind) for content, name, kind in items]


def get(store: Store, file_id: int | None) -> StoredFile | None:
    if file_id is None:
        return None
    f = store.t.files
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(f.c.id, f.c.name, f.c.kind, f.c.sha256, f.c.content)
                           .where(f.c.id == file_id)).first()
    return StoredFile(row.id, row.name, row.kind, row.sha256, bytes(row.content)) if row else None


def of_return(store: Store, submission: int) -> StoredFile | None:
    """The file a stored return came in, when it was kept."""
    s = store.submissions
    with store.engine.connect() as conn:
        file_id = conn.execute(sa.select(s.c.file_id).where(s.c.id == submission)).scalar()
    return get(store, file_id)


def delete(store: Store, conn: sa.Connection, file_id: int) -> None:
    conn.execute(store.t.files.delete().where(store.t.files.c.id == file_id))
