"""The finance staff's pages: login, rounds, the dashboard, a department's page, bulk uploads,
downloads, links, the audit log, API tokens and (admins) the installation's settings.  Each handler
reads the request, calls one domain function of :mod:`xltemplate.collect` and renders or redirects:
it holds no query and decides nothing of its own.  Every path it answers with comes from the route
table (:func:`path_for`).

* Every change answers 303 to a page that can be reloaded; what that page shows once (a new link,
  a new API token) is kept with the session (:func:`accounts.put_flash`).
* A destructive action (:class:`Confirm`) is offered as a link to its question, a GET page of its
  own that changes nothing, shown as a dialog on the page when JavaScript runs; only the question's
  form carries the CSRF token its POST needs.
* Links are built on :func:`links.base`: the portal's address as set, else the request's, with a
  warning when that is this computer's own."""

from __future__ import annotations

import datetime as dt
import string
import urllib.parse
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import (
    accounts,
    departments,
    events,
    files,
    intake,
    jobs,
    links,
    notices,
    packages,
    reminders,
    returns,
    reviews,
    rounds,
    scans,
    settings,
)
from ..collect.distribute import RosterError
from ..collect.report import ReportError, round_report
from ..collect.rounds import Round
from ..form.forms import FormNotFound, bundled, load_form
from ..messages import t
from .auth import action, address, cross_site, current_session, field, page
from .responses import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    download,
    new_login_token,
    path_for,
    portal,
    redirect,
    redirect_path,
    render,
    set_cookie,
)
from .security import BULK_LIMIT, FORM_LIMIT, ROSTER_LIMIT, limited

SORTS = ("code", "name", "status", "returns", "last_sent")
MAX_ID = 999_999_999


def _int(value: str | None) -> int | None:
    """A query parameter that must be an id: None unless it is one (1 to 9 ASCII digits)."""
    return int(value) if value is not None and value.isascii() and value.isdigit() and len(value) <= 9 else None


def _round(request: Request) -> Round:
    rnd = rounds.get(portal(request).store, request.path_params["rid"])
    if rnd is None:
        raise HTTPException(404)
    return rnd


def _record(request: Request, sess: accounts.Session | None, action_: str, **kw: Any) -> None:
    events.record(portal(request).store, action_, actor=sess.user.name if sess else None, address=address(request),
                  **kw)


# -- login -----------------------------------------------------------------------------------------

_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "/-._~%!$&'()*+,;=:@?")


def _safe_next(nxt: str) -> str:
    """Only a path of this site: never ``//elsewhere``, a full address, a backslash, or a space or
    control character (a browser drops a tab or a newline: ``/<tab>/elsewhere`` is ``//elsewhere``)."""
    parts = urllib.parse.urlsplit(nxt)
    ok = (nxt.startswith("/") and nxt[1:2] not in ("/", "\\") and set(nxt) <= _PATH_CHARS
          and not parts.scheme and not parts.netloc and len(nxt) <= 500)
    return nxt if ok else "/rounds"


async def login_page(request: Request) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    nxt = _safe_next(request.query_params.get("next", "/rounds"))
    first = await run_in_threadpool(accounts.first_start, portal(request).store)
    response = render(request, "login.html", login_token=token, next=nxt, error=None, name="", first_start=first)
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login(request: Request) -> Response:
    if cross_site(request):
        raise HTTPException(403)
    form = await request.form(max_files=0, max_fields=10)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.get("login_token")
    if not cookie or not isinstance(sent, str) or not accounts.same(sent, cookie):
        raise HTTPException(403)
    name, password = field(form, "name"), str(form.get("password") or "")
    nxt = _safe_next(field(form, "next", "/rounds"))
    store = portal(request).store
    try:
        user = await run_in_threadpool(accounts.authenticate, store, name, password, "zh", address(request))
    except accounts.LoginFailed as exc:
        await run_in_threadpool(events.record, store, "login_failed", actor=name[:200], address=address(request),
                                detail={"throttled": True} if exc.throttled else None)
        first = await run_in_threadpool(accounts.first_start, store)
        return render(request, "login.html", status_code=401, login_token=cookie, next=nxt, error=str(exc),
                      name=name, first_start=first)
    token, _sess = await run_in_threadpool(accounts.start_session, store, user, address(request))
    await run_in_threadpool(events.record, store, "login", actor=name[:200], address=address(request))
    response = redirect_path(nxt)
    set_cookie(request, response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def logout(request: Request, sess: accounts.Session, form: FormData) -> Response:
    accounts.end_session(portal(request).store, request.cookies.get(SESSION_COOKIE))
    _record(request, sess, "logout")
    response = redirect(request, "login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    return redirect(request, "rounds" if await current_session(request) else "login")


# -- confirmations ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Confirm:
    """A destructive action asked for before it is done: its own page (``page``: a GET that shows
    ``lines`` and a form that POSTs to ``action`` with the CSRF token) and the same as a dialog on
    the page the action is offered on (``id``; ``app.js`` opens it instead of following the link)."""

    id: str
    title: str
    lines: list[str]
    page: str
    action: str
    button: str
    back: str
    reason: bool = False  # the form asks for a reason (withdraw)
    base: links.Base | None = None  # the links made will point here (a warning when it is local)


def confirm_page(request: Request, c: Confirm) -> Response:
    return render(request, "confirm.html", c=c)


def _base(request: Request) -> links.Base:
    return links.base(portal(request).store, str(request.base_url))


def _department_name(request: Request, rnd: Round, code: str) -> str:
    """The roster's name of department ``code`` of the round; 404 for a department not in it."""
    lines = rounds.roster_of(portal(request).store, rnd.id, code)
    if not lines:
        raise HTTPException(404)
    return lines[0].name


def _confirm_close(request: Request, rnd: Round, totals: departments.Totals | None = None) -> Confirm:
    store = portal(request).store
    totals = totals or departments.round_totals(store, rnd)
    return Confirm("confirm-close", t("confirm_close_title", name=rnd.name),
                   [t("confirm_close_links", n=links.count_live(store, rnd.id)),
                    t("confirm_close_state", returned=totals.sent, departments=totals.departments)],
                   path_for(request, "round_close_confirm", rid=rnd.id), path_for(request, "round_close", rid=rnd.id),
                   t("round_close"), path_for(request, "round", rid=rnd.id))


def _confirm_relink(request: Request, rnd: Round) -> Confirm:
    store = portal(request).store
    _templates, count = rounds.template_counts(store, rnd.id)
    return Confirm("confirm-relink", t("confirm_relink_title", name=rnd.name),
                   [t("confirm_relink_links", n=count, live=links.count_live(store, rnd.id)),
                    t("confirm_relink_package")],
                   path_for(request, "relink_confirm", rid=rnd.id), path_for(request, "relink", rid=rnd.id),
                   t("relink_button"), path_for(request, "round", rid=rnd.id), base=_base(request))


def _confirm_delete(request: Request, rnd: Round) -> Confirm:
    store = portal(request).store
    roster = rounds.roster_of(store, rnd.id)
    return Confirm("confirm-delete", t("confirm_delete_title", name=rnd.name),
                   [t("confirm_delete_what", departments=len({x.code for x in roster}),
                      templates=rounds.template_counts(store, rnd.id)[0]), t("confirm_delete_final")],
                   path_for(request, "round_delete_confirm", rid=rnd.id), path_for(request, "round_delete", rid=rnd.id),
                   t("round_delete"), path_for(request, "round", rid=rnd.id))


def _confirm_link_new(request: Request, rnd: Round, code: str, name: str) -> Confirm:
    return Confirm("confirm-link-new", t("confirm_link_new_title", code=code, name=name),
                   [t("confirm_link_new_old", name=name), t("confirm_link_new_once")],
                   path_for(request, "link_new_confirm", rid=rnd.id, code=code),
                   path_for(request, "link_new", rid=rnd.id, code=code), t("link_regenerate"),
                   path_for(request, "department", rid=rnd.id, code=code), base=_base(request))


def _confirm_link_revoke(request: Request, rnd: Round, code: str, name: str) -> Confirm:
    return Confirm("confirm-link-revoke", t("confirm_link_revoke_title", code=code, name=name),
                   [t("confirm_link_revoke_what", name=name)],
                   path_for(request, "link_revoke_confirm", rid=rnd.id, code=code),
                   path_for(request, "link_revoke", rid=rnd.id, code=code), t("link_revoke"),
                   path_for(request, "department", rid=rnd.id, code=code))


def _confirm_withdraw(request: Request, ret: returns.Return) -> Confirm:
    back = (path_for(request, "department", rid=ret.round_id, code=ret.department_code)
            if ret.round_id is not None and ret.department_code else path_for(request, "rounds"))
    return Confirm(f"confirm-withdraw-{ret.id}", t("confirm_withdraw_title", id=ret.id),
                   [t("confirm_withdraw_what", id=ret.id, department=ret.department or t("no_department"),
                      project=ret.project or t("no_project"), file=ret.file),
                    t("confirm_withdraw_effect")],
                   path_for(request, "withdraw_confirm", sid=ret.id), path_for(request, "withdraw", sid=ret.id),
                   t("withdraw"), back, reason=True)


def round_close_confirm(request: Request, sess: accounts.Session) -> Response:
    return confirm_page(request, _confirm_close(request, _round(request)))


def relink_confirm(request: Request, sess: accounts.Session) -> Response:
    return confirm_page(request, _confirm_relink(request, _round(request)))


def round_delete_confirm(request: Request, sess: accounts.Session) -> Response:
    return confirm_page(request, _confirm_delete(request, _round(request)))


def link_new_confirm(request: Request, sess: accounts.Session) -> Response:
    rnd, code = _round(request), request.path_params["code"]
    return confirm_page(request, _confirm_link_new(request, rnd, code, _department_name(request, rnd, code)))


def link_revoke_confirm(request: Request, sess: accounts.Session) -> Response:
    rnd, code = _round(request), request.path_params["code"]
    return confirm_page(request, _confirm_link_revoke(request, rnd, code, _department_name(request, rnd, code)))


def withdraw_confirm(request: Request, sess: accounts.Session) -> Response:
    return confirm_page(request, _confirm_withdraw(request, _return(request)))


# -- rounds ----------------------------------------------------------------------------------------

PENDING = "pending_round"  # the flash of a round waiting to be confirmed (the same as one made already)


def rounds_page(request: Request, sess: accounts.Session, problems: list[str] | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    store = portal(request).store
    pending = accounts.take_flash(store, sess, PENDING)  # a round not confirmed: its roster is dropped
    if pending is not None:
        packages.drop_roster(store, pending["roster"])
    overview = departments.overview(store)
    forms = [(fid, load_form(path).title) for fid, path in sorted(bundled().items())]
    return render(request, "rounds.html", status_code=status_code, overview=overview, forms=forms,
                  form_titles=rounds.form_titles(store), problems=problems or [], values=values or {},
                  base=_base(request), notice=accounts.take_flash(store, sess, "notice"))


def _year(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 1990 <= int(text) <= 2100 else None


def create_round(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The same as ``distribute --db``: the round, its roster, a template and a link per department;
    then one zip with the templates and the list of links, offered once.  The same form, year and
    roster as a round made already: kept aside, and staff are asked first (:func:`round_new_confirm`)."""
    store = portal(request).store
    values = {k: field(form, k) for k in ("form", "year", "deadline", "name", "stages")}
    problems: list[str] = []
    year = deadline = None
    if values["year"]:
        year = _year(values["year"])
        if year is None:
            problems.append(t("bad_year", value=values["year"]))
    if values["deadline"]:
        try:
            deadline = dt.date.fromisoformat(values["deadline"])
        except ValueError:
            problems.append(t("bad_date", value=values["deadline"]))
    upload = form.get("roster")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems.append(t("roster_missing"))
    model = None
    if not values["form"]:
        problems.append(t("form_missing"))
    else:
        try:
            model = load_form(values["form"])
        except (FormNotFound, OSError, ValueError):
            problems.append(t("form_unknown", form=values["form"]))
    try:
        rounds.stage_names(values["stages"])
    except rounds.RoundError as exc:
        problems.append(str(exc))
    if problems or model is None:
        return rounds_page(request, sess, problems, values, 400)
    assert isinstance(upload, UploadFile)
    roster, roster_name = upload.file.read(), upload.filename or ""
    same = packages.same_rounds(store, model, year, roster, roster_name, portal(request).data_dir)
    if same:
        held = packages.hold_roster(store, roster, roster_name)
        accounts.put_flash(store, sess, PENDING, {"roster": held, "roster_name": roster_name, **values,
                                                  "same": [r.name for r in same]})
        return redirect(request, "round_new_confirm")
    return _open_round(request, sess, model, roster, roster_name, values, year, deadline)


def _open_round(request: Request, sess: accounts.Session, model: Any, roster: bytes, roster_name: str,
                values: dict[str, str], year: int | None, deadline: dt.date | None) -> Response:
    try:
        rnd, fid = packages.open_round(portal(request).store, model, roster, roster_name, portal(request).data_dir,
                                       name=values["name"] or None, year=year, deadline=deadline,
                                       actor=sess.user.name, base_url=_base(request).url, address=address(request),
                                       stages=values.get("stages") or None)
    except RosterError as exc:
        return rounds_page(request, sess, exc.problems, values, 400)
    return redirect_path(path_for(request, "round", rid=rnd.id) + f"?package={fid}")


def _pending(request: Request, sess: accounts.Session) -> tuple[dict[str, Any], Confirm]:
    pending = accounts.peek_flash(sess, PENDING)
    if pending is None:
        raise HTTPException(404, t("round_pending_gone"))
    title = next((title for fid, title in ((fid, load_form(p).title) for fid, p in bundled().items())
                  if fid == pending["form"]), pending["form"])
    c = Confirm("confirm-round", t("confirm_round_title"),
                [t("confirm_round_same", names="、".join(f"“{n}”" for n in pending["same"]), form=title,
                   year=pending["year"] or "—"), t("confirm_round_effect")],
                path_for(request, "round_new_confirm"), path_for(request, "round_new_confirmed"),
                t("round_create_again"), path_for(request, "rounds"), base=_base(request))
    return pending, c


def round_new_confirm(request: Request, sess: accounts.Session) -> Response:
    return confirm_page(request, _pending(request, sess)[1])


def round_new_confirmed(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The round kept aside, made after all."""
    store = portal(request).store
    pending = accounts.take_flash(store, sess, PENDING)
    if pending is None:  # made already (a second click), or given up
        return redirect(request, "rounds")
    held = packages.held_roster(store, pending["roster"])
    if held is None:
        raise HTTPException(404, t("round_pending_gone"))
    try:
        model = load_form(pending["form"])
    except (FormNotFound, OSError, ValueError) as exc:
        raise HTTPException(400, t("form_unknown", form=pending["form"])) from exc
    deadline = dt.date.fromisoformat(pending["deadline"]) if pending["deadline"] else None
    try:
        return _open_round(request, sess, model, held.content, pending["roster_name"], pending,
                           _year(pending["year"]) if pending["year"] else None, deadline)
    finally:
        packages.drop_roster(store, held.id)


def package(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The zip made when the round was created (or its links regenerated), offered once: it holds
    the links, which are kept nowhere else (only their hashes are).  Taking it deletes it, so it is
    a POST with the CSRF token like every other change: a page of another site cannot make a
    browser use it up."""
    rnd = _round(request)
    stored = rounds.take_package(portal(request).store, rnd, request.path_params["fid"], sess.user.name,
                                 address(request))
    if stored is None:
        raise HTTPException(404, t("package_gone"))
    return download(stored.content, stored.name)


def relink(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """Every department of the round gets a new link; the new package is offered once."""
    rnd = _round(request)
    store = portal(request).store
    revoked, fid = packages.relink(store, rnd, _base(request).url, sess.user.name, address(request))
    accounts.put_flash(store, sess, "relinked", {"round": rnd.id, "file": fid, "revoked": revoked})
    return redirect_path(path_for(request, "round", rid=rnd.id) + f"?package={fid}")


def round_delete(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    store = portal(request).store
    try:
        rounds.delete(store, rnd, sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(409, str(exc)) from exc
    accounts.put_flash(store, sess, "notice", t("round_deleted", name=rnd.name))
    return redirect(request, "rounds")


#: departments listed on one page of a round's dashboard: a bureau of 2,000 departments gets a page
#: a browser (and a phone) renders at once; the filters, search and sorting choose what comes first
DASHBOARD_PAGE = 500


def dashboard(request: Request, sess: accounts.Session) -> Response:
    """A round: where each department stands.  A reviewer's opens on the departments of their 科室
    (``?all=1``: every department), the totals staying the round's.  The departments chosen by the
    filters come :data:`DASHBOARD_PAGE` at a time (``?page=``)."""
    rnd = _round(request)
    store = portal(request).store
    lines = departments.status(store, rnd)
    totals = departments.round_totals(store, rnd, lines)
    q = request.query_params
    narrowed = sess.user.role == "reviewer" and sess.user.office is not None and q.get("all") != "1"
    if narrowed:
        lines = [d for d in lines if reviews.mine(sess.user, d.office)]
    want = q.get("status", "")
    want = want if want in departments.STATES else ""
    sort = q.get("sort", "code")
    sort = sort if sort in SORTS else "code"
    search = q.get("q", "").strip()[:100]
    desc = q.get("desc") == "1"
    shown = [d for d in lines if (not want or d.status == want) and
             (not search or search in d.name or search in d.code)]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    order = {"status": lambda d: departments.STATES.index(d.status), "last_sent": lambda d: d.last_sent or epoch,
             "returns": lambda d: d.returns, "name": lambda d: d.name, "code": lambda d: d.code}[sort]
    shown.sort(key=order, reverse=desc)
    matched = len(shown)
    pages = max(1, -(-matched // DASHBOARD_PAGE))
    page = min(max(1, _int(q.get("page")) or 1), pages)
    shown = shown[(page - 1) * DASHBOARD_PAGE:page * DASHBOARD_PAGE]
    package_id = _int(q.get("package"))
    query = {"status": want, "sort": sort, "q": search, "desc": "1" if desc else "",
             "all": "1" if q.get("all") == "1" else "", "page": str(page) if page > 1 else ""}
    context = {"round": rnd, "form_title": rounds.form_titles(store).get(rnd.form_id, rnd.form_id),
               "lines": shown, "totals": totals, "want": want, "sort": sort, "desc": desc,
               "search": search, "statuses": departments.STATES,
               "status_words": {st: t("status_" + st) for st in departments.STATES}, "sorts": SORTS,
               "package": package_id,
               "query": {k: v for k, v in query.items() if v}, "jobs": jobs.recent(store, rnd.id),
               "narrowed": narrowed, "office": sess.user.office, "remindable": reminders.REMIND_STATES,
               "page": page, "pages": pages, "matched": matched, "first": (page - 1) * DASHBOARD_PAGE + 1}
    if q.get("partial") == "1":
        return render(request, "dashboard_live.html", **context)
    relinked = accounts.take_flash(store, sess, "relinked") if package_id is not None else None
    if relinked is not None and (relinked.get("round"), relinked.get("file")) != (rnd.id, package_id):
        relinked = None
    unrecognized = departments.unrecognized(store, rnd)
    roster = dict(departments.named(store, rnd.id)) if unrecognized else {}  # to assign a file to one of them
    admin = sess.user.role == "admin"
    return render(request, "dashboard.html", unrecognized=unrecognized, roster=roster,
                  relinked=relinked, close=_confirm_close(request, rnd, totals) if rnd.status == rounds.OPEN else None,
                  relink=_confirm_relink(request, rnd),
                  delete=_confirm_delete(request, rnd) if admin and not rounds.has_returns(store, rnd.id) else None,
                  warnings=departments.frequent_warnings(store, rnd),
                  mail=notices.mail_status(store), reach=notices.reach(store, rnd.id), kinds=notices.SWITCHABLE,
                  remind_hour=reminders.REMIND_HOUR, problem=request.query_params.get("problem") == "tick",
                  **context)


def set_round_state(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    state = rounds.CLOSED if request.url.path.endswith("/close") else rounds.OPEN
    rounds.set_status(portal(request).store, rnd.id, state, actor=sess.user.name, address=address(request))
    return redirect(request, "round", rid=rnd.id)


# -- a department ----------------------------------------------------------------------------------

NEW_LINK = "new_link"  # the flash of a link just made, shown once on its department's page
CHASE = "chase"  # the flash of a reminder to paste (with a link of its own), shown once on its department's page


def _flash_for(store: Any, sess: accounts.Session, name: str, rid: int, code: str) -> Any:
    """The flash ``name`` kept for this round's department ``code``, taken; None when there is none."""
    made = accounts.peek_flash(sess, name)
    if made is None or (made.get("round"), made.get("code")) != (rid, code):
        return None
    return accounts.take_flash(store, sess, name)


def department_page(request: Request, sess: accounts.Session, problem: str | None = None,
                    status_code: int = 200) -> Response:
    rnd = _round(request)
    store = portal(request).store
    code = request.path_params["code"]
    found = departments.detail(store, rnd, code, refused_before=_int(request.query_params.get("refused_before")))
    if found is None:
        raise HTTPException(404)
    made = _flash_for(store, sess, NEW_LINK, rnd.id, code)
    chase = _flash_for(store, sess, CHASE, rnd.id, code)
    return render(request, "department.html", status_code=status_code, round=rnd, dept=found,
                  new_link=made["link"] if made else None, chase=chase["text"] if chase else None, problem=problem,
                  link_new=_confirm_link_new(request, rnd, code, found.name),
                  link_revoke=_confirm_link_revoke(request, rnd, code, found.name),
                  withdraws={r.id: _confirm_withdraw(request, r) for r in found.returns if not r.withdrawn_at},
                  emails=rounds.emails_of(store, rnd.id, code),
                  messages=notices.of_department(store, rnd.id, code), mail=notices.mail_status(store),
                  papers=scans.for_returns(found.returns, scans.of_department(store, rnd.id, code)))


def set_emails(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """Correct the department's e-mail addresses (the roster's, for this round)."""
    rnd = _round(request)
    code = request.path_params["code"]
    try:
        rounds.set_emails(portal(request).store, rnd.id, code, field(form, "emails"), sess.user.name,
                          address(request))
    except rounds.RoundError as exc:
        return department_page(request, sess, problem=str(exc), status_code=400)
    return redirect(request, "department", rid=rnd.id, code=code)


def chase_text(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """One department's reminder to paste, with a new link of its own (shown once, on this page)."""
    rnd = _round(request)
    store, code = portal(request).store, request.path_params["code"]
    text = reminders.chase_text(store, rnd, code, _base(request).url, sess.user.name, address(request))
    if text is None:
        raise HTTPException(404)
    accounts.put_flash(store, sess, CHASE, {"round": rnd.id, "code": code, "text": text})
    return redirect(request, "department", rid=rnd.id, code=code)


def remind(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The departments ticked on the dashboard: reminded by mail now, or listed in a 催报清单."""
    rnd = _round(request)
    store = portal(request).store
    codes = [c for c in form.getlist("code") if isinstance(c, str) and c]
    if field(form, "do") == "list":
        content = reminders.chase_list(store, rnd, codes, _base(request).url, sess.user.name, address(request))
        return download(content, f"{rnd.name}_{t('chase_sheet')}.xlsx")
    if not codes:
        return redirect_path(path_for(request, "round", rid=rnd.id) + "?problem=tick#remind")
    try:
        reminders.send_now(store, rnd, codes, sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return redirect(request, "round_messages", rid=rnd.id)


def set_reach(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """Which notices the round sends, and its reminder plan."""
    rnd = _round(request)
    try:
        plan = notices.parse_plan(field(form, "plan"))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    chosen = {k: form.get("notice_" + k) == "1" for k in notices.SWITCHABLE}
    notices.set_reach(portal(request).store, rnd.id, chosen, plan, sess.user.name, address(request))
    return redirect(request, "round", rid=rnd.id)


def round_messages(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    found = notices.of_round(portal(request).store, rnd.id, before=_int(request.query_params.get("before")))
    return render(request, "messages.html", round=rnd, messages=found,
                  more=found[-1].id if len(found) == 200 else None)


def scan_preview(request: Request, sess: accounts.Session) -> Response:
    """The picture of a stamped scan (a PDF's first page rendered on the server), shown in the page."""
    stored = scans.preview(portal(request).store, request.path_params["id"])
    if stored is None:
        raise HTTPException(404)
    ext = files.extension_of(stored.content)
    if ext not in ("png", "jpg"):
        raise HTTPException(404)
    return download(stored.content, f"scan-{request.path_params['id']}.{ext}", inline=True)


def scan_file(request: Request, sess: accounts.Session) -> Response:
    """A stamped scan as the clerk uploaded it (a download, never opened in the page)."""
    sid = request.path_params["id"]
    stored = scans.original(portal(request).store, sid)
    if stored is None:
        raise HTTPException(404)
    name = files.download_name(t("scan_file_name", id=sid), stored.content)
    _record(request, sess, "download", detail={"file": name, "scan": sid})
    return download(stored.content, name)



def new_link(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """A new link for the department (the old one stops working), shown once on the page the answer
    leads to: a reload of that page makes no other link."""
    rnd = _round(request)
    code = request.path_params["code"]
    _department_name(request, rnd, code)
    store = portal(request).store
    token = links.regenerate(store, rnd.id, code, sess.user.name, address(request))
    accounts.put_flash(store, sess, NEW_LINK, {"round": rnd.id, "code": code,
                                               "link": links.address(token, _base(request).url)})
    return redirect(request, "department", rid=rnd.id, code=code)


def revoke_link(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    code = request.path_params["code"]
    _department_name(request, rnd, code)
    links.revoke(portal(request).store, rnd.id, code, sess.user.name, address(request))
    return redirect(request, "department", rid=rnd.id, code=code)


def _return(request: Request) -> returns.Return:
    found = returns.one(portal(request).store, request.path_params["sid"])
    if found is None:
        raise HTTPException(404)
    return found


def _back(request: Request, ret: returns.Return) -> Response:
    if ret.round_id is None:
        return redirect(request, "rounds")
    return redirect(request, "department", rid=ret.round_id, code=ret.department_code or "")


def withdraw(request: Request, sess: accounts.Session, form: FormData) -> Response:
    ret = _return(request)
    try:
        returns.withdraw(portal(request).store, ret.id or 0, field(form, "reason"), sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _back(request, ret)


def restore(request: Request, sess: accounts.Session, form: FormData) -> Response:
    ret = _return(request)
    try:
        returns.restore(portal(request).store, ret.id or 0, sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _back(request, ret)


def assign(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """A file that told no department, given to one of its round's roster."""
    ret = _return(request)
    try:
        returns.assign(portal(request).store, ret.id or 0, field(form, "department"), sess.user.name,
                       address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return redirect(request, "round", rid=ret.round_id or 0)


def discard(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """A file that told no department and belongs to none, set aside with a reason."""
    ret = _return(request)
    try:
        returns.discard(portal(request).store, ret.id or 0, field(form, "reason"), sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return redirect(request, "round", rid=ret.round_id or 0)


def return_file(request: Request, sess: accounts.Session) -> Response:
    sid = request.path_params["sid"]
    store = portal(request).store
    ret, stored = returns.one(store, sid), files.of_return(store, sid)
    if ret is None or stored is None:
        raise HTTPException(404)
    name = files.download_name(f"{ret.department_code or ''}_{ret.department or ''}_{ret.project or ''}_{sid}",
                               stored.content)
    _record(request, sess, "download", submission=sid, department_code=ret.department_code,
            detail={"file": name})
    return download(stored.content, name)


def return_annotated(request: Request, sess: accounts.Session) -> Response:
    sid = request.path_params["sid"]
    stored = intake.annotated(portal(request).store, sid)
    if stored is None:
        raise HTTPException(404)
    _record(request, sess, "download", submission=sid, detail={"file": stored.name})
    return download(stored.content, stored.name)


def refused_file(request: Request, sess: accounts.Session) -> Response:
    """A file refused at a department's link, for staff to look at."""
    fid = request.path_params["fid"]
    stored = files.get(portal(request).store, fid)
    if stored is None or stored.kind not in (files.REFUSED, files.UPLOAD):
        raise HTTPException(404)
    name = files.download_name(t("refused_file_name", id=fid), stored.content)
    _record(request, sess, "download", detail={"file": name, "file_id": fid})
    return download(stored.content, name)


# -- bulk upload and jobs --------------------------------------------------------------------------

def bulk_upload(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    uploads = [(f.file.read(), f.filename or "file.xlsx") for f in form.getlist("files")
               if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        raise HTTPException(400, t("no_files"))
    job_id = intake.enqueue_bulk(portal(request).store, rnd, uploads, sess.user.name, address(request))
    return redirect(request, "job", rid=rnd.id, jid=job_id)


def job_page(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    job = jobs.get(portal(request).store, request.path_params["jid"])
    if job is None or job.round_id != rnd.id:
        raise HTTPException(404)
    template = "job_live.html" if request.query_params.get("partial") == "1" else "job.html"
    return render(request, template, round=rnd, job=job, counts=jobs.counts(job))


# -- downloads of the round ------------------------------------------------------------------------

def report(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    suffix = request.path_params["fmt"]
    if suffix not in ("xlsx", "csv"):
        raise HTTPException(404)
    approved = request.query_params.get("approved") == "1"  # the approved returns alone
    try:
        content = round_report(portal(request).store, rnd, "." + suffix, portal(request).data_dir,
                               approved_only=approved)
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from exc
    name = f"{rnd.name}_{t('sheet_summary')}{t('report_approved_only') if approved else ''}.{suffix}"
    _record(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "report"})
    return download(content, name)


def templates_zip(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    content = packages.templates_zip(portal(request).store, rnd)
    name = f"{rnd.name}_{t('folder_templates')}.zip"
    _record(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "templates"})
    return download(content, name)


def annotated_zip(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    content = packages.annotated_zip(portal(request).store, rnd)
    name = f"{rnd.name}_{t('folder_annotated')}.zip"
    _record(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "annotated"})
    return download(content, name)


# -- audit log and API tokens ----------------------------------------------------------------------

def audit(request: Request, sess: accounts.Session) -> Response:
    """The log in sentences, newest first, a page at a time; by round and by department (only a
    round and a department that exist are taken from the query)."""
    q = request.query_params
    store = portal(request).store
    all_rounds = rounds.rounds(store)
    round_id = _int(q.get("round"))
    round_id = round_id if any(r.id == round_id for r in all_rounds) else None
    named = departments.named(store, round_id)
    code = q.get("department")
    code = code if code in dict(named) else None
    found = events.page(store, before=_int(q.get("before")), round_id=round_id, department=code,
                        limit=events.PAGE + 1)
    shown = found[:events.PAGE]
    filters = {k: v for k, v in (("round", round_id), ("department", code)) if v is not None}
    older = {**filters, "before": shown[-1].id} if len(found) > events.PAGE else None
    return render(request, "audit.html", events=shown, rounds=all_rounds, departments=named, round_id=round_id,
                  department=code, older=older, paged=_int(q.get("before")) is not None, filters=filters)


def tokens_page(request: Request, sess: accounts.Session) -> Response:
    new_token = accounts.take_flash(portal(request).store, sess, "new_token")
    return render(request, "tokens.html", tokens=accounts.api_tokens(portal(request).store), new_token=new_token)


def create_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """A new API token, shown once on the page the answer leads to."""
    store = portal(request).store
    try:
        token, tid = accounts.make_api_token(store, field(form, "name"), sess.user)
    except accounts.AccountError as exc:
        raise HTTPException(400, str(exc)) from exc
    _record(request, sess, "api_token", detail={"id": tid, "name": field(form, "name")})
    accounts.put_flash(store, sess, "new_token", token)
    return redirect(request, "tokens")


def revoke_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    tid = request.path_params["tid"]
    accounts.revoke_api_token(portal(request).store, tid)
    _record(request, sess, "api_token_revoked", detail={"id": tid})
    return redirect(request, "tokens")


# -- the installation's settings (admins) ----------------------------------------------------------

def settings_page(request: Request, sess: accounts.Session, problem: str | None = None, value: str | None = None,
                  status_code: int = 200) -> Response:
    store = portal(request).store
    current = settings.info(store, settings.BASE_URL)
    return render(request, "settings.html", status_code=status_code, current=current, base=_base(request),
                  seen=str(request.base_url).rstrip("/"), problem=problem,
                  value=value if value is not None else (current.value if current else ""),
                  saved=accounts.take_flash(store, sess, "settings_saved"))


def save_settings(request: Request, sess: accounts.Session, form: FormData) -> Response:
    store = portal(request).store
    text = field(form, "base_url")
    try:
        value = settings.set_base_url(store, text, sess.user.name)
    except settings.SettingError as exc:
        return settings_page(request, sess, str(exc), text, 400)
    _record(request, sess, "settings", detail={"base_url": value})
    accounts.put_flash(store, sess, "settings_saved", True)
    return redirect(request, "settings")


def routes() -> list[Route]:
    return [
        Route("/", home, name="home"),
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", limited(FORM_LIMIT)(login), methods=["POST"], name="login_post"),
        Route("/logout", action(logout, anyone=True), methods=["POST"], name="logout"),
        Route("/rounds", page(rounds_page), methods=["GET"], name="rounds"),
        Route("/rounds", action(create_round, max_files=1, limit=ROSTER_LIMIT), methods=["POST"], name="round_new"),
        Route("/rounds/new/confirm", page(round_new_confirm, manage=True), methods=["GET"], name="round_new_confirm"),
        Route("/rounds/new/confirm", action(round_new_confirmed), methods=["POST"], name="round_new_confirmed"),
        Route("/rounds/{rid:id}", page(dashboard), name="round"),
        Route("/rounds/{rid:id}/package/{fid:id}", action(package), methods=["POST"], name="package"),
        Route("/rounds/{rid:id}/close", page(round_close_confirm, manage=True), methods=["GET"],
              name="round_close_confirm"),
        Route("/rounds/{rid:id}/close", action(set_round_state), methods=["POST"], name="round_close"),
        Route("/rounds/{rid:id}/reopen", action(set_round_state), methods=["POST"], name="round_reopen"),
        Route("/rounds/{rid:id}/links", page(relink_confirm, manage=True), methods=["GET"], name="relink_confirm"),
        Route("/rounds/{rid:id}/links", action(relink), methods=["POST"], name="relink"),
        Route("/rounds/{rid:id}/delete", page(round_delete_confirm, admin=True), methods=["GET"],
              name="round_delete_confirm"),
        Route("/rounds/{rid:id}/delete", action(round_delete, admin=True), methods=["POST"], name="round_delete"),
        Route("/rounds/{rid:id}/upload", action(bulk_upload, max_files=2000, limit=BULK_LIMIT), methods=["POST"],
              name="bulk"),
        Route("/rounds/{rid:id}/jobs/{jid:id}", page(job_page), name="job"),
        Route("/rounds/{rid:id}/report.{fmt:str}", page(report), name="report"),
        Route("/rounds/{rid:id}/templates.zip", page(templates_zip), name="templates_zip"),
        Route("/rounds/{rid:id}/annotated.zip", page(annotated_zip), name="annotated_zip"),
        Route("/rounds/{rid:id}/d/{code:str}", page(department_page), name="department"),
        Route("/rounds/{rid:id}/d/{code:str}/link/new", page(link_new_confirm, manage=True), methods=["GET"],
              name="link_new_confirm"),
        Route("/rounds/{rid:id}/d/{code:str}/link/new", action(new_link), methods=["POST"], name="link_new"),
        Route("/rounds/{rid:id}/d/{code:str}/link/revoke", page(link_revoke_confirm, manage=True), methods=["GET"],
              name="link_revoke_confirm"),
        Route("/rounds/{rid:id}/d/{code:str}/link/revoke", action(revoke_link), methods=["POST"],
              name="link_revoke"),
        Route("/rounds/{rid:id}/d/{code:str}/emails", action(set_emails), methods=["POST"], name="dept_emails"),
        Route("/rounds/{rid:id}/d/{code:str}/chase", action(chase_text), methods=["POST"], name="dept_chase"),
        Route("/rounds/{rid:id}/remind", action(remind), methods=["POST"], name="remind"),
        Route("/rounds/{rid:id}/reach", action(set_reach), methods=["POST"], name="round_reach"),
        Route("/rounds/{rid:id}/messages", page(round_messages), name="round_messages"),
        Route("/scans/{id:id}/preview", page(scan_preview), name="scan_preview"),
        Route("/scans/{id:id}/file", page(scan_file), name="scan_file"),
        Route("/returns/{sid:id}/file", page(return_file), name="return_file"),
        Route("/returns/{sid:id}/annotated", page(return_annotated), name="return_annotated"),
        Route("/returns/{sid:id}/withdraw", page(withdraw_confirm, manage=True), methods=["GET"],
              name="withdraw_confirm"),
        Route("/returns/{sid:id}/withdraw", action(withdraw), methods=["POST"], name="withdraw"),
        Route("/returns/{sid:id}/restore", action(restore), methods=["POST"], name="restore"),
        Route("/returns/{sid:id}/assign", action(assign), methods=["POST"], name="assign"),
        Route("/returns/{sid:id}/discard", action(discard), methods=["POST"], name="discard"),
        Route("/files/{fid:id}", page(refused_file), name="refused_file"),
        Route("/audit", page(audit), name="audit"),
        Route("/tokens", page(tokens_page, admin=True), methods=["GET"], name="tokens"),
        Route("/tokens", action(create_token, admin=True), methods=["POST"], name="token_new"),
        Route("/tokens/{tid:id}/revoke", action(revoke_token, admin=True), methods=["POST"], name="token_revoke"),
        Route("/settings", page(settings_page, admin=True), methods=["GET"], name="settings"),
        Route("/settings", action(save_settings, admin=True), methods=["POST"], name="settings_post"),
    ]
