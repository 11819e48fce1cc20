"""What every response and request of the portal goes through.

* **Headers**: a Content-Security-Policy that allows only the application's own scripts, styles
  and images (no inline script, nothing from elsewhere, no framing: ``frame-ancestors 'none'``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a department's link
  token is in its URL and must not leak to another site), ``X-Frame-Options: DENY``, and
  ``Cache-Control: no-store`` on everything but static files.
* **Body size**: each route that reads a body declares its limit (:func:`limited`); the body is
  counted while it streams in and refused (413) as soon as it passes the limit (a declared
  ``Content-Length`` over the limit is refused before a byte is read), so an oversize upload is
  never held in memory or on disk beyond the limit.
* **Body speed**: a body must arrive at :data:`BODY_MIN_RATE` bytes a second on average, after
  :data:`BODY_GRACE` seconds of grace counted from when the application starts reading it (an
  upload waiting for its turn is not counted): one that stalls or trickles is cut off with a 408
  and the connection closed, so a slow client cannot hold an upload slot or a connection for long.
* **Headers**: more than :data:`MAX_HEADERS` headers, or more than :data:`MAX_HEADER_BYTES` of
  them with the path and query, are answered 431 (the server also stops reading headers that
  grow past that size before they end: ``web/server.py``).
* **Errors**: whatever goes wrong, the browser gets a page in Chinese (JSON under ``/api``); a
  stack trace goes to the server log only.
* **Downloads** carry their name as RFC 6266/5987 ``filename*=UTF-8''…`` (Chinese names arrive
  intact) with an ASCII fallback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import urllib.parse
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..messages import t
from ..xlsx.guard import MAX_FILE

Endpoint = Callable[[Request], Awaitable[Response]]

FORM_LIMIT = 256 * 1024  # a plain form
UPLOAD_LIMIT = MAX_FILE + 1024 * 1024  # one return through a link: the largest file the engine reads
BULK_LIMIT = 300 * 1024 * 1024  # returns received by mail, many files or zips at once
ROSTER_LIMIT = 10 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024  # the request line and every header together
MAX_HEADERS = 100
#: a body's grace (seconds) and the least average speed (bytes a second) it must keep after it
BODY_GRACE = float(os.environ.get("XLTEMPLATE_BODY_GRACE_SECONDS", "15"))
BODY_MIN_RATE = int(os.environ.get("XLTEMPLATE_BODY_MIN_RATE", str(16 * 1024)))
SCAN_LIMIT = 51 * 1024 * 1024  # a stamped scan: the most any form's attachment may take (collect.scans.LIMIT_MB)

log = logging.getLogger("xltemplate.web")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class Headers:
    """Adds the security headers to every response (and ``no-store`` outside /static)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", ())
        if len(headers) > MAX_HEADERS or sum(len(k) + len(v) + 4 for k, v in headers) + \
                len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_HEADER_BYTES:
            await _too_many_headers(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in have]
                if not static and b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)


async def _too_many_headers(scope: Scope, receive: Receive, send: Send) -> None:
    page = (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{t('err_title')}</title>"
            f"<p>{t('err_431')}</p></html>")
    response = HTMLResponse(page, status_code=431, headers={"connection": "close", **{
        k.decode(): v.decode() for k, v in HEADERS}, "cache-control": "no-store"})
    await response(scope, receive, send)


class TooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=str(limit))
        self.limit = limit


class TooSlow(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=408, headers={"connection": "close"})


def limit_body(request: Request, limit: int) -> Request:
    """The request with its body counted while it streams in: over ``limit`` it is refused (413),
    and a declared ``Content-Length`` over the limit is refused before a byte is read; a body that
    falls behind :data:`BODY_MIN_RATE` after :data:`BODY_GRACE` seconds is cut off (408)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    receive = request.receive
    seen = 0
    started: float | None = None

    async def counted() -> Message:
        nonlocal seen, started
        loop = asyncio.get_running_loop()
        if started is None:
            started = loop.time()
        left = started + BODY_GRACE + seen / BODY_MIN_RATE - loop.time()
        if left <= 0:
            raise TooSlow
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError as exc:
            raise TooSlow from exc
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(limit)
        return message

    return Request(request.scope, counted)


def limited(limit: int) -> Callable[[Endpoint], Endpoint]:
    """Declares on a route's endpoint the largest request body it takes (see :func:`limit_body`)."""

    def wrap(fn: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await fn(limit_body(request, limit))

        endpoint.body_limit = limit  # type: ignore[attr-defined]
        endpoint.__name__ = getattr(fn, "__name__", "endpoint")
        return endpoint

    return wrap


def content_disposition(name: str, inline: bool = False) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''%E6%B1%87…`` (RFC 6266 / RFC 5987)."""
    stem, _, ext = name.rpartition(".") if "." in name else (name, "", "")
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext)
    ascii_name = (re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "download") + (f".{ext}" if ext else "")
    quoted = urllib.parse.quote(name, safe="")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"

