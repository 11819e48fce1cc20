"""Review and send back (审核): every return that passes the machine check is reviewed by the bureau
before it counts, stage by stage, with reasons at the cells the clerk used.

**States.**  A current copy that passes the machine check is 待审核 (``pending``) at its round's
first stage.  A reviewer either approves it at that stage (通过, optionally with a grade from the
list the form declares: ``x-form.review.grades``), which moves it to the next stage or, after the
last, makes it 审核通过 (``approved``); or sends it back (退回修改, ``returned``) with one or more
reasons, at any stage.  A copy that replaces it (the identity rules of the rounds) starts again at
the first stage, marked 重新报送 (``resubmitted``).  A copy with errors stays 有错误 and cannot be
approved, a withdrawn or superseded one cannot be reviewed: each is refused in words, never
silently.

**Stages** are the round's (``rounds.stages``; default one, 审核; e.g. 初审, 复审).  The stage
model: a copy carries the stage it waits for (``submissions.review_stage``); approving stage *k*
records the decision of stage *k* and moves it to *k+1*.  A stage is decided once per copy.

**Who may decide** (:func:`may_decide`): an admin or staff account any review; a reviewer those
of the departments assigned to their 科室 (the roster's ``归口科室``; a reviewer with no 科室:
every department) at the stages they hold (none named: every stage); a viewer none.

**Races.**  Two reviewers deciding the same copy at the same instant: the table ``reviews`` has
one row per (copy, stage), by a unique constraint, so exactly one decision is recorded and the
other is told it was already decided; no read-then-write decides it.

**Reasons** are written against a field (its pointer) or the whole return.  Each is recorded
with the field's label and the sheet and cell the clerk's copy used (read again from the stored
file, as an error's cell is: a client that moved rows moves the reason with them), so the clerk
sees it where they typed, on the link's page and in the annotated copy.

**Changes.**  For a copy that corrects one reviewed before, :func:`show` gives what changed
since the version last reviewed, field by field (label, old value, new value), and beside each
of that review's reasons whether its field changed.

**After a decision** every hook of :data:`HOOKS` runs inside the decision's own transaction:
the department's e-mail notice (:func:`xltemplate.collect.notices.review_decided`: 退回修改 with
each reason at its cell, 审核通过 with its grade) is queued there and commits, or not, with the
decision; more can be added with :func:`on_decision`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..form.forms import find_form, find_version
from ..form.model import FormModel
from ..form.schema import node_at
from ..form.validate import Issue
from ..form.values import get, leaves_of
from ..messages import t
from . import events, files, notices, scans
from .accounts import MANAGERS, User
from .db import writing
from .importer import locator
from .returns import Return, one, query
from .rounds import Round, RoundError, offices, register_versions
from .rounds import get as get_round
from .shapes import utc

if TYPE_CHECKING:
    from .store import Store

PENDING, RETURNED, APPROVED = "pending", "returned", "approved"
DECISIONS = (APPROVED, RETURNED)
MAX_REASON = 2000
MAX_REASONS = 200


class ReviewError(RoundError):
    """A review that cannot be made as asked (a catalog entry and its parameters).  ``kind``:
    ``forbidden`` (this account may not), ``conflict`` (already decided, or changed meanwhile),
    ``missing`` (no such return) or ``invalid`` (what was asked is wrong)."""

    def __init__(self, key: str, kind: str = "invalid", **params: Any) -> None:
        super().__init__(key, **params)
        self.kind = kind


class Reason(msgspec.Struct, kw_only=True):
    """A reviewer's reason: at a field (its pointer, label, and the sheet and cell of the clerk's
    copy) or at the whole return (``pointer`` None)."""

    pointer: str | None
    text: str
    sheet: str | None = None
    cell: str | None = None
    label: str | None = None
    value: Any = None
    changed: bool | None = None  # beside an earlier reason: whether the correction changed its field


class Decision(msgspec.Struct, kw_only=True):
    """One review action: who decided what, at which stage, of which copy, when."""

    id: int
    return_id: int = msgspec.field(name="return")
    stage: int
    stage_name: str
    decision: str  # approved | returned
    grade: str | None = None
    reasons: list[Reason] = msgspec.field(default_factory=list)
    actor: str
    at: dt.datetime


class Change(msgspec.Struct, kw_only=True):
    """A field whose value differs between the copy last reviewed and this one."""

    pointer: str
    label: str
    sheet: str | None
    cell: str | None
    old: Any
    new: Any


class Review(msgspec.Struct, kw_only=True):
    """Where one return's review stands, and everything a reviewer needs to decide it."""

    return_id: int = msgspec.field(name="return")
    round_id: int | None
    department_code: str | None
    department: str | None
    office: str | None  # the 科室 the department is assigned to
    project: str | None
    state: str  # invalid | unreadable | returned | pending | approved
    stage: int | None  # the stage it waits for (returned: the stage that sent it back)
    stage_name: str | None
    stages: list[str]
    grade: str | None
    grades: list[str]  # what the form lets a reviewer choose from
    resubmitted: bool  # 重新报送: it replaced a copy that had passed the machine check
    reasons: list[Reason]  # why this copy was sent back (state returned)
    reviewed: int | None  # the copy last reviewed before this one (None: none was)
    earlier_reasons: list[Reason]  # the reasons that copy was sent back with, each with ``changed``
    changes: list[Change]  # since the copy last reviewed
    history: list[Decision]  # every decision on every copy of this return, oldest first
    warnings: list[Issue] = msgspec.field(default_factory=list)


class Decided(msgspec.Struct, kw_only=True):
    """What a hook of :func:`on_decision` is told: the decision just recorded."""

    return_id: int
    round_id: int
    department_code: str
    department: str | None
    project: str | None
    decision: str
    stage: int
    stage_name: str
    final: bool  # approved at the last stage: 审核通过
    grade: str | None
    reasons: list[Reason]
    actor: str


#: called inside the transaction of every decision: the department's e-mail notice first
DecisionHook = Callable[["Store", sa.Connection, Decided], None]
HOOKS: list[DecisionHook] = [notices.review_decided]


def on_decision(hook: DecisionHook) -> DecisionHook:
    """Run ``hook`` inside the transaction of every review decision from now on (usable as a
    decorator); an exception it raises undoes the decision."""
    HOOKS.append(hook)
    return hook


# -- who may decide ----------------------------------------------------------------------------

def may_decide(user: User, office: str | None, stage_name: str) -> bool:
    """Whether ``user`` may decide a review of a department assigned to ``office`` at stage
    ``stage_name`` (see the module docstring)."""
    if user.role in MANAGERS:
        return True
    if user.role != "reviewer":
        return False
    return (user.office is None or user.office == office) and (not user.stages or stage_name in user.stages)


def mine(user: User, office: str | None) -> bool:
    """Whether a department assigned to ``office`` is one ``user`` reviews (at some stage)."""
    return user.role in MANAGERS or (user.role == "reviewer" and (user.office is None or user.office == office))


# -- reasons -----------------------------------------------------------------------------------

def parse_reason(text: str) -> tuple[str | None, str]:
    """``/pointer: words`` (or ``：``) as (pointer, words); words alone are about the whole return."""
    text = (text or "").strip()
    if text.startswith("/"):
        cut = min((i for i in (text.find(":"), text.find("：")) if i > 0), default=-1)
        if cut > 0:
            return text[:cut].strip(), text[cut + 1:].strip()
    return None, text


def _model(ret: Return) -> FormModel | None:
    """The form version a stored copy was read by."""
    current = find_form(ret.form) if ret.form else None
    if current is None or current.version == ret.version or not ret.version:
        return current
    return find_version(ret.form or "", ret.version, near=current) or current


def grades_of(model: FormModel | None) -> list[str]:
    """The grades a reviewer may give, as the form declares them (``x-form.review.grades``)."""
    if model is None:
        return []
    found = model.schema.get("x-form", {}).get("review", {}).get("grades", [])
    return [str(g) for g in found] if isinstance(found, list) else []


def _placed(store: Store, ret: Return, model: FormModel, wanted: list[tuple[str | None, str]],
            lang: str) -> list[Reason]:
    """Reasons at the fields they name: label, value, and the cell the clerk's copy used."""
    if not any(p for p, _ in wanted):
        return [Reason(pointer=None, text=words) for _p, words in wanted]
    locate = None
    if ret.file_kept and ret.id is not None:
        stored = files.of_return(store, ret.id)
        if stored is not None:
            locate = locator(ret.file, stored.content, lang)
    out = []
    for pointer, words in wanted:
        if not pointer:
            out.append(Reason(pointer=None, text=words))
            continue
        field = (locate(pointer) if locate is not None else None) or model.field_for(pointer)
        exact = field is not None and field.pointer.count("/") == pointer.count("/")
        value = get(ret.data or {}, pointer, None)
        label = field.label if exact and field is not None else _title(model, pointer)
        out.append(Reason(pointer=pointer, text=words, sheet=field.sheet if field else None,
                          cell=field.cell if field else None, label=label,
                          value=None if isinstance(value, dict | list) else value))
    return out


def _title(model: FormModel, pointer: str) -> str:
    try:
        return str(node_at(model.schema, pointer).get("title") or pointer)
    except (KeyError, TypeError, IndexError):
        return pointer


def _known_pointer(model: FormModel, pointer: str) -> bool:
    """A pointer of this form: a field, or a section or row that holds fields."""
    if not pointer.startswith("/") or pointer.endswith("/"):
        return False
    if pointer in model.by_pointer:
        return True
    prefix = pointer + "/"
    return any(f.pointer.startswith(prefix) for f in model.fields)


# -- deciding ----------------------------------------------------------------------------------

def decide(store: Store, submission: int, decision: str, *, user: User, grade: str | None = None,
           reasons: Iterable[tuple[str | None, str]] = (), address: str | None = None,
           lang: str = "zh") -> Review:
    """Record one review decision on return ``submission`` at the stage it waits for, in one
    transaction with its audit line and the hooks of :func:`on_decision`; where the review
    stands after it.  :class:`ReviewError` says why a decision cannot be made (see the module
    docstring)."""
    if decision not in DECISIONS:
        raise ReviewError("review_bad_decision", decision=decision)
    ret = one(store, submission, with_data=True, with_scans=True)
    if ret is None:
        raise ReviewError("no_such_return", "missing", id=submission)
    rnd = get_round(store, ret.round_id) if ret.round_id is not None else None
    if rnd is None or ret.department_code is None:
        raise ReviewError("review_no_department", id=submission)
    if ret.withdrawn_at is not None:
        raise ReviewError("review_withdrawn", id=submission)
    if not ret.current:
        raise ReviewError("review_not_current", "conflict", id=submission, later=ret.superseded_by or "?")
    if ret.status == "invalid":
        raise ReviewError("review_has_errors", id=submission, n=ret.error_count)
    if ret.status != "valid":
        raise ReviewError("review_unreadable", id=submission)
    if ret.state == RETURNED:
        raise ReviewError("review_already_returned", "conflict", id=submission)
    if ret.state == APPROVED:
        raise ReviewError("review_already_approved", "conflict", id=submission)
    stage = ret.review_stage or 0
    stage_name = rnd.stages[min(stage, len(rnd.stages) - 1)]
    office = offices(store, rnd.id).get(ret.department_code)
    if not may_decide(user, office, stage_name):
        raise ReviewError("review_forbidden", "forbidden", name=user.name, department=ret.department or "",
                          office=office or t("office_none", lang), stage=stage_name)
    if decision == APPROVED:  # a form that requires a stamped scan: one that signs the current data
        blocker = scans.blocker_of([ret])  # ret was read with its scans
        if blocker is not None:
            raise ReviewError("review_needs_scan", id=submission, why=blocker)
    register_versions(store)
    model = _model(ret)
    if model is None:
        raise ReviewError("review_no_form", form=ret.form or "?")
    wanted = [(p or None, (w or "").strip()) for p, w in reasons]
    wanted = [(p, w) for p, w in wanted if w or p]
    if any(not w for _p, w in wanted):
        raise ReviewError("review_reason_empty")
    if any(len(w) > MAX_REASON for _p, w in wanted) or len(wanted) > MAX_REASONS:
        raise ReviewError("review_reason_long", n=MAX_REASON)
    for p, _w in wanted:
        if p and not _known_pointer(model, p):
            raise ReviewError("review_bad_pointer", pointer=p)
    grades = grades_of(model)
    if decision == RETURNED and not wanted:
        raise ReviewError("review_needs_reason")
    if decision == APPROVED and wanted:
        raise ReviewError("review_reasons_on_approve")
    if grade and grade not in grades:
        raise ReviewError("review_bad_grade", grade=grade, grades=t("list_sep", lang).join(grades) or "—")
    placed = _placed(store, ret, model, wanted, lang)
    final = decision == APPROVED and stage + 1 >= len(rnd.stages)
    state = RETURNED if decision == RETURNED else (APPROVED if final else PENDING)
    next_stage = stage if decision == RETURNED else stage + 1
    s, rv = store.submissions, store.t.reviews
    detail = {"stage": stage, "stage_name": stage_name, "decision": decision, "grade": grade or None,
              "reasons": msgspec.to_builtins(placed)}
    try:
        with writing(store.engine) as conn:
            conn.execute(rv.insert(), {  # the constraint: one decision per copy and stage
                "submission": submission, "round_id": rnd.id, "department_code": ret.department_code,
                "stage": stage, "stage_name": stage_name, "decision": decision, "grade": grade or None,
                "reasons": detail["reasons"], "actor": user.name, "at": _now(), "address": address})
            values: dict[str, Any] = {"review": state, "review_stage": next_stage, "annotated_id": None}
            if grade:
                values["grade"] = grade
            changed = conn.execute(s.update().where(
                s.c.id == submission, s.c.review == PENDING, s.c.review_stage == stage, s.c.is_current.is_(True),
                s.c.withdrawn_at.is_(None)).values(**values)).rowcount
            if changed != 1:  # replaced, withdrawn or decided meanwhile: undo, and say so
                raise ReviewError("review_changed", "conflict", id=submission)
            events.log(store, conn, "review", actor=user.name, round_id=rnd.id, submission=submission,
                       department_code=ret.department_code, detail=detail, address=address)
            done = Decided(return_id=submission, round_id=rnd.id, department_code=ret.department_code,
                           department=ret.department, project=ret.project, decision=decision, stage=stage,
                           stage_name=stage_name, final=final, grade=grade or None, reasons=placed, actor=user.name)
            for hook in HOOKS:
                hook(store, conn, done)
    except sa.exc.IntegrityError as exc:
        raise ReviewError("review_already_decided", "conflict", id=submission, stage=stage_name) from exc
    return show(store, submission, lang)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- reading -----------------------------------------------------------------------------------

def _decision(row: Any) -> Decision:
    return Decision(id=row.id, return_id=row.submission, stage=row.stage, stage_name=row.stage_name,
                    decision=row.decision, grade=row.grade, reasons=[_reason(r) for r in row.reasons or []],
                    actor=row.actor, at=utc(row.at))


def _reason(stored: dict[str, Any]) -> Reason:
    return Reason(**{k: stored.get(k) for k in ("pointer", "text", "sheet", "cell", "label", "value")})


def _earlier(conn: sa.Connection, store: Store, submission: int) -> list[int]:
    """The copies this one replaced, directly or through others (its history), newest first."""
    s = store.submissions
    seen, frontier, out = {submission}, [submission], []
    while frontier:
        rows = conn.execute(sa.select(s.c.id).where(s.c.superseded_by.in_(frontier))
                            .order_by(s.c.id.desc())).scalars().all()
        frontier = [r for r in rows if r not in seen]
        seen.update(frontier)
        out += frontier
    return out


def decisions(store: Store, ids: list[int]) -> list[Decision]:
    """Every decision on these copies, oldest first."""
    if not ids:
        return []
    rv = store.t.reviews
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(rv).where(rv.c.submission.in_(ids)).order_by(rv.c.at, rv.c.id)).all()
    return [_decision(r) for r in rows]


def reasons_of(store: Store, submission: int) -> list[Reason]:
    """Why this copy was sent back (empty when it was not)."""
    sent_back = [d for d in decisions(store, [submission]) if d.decision == RETURNED]
    return sent_back[-1].reasons if sent_back else []


def _differs(old: Any, new: Any, pointer: str | None) -> bool | None:
    if not pointer:
        return None
    return get(old or {}, pointer, None) != get(new or {}, pointer, None)


def changes(model: FormModel | None, old: Any, new: Any) -> list[Change]:
    """The fields whose values differ between two copies, in the form's order."""
    before, after = dict(leaves_of(old or {})), dict(leaves_of(new or {}))
    out = []
    for pointer in [*before, *(p for p in after if p not in before)]:
        if before.get(pointer) == after.get(pointer):
            continue
        field = model.field_for(pointer) if model is not None else None
        exact = field is not None and field.pointer.count("/") == pointer.count("/")
        out.append(Change(pointer=pointer, label=field.label if exact and field else pointer,
                          sheet=field.sheet if field else None, cell=field.cell if field else None,
                          old=before.get(pointer), new=after.get(pointer)))
    if model is not None:
        order = {s.name: i for i, s in enumerate(model.sheets)}
        out.sort(key=lambda c: (order.get(c.sheet or "", 99), *((f.row, f.col) if (f := model.field_for(c.pointer))
                                                                 else (0, 0))))
    return out


def show(store: Store, submission: int, lang: str = "zh") -> Review:
    """Where the review of return ``submission`` stands: its state and stage, grade, the reasons it
    was sent back with, what changed since the copy last reviewed (and whether each of that
    review's reasons' fields changed), and every decision on every copy of the return."""
    ret = one(store, submission, with_data=True)
    if ret is None:
        raise ReviewError("no_such_return", "missing", id=submission)
    rnd = get_round(store, ret.round_id) if ret.round_id is not None else None
    stages = rnd.stages if rnd is not None else []
    with store.engine.connect() as conn:
        earlier = _earlier(conn, store, submission)
    history = decisions(store, [submission, *earlier])
    register_versions(store)
    model = _model(ret)
    own = [d for d in history if d.return_id == submission]
    reasons = next((d.reasons for d in reversed(own) if d.decision == RETURNED), []) if ret.state == RETURNED else []
    before = [d for d in history if d.return_id != submission]
    reviewed = before[-1].return_id if before else None
    earlier_reasons: list[Reason] = []
    found: list[Change] = []
    if reviewed is not None:
        old = one(store, reviewed, with_data=True)
        old_data = old.data if old is not None else None
        found = changes(model, old_data, ret.data)
        last = [d for d in before if d.return_id == reviewed]
        sent_back = next((d for d in reversed(last) if d.decision == RETURNED), None)
        if sent_back is not None:
            earlier_reasons = [msgspec.structs.replace(r, changed=_differs(old_data, ret.data, r.pointer))
                               for r in sent_back.reasons]
    stage = ret.review_stage
    name = stages[min(stage, len(stages) - 1)] if stages and stage is not None else None
    office = offices(store, rnd.id).get(ret.department_code or "") if rnd is not None else None
    return Review(return_id=submission, round_id=ret.round_id, department_code=ret.department_code,
                  department=ret.department, office=office, project=ret.project, state=ret.state, stage=stage,
                  stage_name=name, stages=stages, grade=ret.grade, grades=grades_of(model),
                  resubmitted=ret.resubmitted, reasons=reasons, reviewed=reviewed, earlier_reasons=earlier_reasons,
                  changes=found, history=history, warnings=ret.warnings)


class Line(msgspec.Struct, kw_only=True):
    """One return in a list of reviews (``xltemplate review list``)."""

    id: int
    round_id: int | None
    department_code: str | None
    department: str | None
    office: str | None
    project: str | None
    state: str
    stage: int | None
    stage_name: str | None
    grade: str | None
    resubmitted: bool
    warnings: int
    received_at: dt.datetime | None


def listing(store: Store, rnd: Round, *, state: str | None = None, office: str | None = None,
            user: User | None = None) -> list[Line]:
    """The round's current returns with where their reviews stand: of one state, of the departments
    of one 科室, or of those ``user`` reviews."""
    assigned = offices(store, rnd.id)
    found = query(store, round_id=rnd.id, withdrawn=False, state=state)
    out = []
    for r in found:
        where = assigned.get(r.department_code or "")
        if r.department_code is None or (office is not None and where != office) or \
                (user is not None and not mine(user, where)):
            continue
        stage = r.review_stage
        out.append(Line(id=r.id or 0, round_id=r.round_id, department_code=r.department_code,
                        department=r.department, office=where, project=r.project, state=r.state, stage=stage,
                        stage_name=rnd.stages[min(stage, len(rnd.stages) - 1)] if stage is not None else None,
                        grade=r.grade, resubmitted=r.resubmitted, warnings=len(r.warnings),
                        received_at=r.received_at))
    return out
