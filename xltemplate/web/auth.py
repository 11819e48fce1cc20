"""Who may do what: staff pages need a live session, staff actions also a same-site request that
carries the session's CSRF token; the API needs a live API token.

Roles (:mod:`xltemplate.collect.accounts`): every account reads every page; the actions that run
the rounds (create, close, links, uploads, withdrawals, assigning files) need an admin or staff
account (:func:`action`'s default), admin pages an admin; a review decision is open to any
account here and decided by :func:`xltemplate.collect.reviews.may_decide` (which department, which
stage), the same rule the command line and the API apply.

A cross-site POST carrying the staff cookie does nothing: a browser sends ``Sec-Fetch-Site``
(or ``Origin``) with it, which must say this site, and it cannot know the session's CSRF token,
which every state-changing form carries and which is compared in constant time.  The site is
checked before the body of the request is read.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..collect import accounts
from ..messages import t
from .responses import SESSION_COOKIE, path_for, portal, redirect_path
from .security import FORM_LIMIT, limit_body

Page = Callable[[Request, accounts.Session], Response]
Action = Callable[[Request, accounts.Session, FormData], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


async def current_session(request: Request) -> accounts.Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(accounts.session, portal(request).store, token)


def cross_site(request: Request) -> bool:
    """A request sent by another site's page (or with a forged origin).

    ``Sec-Fetch-Site`` decides when the browser sends it.  Otherwise ``Origin``: with
    ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null`` even for our own forms, so
    ``null`` is left to the CSRF token (which every action also needs)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return origin != f"{request.url.scheme}://{request.url.netloc}"


def _to_login(request: Request) -> Response:
    return redirect_path(path_for(request, "login") + "?next=" + urllib.parse.quote(request.url.path, safe="/"))


def page(fn: Page, *, admin: bool = False, manage: bool = False) -> Endpoint:
    """A staff page (GET): the login page first when there is no live session.  ``manage``: a
    question before an action that runs the rounds, asked only of the accounts that may run it."""

    async def endpoint(request: Request) -> Response:
        sess = await current_session(request)
        if sess is None:
            return _to_login(request)
        request.scope["xt_session"] = sess
        if admin and sess.user.role != "admin":
            raise HTTPException(403, t("err_admin_only"))
        if manage and not sess.user.manages:
            raise HTTPException(403, t("err_manage_only"))
        return await run_in_threadpool(fn, request, sess)

    endpoint.__name__ = fn.__name__
    return endpoint


def action(fn: Action, *, admin: bool = False, anyone: bool = False, max_files: int = 0,
           limit: int = FORM_LIMIT, max_fields: int = 50) -> Endpoint:
    """A staff action (POST): same site, a live session, and the session's CSRF token in the form;
    a body of at most ``limit`` bytes.  It runs the rounds, so it needs an admin or staff account,
    unless ``anyone`` (logging out; a review decision, whose rule is the domain's) or ``admin``."""

    async def endpoint(request: Request) -> Response:
        if cross_site(request):
            raise HTTPException(403)
        sess = await current_session(request)
        if sess is None:
            return _to_login(request)
        request.scope["xt_session"] = sess
        if admin and sess.user.role != "admin":
            raise HTTPException(403, t("err_admin_only"))
        if not anyone and not sess.user.manages:
            raise HTTPException(403, t("err_manage_only"))
        request = limit_body(request, limit)
        try:
            form = await request.form(max_files=max_files, max_fields=max_fields)
        except HTTPException:
            raise
        except Exception as exc:  # a malformed body (python-multipart's errors, bad encodings)
            raise HTTPException(400) from exc
        token = form.get("csrf")
        if not isinstance(token, str) or not accounts.same(token, sess.csrf):
            raise HTTPException(403)
        try:
            return await run_in_threadpool(fn, request, sess, form)
        finally:
            await form.close()

    endpoint.body_limit = limit  # type: ignore[attr-defined]
    endpoint.__name__ = fn.__name__
    return endpoint


def api_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def address(request: Request) -> str | None:
    return request.client.host if request.client else None


def field(form: FormData, name: str, default: str = "") -> str:
    value: Any = form.get(name, default)
    return value.strip() if isinstance(value, str) else default
