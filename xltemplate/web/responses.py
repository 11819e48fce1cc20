"""What a handler answers with: a page rendered from a template, a download, a redirect; and the
portal's state on the request.  Imports no route: every page module stands on this one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import NoMatchFound

from .security import content_disposition

if TYPE_CHECKING:
    import asyncio

    import jinja2

    from ..collect.jobs import Worker
    from ..collect.reviews import ReviewError
    from ..collect.store import Store

SESSION_COOKIE = "xt_session"
LOGIN_COOKIE = "xt_login"

_MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "zip": "application/zip",
          "csv": "text/csv; charset=utf-8", "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
          "json": "application/json"}


@dataclass
class Portal:
    """One process's portal: the database, the templates, a scratch folder, the job worker."""

    store: Store
    env: jinja2.Environment
    data_dir: Path
    worker: Worker | None = None
    mailer: Worker | None = None  # sends the mail queue and checks reminders due (when mail is configured)
    #: uploads whose bodies this process receives at once (``app.UPLOAD_SLOTS``); the others wait,
    #: holding no memory
    upload_slots: asyncio.Semaphore | None = None
    #: uploads checked and stored at once (``app.CHECKS_AT_ONCE``); the others wait their turn in order,
    #: rather than all sharing one interpreter lock (which makes every answer slow instead of a few)
    checking: asyncio.Semaphore | None = None


def portal(request: Request) -> Portal:
    return request.app.state.portal


def path_for(request: Request, name: str, **params: Any) -> str:
    """The path of route ``name`` with ``params``: every link, form action and redirect is built
    from the route table, never from what a request carried."""
    routes: dict[str, Any] = request.app.state.routes
    try:
        return str(routes[name].url_path_for(name, **{k: str(v) for k, v in params.items()}))
    except (KeyError, NoMatchFound) as exc:  # a bug of ours, not the user's
        raise LookupError(f"no route {name} with {sorted(params)}") from exc


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    sess = request.scope.get("xt_session")
    html = portal(request).env.get_template(template).render(request=request, session=sess, **context)
    return HTMLResponse(html, status_code=status_code)


#: the HTTP status of each kind of refusal a domain error carries (``ReviewError.kind``): the pages
#: and the API answer a refused action alike
REFUSAL_STATUS = {"forbidden": 403, "conflict": 409, "missing": 404, "invalid": 400}


def refused(exc: ReviewError) -> HTTPException:
    """The HTTP error for a refused review (its message is the catalog's text)."""
    return HTTPException(REFUSAL_STATUS[exc.kind], str(exc))


def download(content: bytes, name: str, media: str | None = None, inline: bool = False) -> Response:
    """``content`` offered as ``name``; its media type from the name's extension (which the caller
    makes from what the file is, never from what a client called it)."""
    kind = media or _MEDIA.get(name.rsplit(".", 1)[-1].lower() if "." in name else "", "application/octet-stream")
    return Response(content, media_type=kind, headers={"content-disposition": content_disposition(name, inline)})


def redirect(request: Request, name: str, **params: Any) -> RedirectResponse:
    """303 to route ``name``: after every change, the browser shows a page it can reload safely."""
    return RedirectResponse(path_for(request, name, **params), status_code=303)


def redirect_path(path: str) -> RedirectResponse:
    """303 to a path already checked to be of this site (the login's ``next``)."""
    return RedirectResponse(path, status_code=303)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure(request), path="/")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
