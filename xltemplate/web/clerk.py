"""A department's own pages, reached by its link ``/l/<token>`` with no account.

Everything behind a link is looked up by the link's round and department code, never by what the
request names: a template, a return or an annotated copy of another department answers 404
exactly as one that does not exist.  A token that is unknown or revoked answers the same 404 page
(nothing tells a guess that it was close); the link of a closed round shows the department where
it finally stands, and takes no upload."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import departments, events, files, intake, links, printout, returns, reviews, scans
from ..collect.links import Link, QuotaReached
from ..messages import t
from .auth import address
from .responses import download, path_for, portal, redirect_path, render
from .security import SCAN_LIMIT, UPLOAD_LIMIT, limited


def _link(request: Request) -> Link:
    link = links.check(portal(request).store, request.path_params["token"])
    if link is None:
        raise HTTPException(404, t("link_unknown"))
    return link


def _page(request: Request, link: Link, receipt: intake.Receipt | None = None, status_code: int = 200,
          problem: str | None = None) -> Response:
    """The department's page: its templates (read with the link) and its returns (as the upload left
    them, else read now); a closed round says where the department finally stands."""
    store = portal(request).store
    found = receipt.returns if receipt is not None else returns.query(store, round_id=link.round.id,
                                                                       department=link.department_code,
                                                                       with_scans=True)
    final = departments.one(store, link.round, link.department_code) if not link.open else None
    sent_back = {r.id: reviews.reasons_of(store, r.id) for r in found if r.state == "returned" and r.id is not None}
    scanned = request.query_params.get("scan") == "ok"
    return render(request, "clerk.html", status_code=status_code, link=link, token=request.path_params["token"],
                  templates=link.templates, returns=found, receipt=receipt, problem=problem, final=final,
                  reasons=sent_back, papers=scans.for_returns(found), scanned=scanned)


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
        found = next((x for x in link.templates if x.submission_id == request.path_params["sid"]), None)
        stored = files.get(portal(request).store, found.file_id) if found is not None else None
        if stored is None:
            raise HTTPException(404)
        _record(request, link, {"file": stored.name, "what": "template"})
        return download(stored.content, stored.name)

    return await run_in_threadpool(run)


async def upload(request: Request) -> Response:
    """One file through the link: the link, the round and today's quota are checked before a byte of
    the body is read, and the body is read only once the upload holds one of this process's slots
    (clients waiting for a slot hold no memory)."""
    link = await run_in_threadpool(_link, request)

    def run(data: bytes, name: str) -> Response:
        try:
            receipt = intake.receive(portal(request).store, data, name, link, address=address(request))
        except QuotaReached as exc:
            return _answer(request, link, t("quota_" + exc.what, **_quota()), 429)
        return _page(request, link, receipt, 200)

    if not link.open:
        return await run_in_threadpool(_answer, request, link, t("round_closed", name=link.round.name), 409)
    return await _one_file(request, link, "file", run)


def _answer(request: Request, link: Link, problem: str, status: int) -> Response:
    """The link's page again, saying what was wrong with what was sent."""
    return _page(request, link, None, status, problem=problem)


async def _one_file(request: Request, link: Link, field_name: str,
                    handle: Callable[[bytes, str], Response]) -> Response:
    """One file sent through a department's link (an upload, a scan): the day's quota checked on the
    declared size before the body is read; the body read only once this process has an upload slot
    for it (clients waiting for one hold no memory); then ``handle(data, name)`` in a thread, when
    it is this upload's turn to be checked (one at a time per process, in order: a body still
    arriving holds up no other upload)."""
    declared = request.headers.get("content-length", "")
    full = link.room_for(int(declared) if declared.isdigit() else 0)
    if full is not None:
        return await run_in_threadpool(_answer, request, link, t("quota_" + full, **_quota()), 429)
    slots = portal(request).upload_slots
    async with slots if slots is not None else contextlib.nullcontext():
        try:
            form = await request.form(max_files=1, max_fields=5)
        except HTTPException:
            raise
        except Exception as exc:
            raise HTTPException(400) from exc
        try:
            upload = form.get(field_name)
            if not isinstance(upload, UploadFile) or not upload.filename:
                return await run_in_threadpool(_answer, request, link, t("clerk_choose_file"), 400)
            data = await upload.read()
            checking = portal(request).checking
            async with checking if checking is not None else contextlib.nullcontext():
                return await run_in_threadpool(handle, data, upload.filename)
        finally:
            await form.close()


def _quota() -> dict[str, int]:
    return {"n": links.UPLOADS_PER_DAY, "mb": links.BYTES_PER_DAY // (1024 * 1024)}


def _own_return(request: Request) -> tuple[Link, int, Any]:
    """The link, and the return of the path if it is one of the link's department in its round
    (404 otherwise: another department's return is no concern of this link)."""
    link = _link(request)
    sid = request.path_params["id"]
    store = portal(request).store
    found = returns.one(store, sid)
    if found is None or found.round_id != link.round.id or found.department_code != link.department_code:
        raise HTTPException(404)
    return link, sid, store


async def annotated(request: Request) -> Response:
    def run() -> Response:
        link, sid, store = _own_return(request)
        stored = intake.annotated(store, sid)
        if stored is None:
            raise HTTPException(404)
        _record(request, link, {"file": stored.name, "what": "annotated"}, sid)
        return download(stored.content, stored.name)

    return await run_in_threadpool(run)


async def print_copy(request: Request) -> Response:
    """The 打印版 of one of the department's returns: A4, its number and 校验码 in the footer."""
    def run() -> Response:
        link, sid, store = _own_return(request)
        made = printout.printable(store, sid)
        if made is None:
            raise HTTPException(404)
        book, name, _code = made
        _record(request, link, {"file": name, "what": "print"}, sid)
        return download(book, name)

    return await run_in_threadpool(run)


async def scan(request: Request) -> Response:
    """A stamped scan of one of the department's returns: checked (kind by content, size, a PDF's
    contents, an image's dimensions) before anything keeps it; the page says what was wrong."""
    link = await run_in_threadpool(_link, request)
    sid, key = request.path_params["id"], request.path_params["key"]

    def run(data: bytes, name: str) -> Response:
        store = portal(request).store
        try:
            scans.receive(store, link, sid, key, data, name, address(request))
        except LookupError as exc:
            raise HTTPException(404) from exc
        except QuotaReached as exc:
            return _answer(request, link, t("quota_" + exc.what, **_quota()), 429)
        except scans.ScanRefused as exc:
            scans.refused(store, link, sid, name, data, exc.message(), address(request))
            return _answer(request, link, exc.message(), 400)
        return redirect_path(path_for(request, "clerk", token=request.path_params["token"]) + f"?scan=ok#return-{sid}")

    return await _one_file(request, link, "scan", run)


def routes() -> list[Route]:
    return [
        Route("/l/{token:str}", home, methods=["GET"], name="clerk"),
        Route("/l/{token:str}/template/{sid:str}", template, methods=["GET"], name="clerk_template"),
        Route("/l/{token:str}/upload", limited(UPLOAD_LIMIT)(upload), methods=["POST"], name="clerk_upload"),
        Route("/l/{token:str}/returns/{id:id}/annotated", annotated, methods=["GET"], name="clerk_annotated"),
        Route("/l/{token:str}/returns/{id:id}/print", print_copy, methods=["GET"], name="clerk_print"),
        Route("/l/{token:str}/returns/{id:id}/scan/{key:str}", limited(SCAN_LIMIT)(scan), methods=["POST"],
              name="clerk_scan"),
    ]
