"""Intake: one uploaded file (bytes) received through a department's link, or from staff, checked
and stored the way ``xltemplate import`` stores a file, with a receipt for the page.

The steps are the CLI's own: the import (:func:`~xltemplate.collect.importer.import_workbook`,
whose first step is :func:`xltemplate.xlsx.guard.identify`: what the file is, by its content,
and whether it is safe to open), its place in the round and its
identity (:func:`~xltemplate.collect.rounds.admit`), storing (:meth:`Store.record_many`, with
the file itself, ``files``, and an audit line in the same transaction).  What a link adds:

* the return must be the link's department's: a template issued to another department (or a
  stored file of another department) is refused (``wrong_department``), kept as a refused upload
  that staff see on the department's page and in the audit log, and stored as no return;
* a file that is no readable return of the round (not a workbook, another form, another year, a
  closed round) is refused the same way: the clerk reads why at once and sends the right file,
  and the department's status is not held at 无法读取 by a file that was never a return;
* a copy with no template behind it (read by its labels) is the link's department's.

Annotated copies are made when first asked for (:func:`annotated`), from the stored file: the
upload itself stays fast, and the copy is the same as ``import --annotate`` writes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..form.validate import Issue
from ..messages import t
from . import events, files, identity, rounds
from .importer import UNREADABLE, import_workbook
from .rounds import Round
from .store import Outcome, Pending, Store

LINK_ACTOR = "link:{code}"
_VERSIONS_TTL = 30.0
_versions_lock = threading.Lock()
_versions_seen: dict[str, float] = {}


@dataclass
class Replaced:
    id: int
    project: str | None
    file: str
    received_at: Any


@dataclass
class Receipt:
    """What became of one upload: shown to the clerk (or to staff) at once."""

    file: str
    status: str  # valid | invalid | unreadable | duplicate
    errors: list[Issue] = field(default_factory=list)
    submission: int | None = None  # the stored return
    refused: str | None = None  # why it was not taken as a return (a file-level code)
    current: bool = True  # False: a copy saved later is already current
    replaced: list[Replaced] = field(default_factory=list)
    project: str | None = None
    department: str | None = None
    department_code: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    file_id: int | None = None

    @property
    def new_return(self) -> bool:
        return self.submission is not None and self.current and not self.replaced and self.status != "duplicate"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "refused": self.refused, "submission": self.submission,
                "current": self.current, "new_return": self.new_return, "project": self.project,
                "department": self.department, "department_code": self.department_code,
                "replaced": [r.id for r in self.replaced], "errors": [e.as_dict() for e in self.errors]}


def register_versions(store: Store) -> None:
    """The form versions published in this database, known to this process (re-read every 30 s)."""
    now = time.monotonic()
    if now - _versions_seen.get(store.url, -_VERSIONS_TTL) < _VERSIONS_TTL:
        return
    from ..form.forms import register

    with _versions_lock:
        fv = store.t.form_versions
        with store.engine.connect() as conn:
            for schema, layout in conn.execute(sa.select(fv.c.schema, fv.c.layout)):
                register(schema, layout)
        _versions_seen[store.url] = now


def _stored(store: Store, sha: str) -> Any:
    s = store.submissions
    with store.engine.connect() as conn:
        return conn.execute(sa.select(s.c.id, s.c.status, s.c.department_code, s.c.department, s.c.round_id,
                                      s.c.key_text, s.c.is_current).where(s.c.sha256 == sha)).first()


def receive(store: Store, data: bytes, name: str, rnd: Round, *, department: tuple[str, str] | None = None,
            actor: str | None = None, address: str | None = None, lang: str = "zh",
            key: str | None = None) -> Receipt:
    """Check and store one uploaded file for round ``rnd``; ``department`` (code, name) when it came
    through that department's link.  Never raises for a bad file."""
    from ..form.forms import find_form
    from .batch import model_of

    name = files.safe_name(name)
    sha = hashlib.sha256(data).hexdigest()
    code = department[0] if department else None
    actor = actor or (LINK_ACTOR.format(code=code) if code else None)
    receipt = Receipt(name, UNREADABLE, department=department[1] if department else None, department_code=code)

    register_versions(store)
    # what the file is, by its content (guard.identify, the importer's first step), before any parser
    result, meta = import_workbook(name, None, lang, data=data, with_meta=True, key=key)
    current = find_form(result.form) if result.form else None
    model = model_of(result, current)
    if department is not None and not meta.get("department_code"):  # no template behind it: the link says whose
        meta = {**meta, "department_code": department[0], "department": department[1]}
    ctx = identity.context_of(store, rnd, result.submission_id)
    admission = identity.admit(result, meta, model, ctx, current, lang)
    ident = admission.identity
    receipt.errors, receipt.notes, receipt.project = result.errors, admission.notes, ident.key_text
    if code is not None:
        if result.status == UNREADABLE:
            first = result.errors[0] if result.errors else None
            return _refuse(store, receipt, data, rnd, first.code if first else "unexpected", actor, address, lang)
        if ident.department_code != code:
            return _refuse(store, receipt, data, rnd, "wrong_department", actor, address, lang,
                           found=ident.department or ident.department_code or "?")
        if ident.round_id != rnd.id:
            return _refuse(store, receipt, data, rnd, "other_round", actor, address, lang)
    receipt.department, receipt.department_code = ident.department, ident.department_code

    def within(conn: sa.Connection, outcomes: list[Outcome]) -> None:
        out = outcomes[0]
        if out.id is not None:
            events.log(store, conn, "upload", actor=actor, round_id=ident.round_id, submission=out.id,
                       department_code=ident.department_code,
                       detail={"file": name, "status": result.status, "replaces": out.superseded,
                               "via": "link" if code else "staff"}, address=address)

    [outcome] = store.record_many([Pending(result, sha, name, name, model, result.saved_at, None, ident,
                                           admission.notes or None, file=(data, name))], within)
    if outcome.status == "duplicate":  # the very same file again (or stored by another process a moment ago)
        before = _stored(store, sha)
        if code is not None and (before.department_code != code or before.round_id != rnd.id):
            return _refuse(store, receipt, data, rnd, "wrong_department", actor, address, lang,
                           found=before.department or before.department_code or "?")
        receipt.status, receipt.submission, receipt.project = "duplicate", before.id, before.key_text
        receipt.current = bool(before.is_current)
        _log_only(store, "upload", actor, rnd.id, before.id, {"file": name, "status": "duplicate"}, address)
        return receipt
    receipt.status = result.status
    receipt.submission, receipt.current = outcome.id, outcome.current
    if outcome.superseded:
        receipt.replaced = _replaced(store, outcome.superseded)
    return receipt


def _replaced(store: Store, ids: list[int]) -> list[Replaced]:
    s = store.submissions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.id, s.c.key_text, s.c.file_name, s.c.received_at)
                            .where(s.c.id.in_(ids)).order_by(s.c.id)).all()
    return [Replaced(*r) for r in rows]


def _refuse(store: Store, receipt: Receipt, data: bytes, rnd: Round, code: str, actor: str | None,
            address: str | None, lang: str, **params: Any) -> Receipt:
    """An upload through a link that is taken as no return: the clerk is told why, the file is kept
    and staff see it (``upload_refused`` in the audit log, on the department's page)."""
    if code == "wrong_department":
        receipt.errors = [Issue.of_file(t("wrong_department", lang, found=params.get("found", "?"),
                                          department=receipt.department or receipt.department_code or ""), code)]
    elif code == "other_round":
        receipt.errors = [Issue.of_file(t("other_round", lang, found="?", expected=rnd.name), code)]
    receipt.status, receipt.refused, receipt.submission = UNREADABLE, code, None
    with rounds_writing(store) as conn:
        file_id = files.put(store, conn, data, receipt.file, files.UPLOAD)
        events.log(store, conn, "upload_refused", actor=actor, round_id=rnd.id,
                   department_code=receipt.department_code, detail={
            "file": receipt.file, "file_id": file_id, "code": code, "department_code": receipt.department_code,
            "message": receipt.errors[0].message if receipt.errors else ""}, address=address)
    receipt.file_id = file_id
    return receipt


def _log_only(store: Store, action: str, actor: str | None, round_id: int | None, submission: int | None,
              detail: dict[str, Any], address: str | None) -> None:
    with rounds_writing(store) as conn:
        events.log(store, conn, action, actor=actor, round_id=round_id, submission=submission, detail=detail,
                   address=address)


def rounds_writing(store: Store) -> Any:
    from .db import writing

    return writing(store.engine)


def annotated(store: Store, submission: int, lang: str = "zh") -> files.StoredFile | None:
    """The annotated copy of a stored invalid return: made from its stored file the first time it is
    asked for, then kept.  None for a return that is not invalid or whose file was not kept."""
    from .annotate import annotated as make
    from .annotate import annotated_name
    from .batch import model_of

    s = store.submissions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.file_id, s.c.annotated_id, s.c.status, s.c.file_name)
                           .where(s.c.id == submission)).first()
    if row is None or row.status != "invalid" or row.file_id is None:
        return None
    if row.annotated_id is not None:
        found = files.get(store, row.annotated_id)
        if found is not None:
            return found
    original = files.get(store, row.file_id)
    if original is None:
        return None
    register_versions(store)
    result, meta = import_workbook(row.file_name, None, lang, data=original.content, with_meta=True)
    model = model_of(result, None)
    if model is None or result.status != "invalid":
        return None
    content = make(model, result, meta, lang)
    with rounds_writing(store) as conn:
        file_id = files.put(store, conn, content, annotated_name(result, lang) + ".xlsx", files.ANNOTATED)
        conn.execute(s.update().where(s.c.id == submission).values(annotated_id=file_id))
    return files.get(store, file_id)


# -- returns received by mail: many files or zips, as a background job ---------------------------

BULK = "bulk_import"
BULK_BATCH = 16  # results stored per transaction
MAX_MEMBERS = 5000  # files in one bulk upload, zip members included


def enqueue_bulk(store: Store, rnd: Round, uploads: list[tuple[bytes, str]], actor: str | None,
                 address: str | None = None) -> int:
    """Keep the uploaded files and queue their import into ``rnd``; the job's id."""
    from . import jobs
    from .db import writing

    with writing(store.engine) as conn:
        ids = files.put_many(store, conn, [(data, name, files.UPLOAD) for data, name in uploads])
        job_id = jobs.enqueue(store, BULK, {"files": ids}, total=len(ids), round_id=rnd.id, actor=actor, conn=conn)
        events.log(store, conn, "bulk_upload", actor=actor, round_id=rnd.id,
                   detail={"job": job_id, "files": [files.safe_name(n) for _, n in uploads]}, address=address)
    return job_id


def run_bulk(store: Store, job: Any, progress: Any) -> None:
    """The job of :func:`enqueue_bulk`: every file (zip members one by one) read, placed and stored as
    ``xltemplate import`` does, several per transaction, each with its file and an audit line."""
    from pathlib import Path

    from . import batch

    rnd = rounds.find_round(store, job.round_id)
    work_job = batch.job_for(store, rnd.name, "zh")
    ids = list(job.payload.get("files", []))
    progress.total = sum(_count(store, fid) for fid in ids)
    pending: list[Any] = []

    def flush() -> None:
        if not pending:
            return

        def attach(conn: sa.Connection, outcomes: list[Outcome]) -> None:
            for done, out in zip(pending, outcomes, strict=True):
                if out.id is not None:
                    events.log(store, conn, "upload", actor=job.created_by, round_id=done.identity.round_id
                               if done.identity else None, submission=out.id,
                               department_code=done.identity.department_code if done.identity else None,
                               detail={"file": done.source.name, "status": done.result.status, "via": "bulk",
                                       "job": job.id, "replaces": out.superseded})

        items = []
        for done in pending:
            item = batch.pending_of(done)
            if done.source.data is not None:
                item.file = (done.source.data, Path(done.source.name).name)
            items.append(item)
        outcomes = store.record_many(items, attach)
        for done, out in zip(pending, outcomes, strict=True):
            progress.add({"file": done.source.name, "status": done.result.status, "id": out.id,
                          "stored": "duplicate" if out.status == "duplicate" else
                          ("current" if out.current else "superseded"),
                          "department": done.department, "department_code": done.department_code,
                          "errors": len(done.result.errors),
                          "message": done.result.errors[0].message if done.result.errors and
                          done.result.status == UNREADABLE else None})
        pending.clear()

    seen = 0
    for fid in ids:
        stored = files.get(store, fid)
        if stored is None:
            continue
        for source in batch.sources_in(stored.content, stored.name):
            seen += 1
            if seen > MAX_MEMBERS:
                break
            pending.append(batch.work(source, work_job))
            if len(pending) >= BULK_BATCH:
                flush()
    flush()


def _count(store: Store, file_id: int) -> int:
    """How many returns an uploaded file holds (a zip: its members), without inflating anything."""
    from . import batch

    stored = files.get(store, file_id)
    if stored is None:
        return 0
    import io
    import zipfile

    if stored.content.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(stored.content)) as zf:
                names = [i for i in zf.infolist() if not i.is_dir()]
                if not any(i.filename in ("xl/workbook.xml", "xl/workbook.bin", "mimetype") for i in names):
                    return sum(1 for i in names if not batch.IGNORED.match(i.filename.rsplit("/", 1)[-1])
                               and not i.filename.startswith("__MACOSX/")) or 1
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return 1
    return 1
