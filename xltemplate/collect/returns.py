"""Returns: the stored copies of each department's filled forms, read in one shape.

A :class:`Return` is what the CLI's ``returns --json``, the portal's API and pages, and the
import's JSON lines (inside a :class:`Receipt`) all give for a stored copy; its errors and its
warnings (提示) are :class:`~xltemplate.form.validate.Issue`\\ s, each at the sheet and cell the value
was read from.  ``state`` says where the copy stands: ``invalid`` or ``unreadable`` (the machine
check), else where its review stands (``pending``, ``returned``, ``approved``: :mod:`.reviews`).
Withdrawing a return filed by mistake, and restoring it, are here too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..form.validate import Issue
from . import events
from .batch import model_of
from .current import Arriving, Stored, decide, order
from .db import utcnow, writing
from .identity import admit, context_of
from .importer import ImportResult
from .rounds import RoundError, roster_of
from .rounds import get as get_round
from .shapes import utc

if TYPE_CHECKING:
    from .store import Identity, Outcome, Store

STATUSES = ("valid", "invalid", "unreadable")
#: where a copy stands: the machine check's verdict, else its review's
STATES = ("invalid", "unreadable", "returned", "pending", "approved")
ERROR_FIELDS = ("sheet", "cell", "pointer", "label", "value", "message", "code", "form_cell")


class Return(msgspec.Struct, kw_only=True):
    """One stored copy of a return (``id`` is None for a result not stored: ``import --no-db``)."""

    id: int | None
    round_id: int | None
    department_code: str | None
    department: str | None
    project: str | None  # the return's key as the clerk wrote it (the bundled form: 项目名称)
    status: str  # valid | invalid | unreadable: the machine check
    error_count: int
    errors: list[Issue]
    file: str
    #: invalid | unreadable, else its review's: pending | returned | approved
    state: str = "pending"
    warnings: list[Issue] = msgspec.field(default_factory=list)  # 提示: never a reason to be invalid
    review_stage: int | None = None  # the stage it waits for (returned: was returned at)
    grade: str | None = None  # the latest grade a reviewer gave
    resubmitted: bool = False  # 重新报送: it replaced a copy that had passed the machine check
    received_at: dt.datetime | None
    saved_at: dt.datetime | None  # as the client wrote it into the file: shown, never trusted
    form: str | None
    version: str | None
    submission_id: str | None
    current: bool  # the copy that counts for its return (the others are its history)
    file_kept: bool = False  # the file it came in is stored (to download)
    superseded_by: int | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_by: str | None = None
    withdraw_reason: str | None = None
    notes: list[dict[str, Any]] | None = None
    data: dict[str, Any] | None = None  # the values, when asked for
    check_code: str | None = None  # the 校验码 of its data (collect.checkcode), printed on its 打印版
    #: the 校验码 of the newest stamped scan of the return, by attachment (when asked for: collect.scans)
    scan_codes: dict[str, str] | None = None


class Receipt(msgspec.Struct, kw_only=True):
    """What became of one received file: taken as a copy of a return (``return``), a duplicate of a
    file stored before, or refused (``refused`` says why, a file-level code)."""

    file: str
    status: str  # valid | invalid | unreadable | duplicate
    stored: str | None = None  # current | superseded | duplicate; None when nothing was stored
    replaces: list[int] = msgspec.field(default_factory=list)  # copies it put into history
    refused: str | None = None
    sha256: str | None = None
    annotated: str | None = None  # where the annotated copy was written (import --annotate)
    ret: Return | None = msgspec.field(default=None, name="return")


class LocatedError(msgspec.Struct, kw_only=True):
    """An error of a current return (an :class:`Issue`'s fields) with the return it belongs to: the
    API's errors of a round, one flat object each."""

    return_id: int = msgspec.field(name="return")
    department_code: str | None
    department: str | None
    file: str
    status: str
    sheet: str | None
    cell: str | None
    pointer: str | None
    label: str | None
    value: Any
    message: str
    code: str
    form_cell: str | None = None


_COLUMNS = ("id", "round_id", "department_code", "department", "key_text", "status", "error_count", "file_name",
            "received_at", "saved_at", "form_id", "form_version", "submission_id", "is_current", "superseded_by",
            "withdrawn_at", "withdrawn_by", "withdraw_reason", "notes", "file_id", "warnings", "review",
            "review_stage", "grade", "check_code")


def _issue(row: Any) -> Issue:
    return Issue(row.sheet, row.cell, row.pointer, row.label, row.value, row.message or "", row.code or "",
                 getattr(row, "form_cell", None))


def issues_of(stored: Any) -> list[Issue]:
    """Issues kept as JSON (a row's ``errors`` or ``warnings``)."""
    return [Issue(**{k: e.get(k) for k in ERROR_FIELDS}) for e in stored or []]


def state_of(status: str, review: str | None) -> str:
    """Where a copy stands: the machine check's verdict, else its review's."""
    return status if status != "valid" else (review or "pending")


def _resubmitted(store: Store) -> Any:
    """Whether a copy replaced one that had passed the machine check (重新报送), as a column."""
    s = store.submissions
    p = s.alias("earlier")
    return sa.exists().where(p.c.superseded_by == s.c.id, p.c.review.is_not(None)).label("resubmitted")


def _return(row: Any, errors: list[Issue], data: Any = None) -> Return:
    return Return(id=row.id, round_id=row.round_id, department_code=row.department_code, department=row.department,
                  project=row.key_text, status=row.status, error_count=row.error_count, errors=errors,
                  file=row.file_name, received_at=utc(row.received_at), saved_at=utc(row.saved_at),
                  form=row.form_id, version=row.form_version, submission_id=row.submission_id,
                  current=bool(row.is_current), file_kept=row.file_id is not None, superseded_by=row.superseded_by,
                  withdrawn_at=utc(row.withdrawn_at), withdrawn_by=row.withdrawn_by,
                  withdraw_reason=row.withdraw_reason, notes=row.notes or None, data=data,
                  state=state_of(row.status, row.review), warnings=issues_of(row.warnings),
                  review_stage=row.review_stage, grade=row.grade, resubmitted=bool(row.resubmitted),
                  check_code=row.check_code, scan_codes=_scan_codes(getattr(row, "scan_list", None)))


def _scans_of(store: Store) -> Any:
    """A return's stamped scans as one text, ``id:attachment:code,...`` (a correlated subquery, so the
    page that lists returns reads them in the same statement)."""
    s, sc = store.submissions, store.t.scans
    return (sa.select(sa.func.aggregate_strings(sa.cast(sc.c.id, sa.Text) + ":" + sc.c.attachment + ":" + sc.c.code,
                                                ","))
            .where(sa.or_(sc.c.return_key == s.c.return_key,
                          sa.and_(s.c.return_key.is_(None), sc.c.submission == s.c.id)))
            .correlate(s).scalar_subquery().label("scan_list"))


def _scan_codes(text: str | None) -> dict[str, str] | None:
    """The newest scan's 校验码 of each attachment, from :func:`_scans_of`'s text."""
    if not text:
        return None
    newest: dict[str, tuple[int, str]] = {}
    for item in text.split(","):
        sid, key, code = item.split(":", 2)
        if key not in newest or int(sid) > newest[key][0]:
            newest[key] = (int(sid), code)
    return {key: code for key, (_sid, code) in newest.items()}


def _errors_of(conn: sa.Connection, store: Store, ids: list[int]) -> dict[int, list[Issue]]:
    e = store.errors
    out: dict[int, list[Issue]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(sa.select(e).where(e.c.submission.in_(chunk)).order_by(e.c.id)):
            out.setdefault(row.submission, []).append(_issue(row))
    return out


def query(store: Store, *, round_id: int | None = None, department: str | None = None, status: str | None = None,
          ids: Iterable[int] | None = None, history: bool = False, withdrawn: bool = True, with_data: bool = False,
          by_id: bool = False, limit: int | None = None, offset: int = 0, no_department: bool = False,
          and_ids: Iterable[int] = (), state: str | None = None,
          departments: Iterable[str] | None = None, with_scans: bool = False) -> list[Return]:
    """Returns with their errors: of a round, of a department (``no_department``: of none; or of
    ``departments``), of a status (the machine check's) or a ``state`` (:data:`STATES`), or by id;
    the current copies only unless ``history`` (``and_ids``: these copies too);
    withdrawn ones unless ``withdrawn=False``.  Ordered by department and time received (``by_id``:
    by id, for paging)."""
    s = store.submissions
    cols = [getattr(s.c, c) for c in _COLUMNS] + [_resubmitted(store)] + ([s.c.data] if with_data else []) + \
        ([_scans_of(store)] if with_scans else [])
    stmt = sa.select(*cols)
    if round_id is not None:
        stmt = stmt.where(s.c.round_id == round_id)
    if department is not None:
        stmt = stmt.where(s.c.department_code == department)
    if no_department:
        stmt = stmt.where(s.c.department_code.is_(None))
    if status is not None:
        stmt = stmt.where(s.c.status == status)
    if state is not None:
        stmt = stmt.where(s.c.review == state) if state not in ("invalid", "unreadable") else \
            stmt.where(s.c.status == state)
    if departments is not None:
        stmt = stmt.where(s.c.department_code.in_(list(departments)))
    if ids is not None:
        stmt = stmt.where(s.c.id.in_(list(ids)))
    also = list(and_ids)
    if not history:
        stmt = stmt.where(sa.or_(s.c.is_current.is_(True), s.c.id.in_(also)) if also else s.c.is_current.is_(True))
    if not withdrawn:
        stmt = stmt.where(s.c.withdrawn_at.is_(None))
    order = [s.c.id] if by_id else [sa.func.coalesce(s.c.department_code, ""), s.c.received_at, s.c.id]
    stmt = stmt.order_by(*order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
        errors = _errors_of(conn, store, [r.id for r in rows if r.error_count]) if rows else {}
    return [_return(r, errors.get(r.id, []), r.data if with_data else None) for r in rows]


def _of_department(store: Store) -> Any:
    s = store.submissions
    cols = [getattr(s.c, c) for c in _COLUMNS]
    return (sa.select(*cols, _resubmitted(store), s.c.errors, _scans_of(store)).where(
        s.c.round_id == sa.bindparam("round"), s.c.department_code == sa.bindparam("code"),
        sa.or_(s.c.is_current.is_(True), s.c.id.in_(sa.bindparam("also", expanding=True))))
        .order_by(s.c.received_at, s.c.id))


def of_department(store: Store, conn: sa.Connection, round_id: int, code: str,
                  also: Iterable[int] = ()) -> list[Return]:
    """A department's current returns in a round (and the copies ``also``), with their errors, on the
    caller's connection: one statement, the errors taken from each row's own record of them."""
    rows = conn.execute(store.prepared("returns.of_department", lambda: _of_department(store)),
                        {"round": round_id, "code": code, "also": list(also) or [-1]}).all()
    return [_return(r, issues_of(r.errors)) for r in rows]


def one(store: Store, submission: int, with_data: bool = False, with_scans: bool = False) -> Return | None:
    """One stored copy (current or not), or None."""
    found = query(store, ids=[submission], history=True, with_data=with_data, with_scans=with_scans)
    return found[0] if found else None


def errors_of_round(store: Store, round_id: int, limit: int, offset: int = 0) -> list[LocatedError]:
    """Every error of the round's current, not withdrawn, invalid or unreadable returns, in order."""
    s, e = store.submissions, store.errors
    stmt = (sa.select(e, s.c.department_code, s.c.department, s.c.file_name, s.c.status)
            .select_from(e.join(s, s.c.id == e.c.submission))
            .where(s.c.round_id == round_id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None),
                   s.c.status.in_(("invalid", "unreadable")))
            .order_by(e.c.id).limit(limit).offset(offset))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [LocatedError(return_id=r.submission, department_code=r.department_code, department=r.department,
                         file=r.file_name, status=r.status, **dataclasses.asdict(_issue(r))) for r in rows]


def of_result(result: ImportResult, *, identity: Identity | None, notes: list[dict[str, Any]] | None,
              outcome: Outcome | None, file: str) -> Return:
    """The return a result was stored as (``outcome`` None: not stored), without reading it back."""
    ident = identity
    return Return(id=outcome.id if outcome is not None else None,
                  round_id=ident.round_id if ident else None,
                  department_code=ident.department_code if ident else None,
                  department=ident.department if ident else None, project=ident.key_text if ident else None,
                  status=result.status, error_count=len(result.errors), errors=list(result.errors), file=file,
                  received_at=None, saved_at=utc(result.saved_at), form=result.form, version=result.version,
                  submission_id=result.submission_id,
                  current=outcome.current if outcome is not None else True, notes=notes or None, data=result.data,
                  state=state_of(result.status, None), warnings=list(result.warnings),
                  review_stage=0 if result.status == "valid" else None)


def receipt_of(result: ImportResult, outcome: Outcome | None, *, identity: Identity | None,
               notes: list[dict[str, Any]] | None, sha256: str | None = None, annotated: str | None = None) -> Receipt:
    """What became of one file of an import (``outcome`` None: ``--no-db``): the import's JSON line."""
    if outcome is not None and outcome.status == "duplicate":
        return Receipt(file=result.file, status="duplicate", stored="duplicate", sha256=sha256, annotated=annotated)
    stored = None if outcome is None else ("current" if outcome.current else "superseded")
    return Receipt(file=result.file, status=result.status, stored=stored,
                   replaces=list(outcome.superseded) if outcome is not None else [], sha256=sha256,
                   annotated=annotated, ret=of_result(result, identity=identity, notes=notes, outcome=outcome,
                                                      file=result.file))


def withdraw(store: Store, submission: int, reason: str, actor: str | None = None,
             address: str | None = None) -> Return:
    """Take a return filed by mistake out of the report and the status; it stays in history.
    ``address``: where the request came from (the portal), for the audit log."""
    if not reason or not reason.strip():
        raise RoundError("withdraw_needs_reason")
    return _set_withdrawn(store, submission, actor, reason.strip(), address)


def restore(store: Store, submission: int, actor: str | None = None, address: str | None = None) -> Return:
    """Undo a withdrawal."""
    return _set_withdrawn(store, submission, actor, None, address)


def _set_withdrawn(store: Store, submission: int, actor: str | None, reason: str | None,
                   address: str | None = None) -> Return:
    s = store.submissions
    with writing(store.engine) as conn:
        row = conn.execute(sa.select(s.c.id, s.c.round_id, s.c.withdrawn_at, s.c.department_code)
                           .where(s.c.id == submission)).first()
        if row is None:
            raise RoundError("no_such_return", id=submission)
        if reason is not None and row.withdrawn_at is not None:
            raise RoundError("already_withdrawn", id=submission)
        if reason is None and row.withdrawn_at is None:
            raise RoundError("not_withdrawn", id=submission)
        values = ({"withdrawn_at": utcnow(), "withdrawn_by": actor, "withdraw_reason": reason} if reason is not None
                  else {"withdrawn_at": None, "withdrawn_by": None, "withdraw_reason": None})
        conn.execute(s.update().where(s.c.id == submission).values(**values))
        events.log(store, conn, "withdraw" if reason is not None else "restore", actor=actor, round_id=row.round_id,
                   submission=submission, department_code=row.department_code,
                   detail={"reason": reason} if reason else None, address=address)
    found = one(store, submission)
    assert found is not None
    return found


def assign(store: Store, submission: int, code: str, actor: str | None = None,
           address: str | None = None) -> Return:
    """Give a file that told no department (未识别的文件) to department ``code`` of its round's roster:
    it becomes a copy of that department's return as if it had come through the department's link
    (its identity by the form's key), current unless a copy received later is."""
    s = store.submissions
    found = one(store, submission, with_data=True)
    if found is None:
        raise RoundError("no_such_return", id=submission)
    rnd = get_round(store, found.round_id) if found.round_id is not None else None
    if rnd is None or found.department_code is not None or found.withdrawn_at is not None or not found.current:
        raise RoundError("not_unrecognized", id=submission)
    line = next(iter(roster_of(store, rnd.id, code)), None)
    if line is None:
        raise RoundError("not_on_roster", code=code, name=rnd.name)
    result = ImportResult(found.file, found.status, found.form, found.version, None, found.data, found.errors)
    ident = admit(result, {}, model_of(result, None), context_of(store, rnd, None), via=(code, line.name)).identity
    with writing(store.engine) as conn:
        row = conn.execute(sa.select(s.c.received_at, s.c.saved_at, s.c.received_seq).where(s.c.id == submission)).one()
        replaced: list[int] = []
        current = True
        if ident.return_key is not None:
            keys = [ident.return_key, *ident.also]
            rivals = [Stored(r.id, r.return_key, order(r.received_at, r.saved_at, r.received_seq, r.id))
                      for r in conn.execute(sa.select(s.c.id, s.c.return_key, s.c.received_at, s.c.saved_at,
                                                      s.c.received_seq)
                                            .where(s.c.return_key.in_(keys), s.c.is_current.is_(True)))]
            mine = Arriving(ident.return_key, order(row.received_at, row.saved_at, row.received_seq, submission),
                            ident.also)
            decision = decide(rivals, [mine])
            replaced, current = sorted(decision.retired), decision.current[0]
            if replaced:
                conn.execute(s.update().where(s.c.id.in_(replaced)).values(is_current=False, superseded_by=submission))
        conn.execute(s.update().where(s.c.id == submission).values(
            department_code=code, department=line.name, return_key=ident.return_key, key_text=ident.key_text,
            is_current=current, superseded_by=None if current else decision.old_winner.get(0)))
        events.log(store, conn, "assign", actor=actor, round_id=rnd.id, submission=submission, department_code=code,
                   detail={"department": line.name, "replaces": replaced}, address=address)
    assigned = one(store, submission)
    assert assigned is not None
    return assigned


def discard(store: Store, submission: int, reason: str, actor: str | None = None,
            address: str | None = None) -> Return:
    """Set aside a file that told no department and belongs to none (a wrong file in the mail): it
    leaves 未识别的文件 and stays in history, withdrawn with the reason."""
    found = one(store, submission)
    if found is None:
        raise RoundError("no_such_return", id=submission)
    if found.department_code is not None:
        raise RoundError("not_unrecognized", id=submission)
    return withdraw(store, submission, reason, actor, address)
