"""A department's own pages, reached by its link ``/l/<token>`` with no account.

Everything behind a link is looked up by the link's round and department code, never by what the
request names: a template, a return or an annotated copy of another department answers 404
exactly as one that does not exist.  A token that is unknown, revoked, or of a closed round
answers the same 404 page (nothing tells a guess that it was close)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import events, intake, links, returns, rounds
from ..collect.links import Link
from ..messages import t
from .auth import address
from .responses import download, portal, render
from .security import UPLOAD_LIMIT, limited


def _link(request: Request) -> Link:
    link = links.check(portal(request).store, request.path_params["token"])
    if link is None:
        raise HTTPException(404, t("link_unknown"))
    return link


def _page(request: Request, link: Link, receipt: intake.Receipt | None = None, status_code: int = 200,
          missing: bool = False) -> Response:
    store = portal(request).store
    return render(request, "clerk.html", status_code=status_code, link=link, token=request.path_params["token"],
                  templates=rounds.templates_of(store, link.round.id, link.department_code),
                  returns=returns.query(store, round_id=link.round.id, department=link.department_code),
                  receipt=receipt, missing=missing)


async def home(request: Request) -> Response:
    def run() -> Response:
        return _page(request, _link(request))

    return await run_in_threadpool(run)


def _record(request: Request, link: Link, detail: dict[str, Any], submission: int | None = None) -> None:
    events.record(portal(request).store, "download", actor=intake.LINK_ACTOR.format(code=link.department_code),
                  round_id=link.round.id, submission=submission, department_code=link.department_code,
                  detail=detail, address=address(request))


async def template(request: Request) -> Response:
    def run() -> Response:
        link = _link(request)
        stored = rounds.template_file(portal(request).store, link.round.id, link.department_code,
                                      request.path_params["sid"])
        if stored is None:
            raise HTTPException(404)
        _record(request, link, {"file": stored.name, "what": "template"})
        return download(stored.content, stored.name)

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
        sid = request.path_params["id"]
        store = portal(request).store
        found = returns.one(store, sid)
        if found is None or found.round_id != link.round.id or found.department_code != link.department_code:
            raise HTTPException(404)
        stored = intake.annotated(store, sid)
        if stored is None:
            raise HTTPException(404)
        _record(request, link, {"file": stored.name, "what": "annotated"}, sid)
        return download(stored.content, stored.name)

    return await run_in_threadpool(run)


def routes() -> list[Route]:
    return [
        Route("/l/{token:str}", home, methods=["GET"], name="clerk"),
        Route("/l/{token:str}/template/{sid:str}", template, methods=["GET"], name="clerk_template"),
        Route("/l/{token:str}/upload", limited(UPLOAD_LIMIT)(upload), methods=["POST"], name="clerk_upload"),
        Route("/l/{token:str}/returns/{id:id}/annotated", annotated, methods=["GET"], name="clerk_annotated"),
    ]
