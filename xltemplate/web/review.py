"""The reviewers' pages (审核): a round's returns and where their reviews stand, one return's review
page (its values by the form's sections, the warnings beside them, a reason box per field, what
changed since the copy last reviewed, the decision), and the admin's page of accounts and roles.

Each handler calls the domain functions of :mod:`xltemplate.collect.reviews` and
:mod:`xltemplate.collect.accounts`; who may decide which review is decided there, never here
(an account that may not gets 403 with the reason)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import accounts, events, intake, reviews, rounds, scans
from ..collect.returns import STATES, one
from ..collect.reviews import ReviewError
from ..form.forms import find_form, find_version
from ..form.model import FormModel
from ..form.schema import node_at, split_pointer
from ..form.values import get
from ..messages import t
from .auth import action, address, field, page
from .responses import portal, redirect, refused, render

#: fields a review form may carry: a reason box per field of the bundled form, and then some
MAX_FIELDS = 1000


def _model(form: str | None, version: str | None) -> FormModel | None:
    current = find_form(form) if form else None
    if current is None or not version or current.version == version:
        return current
    return find_version(form or "", version, near=current) or current


def _sections(model: FormModel | None, data: dict[str, Any] | None,
              warned: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The return's values by the form's sections: each section's title, its rows (pointer, label,
    value, warnings) in the form's order, and the warnings about the section as a whole."""
    if model is None or data is None:
        return []
    out: dict[str, dict[str, Any]] = {}
    placed: set[str] = set()
    for f in model.fields:
        top = split_pointer(f.pointer)[0]
        section = out.get(top)
        if section is None:
            title = node_at(model.schema, "/" + top).get("title") or top
            section = out[top] = {"key": top, "title": title, "rows": [], "notes": []}
        value = get(data, f.pointer, None)
        if f.array is not None and get(data, f.pointer.rsplit("/", 1)[0], None) is None:
            continue  # a row of a repeating area the clerk left empty
        prefix = str(section["title"]) + " · "
        section["rows"].append({"pointer": f.pointer, "label": f.label.removeprefix(prefix), "value": value,
                                "warnings": warned.get(f.pointer, [])})
        placed.add(f.pointer)
    for pointer, messages in warned.items():
        if pointer not in placed:
            top = split_pointer(pointer)[0] if pointer else ""
            if top in out:
                out[top]["notes"] += messages
    return list(out.values())


def review_page(request: Request, sess: accounts.Session, problem: str | None = None,
                typed: dict[str, str] | None = None, status_code: int = 200) -> Response:
    store = portal(request).store
    sid = request.path_params["sid"]
    ret = one(store, sid, with_data=True, with_scans=True)
    if ret is None:
        raise HTTPException(404)
    review = reviews.show(store, sid)
    rnd = rounds.get(store, ret.round_id) if ret.round_id is not None else None
    warned: dict[str, list[str]] = {}
    for w in ret.warnings:
        warned.setdefault(w.pointer or "", []).append(w.message)
    stage_name = review.stage_name or ""
    may = review.state == reviews.PENDING and ret.current and ret.withdrawn_at is None and \
        ret.department_code is not None and reviews.may_decide(sess.user, review.office, stage_name)
    papers = scans.for_returns([ret], scans.of_department(store, rnd.id, ret.department_code)) \
        if rnd is not None and ret.department_code else {}
    return render(request, "review.html", status_code=status_code, ret=ret, review=review, round=rnd, papers=papers,
                  has_annotated=intake.has_annotated(ret),
                  sections=_sections(_model(ret.form, ret.version), ret.data, warned), may=may,
                  problem=problem, typed=typed or {}, whole=(typed or {}).get("", ""))


def _reasons(form: FormData) -> list[tuple[str | None, str]]:
    """The reason boxes written in (``r:<pointer>``; ``r:`` is the whole return's)."""
    out = []
    for key, value in form.multi_items():
        if key.startswith("r:") and isinstance(value, str) and value.strip():
            out.append((key[2:] or None, value.strip()))
    return out


def decide(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """A decision on the review page: 通过 (with a grade) or 退回修改 (with the reasons written)."""
    sid = request.path_params["sid"]
    wanted = _reasons(form)
    try:
        reviews.decide(portal(request).store, sid, field(form, "decision"), user=sess.user,
                       grade=field(form, "grade") or None, reasons=wanted, address=address(request))
    except ReviewError as exc:
        if exc.kind != "invalid":
            raise refused(exc) from exc
        return review_page(request, sess, str(exc), {p or "": w for p, w in wanted}, 400)
    return redirect(request, "review", sid=sid)


def reviews_page(request: Request, sess: accounts.Session) -> Response:
    """A round's returns and where their reviews stand: a reviewer's own departments first (``?all=1``:
    every one), filtered by state."""
    store = portal(request).store
    rnd = rounds.get(store, request.path_params["rid"])
    if rnd is None:
        raise HTTPException(404)
    want = request.query_params.get("state", "")
    want = want if want in STATES else ""
    everyone = request.query_params.get("all") == "1" or sess.user.role != "reviewer"
    found = reviews.listing(store, rnd, state=want or None, user=None if everyone else sess.user)
    return render(request, "reviews.html", round=rnd, lines=found, want=want, states=STATES, everyone=everyone)


# -- accounts and roles (admin) --------------------------------------------------------------------

def users_page(request: Request, sess: accounts.Session, problem: str | None = None,
               status_code: int = 200) -> Response:
    return render(request, "users.html", status_code=status_code, users=accounts.users(portal(request).store),
                  roles=accounts.ROLES, problem=problem)


def _stages(form: FormData) -> list[str]:
    """The stages typed for a reviewer, read as a round's are (:func:`rounds.stage_names`)."""
    return rounds.stage_names(field(form, "stages")) or []


def _account(request: Request) -> accounts.User:
    """The account of the path's ``uid``; 404 when there is none."""
    uid = request.path_params["uid"]
    found = next((a.user for a in accounts.users(portal(request).store) if a.user.id == uid), None)
    if found is None:
        raise HTTPException(404)
    return found


def add_user(request: Request, sess: accounts.Session, form: FormData) -> Response:
    store = portal(request).store
    try:
        made = accounts.add_user(store, field(form, "name"), str(form.get("password") or ""), field(form, "role"),
                                 office=field(form, "office") or None, stages=_stages(form))
    except (accounts.AccountError, rounds.RoundError) as exc:
        return users_page(request, sess, str(exc), 400)
    events.record(store, "user_added", actor=sess.user.name, address=address(request),
                  detail={"name": made.name, "role": made.role, "office": made.office, "stages": list(made.stages)})
    return redirect(request, "users")


def set_role(request: Request, sess: accounts.Session, form: FormData) -> Response:
    store = portal(request).store
    found = _account(request)
    try:
        done = accounts.set_role(store, found.name, field(form, "role"), office=field(form, "office") or None,
                                 stages=_stages(form))
    except (accounts.AccountError, rounds.RoundError) as exc:
        return users_page(request, sess, str(exc), 400)
    events.record(store, "user_role", actor=sess.user.name, address=address(request),
                  detail={"name": done.name, "role": done.role, "office": done.office, "stages": list(done.stages)})
    return redirect(request, "users")


def set_disabled(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """An account disabled (its sessions end at once; it can no longer log in) or enabled again.
    An admin cannot disable their own account (the portal would be left without its admin)."""
    store = portal(request).store
    found = _account(request)
    disabling = request.url.path.endswith("/disable")
    if disabling and found.id == sess.user.id:
        return users_page(request, sess, t("user_disable_self"), 400)
    (accounts.disable if disabling else accounts.enable)(store, found.name)
    events.record(store, "user_disabled" if disabling else "user_enabled", actor=sess.user.name,
                  address=address(request), detail={"name": found.name})
    return redirect(request, "users")


def routes() -> list[Route]:
    return [
        Route("/rounds/{rid:id}/reviews", page(reviews_page), name="reviews"),
        Route("/returns/{sid:id}/review", page(review_page), methods=["GET"], name="review"),
        Route("/returns/{sid:id}/review", action(decide, anyone=True, max_fields=MAX_FIELDS), methods=["POST"],
              name="review_decide"),
        Route("/users", page(users_page, admin=True), methods=["GET"], name="users"),
        Route("/users", action(add_user, admin=True), methods=["POST"], name="user_new"),
        Route("/users/{uid:id}/role", action(set_role, admin=True), methods=["POST"], name="user_role"),
        Route("/users/{uid:id}/disable", action(set_disabled, admin=True), methods=["POST"], name="user_disable"),
        Route("/users/{uid:id}/enable", action(set_disabled, admin=True), methods=["POST"], name="user_enable"),
    ]
