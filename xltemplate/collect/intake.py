"""Intake: one file received through a department's link, checked and stored the way
``xltemplate import`` stores a file, with a receipt for the page; and returns received by mail
as a background job (bulk uploads).

The steps are the CLI's own: the import (:func:`~xltemplate.collect.importer.import_workbook`,
whose first step is :func:`xltemplate.xlsx.guard.identify`: what the file is, by its content,
and whether it is safe to open), its place in the round and its identity
(:func:`~xltemplate.collect.identity.admit`, with the link's department: nothing the file says of
itself decides whose it is), storing (:meth:`Store.record_many`, with the file itself, the
link's quota and an audit line in the same transaction).  What a link adds:

* the return must be the link's department's: a template issued to another department (or a
  stored file of another department) is refused (``wrong_department``), and staff see the
  refusal on the department's page and in the audit log;
* a file that is no readable return of the round (not a workbook, another form, another year, a
  closed round) is refused the same way: the clerk reads why at once and sends the right file;
* a file refused is kept as its hash, its size and its first :data:`REFUSED_HEAD` bytes (enough
  for staff to see what it was), never whole: a link cannot fill the disk with refusals;
* a copy with no template behind it (read by its labels, or from a template we never issued) is
  the link's department's;
* the latest upload is what counts: sending again a file received before makes it current again.

Annotated copies are made when first asked for (:func:`annotated`), from the stored file: the
upload itself stays fast, and the copy is the same as ``import --annotate`` writes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..form.forms import find_form
from ..form.validate import Issue
from ..messages import t
from . import batch, events, files, identity, jobs, links, notices, reviews, rounds
from .annotate import annotated as make_annotated
from .annotate import annotated_name
from .db import utcnow, writing
from .importer import UNREADABLE, import_workbook
from .links import Link
from .returns import Return, assign, of_department, one
from .rounds import Round
from .store import Outcome, Pending, Store

LINK_ACTOR = events.LINK_ACTOR
REFUSED_HEAD = 64 * 1024  # bytes of a refused file kept for staff to look at
register_versions = rounds.register_versions  # where the pages and workers have always found it


@dataclass
class Receipt:
    """What became of one upload: shown to the clerk at once."""

    file: str
    status: str  # valid | invalid | unreadable | duplicate
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)  # 提示: never a reason to be invalid
    submission: int | None = None  # the stored return
    refused: str | None = None  # why it was not taken as a return (a file-level code)
    replaced: list[Return] = field(default_factory=list)  # the copies it put into history
    project: str | None = None
    department: str | None = None
    department_code: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    file_id: int | None = None
    #: the department's current returns after this upload (the page's list)
    returns: list[Return] = field(default_factory=list)

    @property
    def new_return(self) -> bool:
        return self.submission is not None and not self.replaced and self.status != "duplicate"

    @property
    def counts_now(self) -> Return | None:
        """The copy that counts now for the return this upload was a copy of."""
        return next((r for r in self.returns if r.id == self.submission), None)


def receive(store: Store, data: bytes, name: str, link: Link, *, address: str | None = None,
            lang: str = "zh") -> Receipt:
    """Check and store one file sent through ``link``.  Never raises for a bad file;
    :class:`~xltemplate.collect.links.QuotaReached` when the link has taken all it may today."""
    name = files.safe_name(name)
    sha = hashlib.sha256(data).hexdigest()
    code, rnd = link.department_code, link.round
    actor = LINK_ACTOR.format(code=code)
    receipt = Receipt(name, UNREADABLE, department=link.department, department_code=code)
    if not link.open:
        receipt.errors = [Issue.of_file(t("round_closed", lang, name=rnd.name), "round_closed")]
        return _refuse(store, receipt, data, link, "round_closed", address)
    register_versions(store)
    # what the file is, by its content (guard.identify, the importer's first step), before any parser
    result, meta = import_workbook(name, None, lang, data=data, with_meta=True)
    current = find_form(result.form) if result.form else None
    model = batch.model_of(result, current)
    ctx = identity.context_of(store, rnd, result.submission_id, link.templates)
    admission = identity.admit(result, meta, model, ctx, current, lang, via=(code, link.department))
    ident = admission.identity
    receipt.errors, receipt.notes, receipt.project = result.errors, result.notes + admission.notes, ident.key_text
    receipt.warnings = result.warnings
    if result.status == UNREADABLE:
        first = result.errors[0] if result.errors else None
        return _refuse(store, receipt, data, link, first.code if first else "unexpected", address)
    if ident.department_code != code:
        return _refuse(store, receipt, data, link, "wrong_department", address, lang,
                       found=ident.department or ident.department_code or "?")
    if ident.round_id != rnd.id:
        return _refuse(store, receipt, data, link, "other_round", address, lang)

    def within(conn: sa.Connection, outcomes: list[Outcome]) -> None:
        out = outcomes[0]
        links.count_upload(store, conn, link, len(data))
        if out.id is not None:
            events.log(store, conn, "upload", actor=actor, round_id=rnd.id, submission=out.id, department_code=code,
                       detail={"file": name, "status": result.status, "replaces": out.superseded, "via": "link"},
                       address=address)
            notices.received(store, conn, rnd, code, out.id, result.status, result.errors, ident.key_text, name,
                             actor)  # queued with the upload, sent by the mail worker

    [outcome] = store.record_many([Pending(result, sha, name, name, model, result.saved_at, utcnow(), ident,
                                           receipt.notes or None, file=(data, name))], within)
    if outcome.status == "duplicate":  # the very same file again (or stored by another process a moment ago)
        try:
            return _again(store, receipt, sha, data, link, address)
        except _Foreign as exc:
            return _refuse(store, receipt, data, link, "wrong_department", address, lang, found=exc.found)
    receipt.status, receipt.submission = result.status, outcome.id
    _with_returns(store, receipt, link, outcome.superseded)
    return receipt


def _with_returns(store: Store, receipt: Receipt, link: Link, replaced: list[int]) -> None:
    """The department's returns as they are now, and the copies this upload replaced (for the page).
    Read once the upload's transaction has committed, out of the write lock (which keeps every
    other writer waiting): the page shows the upload and whatever else has been committed since."""
    with store.engine.connect() as conn:
        found = of_department(store, conn, link.round.id, link.department_code, replaced)
    receipt.replaced = [r for r in found if r.id in replaced]
    receipt.returns = [r for r in found if r.current]


def _again(store: Store, receipt: Receipt, sha: str, data: bytes, link: Link, address: str | None) -> Receipt:
    """A file received before, sent again through the link: the department's own copy counts again
    (the latest upload is what counts); the same file waiting unrecognised from the mail is the
    link's department's now; another department's is refused."""
    s = store.submissions
    code, actor = link.department_code, LINK_ACTOR.format(code=link.department_code)
    with store.engine.connect() as conn:
        before = conn.execute(sa.select(s.c.id, s.c.department_code, s.c.department, s.c.round_id)
                              .where(s.c.sha256 == sha)).one()
    if before.round_id != link.round.id or before.department_code not in (None, code):
        raise _Foreign(before.department or before.department_code or "?")
    if before.department_code is None:
        assign(store, before.id, code, actor, address)
    with writing(store.engine) as conn:
        row = conn.execute(sa.select(s.c.is_current, s.c.key_text).where(s.c.id == before.id)).one()
        links.count_upload(store, conn, link, len(data))
        replaced = store.reinstate(conn, before.id, utcnow()) if not row.is_current else []
        events.log(store, conn, "upload", actor=actor, round_id=link.round.id, submission=before.id,
                   department_code=code,
                   detail={"file": receipt.file, "status": "duplicate", "replaces": replaced, "via": "link"},
                   address=address)
    _with_returns(store, receipt, link, replaced)
    receipt.status, receipt.submission, receipt.project = "duplicate", before.id, row.key_text
    return receipt


class _Foreign(Exception):
    def __init__(self, found: str):
        super().__init__(found)
        self.found = found


def _refuse(store: Store, receipt: Receipt, data: bytes, link: Link, code: str, address: str | None,
            lang: str = "zh", **params: Any) -> Receipt:
    """An upload through a link that is taken as no return: the clerk is told why; staff see it
    (``upload_refused`` in the audit log, on the department's page) with the file's head."""
    if code == "wrong_department":
        receipt.errors = [Issue.of_file(t("wrong_department", lang, found=params.get("found", "?"),
                                          department=receipt.department or receipt.department_code or ""), code)]
    elif code == "other_round":
        receipt.errors = [Issue.of_file(t("other_round", lang, found="?", expected=link.round.name), code)]
    receipt.status, receipt.refused, receipt.submission = UNREADABLE, code, None
    with writing(store.engine) as conn:
        links.count_upload(store, conn, link, len(data))
        file_id = files.put_head(store, conn, data, receipt.file, REFUSED_HEAD)
        events.log(store, conn, "upload_refused", actor=LINK_ACTOR.format(code=link.department_code),
                   round_id=link.round.id, department_code=receipt.department_code, detail={
                       "file": receipt.file, "file_id": file_id, "code": code, "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest(),
                       "message": receipt.errors[0].message if receipt.errors else ""}, address=address)
    _with_returns(store, receipt, link, [])
    receipt.file_id = file_id
    return receipt


def has_annotated(ret: Return) -> bool:
    """Whether a stored copy has an annotated copy to offer: it has errors, a reviewer's reasons
    (已退回) or warnings, and its file was kept."""
    return ret.file_kept and (ret.status == "invalid" or (ret.status == "valid" and
                                                          (ret.state == "returned" or bool(ret.warnings))))


def annotated(store: Store, submission: int, lang: str = "zh") -> files.StoredFile | None:
    """The annotated copy of a stored return with errors, a reviewer's reasons or warnings: made
    from its stored file the first time it is asked for, then kept (until a review decision, which
    makes it again with the reasons).  None for a return with none of these, or whose file was not
    kept."""
    found = one(store, submission)
    if found is None or not has_annotated(found):
        return None
    s = store.submissions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.file_id, s.c.annotated_id, s.c.status, s.c.file_name)
                           .where(s.c.id == submission)).first()
    if row.annotated_id is not None:
        found = files.get(store, row.annotated_id)
        if found is not None:
            return found
    original = files.get(store, row.file_id)
    if original is None:
        return None
    register_versions(store)
    result, meta = import_workbook(row.file_name, None, lang, data=original.content, with_meta=True)
    model = batch.model_of(result, None)
    if model is None or result.status == UNREADABLE:
        return None
    reasons = [Issue(r.sheet, r.cell, r.pointer, r.label, r.value, r.text, "reason")
               for r in reviews.reasons_of(store, submission)] if found.state == "returned" else []
    content = make_annotated(model, result, meta, lang, reasons=reasons)
    with writing(store.engine) as conn:
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
    with writing(store.engine) as conn:
        ids = files.put_many(store, conn, [(data, name, files.UPLOAD) for data, name in uploads])
        job_id = jobs.enqueue(store, BULK, {"files": ids}, total=len(ids), round_id=rnd.id, actor=actor, conn=conn)
        events.log(store, conn, "bulk_upload", actor=actor, round_id=rnd.id,
                   detail={"job": job_id, "files": [files.safe_name(n) for _, n in uploads]}, address=address)
    return job_id


def run_bulk(store: Store, job: Any, progress: Any) -> None:
    """The job of :func:`enqueue_bulk`: every file (zip members one by one) read, placed and stored as
    ``xltemplate import`` does, several per transaction, each with its file and an audit line.
    Every file of one bulk upload was received together, when staff uploaded it: copies of one
    return among them are ordered by their save time, then their place (``collect.current``)."""
    rnd = rounds.find_round(store, job.round_id)
    work_job = batch.job_for(store, rnd.name, "zh")
    ids = list(job.payload.get("files", []))
    members = sum(_count(store, fid) for fid in ids)
    over = max(0, members - MAX_MEMBERS)  # files beyond the limit: not imported, and said so
    progress.total = min(members, MAX_MEMBERS) + (1 if over else 0)
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
                    ident = done.identity
                    if ident is not None and ident.round_id == rnd.id and ident.department_code and out.current:
                        notices.received(store, conn, rnd, ident.department_code, out.id, done.result.status,
                                         done.result.errors, ident.key_text, Path(done.source.name).name,
                                         job.created_by)

        items = []
        for done in pending:
            item = batch.pending_of(done)
            item.received_at, item.seq = job.created_at, done.source.seq
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
            source.seq = seen
            pending.append(batch.work(source, work_job))
            if len(pending) >= BULK_BATCH:
                flush()
    flush()
    if over:
        progress.add({"file": t("bulk_rest", n=over), "status": UNREADABLE, "id": None, "stored": "not_imported",
                      "department": None, "department_code": None, "errors": 0,
                      "message": t("bulk_too_many", limit=MAX_MEMBERS, n=over)})


def _count(store: Store, file_id: int) -> int:
    """How many returns an uploaded file holds (a zip: its members), without inflating anything."""
    stored = files.get(store, file_id)
    if stored is None:
        return 0
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
