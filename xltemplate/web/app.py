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
from collections.abc import AsyncIterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..collect import events, intake, jobs, notices, reminders
from ..collect.shapes import local_time
from ..collect.store import Store
from ..messages import CATALOG, t
from . import api, clerk, review, server, staff
from .help import routes as help_routes
from .responses import Portal, path_for, render
from .security import UPLOAD_LIMIT, Headers

HERE = Path(__file__).parent
#: uploads whose bodies a process receives and holds at once (the others wait, holding no memory)
UPLOAD_SLOTS = 2
#: uploads a process checks and stores at once: one (a second, in a thread of its own, contends
#: for the interpreter lock with the first and stretches its turn at the database's write lock;
#: measured in docs/performance.md); a body still arriving holds no turn of these
CHECKS_AT_ONCE = 1
log = logging.getLogger("xltemplate.web")


class IdConvertor(Convertor[int]):
    """A record's id in a path: 1 to 9 digits (anything longer is no page of ours: 404, never a
    number the database cannot hold)."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())


def _environment() -> jinja2.Environment:
    # auto_reload off: the pages are files of the installed package, compiled once per process
    # (checking each one's time on every page cost a system call per template)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             auto_reload=False)
    env.globals["t"] = t
    env.globals["catalog_keys"] = CATALOG
    env.globals["has_annotated"] = intake.has_annotated
    env.globals["path"] = jinja2.pass_context(lambda ctx, name, **params: path_for(ctx["request"], name, **params))
    env.filters["local"] = local_time
    env.filters["sentence"] = events.sentence  # an audit line as a person reads it
    return env


# -- errors ------------------------------------------------------------------------------------

_ERROR_KEYS = {400: "err_400", 401: "err_401", 403: "err_403", 404: "err_404", 405: "err_405", 408: "err_408",
               413: "err_413", 429: "err_429", 431: "err_431"}


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
        response = render(request, "error.html", status_code=status, status=status, message=text)
        response.headers.update(headers)
        return response
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
    store = Store(db)
    data = Path(data_dir or "xltemplate-data")
    data.mkdir(parents=True, exist_ok=True)
    state = Portal(store, _environment(), data)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.upload_slots = asyncio.Semaphore(UPLOAD_SLOTS)
        state.checking = asyncio.Semaphore(CHECKS_AT_ONCE)
        if run_jobs:
            state.worker = jobs.Worker(store, {intake.BULK: intake.run_bulk})
            state.worker.start()
            if notices.configured(store):  # its own thread: a slow mail server never holds up an import
                state.mailer = notices.worker(store, idle=reminders.Scheduler(store))
                state.mailer.start()
        try:
            yield
        finally:
            for thread in (state.worker, state.mailer):
                if thread is not None:
                    thread.stop()
            for thread in (state.worker, state.mailer):
                if thread is not None:
                    thread.join(timeout=10)
            store.dispose()

    # the departments' links first: the most requests by far, and no other route starts with /l/
    # (Starlette tries the routes in order, a regular expression each)
    routes: list[Any] = [*clerk.routes(), *staff.routes(), *review.routes(), *api.routes(),
                         *help_routes(),  # the help pages for clerks and staff
                         Route("/healthz", lambda r: Response("ok", media_type="text/plain"), name="healthz"),
                         Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(Headers)],
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.portal = state
    app.state.routes = {r.name: r for r in routes if getattr(r, "name", None)}  # path_for looks names up here
    return app


def app_from_env() -> Starlette:
    """For ``uvicorn --factory`` with several workers: the database and folder from the environment;
    the worker takes its place among the others at once (:func:`.server.join`)."""
    server.join()
    return create_app(os.environ.get("XLTEMPLATE_DB"), os.environ.get("XLTEMPLATE_DATA"))
