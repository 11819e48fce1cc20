"""The finance staff's pages: login, rounds, the dashboard, a department's page, bulk uploads,
downloads, links, the audit log and API tokens.  Each handler reads the request, calls one domain
function of :mod:`xltemplate.collect` and renders or redirects: it holds no query and decides
nothing of its own.  Every path it answers with comes from the route table (:func:`path_for`)."""

from __future__ import annotations

import datetime as dt
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
    rounds,
    scans,
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
    """A query parameter that must be an id: None unless it is one."""
    return int(value) if value is not None and value.isdigit() and int(value) <= MAX_ID else None


def _round(request: Request) -> Round:
    rnd = rounds.get(portal(request).store, request.path_params["rid"])
    if rnd is None:
        raise HTTPException(404)
    return rnd


def _record(request: Request, sess: accounts.Session | None, action_: str, **kw: Any) -> None:
    events.record(portal(request).store, action_, actor=sess.user.name if sess else None, address=address(request),
                  **kw)


# -- login -----------------------------------------------------------------------------------------

def _safe_next(nxt: str) -> str:
    """Only a path of this site (never ``//elsewhere`` or a full address)."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/rounds"


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
        user = await run_in_threadpool(accounts.authenticate, store, name, password)
    except accounts.AccountError as exc:
        await run_in_threadpool(events.record, store, "login_failed", actor=name[:200], address=address(request))
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


# -- rounds ----------------------------------------------------------------------------------------

def rounds_page(request: Request, sess: accounts.Session, problems: list[str] | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    store = portal(request).store
    overview = departments.overview(store)
    forms = [(fid, load_form(path).title) for fid, path in sorted(bundled().items())]
    return render(request, "rounds.html", status_code=status_code, overview=overview, forms=forms,
                  form_titles=rounds.form_titles(store), problems=problems or [], values=values or {})


def create_round(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The same as ``distribute --db``: the round, its roster, a template and a link per department;
    then one zip with the templates and the list of links, offered once."""
    store = portal(request).store
    values = {k: field(form, k) for k in ("form", "year", "deadline", "name")}
    problems: list[str] = []
    year = deadline = None
    if values["year"]:
        if not values["year"].isdigit() or not 1990 <= int(values["year"]) <= 2100:
            problems.append(t("bad_year", value=values["year"]))
        else:
            year = int(values["year"])
    if values["deadline"]:
        try:
            deadline = dt.date.fromisoformat(values["deadline"])
        except ValueError:
            problems.append(t("bad_date", value=values["deadline"]))
    upload = form.get("roster")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems.append(t("roster_missing"))
    try:
        model = load_form(values["form"])
    except (FormNotFound, OSError, ValueError):
        problems.append(t("form_unknown", form=values["form"]))
    if problems:
        return rounds_page(request, sess, problems, values, 400)
    assert isinstance(upload, UploadFile)
    try:
        rnd, fid = packages.open_round(store, model, upload.file.read(), upload.filename or "",
                                       portal(request).data_dir, name=values["name"] or None, year=year,
                                       deadline=deadline, actor=sess.user.name, base_url=str(request.base_url),
                                       address=address(request))
    except RosterError as exc:
        return rounds_page(request, sess, exc.problems, values, 400)
    return redirect_path(path_for(request, "round", rid=rnd.id) + f"?package={fid}")


def package(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The zip made when the round was created, offered once: it holds the links, which are kept
    nowhere else (only their hashes are).  Taking it deletes it, so it is a POST with the CSRF
    token like every other change: a page of another site cannot make a browser use it up."""
    rnd = _round(request)
    stored = rounds.take_package(portal(request).store, rnd, request.path_params["fid"], sess.user.name,
                                 address(request))
    if stored is None:
        raise HTTPException(404)
    return download(stored.content, stored.name)


def dashboard(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    store = portal(request).store
    lines = departments.status(store, rnd)
    totals = departments.round_totals(store, rnd, lines)
    q = request.query_params
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
    package_id = _int(q.get("package"))
    query = {"status": want, "sort": sort, "q": search, "desc": "1" if desc else ""}
    context = {"round": rnd, "form_title": rounds.form_titles(store).get(rnd.form_id, rnd.form_id),
               "lines": shown, "totals": totals, "want": want, "sort": sort, "desc": desc,
               "search": search, "statuses": departments.STATES, "sorts": SORTS, "package": package_id,
               "query": {k: v for k, v in query.items() if v}, "jobs": jobs.recent(store, rnd.id),
               "remindable": reminders.REMIND_STATES}
    if q.get("partial") == "1":
        return render(request, "dashboard_live.html", **context)
    roster = {line.code: line.name for line in rounds.roster_of(store, rnd.id)}
    return render(request, "dashboard.html", unrecognized=departments.unrecognized(store, rnd), roster=roster,
                  mail=notices.mail_status(store), reach=notices.reach(store, rnd.id), kinds=notices.SWITCHABLE,
                  remind_hour=reminders.REMIND_HOUR, problem=request.query_params.get("problem") == "tick",
                  **context)


def set_round_state(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    state = rounds.CLOSED if request.url.path.endswith("/close") else rounds.OPEN
    rounds.set_status(portal(request).store, rnd.id, state, actor=sess.user.name, address=address(request))
    return redirect(request, "round", rid=rnd.id)


# -- a department ----------------------------------------------------------------------------------

def department_page(request: Request, sess: accounts.Session, new_link: str | None = None,
                    chase: str | None = None, problem: str | None = None, status_code: int = 200) -> Response:
    rnd = _round(request)
    store = portal(request).store
    code = request.path_params["code"]
    found = departments.detail(store, rnd, code, refused_before=_int(request.query_params.get("refused_before")))
    if found is None:
        raise HTTPException(404)
    return render(request, "department.html", status_code=status_code, round=rnd, dept=found, new_link=new_link,
                  chase=chase, problem=problem, emails=rounds.emails_of(store, rnd.id, code),
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
    text = reminders.chase_text(portal(request).store, rnd, request.path_params["code"], str(request.base_url),
                                sess.user.name, address(request))
    if text is None:
        raise HTTPException(404)
    return department_page(request, sess, chase=text)


def remind(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The departments ticked on the dashboard: reminded by mail now, or listed in a 催报清单."""
    rnd = _round(request)
    store = portal(request).store
    codes = [c for c in form.getlist("code") if isinstance(c, str) and c]
    if field(form, "do") == "list":
        content = reminders.chase_list(store, rnd, codes, str(request.base_url), sess.user.name, address(request))
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
    rnd = _round(request)
    code = request.path_params["code"]
    token = links.regenerate(portal(request).store, rnd.id, code, sess.user.name, address(request))
    return department_page(request, sess, new_link=links.address(token, str(request.base_url)))


def revoke_link(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    code = request.path_params["code"]
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
    try:
        content = round_report(portal(request).store, rnd, "." + suffix, portal(request).data_dir)
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from exc
    name = f"{rnd.name}_{t('sheet_summary')}.{suffix}"
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


def tokens_page(request: Request, sess: accounts.Session, new_token: str | None = None) -> Response:
    return render(request, "tokens.html", tokens=accounts.api_tokens(portal(request).store), new_token=new_token)


def create_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    try:
        token, tid = accounts.make_api_token(portal(request).store, field(form, "name"), sess.user)
    except accounts.AccountError as exc:
        raise HTTPException(400, str(exc)) from exc
    _record(request, sess, "api_token", detail={"id": tid, "name": field(form, "name")})
    return tokens_page(request, sess, new_token=token)


def revoke_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    tid = request.path_params["tid"]
    accounts.revoke_api_token(portal(request).store, tid)
    _record(request, sess, "api_token_revoked", detail={"id": tid})
    return redirect(request, "tokens")


def routes() -> list[Route]:
    return [
        Route("/", home, name="home"),
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", limited(FORM_LIMIT)(login), methods=["POST"], name="login_post"),
        Route("/logout", action(logout), methods=["POST"], name="logout"),
        Route("/rounds", page(rounds_page), methods=["GET"], name="rounds"),
        Route("/rounds", action(create_round, max_files=1, limit=ROSTER_LIMIT), methods=["POST"], name="round_new"),
        Route("/rounds/{rid:id}", page(dashboard), name="round"),
        Route("/rounds/{rid:id}/package/{fid:id}", action(package), methods=["POST"], name="package"),
        Route("/rounds/{rid:id}/close", action(set_round_state), methods=["POST"], name="round_close"),
        Route("/rounds/{rid:id}/reopen", action(set_round_state), methods=["POST"], name="round_reopen"),
        Route("/rounds/{rid:id}/upload", action(bulk_upload, max_files=2000, limit=BULK_LIMIT), methods=["POST"],
              name="bulk"),
        Route("/rounds/{rid:id}/jobs/{jid:id}", page(job_page), name="job"),
        Route("/rounds/{rid:id}/report.{fmt:str}", page(report), name="report"),
        Route("/rounds/{rid:id}/templates.zip", page(templates_zip), name="templates_zip"),
        Route("/rounds/{rid:id}/annotated.zip", page(annotated_zip), name="annotated_zip"),
        Route("/rounds/{rid:id}/d/{code:str}", page(department_page), name="department"),
        Route("/rounds/{rid:id}/d/{code:str}/link/new", action(new_link), methods=["POST"], name="link_new"),
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
        Route("/returns/{sid:id}/withdraw", action(withdraw), methods=["POST"], name="withdraw"),
        Route("/returns/{sid:id}/restore", action(restore), methods=["POST"], name="restore"),
        Route("/returns/{sid:id}/assign", action(assign), methods=["POST"], name="assign"),
        Route("/returns/{sid:id}/discard", action(discard), methods=["POST"], name="discard"),
        Route("/files/{fid:id}", page(refused_file), name="refused_file"),
        Route("/audit", page(audit), name="audit"),
        Route("/tokens", page(tokens_page, admin=True), methods=["GET"], name="tokens"),
        Route("/tokens", action(create_token, admin=True), methods=["POST"], name="token_new"),
        Route("/tokens/{tid:id}/revoke", action(revoke_token, admin=True), methods=["POST"], name="token_revoke"),
    ]
