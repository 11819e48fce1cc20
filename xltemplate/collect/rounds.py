"""Collection rounds: a round, its roster, the templates issued in it, and its state.

A **round** is one collection of one form: a name, the form and its version, the budget year, a
deadline, the roster (one line per department, or per project, each with the 科室 it is assigned
to), its review stages (default one, 审核) and every template issued to it (:func:`create_round`,
called by ``distribute``).  The CLI, the portal's pages and its API all
read and change rounds through the functions here; which return belongs to which round is
:mod:`xltemplate.collect.identity`'s, where each department stands :mod:`.departments`'.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..form.forms import register
from ..form.model import FormModel
from ..form.schema import text as in_language  # `text` is a parameter's name here
from ..messages import CatalogError, t
from . import events, files
from .db import utcnow, writing
from .mail import addresses
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

OPEN, CLOSED = "open", "closed"
MAX_STAGES = 5


def default_stages() -> list[str]:
    """The review stages of a round that names none: one, 审核."""
    return [t("review_stage_default")]


def stage_names(text: str | list[str] | tuple[str, ...] | None, lang: str = "zh") -> list[str] | None:
    """Review stages as given (``初审,复审``, or a list): names, in order; None when none are given.
    Refuses a name given twice, an empty one between commas, and more than :data:`MAX_STAGES`."""
    if text is None:
        return None
    parts = text if isinstance(text, list | tuple) else text.replace("，", ",").replace("、", ",").split(",")
    names = [p.strip() for p in parts]
    if not any(names):
        return None
    if not all(names) or len(set(names)) != len(names) or len(names) > MAX_STAGES or \
            any(len(n) > 20 for n in names):
        raise RoundError("stages_bad", text=text if isinstance(text, str) else ",".join(text), n=MAX_STAGES)
    return names


class RoundError(CatalogError):
    """A round cannot be created, found or changed as asked: a catalog entry and its parameters,
    said in Chinese by ``str`` and in either language by :meth:`message`."""


class Round(msgspec.Struct, frozen=True, kw_only=True):
    """One collection of one form."""

    id: int
    name: str
    form_id: str = msgspec.field(name="form")
    form_version: str = msgspec.field(name="version")
    year: int | None
    deadline: dt.date | None
    status: str  # open | closed
    roster_kind: str  # departments | projects
    created_at: dt.datetime
    carried_from: int | None = None
    closed_at: dt.datetime | None = None
    #: its review stages, in order: a return is approved (审核通过) once the last one approves it
    stages: list[str] = msgspec.field(default_factory=default_stages)

    @classmethod
    def of(cls, row: Any) -> Round:
        return cls(id=row.id, name=row.name, form_id=row.form_id, form_version=row.form_version, year=row.year,
                   deadline=row.deadline, status=row.status, roster_kind=row.roster_kind,
                   created_at=utc(row.created_at), carried_from=row.carried_from, closed_at=utc(row.closed_at),
                   stages=list(row.stages) if row.stages else default_stages())


class IssuedTemplate(msgspec.Struct, frozen=True):
    """A template issued in a round: to whom, for which project, and its stored file."""

    submission_id: str
    round_id: int
    department_code: str
    department: str
    project: str | None
    file: str | None = None
    file_id: int | None = None
    signature: str | None = None  # the signature it was issued with (None: issued unsigned)


class RosterLine(msgspec.Struct):
    """One line of a round's roster, as recorded."""

    line: int
    code: str
    name: str
    contact: str | None = None
    project: str | None = None
    columns: dict[str, str] = msgspec.field(default_factory=dict)
    office: str | None = None  # the 科室 the department is assigned to (归口科室)
    emails: list[str] = msgspec.field(default_factory=list)  # where notices and reminders go


# -- rounds -------------------------------------------------------------------------------------

def create_round(store: Store, model: FormModel, name: str, *, year: int | None = None,
                 deadline: dt.date | None = None, roster_kind: str = "departments",
                 roster_columns: list[str] | None = None, carried_from: int | None = None,
                 created_by: str | None = None, conn: sa.Connection | None = None,
                 stages: list[str] | None = None) -> Round:
    """Record a new round (and publish its form version); refuse a name already taken.  ``stages``:
    its review stages (default one, 审核)."""
    r = store.t.rounds
    values = {"name": name, "form_id": model.id, "form_version": model.version, "year": year,
              "deadline": deadline, "status": OPEN, "roster_kind": roster_kind, "roster_columns": roster_columns,
              "carried_from": carried_from, "created_at": utcnow(), "created_by": created_by,
              "stages": stage_names(stages) or default_stages()}

    def run(c: sa.Connection) -> Round:
        publish_version(store, model, c)
        if c.execute(sa.select(r.c.id).where(r.c.name == name)).first() is not None:
            raise RoundError("round_exists", name=name)
        new_id = c.execute(r.insert().returning(r.c.id), values).scalar_one()
        return Round.of(c.execute(sa.select(r).where(r.c.id == new_id)).one())

    if conn is not None:
        return run(conn)
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
                                    "published_at": utcnow()})

    if conn is not None:
        run(conn)
        return
    with writing(store.engine) as c:
        run(c)


def published_versions(store: Store) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every form version published in this database: (schema, layout)."""
    fv = store.t.form_versions
    with store.engine.connect() as conn:
        return [(row.schema, row.layout) for row in conn.execute(sa.select(fv.c.schema, fv.c.layout))]


def form_titles(store: Store, lang: str = "zh") -> dict[str, str]:
    """The title of every form published in this database (its latest version's), by form id: how
    pages name a round's form (a person reads 项目支出绩效目标申报表, not wuhai-perf-target)."""
    fv = store.t.form_versions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(fv.c.form_id, fv.c.schema).order_by(fv.c.published_at)).all()
    return {form_id: in_language(schema.get("title") or form_id, lang) for form_id, schema in rows}


_VERSIONS_TTL = 30.0
_versions_lock = threading.Lock()
_versions_seen: dict[str, float] = {}


def register_versions(store: Store) -> None:
    """The form versions published in this database, known to this process (re-read every 30 s)."""
    now = time.monotonic()
    if now - _versions_seen.get(store.url, -_VERSIONS_TTL) < _VERSIONS_TTL:
        return
    with _versions_lock:
        for schema, layout in published_versions(store):
            register(schema, layout)
        _versions_seen[store.url] = now


def add_roster(store: Store, conn: sa.Connection, round_id: int, lines: list[RosterLine]) -> dict[int, int]:
    """Record roster lines; return roster id by line number."""
    ro = store.t.roster
    if not lines:
        return {}
    ids = conn.execute(ro.insert().returning(ro.c.id, sort_by_parameter_order=True), [
        {"round_id": round_id, "line": line.line, "code": line.code, "name": line.name, "contact": line.contact,
         "project": line.project, "columns": line.columns, "office": line.office, "emails": line.emails or None}
        for line in lines]).scalars().all()
    return {line.line: rid for line, rid in zip(lines, ids, strict=True)}


def add_issued(store: Store, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(store.t.issued.insert(), [{"issued_at": utcnow(), **row} for row in rows])


def rounds(store: Store, form_id: str | None = None) -> list[Round]:
    """Every round, newest first."""
    r = store.t.rounds
    stmt = sa.select(r).order_by(r.c.created_at.desc(), r.c.id.desc())
    if form_id:
        stmt = stmt.where(r.c.form_id == form_id)
    with store.engine.connect() as conn:
        return [Round.of(row) for row in conn.execute(stmt)]


def get(store: Store, round_id: int) -> Round | None:
    """The round with this id, or None."""
    r = store.t.rounds
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(r).where(r.c.id == round_id)).first()
    return Round.of(row) if row is not None else None


def get_in(store: Store, conn: sa.Connection, round_id: int) -> Round | None:
    """The round with this id, read inside the caller's transaction."""
    r = store.t.rounds
    row = conn.execute(sa.select(r).where(r.c.id == round_id)).first()
    return Round.of(row) if row is not None else None


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


def chosen(store: Store, name: str | None) -> Round:
    """The round named, else the only or latest open one, else the newest; an error when there is none."""
    if name:
        return find_round(store, name)
    found = rounds(store)
    rnd = default_round(found, None) or next(iter(found), None)
    if rnd is None:
        raise RoundError("no_round")
    return rnd


def set_status(store: Store, name: str | int, status: str, actor: str | None = None,
               address: str | None = None) -> Round:
    """Close or reopen a round."""
    rnd = find_round(store, name)
    r = store.t.rounds
    with writing(store.engine) as conn:
        conn.execute(r.update().where(r.c.id == rnd.id).values(
            status=status, closed_at=utcnow() if status == CLOSED else None))
        events.log(store, conn, "close_round" if status == CLOSED else "reopen_round", actor=actor,
                   round_id=rnd.id, address=address)
    return find_round(store, rnd.id)


def has_returns(store: Store, round_id: int) -> bool:
    """Whether any return of the round is stored (withdrawn ones and files of no department too)."""
    s = store.submissions
    with store.engine.connect() as conn:
        return conn.execute(sa.select(s.c.id).where(s.c.round_id == round_id).limit(1)).first() is not None


def delete(store: Store, rnd: Round, actor: str | None, address: str | None = None) -> int:
    """Delete a round that has no returns yet, made by mistake: its roster, templates (and their
    files), links, and the package not yet taken; the audit log keeps its lines and one more.
    Refused (:class:`RoundError`) when a return of the round is stored (withdrawn ones too), a bulk
    import of it is still waiting or running, or a later round carries projects from it.  How many
    roster departments it had."""
    r, ro, i, k, j, ev, s = (store.t.rounds, store.t.roster, store.t.issued, store.t.links, store.t.jobs,
                             store.t.events, store.submissions)
    with writing(store.engine) as conn:
        if conn.execute(sa.select(r.c.id).where(r.c.id == rnd.id).with_for_update()).first() is None:
            raise RoundError("round_unknown", name=rnd.name, known=rnd.name)
        # the links first: an upload through one of them, at this moment, waits for this transaction
        # and then fails (its quota row needs the link), or it came first and is counted below
        conn.execute(store.t.link_usage.delete().where(store.t.link_usage.c.link_id.in_(
            sa.select(k.c.id).where(k.c.round_id == rnd.id))))
        conn.execute(k.delete().where(k.c.round_id == rnd.id))
        stored = conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.round_id == rnd.id)).scalar_one()
        if stored:
            raise RoundError("round_has_returns", name=rnd.name, n=stored)
        if conn.execute(sa.select(j.c.id).where(j.c.round_id == rnd.id, j.c.status.in_(("queued", "running")))
                        ).first() is not None:
            raise RoundError("round_busy", name=rnd.name)
        later = conn.execute(sa.select(r.c.name).where(r.c.carried_from == rnd.id)).scalars().first()
        if later is not None:
            raise RoundError("round_carried_into", name=rnd.name, later=later)
        departments = conn.execute(sa.select(sa.func.count(sa.distinct(ro.c.code))).where(ro.c.round_id == rnd.id)
                                   ).scalar_one()
        template_files = conn.execute(sa.select(i.c.file_id).where(i.c.round_id == rnd.id,
                                                                   i.c.file_id.is_not(None))).scalars().all()
        packages = [e.get("file_id") for e in conn.execute(sa.select(ev.c.detail).where(
            ev.c.round_id == rnd.id, ev.c.action.in_(("package_ready", "relink_round")))).scalars() if e]
        conn.execute(i.delete().where(i.c.round_id == rnd.id))
        conn.execute(ro.delete().where(ro.c.round_id == rnd.id))
        conn.execute(j.delete().where(j.c.round_id == rnd.id))
        conn.execute(r.delete().where(r.c.id == rnd.id))
        f = store.t.files
        conn.execute(f.delete().where(f.c.id.in_(template_files), f.c.kind == files.TEMPLATE))
        conn.execute(f.delete().where(f.c.id.in_([p for p in packages if isinstance(p, int)]),
                                      f.c.kind == files.PACKAGE))
        events.log(store, conn, "delete_round", actor=actor, round_id=rnd.id, address=address,
                   detail={"name": rnd.name, "departments": departments, "templates": len(template_files)})
    return int(departments)


def roster_of(store: Store, round_id: int, code: str | None = None) -> list[RosterLine]:
    """The round's roster (of one department when ``code`` is given), in the roster's order."""
    ro = store.t.roster
    stmt = sa.select(ro).where(ro.c.round_id == round_id)
    if code is not None:
        stmt = stmt.where(ro.c.code == code)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(ro.c.line)).all()
    return [RosterLine(line=r.line, code=r.code, name=r.name, contact=r.contact, project=r.project,
                       columns=r.columns or {}, office=r.office,
                       emails=list(r.emails or [])) for r in rows]


def offices(store: Store, round_id: int) -> dict[str, str | None]:
    """The 科室 each department of the round's roster is assigned to (None: to none)."""
    ro = store.t.roster
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ro.c.code, ro.c.office).where(ro.c.round_id == round_id)
                            .order_by(ro.c.line)).all()
    out: dict[str, str | None] = {}
    for code, office in rows:
        if out.get(code) is None:
            out[code] = office
    return out


def emails_of(store: Store, round_id: int, code: str, conn: sa.Connection | None = None) -> list[str]:
    """The department's e-mail addresses in a round (of all its roster lines, each once)."""
    ro = store.t.roster
    stmt = sa.select(ro.c.emails).where(ro.c.round_id == round_id, ro.c.code == code).order_by(ro.c.line)
    if conn is None:
        with store.engine.connect() as c:
            found = c.execute(stmt).scalars().all()
    else:
        found = conn.execute(stmt).scalars().all()
    out: list[str] = []
    for emails in found:
        out += [e for e in emails or [] if e.lower() not in {o.lower() for o in out}]
    return out


def set_emails(store: Store, round_id: int, code: str, text: str, actor: str | None,
               address: str | None = None, lang: str = "zh") -> list[str]:
    """Correct a department's e-mail addresses (every roster line of it); :class:`RoundError` naming
    what is no address.  The addresses now."""
    good, bad = addresses(text)
    if bad:
        raise RoundError("emails_bad", found="、".join(bad))
    ro = store.t.roster
    with writing(store.engine) as conn:
        before = emails_of(store, round_id, code, conn)
        n = conn.execute(ro.update().where(ro.c.round_id == round_id, ro.c.code == code)
                         .values(emails=good or None)).rowcount
        if not n:
            raise RoundError("not_on_roster", code=code, name=round_id)
        events.log(store, conn, "set_emails", actor=actor, round_id=round_id, department_code=code,
                   detail={"before": before, "after": good}, address=address)
    return good


def templates_of(store: Store, round_id: int, code: str | None = None) -> list[IssuedTemplate]:
    """The templates issued in a round (to one department when ``code`` is given), by file name."""
    i = store.t.issued
    stmt = sa.select(i.c.submission_id, i.c.round_id, i.c.department_code, i.c.department, i.c.project, i.c.file,
                     i.c.file_id, i.c.signature).where(i.c.round_id == round_id)
    if code is not None:
        stmt = stmt.where(i.c.department_code == code)
    with store.engine.connect() as conn:
        return [IssuedTemplate(*row) for row in conn.execute(stmt.order_by(i.c.file))]


def template_counts(store: Store, round_id: int) -> tuple[int, int]:
    """How many templates the round issued, and to how many departments (one statement)."""
    i = store.t.issued
    with store.engine.connect() as conn:
        n, departments = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(i.c.department_code)))
                                      .where(i.c.round_id == round_id)).one()
    return n, departments


def template_file(store: Store, round_id: int, code: str, submission_id: str) -> files.StoredFile | None:
    """The stored file of a template issued to department ``code`` in the round (else None)."""
    found = next((x for x in templates_of(store, round_id, code) if x.submission_id == submission_id), None)
    return files.get(store, found.file_id) if found is not None and found.file_id is not None else None


def keep_package(store: Store, rnd: Round, content: bytes, name: str, actor: str | None,
                 address: str | None = None) -> int:
    """Keep the package made when a round was created (templates and the list of links) until it is
    taken; its file id."""
    with writing(store.engine) as conn:
        fid = files.put(store, conn, content, name, files.PACKAGE)
        events.log(store, conn, "package_ready", actor=actor, round_id=rnd.id, detail={"file_id": fid},
                   address=address)
    return fid


def take_package(store: Store, rnd: Round, file_id: int, actor: str | None,
                 address: str | None = None) -> files.StoredFile | None:
    """The round's package, deleted as it is taken (it holds the links, kept nowhere else)."""
    stored = files.get(store, file_id)
    if stored is None or stored.kind != files.PACKAGE:
        return None
    with writing(store.engine) as conn:
        files.delete(store, conn, stored.id)
        events.log(store, conn, "download", actor=actor, round_id=rnd.id,
                   detail={"file": stored.name, "what": "package"}, address=address)
    return stored


def round_of_template(store: Store, submission_id: str) -> Round:
    """The round a template was issued in."""
    i, r = store.t.issued, store.t.rounds
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(r).join(i, i.c.round_id == r.c.id).where(i.c.submission_id == submission_id)
                           ).first()
    if row is None:
        raise RoundError("no_round")
    return Round.of(row)
