"""Stored files: every uploaded return, issued template and annotated copy lives in the database
(table ``files``), so that any server process can serve any download and nothing needs a shared
folder.

A file is stored under a generated id, never under a name a client gave: the name kept beside it
is only what a download is offered as (its folder parts and unsafe characters removed).  The same
bytes of the same kind are stored once (unique ``kind, sha256``), whoever sends them again.

Names are cleaned here, in one place (:func:`safe_name`, :func:`visible`), before they are shown or
stored: invisible characters go, bidirectional controls first (``报表\u202exslx.exe`` would
otherwise show as ``报表exe.xlsx``), and with them every other control and format character
(zero-width spaces and joiners, byte order marks, line and paragraph separators).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .db import utcnow

if TYPE_CHECKING:
    from .store import Store

UPLOAD, TEMPLATE, ANNOTATED, PACKAGE = "upload", "template", "annotated", "package"
REFUSED = "refused"  # the head of a file refused at a link (``full_size`` says how large it was)
ROSTER = "roster"  # a roster uploaded for a round that waits for staff to confirm it
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
#: What a name may not hold invisibly: C0/C1 controls, bidirectional embeddings, overrides and
#: isolates, zero-width characters, byte order marks, line and paragraph separators, and every
#: other format character (Unicode category Cf), tags and interlinear annotation included.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e0fff]")


def visible(text: str) -> str:
    """``text`` without invisible characters (see the module docstring); nothing else changes."""
    if text.isascii() and text.isprintable():
        return text
    out = _INVISIBLE.sub("", text)
    return "".join(ch for ch in out if unicodedata.category(ch) != "Cf") if not out.isprintable() else out


@dataclass(frozen=True)
class StoredFile:
    id: int
    name: str
    kind: str
    sha256: str
    content: bytes


_MAGIC = ((b"%PDF", "pdf"), (b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF8", "gif"),
          (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"))


def extension_of(content: bytes) -> str:
    """The extension of what ``content`` is, by its bytes (never by the name a client gave it):
    ``xlsx``, ``ods``, ``zip``, ``xls``, ``pdf``, an image's, else ``bin``."""
    if content.startswith(b"PK"):
        head = content[:1 << 20]
        if b"xl/workbook" in head or b"xl/_rels" in head:
            return "xlsx"
        if b"opendocument.spreadsheet" in head:
            return "ods"
        return "zip"
    return next((ext for magic, ext in _MAGIC if content.startswith(magic)), "bin")


def download_name(stem: str, content: bytes) -> str:
    """A name to offer a stored file under: ours (``stem``, made safe), with the extension of what
    the file is."""
    return f"{safe_name(stem, 'file')}.{extension_of(content)}"


def safe_name(name: str | None, default: str = "file.xlsx") -> str:
    """The last part of a client's file name (either kind of slash), invisible characters removed
    (:func:`visible`) and unsafe ones replaced."""
    base = re.split(r"[\\/]", visible(name or ""))[-1]
    base = _UNSAFE.sub("_", base).strip(" .")[:150]
    return base or default


def _insert_new(store: Store) -> Any:
    """INSERT a file unless the same bytes of the same kind are stored: its id, or no row."""
    def build() -> Any:
        f = store.t.files
        insert = postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert
        return insert(f).on_conflict_do_nothing(index_elements=[f.c.kind, f.c.sha256]).returning(f.c.id)

    return store.prepared("files.insert_new", build)


def put(store: Store, conn: sa.Connection, content: bytes, name: str, kind: str, sha256: str | None = None) -> int:
    """Store ``content`` (once per kind and content) inside the caller's transaction; its id."""
    f = store.t.files
    sha = sha256 or hashlib.sha256(content).hexdigest()
    row = {"sha256": sha, "kind": kind, "name": safe_name(name), "size": len(content), "content": content,
           "created_at": utcnow()}
    new = store.direct("files.insert_new", lambda: _insert_new(store), list(row))(conn, row)
    if new:
        return int(new[0][0])
    # stored already (or by another process at this moment)
    return int(conn.execute(sa.select(f.c.id).where(f.c.kind == kind, f.c.sha256 == sha)).scalar_one())


def put_head(store: Store, conn: sa.Connection, content: bytes, name: str, head: int) -> int:
    """Keep the first ``head`` bytes of a refused file (its hash and size are of the whole file), inside
    the caller's transaction; its id."""
    f = store.t.files
    sha = hashlib.sha256(content).hexdigest()
    found = conn.execute(sa.select(f.c.id).where(f.c.kind == REFUSED, f.c.sha256 == sha)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(f.insert().returning(f.c.id), {
        "sha256": sha, "kind": REFUSED, "name": safe_name(name), "size": min(len(content), head),
        "full_size": len(content), "content": content[:head], "created_at": utcnow()}).scalar_one())


def put_many(store: Store, conn: sa.Connection, items: list[tuple[bytes, str, str]],
             hashes: list[str] | None = None) -> list[int]:
    """Several files (content, name, kind) in one transaction; their ids, in order.  One statement
    for all of them (the templates of a round are each new); should any be stored already, one by
    one instead.  ``hashes``: their sha256s, when the caller has them already."""
    if not items:
        return []
    f = store.t.files
    now = utcnow()
    shas = hashes or [hashlib.sha256(content).hexdigest() for content, _, _ in items]
    rows = [{"sha256": sha, "kind": kind, "name": safe_name(name), "size": len(content), "content": content,
             "created_at": now} for (content, name, kind), sha in zip(items, shas, strict=True)]
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
