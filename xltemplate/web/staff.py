"""The finance staff's pages: login, rounds, the dashboard, a department's page, bulk uploads,
downloads, links, the audit log and API tokens.  Each handler calls the collect modules and
renders; it decides nothing of its own."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import accounts, files, intake, jobs, links, rounds
from ..collect.db import writing
from ..collect.rounds import Round
from ..messages import t
from .app import LOGIN_COOKIE, SESSION_COOKIE, download, new_login_token, portal, redirect, render, set_cookie
from .auth import action, address, cross_site, current_session, field, page

STATUSES = (rounds.NOT_RETURNED, rounds.INVALID, rounds.UNREADABLE_STATUS, rounds.VALID)
SORTS = ("code", "name", "status", "returns", "last_sent")


def _round(request: Request) -> Round:
    try:
        return rounds.find_round(portal(request).store, int(request.path_params["rid"]))
    except rounds.RoundError as exc:
        raise HTTPException(404) from exc


def _log(request: Request, sess: accounts.Session | None, action_: str, *, round_id: int | None = None,
         submission: int | None = None, detail: dict[str, Any] | None = None) -> None:
    store = portal(request).store
    with writing(store.engine) as conn:
        rounds.log(store, conn, action_, actor=sess.user.name if sess else None, round_id=round_id,
                   submission=submission, detail=detail, address=address(request))


# -- login -----------------------------------------------------------------------------------------

async def login_page(request: Request) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    nxt = request.query_params.get("next", "/rounds")
    response = render(request, "login.html", login_token=token, next=_safe_next(nxt), error=None, name="")
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


def _safe_next(nxt: str) -> str:
    """Only a path of this site (never ``//elsewhere`` or a full address)."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/rounds"


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
        await run_in_threadpool(_log_login, request, name, False)
        return render(request, "login.html", status_code=401, login_token=cookie, next=nxt, error=str(exc),
                      name=name)
    token, _sess = await run_in_threadpool(accounts.start_session, store, user, address(request))
    await run_in_threadpool(_log_login, request, name, True)
    response = redirect(nxt)
    set_cookie(request, response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _log_login(request: Request, name: str, ok: bool) -> None:
    store = portal(request).store
    with writing(store.engine) as conn:
        rounds.log(store, conn, "login" if ok else "login_failed", actor=name[:200], address=address(request))


def logout(request: Request, sess: accounts.Session, form: FormData) -> Response:
    accounts.end_session(portal(request).store, request.cookies.get(SESSION_COOKIE))
    _log(request, sess, "logout")
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    return redirect("/rounds" if await current_session(request) else "/login")


# -- rounds ----------------------------------------------------------------------------------------

def rounds_page(request: Request, sess: accounts.Session, problems: list[str] | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    from ..form.forms import bundled, load_form

    store = portal(request).store
    found = rounds.rounds(store)
    summary = {r.id: rounds.totals(rounds.status(store, r)) for r in found}
    forms = [(fid, load_form(path).title) for fid, path in sorted(bundled().items())]
    return render(request, "rounds.html", status_code=status_code, rounds=found, summary=summary, forms=forms,
                  problems=problems or [], values=values or {})


def create_round(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The same as ``distribute --db``: the round, its roster, a template and a link per department;
    then one zip with the templates and the list of links, offered once."""
    from ..collect.distribute import RosterError, distribute, read_roster
    from ..form.forms import FormNotFound, load_form

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
    tmp = Path(tempfile.mkdtemp(dir=portal(request).data_dir))
    try:
        raw = upload.file.read()
        roster_path = tmp / ("roster.xlsx" if raw.startswith(b"PK") else "roster.csv")
        roster_path.write_bytes(raw)
        shown = files.safe_name(upload.filename, "roster.csv")
        try:
            rows = read_roster(roster_path)
            issued = distribute(model, rows, tmp / "out", store=store, round_name=values["name"] or None, year=year,
                                deadline=deadline, created_by=sess.user.name, base_url=str(request.base_url),
                                source=shown)
        except RosterError as exc:
            return rounds_page(request, sess, [p.replace(str(roster_path), shown) for p in exc.problems], values,
                               400)
        rnd = rounds.rounds(store)[0]
        package = _package(tmp / "out", issued, rnd)
        with writing(store.engine) as conn:
            fid = files.put(store, conn, package, f"{rnd.name}_模板和链接.zip", files.PACKAGE)
            rounds.log(store, conn, "package_ready", actor=sess.user.name, round_id=rnd.id,
                       detail={"file_id": fid}, address=address(request))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return redirect(f"/rounds/{rnd.id}?package={fid}")


def links_workbook(rows: list[list[str]]) -> bytes:
    """The list of department links as a workbook (text cells only)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = book.add_worksheet(t("sheet_links"))
    bold = book.add_format({"bold": True})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write_string(r, c, value, bold if r == 0 else None)
    ws.set_column(0, 0, 10)
    ws.set_column(1, 3, 24)
    ws.set_column(4, 4, 80)
    ws.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _package(folder: Path, issued: list[Any], rnd: Round) -> bytes:
    head = [t(k) for k in ("col_code", "col_department", "col_project", "col_file", "col_link")]
    rows = [head] + [[i.code, i.name, i.project or "", i.file, i.link or ""] for i in issued]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in issued:
            zf.write(folder / i.file, f"{t('folder_templates')}/{i.file}")
        zf.write(folder / "manifest.csv", "manifest.csv")
        zf.writestr(f"{t('file_links')}.xlsx", links_workbook(rows))
    return out.getvalue()


def package(request: Request, sess: accounts.Session, form: FormData) -> Response:
    """The zip made when the round was created, offered once: it holds the links, which are kept
    nowhere else (only their hashes are).  Taking it deletes it, so it is a POST with the CSRF
    token like every other change: a page of another site cannot make a browser use it up."""
    rnd = _round(request)
    store = portal(request).store
    stored = files.get(store, int(request.path_params["fid"]))
    if stored is None or stored.kind != files.PACKAGE:
        raise HTTPException(404)
    with writing(store.engine) as conn:
        files.delete(store, conn, stored.id)
        rounds.log(store, conn, "download", actor=sess.user.name, round_id=rnd.id,
                   detail={"file": stored.name, "what": "package"}, address=address(request))
    return download(stored.content, stored.name)


def dashboard(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    store = portal(request).store
    lines = rounds.status(store, rnd)
    totals = rounds.totals(lines)
    q = request.query_params
    want, sort, search = q.get("status", ""), q.get("sort", "code"), q.get("q", "").strip()
    desc = q.get("desc") == "1"
    shown = [d for d in lines if (not want or d.status == want) and
             (not search or search in d.name or search in d.code)]
    if sort not in SORTS:
        sort = "code"
    order = {"status": lambda d: STATUSES.index(d.status), "last_sent": lambda d: d.last_sent or dt.datetime.min,
             "returns": lambda d: d.returns, "name": lambda d: d.name, "code": lambda d: d.code}[sort]
    shown.sort(key=order, reverse=desc)
    context = {"round": rnd, "lines": shown, "totals": totals, "want": want, "sort": sort, "desc": desc,
               "search": search, "statuses": STATUSES, "sorts": SORTS, "package": q.get("package"),
               "jobs": _recent_jobs(store, rnd.id)}
    if q.get("partial") == "1":
        return render(request, "dashboard_live.html", **context)
    return render(request, "dashboard.html", **context)


def _recent_jobs(store: Any, round_id: int) -> list[Any]:
    j = store.t.jobs
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(j.c.id, j.c.status, j.c.total, j.c.done, j.c.created_at, j.c.created_by)
                            .where(j.c.round_id == round_id).order_by(j.c.id.desc()).limit(5)).all()
    return list(rows)


def set_round_state(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    state = rounds.CLOSED if request.url.path.endswith("/close") else rounds.OPEN
    rounds.set_status(portal(request).store, rnd.id, state, actor=sess.user.name, address=address(request))
    return redirect(f"/rounds/{rnd.id}")


# -- a department ----------------------------------------------------------------------------------

def department_page(request: Request, sess: accounts.Session, new_link: str | None = None) -> Response:
    rnd = _round(request)
    code = request.path_params["code"]
    store = portal(request).store
    roster = [r for r in rounds.roster_of(store, rnd.id) if r.code == code]
    found = rounds.returns(store, rnd, code, history=True)
    if not roster and not found:
        raise HTTPException(404)
    name = roster[0].name if roster else (found[0].department or code)
    ids = [r.id for r in found]
    s, e, ev, i = store.submissions, store.errors, store.t.events, store.t.issued
    with store.engine.connect() as conn:
        extra = {row.id: row for row in conn.execute(sa.select(s.c.id, s.c.file_id, s.c.notes)
                                                     .where(s.c.id.in_(ids)))} if ids else {}
        errors: dict[int, list[Any]] = {}
        if ids:
            for row in conn.execute(sa.select(e).where(e.c.submission.in_(ids)).order_by(e.c.id)):
                errors.setdefault(row.submission, []).append(row)
        events = conn.execute(sa.select(ev).where(ev.c.round_id == rnd.id, ev.c.submission.in_(ids))
                              .order_by(ev.c.at, ev.c.id)).all() if ids else []
        refused = [row for row in conn.execute(sa.select(ev).where(
            ev.c.round_id == rnd.id, ev.c.action == "upload_refused").order_by(ev.c.id.desc()).limit(500))
            if (row.detail or {}).get("department_code") == code]
        templates = conn.execute(sa.select(i.c.submission_id, i.c.project, i.c.file, i.c.file_id)
                                 .where(i.c.round_id == rnd.id, i.c.department_code == code)).all()
    history: dict[int, list[Any]] = {}
    for row in events:
        history.setdefault(row.submission, []).append(row)
    status = next((d for d in rounds.status(store, rnd) if d.code == code), None)
    return render(request, "department.html", round=rnd, code=code, name=name, contact=roster[0].contact
                  if roster else None, returns=found, extra=extra, errors=errors, history=history, refused=refused,
                  templates=templates, status=status, link=links.live(store, rnd.id, code), new_link=new_link)


def new_link(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    code = request.path_params["code"]
    token = links.regenerate(portal(request).store, rnd.id, code, sess.user.name, address(request))
    return department_page(request, sess, new_link=links.address(token, str(request.base_url)))


def revoke_link(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    code = request.path_params["code"]
    links.revoke(portal(request).store, rnd.id, code, sess.user.name, address(request))
    return redirect(f"/rounds/{rnd.id}/d/{urllib.parse.quote(code)}")


def _submission(request: Request) -> Any:
    store = portal(request).store
    s = store.submissions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.id, s.c.round_id, s.c.department_code, s.c.file_id, s.c.file_name,
                                     s.c.status).where(s.c.id == int(request.path_params["sid"]))).first()
    if row is None:
        raise HTTPException(404)
    return row


def _back(row: Any) -> str:
    return f"/rounds/{row.round_id}/d/{urllib.parse.quote(row.department_code or '')}"


def withdraw(request: Request, sess: accounts.Session, form: FormData) -> Response:
    row = _submission(request)
    try:
        rounds.withdraw(portal(request).store, row.id, field(form, "reason"), sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return redirect(_back(row))


def restore(request: Request, sess: accounts.Session, form: FormData) -> Response:
    row = _submission(request)
    try:
        rounds.restore(portal(request).store, row.id, sess.user.name, address(request))
    except rounds.RoundError as exc:
        raise HTTPException(400, str(exc)) from exc
    return redirect(_back(row))


def return_file(request: Request, sess: accounts.Session) -> Response:
    row = _submission(request)
    store = portal(request).store
    stored = files.get(store, row.file_id)
    if stored is None:
        raise HTTPException(404)
    _log(request, sess, "download", round_id=row.round_id, submission=row.id, detail={"file": stored.name})
    return download(stored.content, stored.name)


def return_annotated(request: Request, sess: accounts.Session) -> Response:
    row = _submission(request)
    stored = intake.annotated(portal(request).store, row.id)
    if stored is None:
        raise HTTPException(404)
    _log(request, sess, "download", round_id=row.round_id, submission=row.id, detail={"file": stored.name})
    return download(stored.content, stored.name)


def refused_file(request: Request, sess: accounts.Session) -> Response:
    """A file refused at a department's link, for staff to look at."""
    store = portal(request).store
    fid = int(request.path_params["fid"])
    stored = files.get(store, fid)
    if stored is None or stored.kind != files.UPLOAD:
        raise HTTPException(404)
    _log(request, sess, "download", detail={"file": stored.name, "file_id": fid})
    return download(stored.content, stored.name)


# -- bulk upload and jobs --------------------------------------------------------------------------

def bulk_upload(request: Request, sess: accounts.Session, form: FormData) -> Response:
    rnd = _round(request)
    uploads = [(f.file.read(), f.filename or "file.xlsx") for f in form.getlist("files")
               if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        raise HTTPException(400, t("no_files"))
    job_id = intake.enqueue_bulk(portal(request).store, rnd, uploads, sess.user.name, address(request))
    return redirect(f"/rounds/{rnd.id}/jobs/{job_id}")


def job_page(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    job = jobs.get(portal(request).store, int(request.path_params["jid"]))
    if job is None or job.round_id != rnd.id:
        raise HTTPException(404)
    counts: dict[str, int] = {}
    for r in job.results:
        key = "duplicate" if r.get("stored") == "duplicate" else r.get("status", "unreadable")
        counts[key] = counts.get(key, 0) + 1
    template = "job_live.html" if request.query_params.get("partial") == "1" else "job.html"
    return render(request, template, round=rnd, job=job, counts=counts)


# -- downloads of the round ------------------------------------------------------------------------

def report(request: Request, sess: accounts.Session) -> Response:
    from ..collect.report import ReportError, write_report

    rnd = _round(request)
    suffix = request.path_params["fmt"]
    if suffix not in ("xlsx", "csv"):
        raise HTTPException(404)
    store = portal(request).store
    tmp = Path(tempfile.mkdtemp(dir=portal(request).data_dir))
    try:
        out = tmp / f"report.{suffix}"
        try:
            write_report(store, out, form=rnd.form_id, round_name=rnd.name)
        except ReportError as exc:
            raise HTTPException(400, str(exc)) from exc
        content = out.read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    name = f"{rnd.name}_{t('sheet_summary')}.{suffix}"
    _log(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "report"})
    return download(content, name)


def templates_zip(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    store = portal(request).store
    i = store.t.issued
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(i.c.file, i.c.file_id).where(i.c.round_id == rnd.id).order_by(i.c.file)).all()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for row in rows:
            stored = files.get(store, row.file_id)
            if stored is not None:
                zf.writestr(row.file, stored.content)
    name = f"{rnd.name}_{t('folder_templates')}.zip"
    _log(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "templates"})
    return download(out.getvalue(), name)


def annotated_zip(request: Request, sess: accounts.Session) -> Response:
    rnd = _round(request)
    store = portal(request).store
    out = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in rounds.returns(store, rnd):
            if r.status != "invalid" or r.withdrawn_at is not None:
                continue
            stored = intake.annotated(store, r.id)
            if stored is None:
                continue
            path = f"{files.safe_name(f'{r.department_code}_{r.department}', 'x')}/{stored.name}"
            n = 1
            while path in taken:
                n += 1
                path = path.rsplit(".", 1)[0] + f"({n}).xlsx"
            taken.add(path)
            zf.writestr(path, stored.content)
    name = f"{rnd.name}_{t('folder_annotated')}.zip"
    _log(request, sess, "download", round_id=rnd.id, detail={"file": name, "what": "annotated"})
    return download(out.getvalue(), name)


# -- audit log and API tokens ----------------------------------------------------------------------

PAGE = 200


def audit(request: Request, sess: accounts.Session) -> Response:
    store = portal(request).store
    ev, r = store.t.events, store.t.rounds
    q = request.query_params
    stmt = sa.select(ev, r.c.name.label("round_name")).select_from(ev.outerjoin(r, r.c.id == ev.c.round_id))
    before = q.get("before", "")
    if before.isdigit():
        stmt = stmt.where(ev.c.id < int(before))
    round_id = q.get("round", "")
    if round_id.isdigit():
        stmt = stmt.where(ev.c.round_id == int(round_id))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(ev.c.id.desc()).limit(PAGE)).all()
    return render(request, "audit.html", events=rows, more=rows[-1].id if len(rows) == PAGE else None,
                  round_id=round_id)


def tokens_page(request: Request, sess: accounts.Session, new_token: str | None = None) -> Response:
    return render(request, "tokens.html", tokens=accounts.api_tokens(portal(request).store), new_token=new_token)


def create_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    try:
        token, tid = accounts.make_api_token(portal(request).store, field(form, "name"), sess.user)
    except accounts.AccountError as exc:
        raise HTTPException(400, str(exc)) from exc
    _log(request, sess, "api_token", detail={"id": tid, "name": field(form, "name")})
    return tokens_page(request, sess, new_token=token)


def revoke_token(request: Request, sess: accounts.Session, form: FormData) -> Response:
    tid = int(request.path_params["tid"])
    accounts.revoke_api_token(portal(request).store, tid)
    _log(request, sess, "api_token_revoked", detail={"id": tid})
    return redirect("/tokens")


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", action(logout), methods=["POST"]),
        Route("/rounds", page(rounds_page), methods=["GET"]),
        Route("/rounds", action(create_round, max_files=1), methods=["POST"]),
        Route("/rounds/{rid:int}", page(dashboard)),
        Route("/rounds/{rid:int}/package/{fid:int}", action(package), methods=["POST"]),
        Route("/rounds/{rid:int}/close", action(set_round_state), methods=["POST"]),
        Route("/rounds/{rid:int}/reopen", action(set_round_state), methods=["POST"]),
        Route("/rounds/{rid:int}/upload", action(bulk_upload, max_files=2000), methods=["POST"]),
        Route("/rounds/{rid:int}/jobs/{jid:int}", page(job_page)),
        Route("/rounds/{rid:int}/report.{fmt:str}", page(report)),
        Route("/rounds/{rid:int}/templates.zip", page(templates_zip)),
        Route("/rounds/{rid:int}/annotated.zip", page(annotated_zip)),
        Route("/rounds/{rid:int}/d/{code:str}", page(department_page)),
        Route("/rounds/{rid:int}/d/{code:str}/link/new", action(new_link), methods=["POST"]),
        Route("/rounds/{rid:int}/d/{code:str}/link/revoke", action(revoke_link), methods=["POST"]),
        Route("/returns/{sid:int}/file", page(return_file)),
        Route("/returns/{sid:int}/annotated", page(return_annotated)),
        Route("/returns/{sid:int}/withdraw", action(withdraw), methods=["POST"]),
        Route("/returns/{sid:int}/restore", action(restore), methods=["POST"]),
        Route("/files/{fid:int}", page(refused_file)),
        Route("/audit", page(audit)),
        Route("/tokens", page(tokens_page, admin=True), methods=["GET"]),
        Route("/tokens", action(create_token, admin=True), methods=["POST"]),
        Route("/tokens/{tid:int}/revoke", action(revoke_token, admin=True), methods=["POST"]),
    ]
