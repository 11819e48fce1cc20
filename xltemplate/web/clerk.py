"""A department's own pages, reached by its link ``/l/<token>`` with no account.

Everything behind a link is looked up by the link's round and department code, never by what the
request names: a template, a return or an annotated copy of another department answers 404
exactly as one that does not exist.  A token that is unknown, revoked, or of a closed round
answers the same 404 page (nothing tells a guess that it was close)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import files, intake, links, rounds
from ..collect.db import writing
from ..collect.links import Link
from ..messages import t
from .app import download, portal, render
from .auth import address


def _link(request: Request) -> Link:
    link = links.check(portal(request).store, request.path_params["token"])
    if link is None:
        raise HTTPException(404, t("link_unknown"))
    return link


def _own_returns(request: Request, link: Link) -> list[Any]:
    return rounds.returns(portal(request).store, link.round, link.department_code)


def _templates(request: Request, link: Link) -> list[Any]:
    store = portal(request).store
    i = store.t.issued
    with store.engine.connect() as conn:
        return conn.execute(sa.select(i.c.submission_id, i.c.project, i.c.file, i.c.file_id).where(
            i.c.round_id == link.round.id, i.c.department_code == link.department_code).order_by(i.c.file)).all()


def _page(request: Request, link: Link, receipt: intake.Receipt | None = None, status_code: int = 200,
          missing: bool = False) -> Response:
    return render(request, "clerk.html", status_code=status_code, link=link, token=request.path_params["token"],
                  templates=_templates(request, link), returns=_own_returns(request, link), receipt=receipt,
                  missing=missing)


async def home(request: Request) -> Response:
    def run() -> Response:
        return _page(request, _link(request))

    return await run_in_threadpool(run)


def _log(request: Request, link: Link, detail: dict[str, Any], submission: int | None = None) -> None:
    store = portal(request).store
    with writing(store.engine) as conn:
        rounds.log(store, conn, "download", actor=intake.LINK_ACTOR.format(code=link.department_code),
                   round_id=link.round.id, submission=submission, detail=detail, address=address(request))


async def template(request: Request) -> Response:
    def run() -> Response:
        link = _link(request)
        sid = request.path_params["sid"]
        row = next((r for r in _templates(request, link) if r.submission_id == sid), None)
        stored = files.get(portal(request).store, row.file_id) if row is not None else None
        if stored is None:
            raise HTTPException(404)
        _log(request, link, {"file": row.file, "what": "template"})
        return download(stored.content, row.file)

    return await run_in_threadpool(run)


async def upload(request: Request) -> Response:
    link = await run_in_threadpool(_link, request)  # before a byte of the body is read
    try:
        form = await request.form(max_files=1, max_fields=5)
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(400) from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            def again() -> Response:
                return _page(request, link, None, 400, missing=True)

            return await run_in_threadpool(again)
        data = await upload.read()
        name = upload.filename

        def run() -> Response:
            receipt = intake.receive(portal(request).store, data, name, link.round,
                                     department=(link.department_code, link.department), address=address(request))
            return _page(request, link, receipt, 200)

        slots = portal(request).upload_slots
        if slots is None:
            return await run_in_threadpool(run)
        async with slots:
            return await run_in_threadpool(run)
    finally:
        await form.close()


async def annotated(request: Request) -> Response:
    def run() -> Response:
        link = _link(request)
        sid = int(request.path_params["id"])
        store = portal(request).store
        s = store.submissions
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(s.c.round_id, s.c.department_code).where(s.c.id == sid)).first()
        if row is None or row.round_id != link.round.id or row.department_code != link.department_code:
            raise HTTPException(404)
        stored = intake.annotated(store, sid)
        if stored is None:
            raise HTTPException(404)
        _log(request, link, {"file": stored.name, "what": "annotated"}, sid)
        return download(stored.content, stored.name)

    return await run_in_threadpool(run)


def routes() -> list[Route]:
    return [
        Route("/l/{token:str}", home, methods=["GET"]),
        Route("/l/{token:str}/template/{sid:str}", template, methods=["GET"]),
        Route("/l/{token:str}/upload", upload, methods=["POST"]),
        Route("/l/{token:str}/returns/{id:int}/annotated", annotated, methods=["GET"]),
    ]
