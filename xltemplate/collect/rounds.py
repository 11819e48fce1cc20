"""Collection rounds: a round, its roster, the templates issued in it, and its state.

A **round** is one collection of one form: a name, the form and its version, the budget year, a
deadline, the roster (one line per department, or per project) and every template issued to it
(:func:`create_round`, called by ``distribute``).  The CLI, the portal's pages and its API all
read and change rounds through the functions here; which return belongs to which round is
:mod:`xltemplate.collect.identity`'s, where each department stands :mod:`.departments`'.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..form.model import FormModel
from ..messages import t
from . import events, files
from .db import utcnow, writing
from .mail import addresses
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

OPEN, CLOSED = "open", "closed"


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

    @classmethod
    def of(cls, row: Any) -> Round:
        return cls(id=row.id, name=row.name, form_id=row.form_id, form_version=row.form_version, year=row.year,
                   deadline=row.deadline, status=row.status, roster_kind=row.roster_kind,
                   created_at=utc(row.created_at), carried_from=row.carried_from, closed_at=utc(row.closed_at))


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
    emails: list[str] = msgspec.field(default_factory=list)  # where notices and reminders go


# -- rounds -------------------------------------------------------------------------------------

def create_round(store: Store, model: FormModel, name: str, *, year: int | None = None,
                 deadline: dt.date | None = None, roster_kind: str = "departments",
                 roster_columns: list[str] | None = None, carried_from: int | None = None,
                 created_by: str | None = None, conn: sa.Connection | None = None) -> Round:
    """Record a new round (and publish its form version); refuse a name already taken."""
    r = store.t.rounds
    values = {"name": name, "form_id": model.id, "form_version": model.version, "year": year,
              "deadline": deadline, "status": OPEN, "roster_kind": roster_kind, "roster_columns": roster_columns,
              "carried_from": carried_from, "created_at": utcnow(), "created_by": created_by}

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
    from ..form.schema import text

    fv = store.t.form_versions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(fv.c.form_id, fv.c.schema).order_by(fv.c.published_at)).all()
    return {form_id: text(schema.get("title") or form_id, lang) for form_id, schema in rows}


def add_roster(store: Store, conn: sa.Connection, round_id: int, lines: list[RosterLine]) -> dict[int, int]:
    """Record roster lines; return roster id by line number."""
    ro = store.t.roster
    if not lines:
        return {}
    ids = conn.execute(ro.insert().returning(ro.c.id, sort_by_parameter_order=True), [
        {"round_id": round_id, "line": line.line, "code": line.code, "name": line.name, "contact": line.contact,
         "project": line.project, "columns": line.columns, "emails": line.emails or None}
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


def roster_of(store: Store, round_id: int, code: str | None = None) -> list[RosterLine]:
    """The round's roster (of one department when ``code`` is given), in the roster's order."""
    ro = store.t.roster
    stmt = sa.select(ro).where(ro.c.round_id == round_id)
    if code is not None:
        stmt = stmt.where(ro.c.code == code)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(ro.c.line)).all()
    return [RosterLine(line=r.line, code=r.code, name=r.name, contact=r.contact, project=r.project,
                       columns=r.columns or {}, emails=list(r.emails or [])) for r in rows]


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
