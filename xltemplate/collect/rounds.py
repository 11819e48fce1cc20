"""Collection rounds: who was asked, which templates were issued, which returns belong together,
and where each department stands.

A **round** is one collection of one form: a name, the form and its version, the budget year, a
deadline, the roster (one line per department, or per project) and every template issued to it
(:func:`create_round`, called by ``distribute``).  The CLI and the web portal both stand on the
functions here.

**The identity of a return** (:func:`admit`) is declared by the form, never by the file:

* The department is the one the template was issued to (the ``issued`` table, by the template's
  submission id; else the department in the template's metadata), never what the clerk typed.
* A template issued for one project (a roster of projects, or a carried-forward project) is
  identified by its submission id alone, so a corrected project name keeps it one return.
* Otherwise the form's ``x-form.key`` fields (the bundled form: 项目名称) tell a department's
  returns apart: the same department and the same key, compared after trimming, removing spaces
  and folding full-width to half-width (NFKC), is the same return, and a later saved copy replaces
  the earlier one; another key is another return (another project).  A copy whose key is still
  empty is identified by its template alone, and the first copy of that template with a key
  replaces it when it was saved later.
* A form without ``x-form.key`` keeps one return per template (its submission id).

**Which round** a return belongs to: the round its template was issued in; else the round named
on the command line (``--round``); else the only or the latest open round of its form.  A return
made from a template of another year (the ``year`` in its metadata, written by
``distribute --year``) or of another round than the one named is refused by name, and so is a
return for a closed round.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..form.model import FormModel
from ..form.validate import Issue
from ..form.values import get
from ..messages import t
from .importer import UNREADABLE, ImportResult
from .store import Identity, Store

OPEN, CLOSED = "open", "closed"
#: Where a department stands, most urgent first when it has several returns.
NOT_RETURNED, INVALID, UNREADABLE_STATUS, VALID = "not_returned", "invalid", "unreadable", "valid"


class RoundError(ValueError):
    """A round cannot be created, found or changed as asked: a catalog entry and its parameters,
    said in Chinese by ``str`` and in either language by :meth:`message`."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params

    def message(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.message()


@dataclass(frozen=True)
class Round:
    id: int
    name: str
    form_id: str
    form_version: str
    year: int | None
    deadline: dt.date | None
    status: str
    roster_kind: str
    created_at: dt.datetime
    carried_from: int | None = None

    @classmethod
    def of(cls, row: Any) -> Round:
        return cls(row.id, row.name, row.form_id, row.form_version, row.year, row.deadline, row.status,
                   row.roster_kind, row.created_at, row.carried_from)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "form": self.form_id, "version": self.form_version,
                "year": self.year, "deadline": self.deadline.isoformat() if self.deadline else None,
                "status": self.status, "roster_kind": self.roster_kind,
                "created_at": self.created_at.isoformat(timespec="seconds")}


@dataclass(frozen=True)
class IssuedTemplate:
    submission_id: str
    round_id: int
    department_code: str
    department: str
    project: str | None


@dataclass
class RosterLine:
    """One line of a round's roster, as recorded."""

    line: int
    code: str
    name: str
    contact: str | None = None
    project: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- the key of a return ----------------------------------------------------------------------

def normalise_key(value: Any) -> str:
    """A key value as compared: NFKC (full-width -> half-width), no whitespace at all."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", "", text)


def key_pointers(model: FormModel) -> list[str]:
    keys = model.schema.get("x-form", {}).get("key", [])
    return [keys] if isinstance(keys, str) else list(keys)


# -- rounds -------------------------------------------------------------------------------------

def create_round(store: Store, model: FormModel, name: str, *, year: int | None = None,
                 deadline: dt.date | None = None, roster_kind: str = "departments",
                 roster_columns: list[str] | None = None, carried_from: int | None = None,
                 created_by: str | None = None, conn: sa.Connection | None = None) -> Round:
    """Record a new round (and publish its form version); refuse a name already taken."""
    r = store.t.rounds
    publish_version(store, model, conn=conn)
    values = {"name": name, "form_id": model.id, "form_version": model.version, "year": year,
              "deadline": deadline, "status": OPEN, "roster_kind": roster_kind, "roster_columns": roster_columns,
              "carried_from": carried_from, "created_at": _now(), "created_by": created_by}

    def run(c: sa.Connection) -> Round:
        if c.execute(sa.select(r.c.id).where(r.c.name == name)).first() is not None:
            raise RoundError("round_exists", name=name)
        new_id = c.execute(r.insert().returning(r.c.id), values).scalar_one()
        return Round.of(c.execute(sa.select(r).where(r.c.id == new_id)).one())

    if conn is not None:
        return run(conn)
    from .db import writing

    with writing(store.engine) as c:
        return run(c)


def publish_version(store: Store, model: FormModel, conn: sa.Connection | None = None) -> None:
    """Keep this version of the form in the database, so returns made from it can always be read."""
    fv = store.t.form_versions

    def run(c: sa.Connection) -> None:
        found = c.execute(sa.select(fv.c.form_id).where(
            fv.c.form_id == model.id, fv.c.version == model.version, fv.c.hash == model.hash)).first()
        if found is None:
            c.execute(fv.insert(), {"form_id": model.id, "version": model.version, "hash": model.hash,
                                    "schema": model.schema, "layout": None if model.auto_layout else model.layout,
                                    "published_at": _now()})

    if conn is not None:
        run(conn)
        return
    from .db import writing

    with writing(store.engine) as c:
        run(c)


def add_roster(store: Store, conn: sa.Connection, round_id: int, lines: list[RosterLine]) -> dict[int, int]:
    """Record roster lines; return roster id by line number."""
    ro = store.t.roster
    if not lines:
        return {}
    ids = conn.execute(ro.insert().returning(ro.c.id, sort_by_parameter_order=True), [
        {"round_id": round_id, "line": line.line, "code": line.code, "name": line.name, "contact": line.contact,
         "project": line.project, "columns": line.columns} for line in lines]).scalars().all()
    return {line.line: rid for line, rid in zip(lines, ids, strict=True)}


def add_issued(store: Store, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(store.t.issued.insert(), [{"issued_at": _now(), **row} for row in rows])


def rounds(store: Store, form_id: str | None = None) -> list[Round]:
    """Every round, newest first."""
    r = store.t.rounds
    stmt = sa.select(r).order_by(r.c.created_at.desc(), r.c.id.desc())
    if form_id:
        stmt = stmt.where(r.c.form_id == form_id)
    with store.engine.connect() as conn:
        return [Round.of(row) for row in conn.execute(stmt)]


def find_round(store: Store, name: str | int) -> Round:
    """A round by name (or id); a clear error naming the rounds there are."""
    all_rounds = rounds(store)
    for rnd in all_rounds:
        if rnd.name == str(name) or str(rnd.id) == str(name):
            return rnd
    known = "、".join(r.name for r in all_rounds) or t("none")
    raise RoundError("round_unknown", name=name, known=known)


def default_round(all_rounds: list[Round], form_id: str | None) -> Round | None:
    """The only or the latest open round of a form (``all_rounds`` newest first)."""
    for rnd in all_rounds:
        if rnd.status == OPEN and (form_id is None or rnd.form_id == form_id):
            return rnd
    return None


def set_status(store: Store, name: str | int, status: str, actor: str | None = None,
               address: str | None = None) -> Round:
    """Close or reopen a round."""
    from .db import writing

    rnd = find_round(store, name)
    r = store.t.rounds
    with writing(store.engine) as conn:
        conn.execute(r.update().where(r.c.id == rnd.id).values(
            status=status, closed_at=_now() if status == CLOSED else None))
        log(store, conn, "close_round" if status == CLOSED else "reopen_round", actor=actor, round_id=rnd.id,
            address=address)
    return find_round(store, rnd.id)


def roster_of(store: Store, round_id: int) -> list[RosterLine]:
    ro = store.t.roster
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ro).where(ro.c.round_id == round_id).order_by(ro.c.line)).all()
    return [RosterLine(r.line, r.code, r.name, r.contact, r.project, r.columns or {}) for r in rows]


# -- the import context -------------------------------------------------------------------------

@dataclass
class Context:
    """What workers need to place each return in its round: picklable, loaded once per batch."""

    rounds: dict[int, Round]
    issued: dict[str, IssuedTemplate]
    target: Round | None  # the round named on the command line
    newest_first: list[Round]
    versions: list[tuple[dict[str, Any], dict[str, Any] | None]]  # published (schema, layout)


def context(store: Store, round_name: str | None = None) -> Context:
    """The rounds, the issued templates and the published form versions, for one batch."""
    all_rounds = rounds(store)
    target = find_round(store, round_name) if round_name else None
    i, fv = store.t.issued, store.t.form_versions
    with store.engine.connect() as conn:
        issued = {row.submission_id: IssuedTemplate(row.submission_id, row.round_id, row.department_code,
                                                    row.department, row.project)
                  for row in conn.execute(sa.select(i.c.submission_id, i.c.round_id, i.c.department_code,
                                                    i.c.department, i.c.project))}
        versions = [(row.schema, row.layout) for row in conn.execute(sa.select(fv.c.schema, fv.c.layout))]
    return Context({r.id: r for r in all_rounds}, issued, target, all_rounds, versions)


def context_of(store: Store, rnd: Round, submission_id: str | None) -> Context:
    """The context of one return sent into ``rnd`` (an upload through the portal): that round as the
    target, and the issued template of ``submission_id`` with its own round; a query or two
    rather than every table (published versions are registered by the caller)."""
    i, r = store.t.issued, store.t.rounds
    issued: dict[str, IssuedTemplate] = {}
    known = {rnd.id: rnd}
    if submission_id:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(i.c.submission_id, i.c.round_id, i.c.department_code, i.c.department,
                                         i.c.project).where(i.c.submission_id == submission_id)).first()
            if row is not None:
                issued[row.submission_id] = IssuedTemplate(*row)
                if row.round_id not in known:
                    known[row.round_id] = Round.of(conn.execute(sa.select(r).where(r.c.id == row.round_id)).one())
    return Context(known, issued, rnd, [rnd], [])


@dataclass
class Admission:
    """Where one return goes: its identity, or why it is refused; and notes for staff."""

    identity: Identity
    refusal: str | None = None  # a file-level code: other_year, other_round, round_closed
    notes: list[dict[str, Any]] = field(default_factory=list)


def admit(result: ImportResult, meta: dict[str, str], model: FormModel | None, ctx: Context | None,
          current: FormModel | None = None, lang: str = "zh") -> Admission:
    """Place one read result in its round and give it its identity (see the module docstring).

    A refusal turns ``result`` into an unreadable one with the reason (its data is kept)."""
    sid = result.submission_id or None
    issued = ctx.issued.get(sid) if ctx is not None and sid else None
    rnd: Round | None = None
    refusal = None
    if ctx is not None:
        own = ctx.rounds.get(issued.round_id) if issued is not None else None
        target = ctx.target
        if own is not None and target is not None and own.id != target.id:
            refusal = "other_year" if own.year != target.year and own.year and target.year else "other_round"
            params = {"found": own.year if refusal == "other_year" else own.name,
                      "expected": target.year if refusal == "other_year" else target.name}
        rnd = own or target or default_round(ctx.newest_first, result.form)
        if refusal is None and rnd is not None:
            year = meta.get("year")
            if rnd.year and year and year.isdigit() and int(year) != rnd.year:
                refusal, params = "other_year", {"found": year, "expected": rnd.year}
            elif rnd.status == CLOSED:
                refusal, params = "round_closed", {"name": rnd.name}
        if refusal is not None:
            result.errors = [Issue.of_file(t(refusal, lang, **params), refusal)]
            result.status = UNREADABLE
    code = issued.department_code if issued else (meta.get("department_code") or None)
    name = issued.department if issued else (meta.get("department") or None)
    scope = f"r{rnd.id}" if rnd is not None else f"f{result.form}"
    key_text = None
    keys = key_pointers(model) if model is not None else []
    if result.data is not None and keys:
        key_text = " / ".join(str(v) for p in keys if (v := get(result.data, p, None)) not in (None, ""))
    round_id = rnd.id if rnd else None
    values = [normalise_key(get(result.data or {}, p, None)) for p in keys]
    if refusal is not None or not result.form:
        identity = Identity(None, round_id, name, code, key_text)
    elif (issued is not None and issued.project is not None) or not keys or not code:
        # one return per template: a project template, a form without key, or no department to scope a key
        identity = Identity(f"{scope}|sid|{sid}" if sid else None, round_id, name, code,
                            key_text or (issued.project if issued else None))
    elif all(values):
        # it also replaces an older copy of its template that had no key yet, or that was stored
        # when one template was one return (a database of the release before rounds)
        also = (f"{scope}|sid|{sid}|nokey", f"{scope}|sid|{sid}") if sid else ()
        identity = Identity(f"{scope}|d{code}|k" + "|".join(values), round_id, name, code, key_text, also)
    else:
        identity = Identity(f"{scope}|sid|{sid}|nokey" if sid else None, round_id, name, code, key_text)
    return Admission(identity, refusal, version_notes(result, model, current, lang))


def version_notes(result: ImportResult, model: FormModel | None, current: FormModel | None,
                  lang: str = "zh") -> list[dict[str, Any]]:
    """Fields of an earlier version's return that the current version no longer has: kept in the
    data, and pointed out to staff."""
    if model is None or current is None or model.hash == current.hash or not result.data:
        return []
    from ..form.values import leaves_of

    out = []
    patterns = {f.pattern for f in current.fields}
    for pointer, value in leaves_of(result.data):
        f = model.by_pointer.get(pointer)
        if f is None or value in ({}, []) or f.pattern in patterns:
            continue
        out.append({"code": "not_in_current", "pointer": pointer, "label": f.label, "value": value,
                    "message": t("not_in_current", lang, label=f.label, version=model.version,
                                 current=current.version)})
    return out


# -- where the round stands ---------------------------------------------------------------------

@dataclass
class DepartmentStatus:
    code: str
    name: str
    contact: str | None
    status: str  # not_returned | invalid | unreadable | valid
    returns: int  # current, not withdrawn
    valid: int
    last_sent: dt.datetime | None
    in_roster: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "contact": self.contact, "status": self.status,
                "returns": self.returns, "valid": self.valid, "in_roster": self.in_roster,
                "last_sent": self.last_sent.isoformat(timespec="seconds") if self.last_sent else None}


def status(store: Store, rnd: Round) -> list[DepartmentStatus]:
    """One line per roster department (in roster order), then departments not on the roster that
    sent something into the round."""
    s, ro = store.submissions, store.t.roster
    live = sa.and_(s.c.round_id == rnd.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None))
    with store.engine.connect() as conn:
        roster = conn.execute(sa.select(ro.c.code, ro.c.name, ro.c.contact, ro.c.line)
                              .where(ro.c.round_id == rnd.id).order_by(ro.c.line)).all()
        counts = conn.execute(sa.select(s.c.department_code, s.c.status, sa.func.count())
                              .where(live).group_by(s.c.department_code, s.c.status)).all()
        last = dict(conn.execute(sa.select(s.c.department_code, sa.func.max(s.c.received_at))
                                 .where(s.c.round_id == rnd.id).group_by(s.c.department_code)).all())
        names = dict(conn.execute(sa.select(s.c.department_code, sa.func.max(s.c.department))
                                  .where(s.c.round_id == rnd.id).group_by(s.c.department_code)).all())
    by_code: dict[str | None, dict[str, int]] = {}
    for code, st, n in counts:
        by_code.setdefault(code, {})[st] = n
    out: list[DepartmentStatus] = []
    seen: set[str] = set()
    for code, name, contact, _line in roster:
        if code in seen:  # a roster of projects lists a department once per project
            continue
        seen.add(code)
        out.append(_line_status(code, name, contact, by_code.get(code, {}), last.get(code)))
    for code in sorted(c for c in by_code if c not in seen and c is not None):
        out.append(_line_status(code, names.get(code) or code, None, by_code[code], last.get(code), False))
    if None in by_code:
        out.append(_line_status("", t("unknown_department"), None, by_code[None], last.get(None), False))
    return out


def _line_status(code: str, name: str, contact: str | None, counts: dict[str, int], last: Any,
                 in_roster: bool = True) -> DepartmentStatus:
    total = sum(counts.values())
    if not total:
        st = NOT_RETURNED
    elif counts.get("invalid"):
        st = INVALID
    elif counts.get("unreadable"):
        st = UNREADABLE_STATUS
    else:
        st = VALID
    return DepartmentStatus(code, name, contact, st, total, counts.get("valid", 0), last, in_roster)


def totals(lines: list[DepartmentStatus]) -> dict[str, int]:
    """Departments of the roster by status, and their returns."""
    roster = [d for d in lines if d.in_roster]
    out = {k: sum(1 for d in roster if d.status == k) for k in (NOT_RETURNED, INVALID, UNREADABLE_STATUS, VALID)}
    out["departments"] = len(roster)
    out["returned"] = len(roster) - out[NOT_RETURNED]
    out["returns"] = sum(d.returns for d in lines)
    out["valid_returns"] = sum(d.valid for d in lines)
    return out


# -- returns, withdraw, restore -----------------------------------------------------------------

@dataclass
class ReturnRow:
    id: int
    department_code: str | None
    department: str | None
    key_text: str | None
    status: str
    errors: int
    file: str
    received_at: dt.datetime
    saved_at: dt.datetime | None
    current: bool
    superseded_by: int | None
    withdrawn_at: dt.datetime | None
    withdrawn_by: str | None
    withdraw_reason: str | None
    form_version: str | None
    submission_id: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("received_at", "saved_at", "withdrawn_at"):
            out[k] = out[k].isoformat(timespec="seconds") if out[k] else None
        return out


def returns(store: Store, rnd: Round | None = None, department: str | None = None,
            history: bool = False) -> list[ReturnRow]:
    """The returns of a round (or of the whole database): current ones, or every copy with history."""
    s = store.submissions
    stmt = sa.select(s.c.id, s.c.department_code, s.c.department, s.c.key_text, s.c.status, s.c.error_count,
                     s.c.file_name, s.c.received_at, s.c.saved_at, s.c.is_current, s.c.superseded_by,
                     s.c.withdrawn_at, s.c.withdrawn_by, s.c.withdraw_reason, s.c.form_version,
                     s.c.submission_id)
    if rnd is not None:
        stmt = stmt.where(s.c.round_id == rnd.id)
    if department is not None:
        stmt = stmt.where(s.c.department_code == department)
    if not history:
        stmt = stmt.where(s.c.is_current.is_(True))
    stmt = stmt.order_by(sa.func.coalesce(s.c.department_code, ""), s.c.received_at, s.c.id)
    with store.engine.connect() as conn:
        return [ReturnRow(*row) for row in conn.execute(stmt)]


def log(store: Store, conn: sa.Connection, action: str, *, actor: str | None = None, round_id: int | None = None,
        submission: int | None = None, detail: dict[str, Any] | None = None, address: str | None = None) -> None:
    """One line of the audit log."""
    conn.execute(store.t.events.insert(), {"at": _now(), "actor": actor, "action": action, "round_id": round_id,
                                           "submission": submission, "detail": detail, "address": address})


def withdraw(store: Store, submission: int, reason: str, actor: str | None = None,
             address: str | None = None) -> ReturnRow:
    """Take a return filed by mistake out of the report and the status; it stays in history.
    ``address``: where the request came from (the portal), for the audit log."""
    if not reason or not reason.strip():
        raise RoundError("withdraw_needs_reason")
    return _set_withdrawn(store, submission, actor, reason.strip(), address)


def restore(store: Store, submission: int, actor: str | None = None, address: str | None = None) -> ReturnRow:
    """Undo a withdrawal."""
    return _set_withdrawn(store, submission, actor, None, address)


def _set_withdrawn(store: Store, submission: int, actor: str | None, reason: str | None,
                   address: str | None = None) -> ReturnRow:
    from .db import writing

    s = store.submissions
    with writing(store.engine) as conn:
        row = conn.execute(sa.select(s.c.id, s.c.round_id, s.c.withdrawn_at).where(s.c.id == submission)).first()
        if row is None:
            raise RoundError("no_such_return", id=submission)
        if reason is not None and row.withdrawn_at is not None:
            raise RoundError("already_withdrawn", id=submission)
        if reason is None and row.withdrawn_at is None:
            raise RoundError("not_withdrawn", id=submission)
        values = ({"withdrawn_at": _now(), "withdrawn_by": actor, "withdraw_reason": reason} if reason is not None
                  else {"withdrawn_at": None, "withdrawn_by": None, "withdraw_reason": None})
        conn.execute(s.update().where(s.c.id == submission).values(**values))
        log(store, conn, "withdraw" if reason is not None else "restore", actor=actor, round_id=row.round_id,
            submission=submission, detail={"reason": reason} if reason else None, address=address)
    return next(r for r in returns(store, history=True) if r.id == submission)


def history(store: Store, submission: int) -> list[dict[str, Any]]:
    """The audit log of one return: who withdrew or restored it, when, why."""
    e = store.t.events
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(e).where(e.c.submission == submission).order_by(e.c.at, e.c.id)).all()
    return [{"at": r.at.isoformat(timespec="seconds"), "actor": r.actor, "action": r.action,
             "detail": r.detail} for r in rows]
