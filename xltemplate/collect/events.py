"""The audit log: who did what, when, from where; one line per change, written in the same
transaction as the change itself, and read back a page at a time."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from .db import utcnow, writing
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

PAGE = 200


class Event(msgspec.Struct, kw_only=True):
    """One line of the audit log."""

    id: int
    at: dt.datetime
    actor: str | None
    action: str
    round_id: int | None
    round_name: str | None = None
    submission: int | None = None
    department_code: str | None = None
    detail: dict[str, Any] | None = None
    address: str | None = None


def log(store: Store, conn: sa.Connection, action: str, *, actor: str | None = None, round_id: int | None = None,
        submission: int | None = None, department_code: str | None = None, detail: dict[str, Any] | None = None,
        address: str | None = None) -> None:
    """One line of the audit log, inside the caller's transaction (``department_code``: the
    department it concerns, for the department's page and the log's filter)."""
    conn.execute(store.prepared("events.insert", store.t.events.insert),
                 {"at": utcnow(), "actor": actor, "action": action, "round_id": round_id, "submission": submission,
                  "department_code": department_code, "detail": detail, "address": address})


def record(store: Store, action: str, **kw: Any) -> None:
    """One line of the audit log in a transaction of its own (an act that changes nothing else:
    a download, a login)."""
    with writing(store.engine) as conn:
        log(store, conn, action, **kw)


def _event(row: Any) -> Event:
    return Event(id=row.id, at=utc(row.at), actor=row.actor, action=row.action, round_id=row.round_id,
                 round_name=getattr(row, "round_name", None), submission=row.submission,
                 department_code=row.department_code, detail=row.detail,
                 address=row.address)


def page(store: Store, *, before: int | None = None, round_id: int | None = None,
         submissions: list[int] | None = None, actions: tuple[str, ...] = (), department: str | None = None,
         limit: int = PAGE) -> list[Event]:
    """The newest events first (older than event ``before``), of a round, of some returns, of some
    actions, of a department (by the code in their detail or of their return)."""
    ev, r, s = store.t.events, store.t.rounds, store.submissions
    stmt = sa.select(ev, r.c.name.label("round_name")).select_from(ev.outerjoin(r, r.c.id == ev.c.round_id))
    if before is not None:
        stmt = stmt.where(ev.c.id < before)
    if round_id is not None:
        stmt = stmt.where(ev.c.round_id == round_id)
    if submissions is not None:
        stmt = stmt.where(ev.c.submission.in_(submissions))
    if actions:
        stmt = stmt.where(ev.c.action.in_(actions))
    if department is not None:
        stmt = stmt.where(sa.or_(ev.c.department_code == department,
                                 ev.c.submission.in_(sa.select(s.c.id).where(s.c.department_code == department))))
    with store.engine.connect() as conn:
        return [_event(row) for row in conn.execute(stmt.order_by(ev.c.id.desc()).limit(limit))]


def of_return(store: Store, submission: int) -> list[Event]:
    """Everything that happened to one return, oldest first."""
    return sorted(page(store, submissions=[submission], limit=10_000), key=lambda e: (e.at, e.id))
