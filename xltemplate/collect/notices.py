"""Notices by e-mail: what a department is told, and the queue they go out from.

**Kinds.** A department is told when its round opens (its templates and the deadline), when a
return of it is received (通过 the machine check, or 有错误 with the count and the first errors),
when a return is sent back (退回修改, every reason at its cell) and when it is approved (审核通过);
reminders (:mod:`.reminders`) go the same way.  A reviewer gets one digest a day of the returns
waiting at their stage.  Each kind can be switched off per round (:func:`set_reach`); every text is
the catalog's, in Chinese.

**Nothing waits for the mail server.**  A notice is a row of ``messages`` and a job of the job
queue, written in the same transaction as what it tells of (an upload, a review): if that rolls
back, no message was queued, and the upload's answer never waits for SMTP.  The mail worker (a
thread of every server process whose mail is configured, :class:`jobs.Worker`) sends it:

* the department's link is made when the message is sent (:func:`links.mint`), so no link is
  kept in the clear, not even in the queue (the stored body holds :data:`LINK_MARK`);
* the server's answer is kept with the message (``250 ...``, or its refusal), and the audit log
  gets ``mail_sent`` or ``mail_failed``;
* a message the server could not take for now (no route, a time-out, a 4xx answer) is tried again
  after :data:`BACKOFF` (1, 5, 15 minutes, 1 and 3 hours), then given up with the last answer; a
  final refusal (5xx) is given up at once.

A process without mail settings queues nothing (:func:`wanted`): a bureau sets them once for
``serve`` and the commands alike (:mod:`.mail`), and pages say 邮件未配置.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import sqlalchemy as sa

from ..messages import t
from . import events, jobs, links, mail, rounds, settings
from .accounts import digest as hashed
from .db import utcnow, writing
from .shapes import local_time, utc

if TYPE_CHECKING:
    from .rounds import Round
    from .store import Store

MAIL = "mail"  # the job kind
ROUND_OPENED, RECEIVED, RETURNED, APPROVED, REMINDER = "round_opened", "received", "returned", "approved", "reminder"
REMINDER_NOW, DIGEST, TEST = "reminder_now", "digest", "test"
#: the kinds a round can switch on or off (all on by default)
SWITCHABLE = (ROUND_OPENED, RECEIVED, RETURNED, APPROVED, REMINDER, DIGEST)
QUEUED, RETRYING, SENT, FAILED = "queued", "retrying", "sent", "failed"
LINK_MARK = "{{LINK}}"
#: seconds before each new try of a message the server did not take for now
BACKOFF = tuple(float(x) for x in os.environ.get("XLTEMPLATE_MAIL_BACKOFF", "60,300,900,3600,10800").split(","))
DEFAULT_PLAN = (3, 0)  # reminders: days before the deadline
MAX_ERRORS_TOLD = 20  # errors listed in a notice (the page has them all)
SYSTEM = "mail"  # who makes the links of messages, in the audit log


# -- a round's choices ------------------------------------------------------------------------

@dataclass(frozen=True)
class Reach:
    """Which notices a round sends, and its reminder plan (days before the deadline)."""

    notices: dict[str, bool]
    plan: tuple[int, ...]

    def on(self, kind: str) -> bool:
        return self.notices.get(kind, True)


def reach_of(value: Any) -> Reach:
    value = value if isinstance(value, dict) else {}
    notices = {k: bool(value.get("notices", {}).get(k, True)) for k in SWITCHABLE}
    plan = value.get("plan")
    days = tuple(sorted({int(d) for d in plan if isinstance(d, int) and 0 <= d <= 60}, reverse=True)) \
        if isinstance(plan, list) else DEFAULT_PLAN
    return Reach(notices, days)


def reach(store: Store, round_id: int, conn: sa.Connection | None = None) -> Reach:
    r = store.t.rounds
    stmt = sa.select(r.c.reach).where(r.c.id == round_id)
    if conn is not None:
        return reach_of(conn.execute(stmt).scalar())
    with store.engine.connect() as c:
        return reach_of(c.execute(stmt).scalar())


def parse_plan(text: str) -> tuple[int, ...]:
    """``3,0`` (days before the deadline; 0 the day itself) -> (3, 0); :class:`RoundError` otherwise."""
    days: set[int] = set()
    for piece in text.replace("，", ",").replace("、", ",").split(","):
        piece = piece.strip()
        if not piece:
            continue
        if not piece.isdigit() or int(piece) > 60:
            raise rounds.RoundError("plan_bad", value=text)
        days.add(int(piece))
    return tuple(sorted(days, reverse=True))


def set_reach(store: Store, round_id: int, notices: dict[str, bool], plan: Iterable[int], actor: str | None,
              address: str | None = None) -> Reach:
    """Switch a round's notices on or off and set its reminder plan; audited."""
    value = {"notices": {k: bool(notices.get(k, False)) for k in SWITCHABLE}, "plan": sorted(set(plan), reverse=True)}
    r = store.t.rounds
    with writing(store.engine) as conn:
        conn.execute(r.update().where(r.c.id == round_id).values(reach=value))
        events.log(store, conn, "set_reach", actor=actor, round_id=round_id, detail=value, address=address)
    return reach_of(value)


# -- the record of messages -------------------------------------------------------------------

class Message(msgspec.Struct, kw_only=True):
    """One e-mail: to whom, which kind, and what became of it."""

    id: int
    kind: str
    round_id: int | None
    department_code: str | None
    submission: int | None
    user_name: str | None
    recipients: list[str]
    subject: str
    body: str
    status: str  # queued | retrying | sent | failed
    attempts: int
    answer: str | None
    created_at: dt.datetime
    created_by: str | None
    sent_at: dt.datetime | None
    next_at: dt.datetime | None

    @property
    def shown_body(self) -> str:
        """The body as staff see it: the link each message gets is not kept."""
        return self.body.replace(LINK_MARK, t("mail_link_shown"))


def _message(row: Any) -> Message:
    return Message(id=row.id, kind=row.kind, round_id=row.round_id, department_code=row.department_code,
                   submission=row.submission, user_name=row.user_name, recipients=list(row.recipients or []),
                   subject=row.subject, body=row.body, status=row.status, attempts=row.attempts, answer=row.answer,
                   created_at=utc(row.created_at), created_by=row.created_by, sent_at=utc(row.sent_at),
                   next_at=utc(row.next_at))


def get(store: Store, message_id: int) -> Message | None:
    m = store.t.messages
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(m).where(m.c.id == message_id)).first()
    return _message(row) if row else None


def of_department(store: Store, round_id: int, code: str, limit: int = 50) -> list[Message]:
    """A department's messages in a round, newest first."""
    m = store.t.messages
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(m).where(m.c.round_id == round_id, m.c.department_code == code)
                            .order_by(m.c.id.desc()).limit(limit)).all()
    return [_message(r) for r in rows]


def of_round(store: Store, round_id: int, before: int | None = None, limit: int = 200) -> list[Message]:
    """A round's messages, newest first (older than message ``before``)."""
    m = store.t.messages
    stmt = sa.select(m).where(m.c.round_id == round_id)
    if before is not None:
        stmt = stmt.where(m.c.id < before)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(m.c.id.desc()).limit(limit)).all()
    return [_message(r) for r in rows]


def of_ids(store: Store, ids: Iterable[int]) -> list[Message]:
    m = store.t.messages
    wanted = list(ids)
    if not wanted:
        return []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(m).where(m.c.id.in_(wanted)).order_by(m.c.id)).all()
    return [_message(r) for r in rows]


# -- queueing ---------------------------------------------------------------------------------

def configured(store: Store) -> bool:
    return mail.settings(store).configured


@dataclass(frozen=True)
class MailStatus:
    """What pages say of mail: configured, and a sentence (how it is sent, or why it is not)."""

    configured: bool
    text: str


def mail_status(store: Store, lang: str = "zh") -> MailStatus:
    cfg = mail.settings(store)
    if cfg.configured:
        return MailStatus(True, t("mail_on", lang, sender=cfg.sender, host=f"{cfg.host}:{cfg.effective_port}"))
    return MailStatus(False, t("mail_off", lang))  # why not is the administrator's: xltemplate mail test says it


def wanted(store: Store, conn: sa.Connection, round_id: int | None, kind: str) -> bool:
    """Whether a notice of ``kind`` is to be queued: mail is configured in this process and the round
    has the kind on."""
    if not configured(store):
        return False
    return round_id is None or kind not in SWITCHABLE or reach(store, round_id, conn).on(kind)


def queue(store: Store, conn: sa.Connection, kind: str, *, recipients: list[str], subject: str, body: str,
          round_id: int | None = None, code: str | None = None, submission: int | None = None,
          user_name: str | None = None, actor: str | None = None) -> int:
    """A message and the job that sends it, inside the caller's transaction; the message's id."""
    m = store.t.messages
    message_id = int(conn.execute(m.insert().returning(m.c.id), {
        "kind": kind, "round_id": round_id, "department_code": code, "submission": submission,
        "user_name": user_name, "recipients": recipients, "subject": subject, "body": body, "status": QUEUED,
        "attempts": 0, "created_at": utcnow(), "created_by": actor}).scalar_one())
    jobs.enqueue(store, MAIL, {"message": message_id}, actor=actor, conn=conn)
    return message_id


def _deadline(rnd: Round) -> str:
    return rnd.deadline.isoformat() if rnd.deadline else t("mail_no_deadline")


def _department(store: Store, conn: sa.Connection, rnd: Round, code: str) -> tuple[str, list[str]]:
    """The department's name on the roster and its addresses."""
    found = _roster_and_reach(store, conn, rnd.id, code)
    return found[0], found[1]


def _roster_and_reach(store: Store, conn: sa.Connection, round_id: int, code: str) -> tuple[str, list[str], Reach]:
    """The department's name and addresses, and the round's choices, in one statement."""
    def build() -> Any:
        ro, r = store.t.roster, store.t.rounds
        return (sa.select(r.c.reach, ro.c.name, ro.c.emails).select_from(r.outerjoin(
            ro, sa.and_(ro.c.round_id == r.c.id, ro.c.code == sa.bindparam("code"))))
            .where(r.c.id == sa.bindparam("round")).order_by(ro.c.line))

    rows = conn.execute(store.prepared("notices.department", build), {"round": round_id, "code": code}).all()
    emails: list[str] = []
    for row in rows:
        emails += [e for e in row.emails or [] if e.lower() not in {x.lower() for x in emails}]
    name = next((row.name for row in rows if row.name), None) or code
    return name, emails, reach_of(rows[0].reach if rows else None)


def round_opened(store: Store, conn: sa.Connection, rnd: Round, actor: str | None) -> list[int]:
    """The round opened: every roster department with an address is told (its templates, the deadline,
    its link), inside the transaction that records the round."""
    if not wanted(store, conn, rnd.id, ROUND_OPENED):
        return []
    ro, i = store.t.roster, store.t.issued
    files: dict[str, list[str]] = {}
    for code, file in conn.execute(sa.select(i.c.department_code, i.c.file).where(i.c.round_id == rnd.id)
                                   .order_by(i.c.file)):
        files.setdefault(code, []).append(file)
    seen: set[str] = set()
    out = []
    for code, name in conn.execute(sa.select(ro.c.code, ro.c.name).where(ro.c.round_id == rnd.id).order_by(ro.c.line)):
        if code in seen:
            continue
        seen.add(code)
        to = rounds.emails_of(store, rnd.id, code, conn)
        if not to:
            continue
        subject = t("notice_opened_subject", round=rnd.name, deadline=_deadline(rnd))
        body = t("notice_opened_body", department=name, round=rnd.name, link=LINK_MARK, deadline=_deadline(rnd),
                 templates="\n".join(f"  · {f}" for f in files.get(code, [])) or t("none"))
        out.append(queue(store, conn, ROUND_OPENED, recipients=to, subject=subject, body=body + t("mail_footer"),
                         round_id=rnd.id, code=code, actor=actor))
    return out


def error_lines(errors: Iterable[Any], limit: int = MAX_ERRORS_TOLD) -> list[str]:
    """Errors (issues or their dicts) as lines of a message: where, what, the message."""
    lines = []
    items = list(errors)
    for e in items[:limit]:
        get_ = e.get if isinstance(e, dict) else (lambda k, e=e: getattr(e, k, None))
        where = "!".join(x for x in (get_("sheet"), get_("cell")) if x) or t("mail_whole_file")
        label = get_("label") or ""
        lines.append(t("mail_error_line", where=where, label=label, message=get_("message") or ""))
    if len(items) > limit:
        lines.append(t("mail_more_errors", n=len(items) - limit))
    return lines


def received(store: Store, conn: sa.Connection, rnd: Round, code: str, submission: int, status: str,
             errors: list[Any], project: str | None, file: str, actor: str | None) -> int | None:
    """A return of the department was received: 通过, or 有错误 with the count and where (its link shows
    them all), inside the upload's transaction."""
    if status not in ("valid", "invalid") or not configured(store):
        return None
    name, to, choices = _roster_and_reach(store, conn, rnd.id, code)
    if not to or not choices.on(RECEIVED):
        return None
    project = project or t("no_project")
    if status == "valid":
        subject = t("notice_valid_subject", round=rnd.name, project=project)
        body = t("notice_valid_body", department=name, round=rnd.name, project=project, file=file,
                 at=local_time(utcnow()), link=LINK_MARK)
    else:
        subject = t("notice_invalid_subject", round=rnd.name, project=project, n=len(errors))
        body = t("notice_invalid_body", department=name, round=rnd.name, project=project, file=file, n=len(errors),
                 at=local_time(utcnow()), errors="\n".join(error_lines(errors)), link=LINK_MARK)
    return queue(store, conn, RECEIVED, recipients=to, subject=subject, body=body + t("mail_footer"), round_id=rnd.id,
                 code=code, submission=submission, actor=actor)


class Reason(Protocol):
    """A reviewer's reason as a notice tells it (:class:`xltemplate.collect.reviews.Reason` is one):
    the field's sheet, cell and label (None: the whole return) and the words."""

    text: str
    sheet: str | None
    cell: str | None
    label: str | None


def review_decided(store: Store, conn: sa.Connection, decided: Any) -> None:
    """The hook every review decision runs inside its transaction (``reviews.HOOKS``): the
    department is told of a return sent back (退回修改, each reason at its cell) and of a return
    approved at the last stage (审核通过, with its grade); an approval at an earlier stage only
    moves the return on, and tells nobody."""
    if decided.decision == "returned":
        returned(store, conn, decided.return_id, decided.reasons, decided.stage_name, decided.actor)
    elif decided.final:
        approved(store, conn, decided.return_id, decided.grade, decided.stage_name, decided.actor)


def _return_row(store: Store, conn: sa.Connection, submission: int) -> Any:
    s = store.submissions
    return conn.execute(sa.select(s.c.id, s.c.round_id, s.c.department_code, s.c.key_text, s.c.file_name)
                        .where(s.c.id == submission)).first()


def returned(store: Store, conn: sa.Connection, submission: int, reasons: list[Reason], stage: str | None,
             actor: str | None) -> int | None:
    """A return was sent back (退回修改) with its reasons: the department is told each reason at its
    cell, inside the review's transaction.  (Called by the review decision.)"""
    return _review_notice(store, conn, submission, RETURNED, actor, stage=stage, reasons=reasons)


def approved(store: Store, conn: sa.Connection, submission: int, grade: str | None, stage: str | None,
             actor: str | None) -> int | None:
    """A return was approved (审核通过), with its grade if any, inside the review's transaction."""
    return _review_notice(store, conn, submission, APPROVED, actor, stage=stage, grade=grade)


def _review_notice(store: Store, conn: sa.Connection, submission: int, kind: str, actor: str | None, *,
                   stage: str | None, reasons: list[Reason] | None = None, grade: str | None = None) -> int | None:
    row = _return_row(store, conn, submission)
    if row is None or row.round_id is None or row.department_code is None or not wanted(store, conn, row.round_id,
                                                                                          kind):
        return None
    rnd = rounds.get_in(store, conn, row.round_id)
    name, to = _department(store, conn, rnd, row.department_code)
    if not to:
        return None
    project = row.key_text or t("no_project")
    stage_text = stage or t("mail_review_stage")
    if kind == RETURNED:
        lines = [t("mail_reason_line", where="!".join(x for x in (r.sheet, r.cell) if x) or t("mail_whole_return"),
                   label=r.label or "", text=r.text) for r in reasons or []]
        subject = t("notice_returned_subject", round=rnd.name, project=project)
        body = t("notice_returned_body", department=name, round=rnd.name, project=project, stage=stage_text,
                 reasons="\n".join(lines) or t("none"), link=LINK_MARK, deadline=_deadline(rnd))
    else:
        subject = t("notice_approved_subject", round=rnd.name, project=project)
        body = t("notice_approved_body", department=name, round=rnd.name, project=project, stage=stage_text,
                 grade=t("mail_grade", grade=grade) if grade else "", link=LINK_MARK)
    return queue(store, conn, kind, recipients=to, subject=subject, body=body + t("mail_footer"), round_id=rnd.id,
                 code=row.department_code, submission=submission, actor=actor)


@dataclass(frozen=True)
class Waiting:
    """A return waiting at a reviewer's stage (a line of the digest)."""

    round_name: str
    department: str
    project: str | None
    stage: str | None
    since: dt.datetime | None


def digest(store: Store, user_name: str, email: str, waiting: list[Waiting], day: dt.date,
           actor: str | None = SYSTEM) -> int | None:
    """The reviewer's digest of ``day`` (once a day: claimed in ``mail_claims``), when anything waits;
    the message's id, or None when there is nothing, no address, or it went out already."""
    if not waiting or not email or not configured(store):
        return None
    lines = [t("digest_line", round=w.round_name, department=w.department, project=w.project or t("no_project"),
               stage=w.stage or t("mail_review_stage"), since=local_time(w.since)) for w in waiting]
    subject = t("digest_subject", n=len(waiting))
    body = t("digest_body", user=user_name, n=len(waiting), lines="\n".join(lines)) + t("mail_footer")
    try:
        with writing(store.engine) as conn:
            claim(store, conn, DIGEST, 0, f"user:{user_name}", day, actor)
            found = queue(store, conn, DIGEST, recipients=[email], subject=subject, body=body, user_name=user_name,
                          actor=actor)
            set_claim(store, conn, DIGEST, 0, f"user:{user_name}", day, found)
            return found
    except sa.exc.IntegrityError:
        return None


def claim(store: Store, conn: sa.Connection, kind: str, round_id: int, code: str, day: dt.date,
          actor: str | None) -> None:
    """Claim the one message of ``kind`` to a department (or a reviewer) on ``day``: the primary key
    refuses a second claim (``IntegrityError``), whichever process makes it."""
    conn.execute(store.t.mail_claims.insert(), {"kind": kind, "round_id": round_id, "department_code": code,
                                                "day": day, "claimed_at": utcnow(), "claimed_by": actor})


def set_claim(store: Store, conn: sa.Connection, kind: str, round_id: int, code: str, day: dt.date,
              message_id: int | None) -> None:
    c = store.t.mail_claims
    conn.execute(c.update().where(c.c.kind == kind, c.c.round_id == round_id, c.c.department_code == code,
                                  c.c.day == day).values(message_id=message_id))


def claimed(store: Store, kind: str, round_id: int, code: str, day: dt.date) -> bool:
    c = store.t.mail_claims
    with store.engine.connect() as conn:
        return conn.execute(sa.select(c.c.day).where(c.c.kind == kind, c.c.round_id == round_id,
                                                     c.c.department_code == code, c.c.day == day)).first() is not None


# -- sending ----------------------------------------------------------------------------------

def test_message(cfg: mail.MailSettings, to: str) -> mail.Sent:
    """Send the test message of ``xltemplate mail test`` now (no queue); :class:`mail.MailError`."""
    msg = mail.compose(cfg, [to], t("mail_test_subject"),
                       t("mail_test_body", host=cfg.host, port=cfg.effective_port, security=cfg.security,
                         sender=cfg.sender) + t("mail_footer"))
    return mail.send(cfg, msg)


def run_mail(store: Store, job: Any, progress: Any) -> None:
    """The mail worker's job: one try of one message (:func:`attempt`); :class:`jobs.Retry` for later."""
    after = attempt(store, int(job.payload.get("message", 0)))
    progress.add({"message": job.payload.get("message"), "retry_in": after})
    if after is not None:
        raise jobs.Retry(after)


def attempt(store: Store, message_id: int) -> float | None:
    """Try to send a queued message once; the seconds to wait before the next try, or None when it is
    done with (sent, or given up)."""
    m = store.t.messages
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(m).where(m.c.id == message_id)).first()
    if row is None or row.status in (SENT, FAILED):
        return None
    cfg = mail.settings(store)
    tries = row.attempts + 1
    body = row.body
    token = None
    try:
        if LINK_MARK in body:
            base = settings.base_url(store)
            if not base:
                raise mail.MailError("mail_no_base_url", False)
            with writing(store.engine) as conn:
                token = links.mint(store, conn, row.round_id, row.department_code, SYSTEM) \
                    if row.round_id is not None and row.department_code else None
            body = body.replace(LINK_MARK, links.address(token, base) if token else t("mail_link_revoked"))
        to_name = _to_name(store, row)
        sent = mail.send(cfg, mail.compose(cfg, list(row.recipients), row.subject, body, to_name))
    except mail.MailError as exc:
        if token is not None:  # the message never went: neither does its link
            _forget(store, token)
        return _failed(store, row, tries, exc)
    answer = sent.answer + ("" if not sent.refused else "；" + t("mail_some_refused", refused="；".join(
        f"{a}: {why}" for a, why in sent.refused.items())))
    with writing(store.engine) as conn:
        conn.execute(m.update().where(m.c.id == row.id).values(status=SENT, attempts=tries, answer=answer,
                                                               sent_at=utcnow(), next_at=None))
        events.log(store, conn, "mail_sent", actor=SYSTEM, round_id=row.round_id, submission=row.submission,
                   department_code=row.department_code,
                   detail={"message": row.id, "kind": row.kind, "to": list(row.recipients), "answer": answer})
    return None


def _to_name(store: Store, row: Any) -> str:
    if row.round_id is None or not row.department_code:
        return row.user_name or ""
    with store.engine.connect() as conn:
        rnd = rounds.get_in(store, conn, row.round_id)
        return _department(store, conn, rnd, row.department_code)[0] if rnd else ""


def _forget(store: Store, token: str) -> None:
    k = store.t.links
    with writing(store.engine) as conn:
        conn.execute(k.update().where(k.c.token_hash == hashed(token)).values(revoked_at=utcnow(), revoked_by=SYSTEM))


def _failed(store: Store, row: Any, tries: int, exc: mail.MailError) -> float | None:
    m = store.t.messages
    answer = exc.message()
    again = exc.transient and tries <= len(BACKOFF)
    after = BACKOFF[tries - 1] if again else None
    with writing(store.engine) as conn:
        if after is not None:
            conn.execute(m.update().where(m.c.id == row.id).values(
                status=RETRYING, attempts=tries, answer=answer, next_at=utcnow() + dt.timedelta(seconds=after)))
        else:
            conn.execute(m.update().where(m.c.id == row.id).values(status=FAILED, attempts=tries, answer=answer,
                                                                   next_at=None))
            events.log(store, conn, "mail_failed", actor=SYSTEM, round_id=row.round_id, submission=row.submission,
                       department_code=row.department_code,
                       detail={"message": row.id, "kind": row.kind, "to": list(row.recipients), "answer": answer,
                               "attempts": tries})
    return after


def worker(store: Store, idle: Any = None) -> jobs.Worker:
    """The thread that sends this process's share of the mail queue (and runs ``idle`` between)."""
    return jobs.Worker(store, {MAIL: run_mail}, name="xltemplate-mail", idle=idle)


def drain(store: Store, timeout: float = 60.0) -> int:
    """Send what is due in the queue now, in this thread (for the commands, which run no worker);
    how many messages were tried."""
    w = worker(store)
    n = 0
    end = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while dt.datetime.now() < end:
        job = jobs.claim(store, w.id, (MAIL,))
        if job is None:
            break
        w.run_job(job)
        n += 1
    return n
