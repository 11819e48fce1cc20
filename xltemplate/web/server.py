"""How ``xltemplate serve`` runs the portal: uvicorn with its h11 protocol, made strict about
what a client may hold up.

* **Headers.** The request line and headers together may take :data:`MAX_HEADER_BYTES` (h11's
  ``max_incomplete_event_size``; more is answered 431) and must have arrived within
  :data:`HEADER_SECONDS` of the connection opening (or of the previous answer on a kept-alive
  connection): a client that sends them slowly, or not at all, is answered 408 and the connection
  closed.  More than :data:`MAX_HEADERS` headers are answered 431 (``security.Headers``).
* **Bodies** that stall or trickle are cut off with a 408 by ``security.limit_body``.
* **``X-Forwarded-For``** (and ``X-Forwarded-Proto``) are believed only from the proxies named
  with ``--forwarded-allow-ips``; by default from nobody, so the address in the audit log and the
  one logins are counted against is the connection's own.

Everything here is per connection, before the application sees a request; uvicorn's own options
(``h11_max_incomplete_event_size``, ``forwarded_allow_ips``) do the rest.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..messages import t
from .security import MAX_HEADER_BYTES

#: seconds the request line and headers may take to arrive
HEADER_SECONDS = float(os.environ.get("XLTEMPLATE_HEADER_SECONDS", "15"))


class _Connection(h11.Connection):
    """h11's connection, remembering why it refused what a client sent (its status hint: 431 for
    headers too large)."""

    refused: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused = exc
            raise


def _plain(status: int, reason: bytes, text: str) -> bytes:
    body = text.encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % (status, reason, len(body))) + body


class Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request line and headers, and a 431 (said
    in Chinese) for headers over the limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self.header_timer = self.loop.call_later(HEADER_SECONDS, self._headers_too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a whole request line and its headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on this connection has as long as the first

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # an answer is still being sent
        self.transport.write(_plain(408, b"Request Timeout", t("err_408")))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        refused = getattr(self.conn, "refused", None)
        if refused is None or refused.error_status_hint != 431:
            super().send_400_response(msg)
            return
        self.transport.write(_plain(431, b"Request Header Fields Too Large", t("err_431")))
        self.transport.close()


def run(db_url: str, data_dir: str, *, host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Serve the portal over ``db_url`` until stopped (the database and folder reach each worker
    process through the environment)."""
    os.environ["XLTEMPLATE_DB"], os.environ["XLTEMPLATE_DATA"] = db_url, data_dir
    uvicorn.run("xltemplate.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                http=Protocol, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                proxy_headers=bool(forwarded_allow_ips), forwarded_allow_ips=forwarded_allow_ips or "",
                server_header=False, log_level="warning", timeout_graceful_shutdown=10)
