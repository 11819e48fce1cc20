"""The application factory: one Starlette app over one database.

Everything a request needs lives in the database (sessions, files, jobs, links), so any number
of processes started with the same ``--db`` serve the same portal; each also runs a job worker
thread (:class:`~xltemplate.collect.jobs.Worker`).  ``data_dir`` is this process's scratch
folder (temporary files of reports and round creation) and never needs sharing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..collect import jobs
from ..collect.db import local_time
from ..collect.store import Store
from ..messages import CATALOG, t
from ..xlsx.guard import MAX_FILE
from .security import BodyLimit, Headers, content_disposition

HERE = Path(__file__).parent
SESSION_COOKIE = "xt_session"
LOGIN_COOKIE = "xt_login"
FORM_LIMIT = 256 * 1024  # a plain form
UPLOAD_LIMIT = MAX_FILE + 1024 * 1024  # one return through a link: the largest file the engine reads
BULK_LIMIT = 300 * 1024 * 1024  # returns received by mail, many files or zips at once
ROSTER_LIMIT = 10 * 1024 * 1024
UPLOAD_SLOTS = 2
log = logging.getLogger("xltemplate.web")


def body_limit(path: str) -> int:
    """The largest request body each route takes."""
    if path.startswith("/l/") and path.endswith("/upload"):
        return UPLOAD_LIMIT
    if path.startswith("/rounds/") and path.endswith("/upload"):
        return BULK_LIMIT
    if path == "/rounds":
        return ROSTER_LIMIT
    return FORM_LIMIT


@dataclass
class Portal:
    store: Store
    env: jinja2.Environment
    data_dir: Path
    worker: jobs.Worker | None = None
    #: uploads checked at once in this process; the others wait their turn in order, rather than
    #: all sharing one interpreter lock (which makes every answer slow instead of a few)
    upload_slots: asyncio.Semaphore | None = None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["t"] = t
    env.globals["catalog_keys"] = CATALOG
    env.filters["local"] = local_time
    return env


def portal(request: Request) -> Portal:
    return request.app.state.portal


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    p = portal(request)
    sess = request.scope.get("xt_session")
    html = p.env.get_template(template).render(request=request, session=sess, **context)
    return HTMLResponse(html, status_code=status_code)


def download(content: bytes, name: str, media: str | None = None) -> Response:
    kind = media or ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if name.endswith(".xlsx")
                     else "application/zip" if name.endswith(".zip") else "text/csv; charset=utf-8"
                     if name.endswith(".csv") else "application/octet-stream")
    return Response(content, media_type=kind, headers={"content-disposition": content_disposition(name)})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure(request), path="/")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


# -- errors ------------------------------------------------------------------------------------

_ERROR_KEYS = {400: "err_400", 401: "err_401", 403: "err_403", 404: "err_404", 405: "err_405", 413: "err_413",
               429: "err_429"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    key = _ERROR_KEYS.get(status, "err_400" if 400 <= status < 500 else "err_500")
    detail = getattr(exc, "detail", None)
    if status == 413:
        text = t(key, mb=(getattr(exc, "limit", 0) or UPLOAD_LIMIT) // (1024 * 1024))
    elif isinstance(detail, str) and detail and detail != HTTPStatus(status).phrase:
        text = detail  # a sentence of ours, from the catalog
    else:
        text = t(key)
    headers = dict(getattr(exc, "headers", None) or {})
    if _wants_json(request):
        return JSONResponse({"error": {"status": status, "message": text}}, status_code=status, headers=headers)
    try:
        return render(request, "error.html", status_code=status, status=status, message=text)
    except Exception:  # a broken template must not turn an error page into a trace
        log.exception("rendering an error page failed")
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{text}</p>", status_code=status, headers=headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    text = t("err_500")
    if _wants_json(request):
        return JSONResponse({"error": {"status": 500, "message": text}}, status_code=500)
    return HTMLResponse(f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{t('err_title')}</title>"
                        f"<link rel=stylesheet href=/static/app.css><main class=page><h1>{t('err_title')}</h1>"
                        f"<p>{text}</p></main></html>", status_code=500)


# -- the app -------------------------------------------------------------------------------------

def create_app(db: str | None = None, data_dir: str | Path | None = None, *, run_jobs: bool = True) -> Starlette:
    """The portal over database ``db`` (default: ``xltemplate.db`` here), scratch files in ``data_dir``."""
    from . import api, clerk, staff

    store = Store(db)
    data = Path(data_dir or "xltemplate-data")
    data.mkdir(parents=True, exist_ok=True)
    state = Portal(store, _environment(), data)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.upload_slots = asyncio.Semaphore(UPLOAD_SLOTS)
        if run_jobs:
            from ..collect import intake

            state.worker = jobs.Worker(store, {intake.BULK: intake.run_bulk})
            state.worker.start()
        try:
            yield
        finally:
            if state.worker is not None:
                state.worker.stop()
                state.worker.join(timeout=10)
            store.dispose()

    routes = [*staff.routes(), *clerk.routes(), *api.routes(),
              Route("/healthz", lambda r: Response("ok", media_type="text/plain")),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Headers), Middleware(BodyLimit, limit_of=body_limit)],
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.portal = state
    return app


def app_from_env() -> Starlette:
    """For ``uvicorn --factory`` with several workers: the database and folder from the environment."""
    return create_app(os.environ.get("XLTEMPLATE_DB"), os.environ.get("XLTEMPLATE_DATA"))

