"""The audit log: who did what, when, from where; one line per change, written in the same
transaction as the change itself, and read back a page at a time, each line said as a sentence a
person reads (:func:`sentence`: "3月2日 10:15 张三 撤回了 市信访局 的报送 #17：测试用的副本"), with the
department and the round by their names, never a stored key."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..messages import CATALOG, t
from .db import utcnow, writing
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

PAGE = 100
LINK_ACTOR = "link:{code}"  # the actor of what a department did through its link


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
    department: str | None = None  # its name: the round's roster, else the return's
    detail: dict[str, Any] | None = None
    address: str | None = None


_EVENT_KEYS = ("at", "actor", "action", "round_id", "submission", "department_code", "detail", "address")


def log(store: Store, conn: sa.Connection, action: str, *, actor: str | None = None, round_id: int | None = None,
        submission: int | None = None, department_code: str | None = None, detail: dict[str, Any] | None = None,
        address: str | None = None) -> None:
    """One line of the audit log, inside the caller's transaction (``department_code``: the
    department it concerns, for the department's page and the log's filter)."""
    store.direct("events.insert", store.t.events.insert, _EVENT_KEYS)(conn, {
        "at": utcnow(), "actor": actor, "action": action, "round_id": round_id, "submission": submission,
        "department_code": department_code, "detail": detail, "address": address})


def record(store: Store, action: str, **kw: Any) -> None:
    """One line of the audit log in a transaction of its own (an act that changes nothing else:
    a download, a login)."""
    with writing(store.engine) as conn:
        log(store, conn, action, **kw)


def _event(row: Any) -> Event:
    return Event(id=row.id, at=utc(row.at), actor=row.actor, action=row.action, round_id=row.round_id,
                 round_name=getattr(row, "round_name", None), submission=row.submission,
                 department_code=row.department_code, department=getattr(row, "department", None),
                 detail=row.detail, address=row.address)


def page(store: Store, *, before: int | None = None, round_id: int | None = None,
         submissions: list[int] | None = None, actions: tuple[str, ...] = (), department: str | None = None,
         limit: int = PAGE) -> list[Event]:
    """The newest events first (older than event ``before``), of a round, of some returns, of some
    actions, of a department (by the code in their detail or of their return)."""
    ev, r, s, ro = store.t.events, store.t.rounds, store.submissions, store.t.roster
    in_round = (sa.select(sa.func.max(ro.c.name))
                .where(ro.c.round_id == ev.c.round_id, ro.c.code == ev.c.department_code).scalar_subquery())
    of_return = sa.select(sa.func.max(s.c.department)).where(s.c.id == ev.c.submission).scalar_subquery()
    anywhere = sa.select(sa.func.max(ro.c.name)).where(ro.c.code == ev.c.department_code).scalar_subquery()
    name = sa.func.coalesce(in_round, of_return, anywhere).label("department")
    stmt = sa.select(ev, r.c.name.label("round_name"), name).select_from(ev.outerjoin(r, r.c.id == ev.c.round_id))
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


# -- the log in sentences ------------------------------------------------------------------------

def when(at: dt.datetime, lang: str = "zh", now: dt.datetime | None = None) -> str:
    """A time as a sentence says it, in this machine's local time: 3月2日 10:15 (with the year when
    it is not this year's)."""
    local = at.astimezone() if at.tzinfo is not None else at.replace(tzinfo=dt.UTC).astimezone()
    this_year = (now or dt.datetime.now().astimezone()).year
    return t("event_time" if local.year == this_year else "event_time_year", lang, year=local.year,
             month=local.month, day=local.day, time=local.strftime("%H:%M"))


def _who(ev: Event, lang: str) -> str:
    """Who acted: a staff account by its name, a department's link by the department's name."""
    actor, prefix = ev.actor or "", LINK_ACTOR.format(code="")
    if actor.startswith(prefix):
        code = actor[len(prefix):]
        if code == ev.department_code and ev.department:
            return ev.department
        return t("event_link_of", lang, code=code)
    return actor or t("event_nobody", lang)


def _status(status: Any, lang: str) -> str:
    key = f"event_status_{status}"
    return t(key, lang) if key in CATALOG else t("event_status_unknown", lang)


def _mail_kind(kind: Any, lang: str) -> str:
    key = f"msg_kind_{kind}"
    return t(key, lang) if key in CATALOG else t("event_mail_other", lang)


def sentence(ev: Event, lang: str = "zh", now: dt.datetime | None = None) -> str:
    """One line of the log as a sentence: its catalog entry ``event_<action>`` (an upload's by how it
    came: ``event_upload_link``, ``_bulk``, ``_other``), given the time, who, the department and the
    round by name, the file, the return and what the line's detail holds."""
    d = ev.detail if isinstance(ev.detail, dict) else {}
    replaced = [f"#{i}" for i in d.get("replaces") or [] if isinstance(i, int)]
    files = d.get("files") if isinstance(d.get("files"), list) else []
    params: dict[str, Any] = {
        "at": when(ev.at, lang, now), "who": _who(ev, lang), "round": ev.round_name or t("event_no_round", lang),
        "department": ev.department or ev.department_code or t("event_no_department", lang),
        "id": ev.submission if ev.submission is not None else "—", "file": d.get("file") or "—",
        "status": _status(d.get("status"), lang), "reason": d.get("reason") or "—", "job": d.get("job") or "—",
        "n": len(files) if files else d.get("templates", 0), "roster": d.get("roster", 0),
        "name": d.get("name") or "—", "token": d.get("id") or "—", "message": d.get("message") or "",
        "links": d.get("links", 0), "revoked": d.get("revoked", 0), "departments": d.get("departments", 0),
        "count": len(d["departments"]) if isinstance(d.get("departments"), list) else d.get("departments", 0),
        "to": t("list_sep", lang).join(str(x) for x in d.get("to") or []) or "—", "answer": d.get("answer") or "—",
        "attempts": d.get("attempts", 0), "mail_kind": _mail_kind(d.get("kind"), lang),
        "emails": t("list_sep", lang).join(str(x) for x in d.get("after") or []) or t("event_no_emails", lang),
        "plan": t("list_sep", lang).join(str(x) for x in (d.get("plan") or [])) or "—",
        "scan_kind": str(d.get("kind") or "—").upper(), "code": d.get("code") or "—",
        "url": d.get("base_url") or t("event_no_address", lang),
        "replaces": t("event_replaces", lang, ids=t("list_sep", lang).join(replaced)) if replaced else "",
        "stage": d.get("stage_name") or "—", "role": d.get("role") or "—",
        "decision": t("decision_" + d["decision"], lang) if d.get("decision") in ("approved", "returned") else "—",
        "grade": t("event_grade", lang, grade=d["grade"]) if d.get("grade") else "",
        "reasons": "".join(t("event_reason", lang, label=r.get("label") or t("whole_return", lang),
                             cell=r.get("cell") or "—", text=r.get("text") or "")
                           for r in d.get("reasons") or [] if isinstance(r, dict))}
    key = f"event_{ev.action}"
    if ev.action == "upload":
        key += "_" + (d.get("via") if d.get("via") in ("link", "bulk") else "other")
    elif ev.action in ("mail_sent", "mail_failed") and not ev.department_code:  # a reviewer's digest
        key += "_person"
    elif ev.action == "login_failed" and d.get("throttled"):
        key = "event_login_throttled"
    if key not in CATALOG:
        label = f"action_{ev.action}"
        key, params["what"] = "event_other", t(label, lang) if label in CATALOG else t("event_unknown", lang)
    return t(key, lang, **params)
