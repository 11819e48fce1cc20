"""催报: reminding the departments that have not returned, or must correct, before the deadline.

**Who.** A roster department that is 未报送, 有错误, 无法读取 (what it sent cannot be read: it
must send again) or 已退回 (a reviewer sent a return back), as :func:`departments.status` says.

**When.** A round's plan (:attr:`notices.Reach.plan`; default 3 days before the deadline and the
deadline day itself) names the days; on each, from :data:`REMIND_HOUR` o'clock (the server's local
time, 9 by default), every server process whose mail is configured checks every
:data:`CHECK_EVERY` seconds (:class:`Scheduler`) and ``xltemplate remind`` sends what is due when
cron or a systemd timer runs it.  Staff can remind a chosen set at once from the dashboard
(:func:`send_now`).

**Once.** Each reminder is claimed first: a row of ``mail_claims`` keyed by kind, round,
department and day, in the same transaction as the message it queues.  The key refuses a second
claim whichever process makes it, so with several servers on one database, and ``remind`` run
beside them, a department is reminded once a day (staff sending one by hand is a kind of its own,
also once a day).

**Without mail** the 催报清单 (:func:`chase_list`) lists the departments chosen, with what each must
do, a link of its own and a message ready to paste into a chat group; the department's page
offers the same message with a copy button (:func:`chase_text`).

**The reviewers' digest** (:func:`digests`): once a day, from the same hour, every live account
with an e-mail address that may decide reviews (``users email``) is sent the list of returns
waiting for it: pending, in an open round, of the departments of its 科室, at a stage it holds
(:func:`xltemplate.collect.reviews.may_decide`).  Nothing waiting, nothing sent.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa
import xlsxwriter

from ..messages import CATALOG, t
from ..xlsx.writer import FONT, display_width
from . import accounts, departments, events, links, notices, returns, reviews, rounds
from .db import writing
from .departments import DepartmentStatus
from .rounds import OPEN, Round

if TYPE_CHECKING:
    from .store import Store

#: where a department stands when it is reminded
REMIND_STATES = (departments.NOT_RETURNED, departments.INVALID, departments.UNREADABLE, "returned")
REMIND_HOUR = int(os.environ.get("XLTEMPLATE_REMIND_HOUR", "9"))
CHECK_EVERY = float(os.environ.get("XLTEMPLATE_REMIND_EVERY", "300"))
MAX_WHAT = 5  # returns told of per department in a reminder


def now_local() -> dt.datetime:
    """Now, on this machine's clock (reminders follow the bureau's day)."""
    return dt.datetime.now().astimezone()


def today() -> dt.date:
    return now_local().date()


class Line(msgspec.Struct, kw_only=True):
    """One department of a reminder run: to whom, what, and what became of it."""

    round: str
    code: str
    name: str
    status: str
    recipients: list[str]
    what: list[str]
    outcome: str  # queued | sent | retrying | failed | already | no_email | not_configured | would_send
    message: int | None = None
    answer: str | None = None

    def said(self, lang: str = "zh") -> str:
        """The line ``remind`` prints."""
        to = "、".join(self.recipients) or t("remind_no_address", lang)
        why = t("remind_outcome_" + self.outcome, lang, answer=self.answer or "")
        return t("remind_line", lang, code=self.code, name=self.name, to=to,
                 what=status_text(self.status, lang), outcome=why)


def status_text(status: str, lang: str = "zh") -> str:
    key = "status_" + status
    return t(key, lang) if key in CATALOG else status


def needing(store: Store, rnd: Round, codes: list[str] | None = None) -> list[DepartmentStatus]:
    """The roster's departments to remind (of ``codes`` when given), in roster order."""
    wanted = set(codes) if codes is not None else None
    return [d for d in departments.status(store, rnd) if d.in_roster and d.status in REMIND_STATES
            and (wanted is None or d.code in wanted)]


def what(store: Store, rnd: Round, code: str, status: str, lang: str = "zh") -> list[str]:
    """What the department must do: send its return, or correct which return where."""
    if status == departments.NOT_RETURNED:
        return [t("chase_not_returned", lang)]
    out = []
    found = [r for r in returns.query(store, round_id=rnd.id, department=code, withdrawn=False)
             if r.status != "valid"]
    for r in found[:MAX_WHAT]:
        project = r.project or t("no_project", lang)
        if r.status in ("invalid", "unreadable") and r.errors:
            first = notices.error_lines(r.errors[:1], 1)[0].strip()
            out.append(t("chase_errors", lang, project=project, n=r.error_count, first=first))
        else:
            out.append(t("chase_status", lang, project=project, status=status_text(r.status, lang)))
    if len(found) > MAX_WHAT:
        out.append(t("chase_more", lang, n=len(found) - MAX_WHAT))
    return out or [t("chase_status", lang, project=t("no_project", lang), status=status_text(status, lang))]


def _when(rnd: Round, day: dt.date, lang: str = "zh") -> str:
    if rnd.deadline is None:
        return t("mail_no_deadline", lang)
    left = (rnd.deadline - day).days
    if left > 0:
        return t("remind_days_left", lang, n=left, deadline=rnd.deadline.isoformat())
    if left == 0:
        return t("remind_today", lang, deadline=rnd.deadline.isoformat())
    return t("remind_overdue", lang, n=-left, deadline=rnd.deadline.isoformat())


def remind(store: Store, rnd: Round, day: dt.date, *, kind: str = notices.REMINDER, codes: list[str] | None = None,
           actor: str | None = None, dry_run: bool = False, address: str | None = None) -> list[Line]:
    """Remind the departments of ``rnd`` that need it (of ``codes`` when given), once each on ``day``."""
    configured = notices.configured(store)
    out = []
    for d in needing(store, rnd, codes):
        to = rounds.emails_of(store, rnd.id, d.code)
        told = what(store, rnd, d.code, d.status)
        line = Line(round=rnd.name, code=d.code, name=d.name, status=d.status, recipients=to, what=told,
                    outcome="queued")
        out.append(line)
        if not to:
            line.outcome = "no_email"
        elif not configured:
            line.outcome = "not_configured"
        elif dry_run:
            line.outcome = "already" if notices.claimed(store, kind, rnd.id, d.code, day) else "would_send"
        else:
            subject = t("remind_subject", round=rnd.name, when=_when(rnd, day))
            body = t("remind_body", department=d.name, round=rnd.name, when=_when(rnd, day),
                     status=status_text(d.status), what="\n".join(f"  · {w}" for w in told), link=notices.LINK_MARK)
            try:
                with writing(store.engine) as conn:
                    notices.claim(store, conn, kind, rnd.id, d.code, day, actor)
                    line.message = notices.queue(store, conn, kind, recipients=to, subject=subject,
                                                 body=body + t("mail_footer"), round_id=rnd.id, code=d.code,
                                                 actor=actor)
                    notices.set_claim(store, conn, kind, rnd.id, d.code, day, line.message)
            except sa.exc.IntegrityError:
                line.outcome = "already"
    if not dry_run and any(line.message for line in out):
        events.record(store, "remind", actor=actor, round_id=rnd.id, address=address,
                      detail={"kind": kind, "day": day.isoformat(),
                              "departments": [line.code for line in out if line.message]})
    return out


def due(store: Store, when: dt.datetime | None = None, round_name: str | None = None) -> list[Round]:
    """The open rounds whose plan names today (from :data:`REMIND_HOUR` on), or the one named."""
    when = when or now_local()
    if when.hour < REMIND_HOUR:
        return []
    found = [rounds.find_round(store, round_name)] if round_name else rounds.rounds(store)
    out = []
    for rnd in found:
        if rnd.status != OPEN or rnd.deadline is None:
            continue
        plan = notices.reach(store, rnd.id)
        if plan.on(notices.REMINDER) and (rnd.deadline - when.date()).days in plan.plan:
            out.append(rnd)
    return out


def run_due(store: Store, *, actor: str | None = notices.SYSTEM, dry_run: bool = False,
            round_name: str | None = None, when: dt.datetime | None = None) -> list[Line]:
    """Every reminder due now, each queued once (``remind`` and the servers' :class:`Scheduler`)."""
    when = when or now_local()
    out: list[Line] = []
    for rnd in due(store, when, round_name):
        out += remind(store, rnd, when.date(), actor=actor, dry_run=dry_run)
    return out


def send_now(store: Store, rnd: Round, codes: list[str], actor: str | None, address: str | None = None) -> list[Line]:
    """Staff remind the departments they ticked (those that need it), at once; once a day each."""
    if rnd.status != OPEN:
        raise rounds.RoundError("remind_closed", name=rnd.name)
    return remind(store, rnd, today(), kind=notices.REMINDER_NOW, codes=codes, actor=actor, address=address)


def settle(store: Store, lines: list[Line], timeout: float = 60.0) -> list[Line]:
    """The lines with what became of their messages, once the queue has tried each (``remind``
    sends them itself, servers may take some; after ``timeout`` a message still queued stays so)."""
    end = time.monotonic() + timeout
    ids = [line.message for line in lines if line.message]
    while True:
        found = {m.id: m for m in notices.of_ids(store, ids)}
        if all(m.status != notices.QUEUED for m in found.values()) or time.monotonic() > end:
            break
        time.sleep(0.2)
    for line in lines:
        m = found.get(line.message or -1)
        if m is not None:
            line.outcome, line.answer = m.status, m.answer
    return lines


# -- without mail: the 催报清单 and one department's message -------------------------------------

def office_of(line: rounds.RosterLine) -> str:
    return line.office or ""


def chase_message(rnd: Round, name: str, status: str, told: list[str], link: str, day: dt.date) -> str:
    """The short message to paste into a chat group."""
    return t("chase_message", department=name, round=rnd.name, when=_when(rnd, day), status=status_text(status),
             what="；".join(told), link=link)


def _link(store: Store, conn: sa.Connection, rnd: Round, code: str, actor: str | None, base: str) -> str:
    token = links.mint(store, conn, rnd.id, code, actor)
    return links.address(token, base) if token else t("mail_link_revoked")


def chase_text(store: Store, rnd: Round, code: str, base_url: str, actor: str | None,
               address: str | None = None) -> str | None:
    """One department's message to paste, with a new link of its own (made now, shown once); None
    when the department is not on the roster."""
    d = departments.one(store, rnd, code)
    if d is None or not d.in_roster:
        return None
    told = what(store, rnd, code, d.status)
    base = links.base(store, base_url).url
    with writing(store.engine) as conn:
        link = _link(store, conn, rnd, code, actor, base)
        events.log(store, conn, "chase_text", actor=actor, round_id=rnd.id, department_code=code, address=address)
    return chase_message(rnd, d.name, d.status, told, link, today())


def chase_list(store: Store, rnd: Round, codes: list[str] | None, base_url: str, actor: str | None,
               address: str | None = None) -> bytes:
    """The 催报清单 (xlsx) of the departments ticked (all that need reminding when none are): name,
    归口科室, contact, addresses, status, what to do, a link of its own and the message to paste."""
    wanted = set(codes or ())
    chosen = [d for d in departments.status(store, rnd) if d.in_roster
              and (d.code in wanted if wanted else d.status in REMIND_STATES)]
    roster: dict[str, rounds.RosterLine] = {}
    for line in rounds.roster_of(store, rnd.id):
        roster.setdefault(line.code, line)
    base = links.base(store, base_url).url
    day = today()
    rows = []
    with writing(store.engine) as conn:
        for d in chosen:
            told = what(store, rnd, d.code, d.status)
            link = _link(store, conn, rnd, d.code, actor, base) if d.status in REMIND_STATES else ""
            line = roster.get(d.code)
            rows.append([d.code, d.name, office_of(line) if line else "", d.contact or "",
                         "；".join(line.emails) if line else "", status_text(d.status), "\n".join(told), link,
                         chase_message(rnd, d.name, d.status, told, link, day) if link else ""])
        events.log(store, conn, "chase_list", actor=actor, round_id=rnd.id, address=address,
                   detail={"departments": [d.code for d in chosen]})
    heads = [t(k) for k in ("col_code", "col_department", "chase_col_office", "col_contact", "chase_col_emails",
                            "col_status", "chase_col_what", "col_link", "chase_col_message")]
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    base_fmt = {"font_name": FONT, "font_size": 10, "valign": "top", "border": 1}
    head = book.add_format({**base_fmt, "bold": True, "bg_color": "#D9E1F2", "text_wrap": True})
    cell = book.add_format({**base_fmt, "text_wrap": True})
    ws = book.add_worksheet(t("chase_sheet"))
    widths = [8, 16, 10, 14, 22, 8, 36, 30, 48]
    for col, h in enumerate(heads):
        ws.write_string(0, col, h, head)
    for n, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            ws.write_string(n, col, value, cell)
            if col < 6:
                widths[col] = min(max(widths[col], display_width(value) + 2), 40)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, max(len(rows), 1), len(heads) - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    book.close()
    return buf.getvalue()


# -- the reviewers' digest ----------------------------------------------------------------------

def waiting_for(user: accounts.User, pending: list[tuple[Round, list[reviews.Line]]]) -> list[notices.Waiting]:
    """Of the open rounds' pending returns, those waiting for ``user`` to decide: at a stage they
    hold, of their 科室 (:func:`reviews.may_decide`)."""
    return [notices.Waiting(rnd.name, line.department or line.department_code or "", line.project, line.stage_name,
                            line.received_at)
            for rnd, lines in pending for line in lines
            if reviews.may_decide(user, line.office, line.stage_name or "")]


def digests(store: Store, day: dt.date | None = None, when: dt.datetime | None = None) -> list[int]:
    """Every reviewer's digest due now (from :data:`REMIND_HOUR`, once a day each): the ids of the
    messages queued."""
    when = when or now_local()
    if when.hour < REMIND_HOUR or not notices.configured(store):
        return []
    day = day or when.date()
    due = [a for a in accounts.users(store) if a.disabled_at is None and a.email and a.user.role != "viewer"
           and not notices.claimed(store, notices.DIGEST, 0, f"user:{a.user.name}", day)]
    if not due:
        return []
    pending = [(rnd, reviews.listing(store, rnd, state=reviews.PENDING)) for rnd in rounds.rounds(store)
               if rnd.status == OPEN]  # read once for every reviewer
    sent = []
    for account in due:
        found = notices.digest(store, account.user.name, account.email or "", waiting_for(account.user, pending), day)
        if found is not None:
            sent.append(found)
    return sent


# -- in every server process --------------------------------------------------------------------

class Scheduler:
    """What the mail worker does between messages: every :data:`CHECK_EVERY` seconds, the reminders
    due now (and the reviewers' digests, :data:`digests`)."""

    def __init__(self, store: Store, digests: Any = digests):
        self.store, self.digests = store, digests
        self.last = -CHECK_EVERY
        self.lock = threading.Lock()

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last < CHECK_EVERY or not self.lock.acquire(blocking=False):
            return
        try:
            self.last = now
            run_due(self.store)
            if self.digests is not None:
                self.digests(self.store, today())
        finally:
            self.lock.release()
