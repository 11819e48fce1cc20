"""Where each department stands in a round, and everything about one department on one page.

A department is, most urgent first: 未报送 with no current return, 有错误 when any of its current
returns is invalid, 无法读取 when any is unreadable, 已退回 when a reviewer sent any back, 待审核
when any waits for a review, otherwise 审核通过 (:mod:`.reviews`); with the count of its returns
in each state (a department with several projects).  Departments not on the roster that sent
something into the round follow the roster's.  Files that tell no department
(a template never issued, a forged one, a file of no template from the mail) are no department's:
they wait for staff under 未识别的文件 (:func:`unrecognized`), counted apart.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from . import events, links
from .returns import Return, query, state_of
from .rounds import IssuedTemplate, Round, roster_of, templates_of
from .rounds import rounds as rounds_of
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

#: Where a department stands, most urgent first when it has several returns.
NOT_RETURNED, INVALID, UNREADABLE = "not_returned", "invalid", "unreadable"
RETURNED, PENDING, APPROVED = "returned", "pending", "approved"
STATES = (NOT_RETURNED, INVALID, UNREADABLE, RETURNED, PENDING, APPROVED)
REFUSED_PAGE = 50


class Counts(msgspec.Struct, kw_only=True):
    """A department's current returns in each state."""

    invalid: int = 0
    unreadable: int = 0
    returned: int = 0
    pending: int = 0
    approved: int = 0


class DepartmentStatus(msgspec.Struct, kw_only=True):
    """One line of a round's status: a department and where it stands."""

    code: str
    name: str
    contact: str | None
    status: str  # not_returned | invalid | unreadable | returned | pending | approved
    returns: int  # current copies, not withdrawn
    counts: Counts  # of them, in each state
    last_sent: dt.datetime | None
    in_roster: bool = True
    office: str | None = None  # the 科室 it is assigned to (归口科室)


class Totals(msgspec.Struct, kw_only=True):
    """A round's counts: the roster's departments by where they stand, and returns."""

    departments: int
    sent: int  # departments that sent something (the others are not_returned)
    not_returned: int
    invalid: int
    unreadable: int
    returned: int
    pending: int
    approved: int
    returns: int
    approved_returns: int
    unrecognized: int = 0  # files of no department waiting for staff to assign or discard


class Status(msgspec.Struct, kw_only=True):
    """Where a round stands: ``xltemplate status --json`` and the API's status of a round."""

    round: Round
    departments: list[DepartmentStatus]
    totals: Totals


class Department(msgspec.Struct, kw_only=True):
    """Everything staff see on a department's page."""

    code: str
    name: str
    contact: str | None
    status: DepartmentStatus | None
    returns: list[Return]  # every copy, history included
    office: str | None = None
    history: dict[int, list[events.Event]]  # by return id
    refused: list[events.Event]  # uploads refused at its link, newest first (a page)
    more_refused: int | None  # the id to page on from, when there are more
    templates: list[IssuedTemplate]
    link: dict[str, Any] | None


def status(store: Store, rnd: Round) -> list[DepartmentStatus]:
    """One line per roster department (in roster order), then departments not on the roster that
    sent something into the round, then files of no department."""
    s, ro = store.submissions, store.t.roster
    live = sa.and_(s.c.round_id == rnd.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None))
    with store.engine.connect() as conn:
        roster = conn.execute(sa.select(ro.c.code, ro.c.name, ro.c.contact, ro.c.office, ro.c.line)
                              .where(ro.c.round_id == rnd.id).order_by(ro.c.line)).all()
        counts = conn.execute(sa.select(s.c.department_code, s.c.status, s.c.review, sa.func.count())
                              .where(live).group_by(s.c.department_code, s.c.status, s.c.review)).all()
        last = dict(conn.execute(sa.select(s.c.department_code, sa.func.max(s.c.received_at))
                                 .where(s.c.round_id == rnd.id).group_by(s.c.department_code)).all())
        names = dict(conn.execute(sa.select(s.c.department_code, sa.func.max(s.c.department))
                                  .where(s.c.round_id == rnd.id).group_by(s.c.department_code)).all())
    by_code: dict[str | None, dict[str, int]] = {}
    for code, st, review, n in counts:
        state = state_of(st, review)
        by_code.setdefault(code, {})[state] = by_code.get(code, {}).get(state, 0) + n
    out: list[DepartmentStatus] = []
    seen: set[str] = set()
    for code, name, contact, office, _line in roster:
        if code in seen:  # a roster of projects lists a department once per project
            continue
        seen.add(code)
        out.append(_status_line(code, name, contact, by_code.get(code, {}), last.get(code), office=office))
    for code in sorted(c for c in by_code if c not in seen and c is not None):
        out.append(_status_line(code, names.get(code) or code, None, by_code[code], last.get(code), False))
    return out


def _status_line(code: str, name: str, contact: str | None, counts: dict[str, int], last: Any,
                 in_roster: bool = True, office: str | None = None) -> DepartmentStatus:
    total = sum(counts.values())
    st = next((k for k in STATES[1:] if counts.get(k)), NOT_RETURNED)  # the most urgent state of any return
    return DepartmentStatus(code=code, name=name, contact=contact, status=st, returns=total,
                            counts=Counts(**{k: counts.get(k, 0) for k in STATES[1:]}), last_sent=utc(last),
                            in_roster=in_roster, office=office)


def totals(lines: list[DepartmentStatus], unrecognized: int = 0) -> Totals:
    """Departments of the roster by status, and their returns."""
    roster = [d for d in lines if d.in_roster]
    by = {k: sum(1 for d in roster if d.status == k) for k in STATES}
    return Totals(departments=len(roster), sent=len(roster) - by[NOT_RETURNED],
                  returns=sum(d.returns for d in lines), approved_returns=sum(d.counts.approved for d in lines),
                  unrecognized=unrecognized, **by)


def unrecognized(store: Store, rnd: Round) -> list[Return]:
    """The round's files that tell no department and wait for staff (未识别的文件), oldest first."""
    return query(store, round_id=rnd.id, department=None, no_department=True, withdrawn=False, by_id=True)


def round_totals(store: Store, rnd: Round, lines: list[DepartmentStatus] | None = None) -> Totals:
    """A round's totals, the files waiting under 未识别的文件 counted too."""
    return totals(status(store, rnd) if lines is None else lines, count_unrecognized(store, rnd))


def count_unrecognized(store: Store, rnd: Round) -> int:
    s = store.submissions
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(
            s.c.round_id == rnd.id, s.c.department_code.is_(None), s.c.is_current.is_(True),
            s.c.withdrawn_at.is_(None))).scalar_one())


def round_status(store: Store, rnd: Round) -> Status:
    lines = status(store, rnd)
    return Status(round=rnd, departments=lines, totals=round_totals(store, rnd, lines))


def one(store: Store, rnd: Round, code: str) -> DepartmentStatus | None:
    """Where one department stands (None when it is neither on the roster nor sent anything)."""
    return next((d for d in status(store, rnd) if d.code == code), None)


def detail(store: Store, rnd: Round, code: str, *, refused_before: int | None = None) -> Department | None:
    """A department's page: its returns with their history and errors, the uploads refused at its
    link (a page at a time, newest first), its templates and its link; None when the round has no
    such department and nothing came from it."""
    roster = roster_of(store, rnd.id, code)
    found = query(store, round_id=rnd.id, department=code, history=True, with_scans=True)
    if not roster and not found:
        return None
    name = roster[0].name if roster else (found[0].department or code)
    ids = [r.id for r in found if r.id is not None]
    history: dict[int, list[events.Event]] = {}
    if ids:
        for e in sorted(events.page(store, round_id=rnd.id, submissions=ids, limit=10_000), key=lambda e: (e.at, e.id)):
            if e.submission is not None:
                history.setdefault(e.submission, []).append(e)
    refused = events.page(store, round_id=rnd.id, actions=("upload_refused",), department=code,
                          before=refused_before, limit=REFUSED_PAGE + 1)
    more = refused[REFUSED_PAGE - 1].id if len(refused) > REFUSED_PAGE else None
    return Department(code=code, name=name, contact=roster[0].contact if roster else None,
                      status=one(store, rnd, code), returns=found, history=history, refused=refused[:REFUSED_PAGE],
                      more_refused=more, templates=templates_of(store, rnd.id, code),
                      link=links.live(store, rnd.id, code), office=roster[0].office if roster else None)


class WarningCount(msgspec.Struct, kw_only=True):
    """One warning rule of a round's current returns: how many returns it concerns, how often."""

    code: str
    message: str
    returns: int
    times: int


def _warnings_stamp(store: Store, conn: sa.Connection, round_id: int) -> tuple[Any, ...]:
    """What changes whenever the round's current returns do: how many copies it holds, the newest,
    and which are withdrawn (one indexed statement)."""
    s = store.submissions
    withdrawn = sa.case((s.c.withdrawn_at.is_not(None), s.c.id), else_=0)
    return tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(s.c.id), sa.func.sum(withdrawn))
                              .where(s.c.round_id == round_id)).one())


def frequent_warnings(store: Store, rnd: Round, limit: int = 10) -> list[WarningCount]:
    """The warnings (提示) of the round's current returns, most frequent first (how often in all, then
    in how many returns): counted by the database in one statement, each return's list of warnings
    taken apart there (SQLite's ``json_each``, PostgreSQL's ``jsonb_array_elements``), so a round of
    thousands of returns sends ten rows, not every warning.  Kept per process until the round's
    copies change (:func:`_warnings_stamp`): a dashboard opened again costs one small statement."""
    s = store.submissions
    cache: dict[tuple[int, int], tuple[tuple[Any, ...], list[WarningCount]]] = store.memo.setdefault("warnings", {})
    with store.engine.connect() as conn:
        stamp = _warnings_stamp(store, conn, rnd.id)
        kept = cache.get((rnd.id, limit))
        if kept is not None and kept[0] == stamp:  # nothing came, went or was withdrawn since
            return kept[1]
        if conn.dialect.name == "postgresql":
            item = sa.func.jsonb_array_elements(s.c.warnings).table_valued("value")
            code, message = item.c.value.op("->>")("code"), item.c.value.op("->>")("message")
        else:
            item = sa.func.json_each(s.c.warnings).table_valued("value")
            code = sa.func.json_extract(item.c.value, "$.code")
            message = sa.func.json_extract(item.c.value, "$.message")
        code, message = sa.func.coalesce(code, ""), sa.func.coalesce(message, "")
        times, returns = sa.func.count().label("times"), sa.func.count(sa.distinct(s.c.id)).label("returns")
        rows = conn.execute(
            sa.select(code.label("code"), message.label("message"), times, returns).select_from(s.join(item, sa.true()))
            .where(s.c.round_id == rnd.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None),
                   s.c.warnings.is_not(None))
            .group_by(code, message).order_by(times.desc(), returns.desc(), code, message).limit(limit)).all()
    found = [WarningCount(code=r.code, message=r.message, returns=r.returns, times=r.times) for r in rows]
    cache[(rnd.id, limit)] = (stamp, found)
    return found


def named(store: Store, round_id: int | None = None) -> list[tuple[str, str]]:
    """The departments of the rosters (of round ``round_id``): (code, name) by code, each code once."""
    ro = store.t.roster
    stmt = sa.select(ro.c.code, sa.func.max(ro.c.name)).group_by(ro.c.code).order_by(ro.c.code)
    if round_id is not None:
        stmt = stmt.where(ro.c.round_id == round_id)
    with store.engine.connect() as conn:
        return [(code, name) for code, name in conn.execute(stmt)]


def overview(store: Store) -> list[tuple[Round, Totals]]:
    """Every round, newest first, with its totals."""
    return [(rnd, round_totals(store, rnd)) for rnd in rounds_of(store)]
