"""How ``xltemplate serve`` runs the portal: uvicorn with its httptools protocol, made strict
about what a client may hold up.

* **Headers.** The request line and headers together may take :data:`MAX_HEADER_BYTES` (the bytes
  received while they are not all in are counted; more is answered 431) and must have arrived within
  :data:`HEADER_SECONDS` of the connection opening (or of the previous answer on a kept-alive
  connection): a client that sends them slowly, or not at all, is answered 408 and the connection
  closed.  More than :data:`MAX_HEADERS` headers are answered 431 (``security.Headers``).
* **Bodies** that stall or trickle are cut off with a 408 by ``security.limit_body``.
* **``X-Forwarded-For``** (and ``X-Forwarded-Proto``) are believed only from the proxies named
  with ``--forwarded-allow-ips``; by default from nobody, so the address in the audit log and the
  one logins are counted against is the connection's own.

Everything here is per connection, before the application sees a request; uvicorn's own option
``forwarded_allow_ips`` does the rest.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..messages import t
from .security import MAX_HEADER_BYTES

try:
    import fcntl
except ImportError:  # Windows: serve's processes go without balancing
    fcntl = None  # type: ignore[assignment]

#: seconds the request line and headers may take to arrive
HEADER_SECONDS = float(os.environ.get("XLTEMPLATE_HEADER_SECONDS", "15"))


class Balance:
    """Keeps the connections of ``serve``'s worker processes level.

    Every worker accepts from one shared listening socket, and the kernel hands a new connection
    to whichever worker's event loop asks first; nothing makes that the least busy one.  Measured
    under 50 clerks (benchmarks/portal.py), one worker often held 30 to 44 connections while the
    other held 6 to 20: each worker answers on one core, so the clerks of the crowded one waited
    up to twice as long.  Here each worker writes how many connections it holds into a slot of a
    small shared file (``serve-<port>.connections`` in the data folder), and a worker holding more
    than one connection above the least busy live worker stops accepting until that is no longer
    so (checked as its connections close, and every :data:`RECHECK` seconds): new connections wait
    in the socket's queue for a worker that accepts them.  The least busy worker never stops, so
    some worker always accepts.

    A slot is claimed under a lock on the file by the worker's pid.  The slot of a worker that died
    is never counted: the first worker to look at it empties it (within milliseconds while
    connections come and go, before the dead pid can be given to another process), and a new worker
    takes it.  ``serve`` empties the file as it starts (:meth:`reset`): no slot of an earlier run is
    counted.  Should a slot still mislead, a worker that sees itself crowded accepts again after
    :data:`MAX_PAUSE` seconds at most: slower to take new connections for a while, never stopped."""

    SLOTS = 64
    SLOT = struct.Struct("<qq")  # pid, connections

    def __init__(self, path: Path, pid: int | None = None):
        if fcntl is None:
            raise OSError("no flock on this system")
        self.pid = pid or os.getpid()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size < self.SLOTS * self.SLOT.size:
                os.ftruncate(fd, self.SLOTS * self.SLOT.size)
            self.map = mmap.mmap(fd, self.SLOTS * self.SLOT.size)
            self.slot = next((i for i in range(self.SLOTS) if not _alive(self._pid(i)) or self._pid(i) == self.pid),
                             None)
            if self.slot is not None:
                self.SLOT.pack_into(self.map, self.slot * self.SLOT.size, self.pid, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @classmethod
    def reset(cls, path: Path) -> None:
        """No worker holds a slot (as ``serve`` starts, before its workers)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(cls.SLOTS * cls.SLOT.size))

    def _pid(self, i: int) -> int:
        return self.SLOT.unpack_from(self.map, i * self.SLOT.size)[0]

    def holding(self, n: int) -> None:
        """This worker holds ``n`` connections now."""
        if self.slot is not None:
            self.SLOT.pack_into(self.map, self.slot * self.SLOT.size, self.pid, n)

    def crowded(self, n: int) -> bool:
        """Whether this worker, holding ``n``, holds more than one above the least busy other live worker."""
        least = None
        for i, (pid, held) in enumerate(self.SLOT.iter_unpack(self.map)):
            if not pid or pid == self.pid or (least is not None and held >= least):
                continue
            if _alive(pid):
                least = held
            else:  # a worker that died: its slot emptied at once, before its pid can be another process's
                self.SLOT.pack_into(self.map, i * self.SLOT.size, 0, 0)
        return least is not None and n > least + 1


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: this worker's balance, made as it starts (:func:`join`; None: one worker, or no ``flock``)
_BALANCE: Balance | None = None
RECHECK = 0.005  # seconds between looks at the others while not accepting
MAX_PAUSE = 1.0  # seconds a worker goes without accepting at most
BALANCE_FILE = "XLTEMPLATE_BALANCE"  # the environment variable naming the shared file (set by run)


def _balance() -> Balance | None:
    global _BALANCE
    path = os.environ.get(BALANCE_FILE)
    if not path:
        return None
    if _BALANCE is None or _BALANCE.pid != os.getpid():
        try:
            _BALANCE = Balance(Path(path))
        except OSError:  # no flock (Windows), or the file cannot be made: no balancing
            os.environ.pop(BALANCE_FILE, None)
            return None
    return _BALANCE


def join() -> None:
    """This worker's slot in the shared file, claimed as the worker starts rather than at its first
    connection: a worker that has taken none yet counts as the least busy one, so the others leave
    new connections to it (without this, a worker that started after a burst of connections would
    never be seen, and never be given any).  Nothing with one worker."""
    _balance()


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C) with a deadline for the request line and headers,
    a 431 (said in Chinese) for headers over the limit, and the balancing of :class:`Balance`.

    (Until December 2026 this was uvicorn's h11 protocol, in pure Python: measured on one worker
    under 10 clerks, the C parser takes about 0.7 ms less CPU per upload of a server's ~9 ms.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timer: asyncio.TimerHandle | None = None
        self.fed = 0  # bytes received while waiting for the request line and headers
        self.waiting = True  # for a request's line and headers (not all in yet)
        self.too_large = False

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
        self._level()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        self._level()

    def _level(self) -> None:
        """Say how many connections this worker holds; stop or start accepting (:class:`Balance`)."""
        balance, server = _balance(), getattr(self.transport, "_server", None)
        if balance is None or server is None or not hasattr(server, "_start_serving"):
            return
        held = len(self.server_state.connections)
        balance.holding(held)
        crowded = balance.crowded(held)  # (asyncio.Server has no public pause: its own flag and method)
        if crowded and server.is_serving():
            for sock in server.sockets:
                self.loop.remove_reader(sock.fileno())
            server._serving = False
            self.loop.call_later(RECHECK, _recheck, self.loop, server, self.server_state,
                                 self.loop.time() + MAX_PAUSE)
        elif not crowded and not server.is_serving() and server.sockets:
            server._start_serving()

    def on_headers_complete(self) -> None:
        self.waiting, self.fed = False, 0
        self._disarm()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.waiting and not self.transport.is_closing():
            # (headers that end within one read are bounded by its size; security.Headers counts them)
            self.fed += len(data)
            if self.fed > MAX_HEADER_BYTES:
                self.too_large = True
                self.send_400_response("")
                return
        if self.cycle is not cycle and self.cycle is not None:  # a new request: answered, then closed
            balance = _BALANCE  # when this worker is crowded (its client comes back to another one)
            headers = getattr(self.cycle, "default_headers", None)
            held = len(self.server_state.connections)
            if balance is not None and isinstance(headers, list) and balance.crowded(held):
                self.cycle.default_headers = [*headers, (b"connection", b"close")]

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.waiting = True
            self._arm()  # the next request on this connection has as long as the first

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or not self.waiting:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # an answer is still being sent
        self.transport.write(_plain(408, b"Request Timeout", t("err_408")))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if not self.too_large:
            super().send_400_response(msg)
            return
        self.transport.write(_plain(431, b"Request Header Fields Too Large", t("err_431")))
        self.transport.close()


def _plain(status: int, reason: bytes, text: str) -> bytes:
    body = text.encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % (status, reason, len(body))) + body


def _recheck(loop: asyncio.AbstractEventLoop, server: Any, state: Any, until: float) -> None:
    """While a worker does not accept: accept again once it is no longer crowded, or after ``until``."""
    if _BALANCE is None or server.is_serving() or not server.sockets:
        return  # accepting again already, or shutting down
    if _BALANCE.crowded(len(state.connections)) and loop.time() < until:
        loop.call_later(RECHECK, _recheck, loop, server, state, until)
    else:
        server._start_serving()


def run(db_url: str, data_dir: str, *, host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Serve the portal over ``db_url`` until stopped (the database and folder reach each worker
    process through the environment)."""
    os.environ["XLTEMPLATE_DB"], os.environ["XLTEMPLATE_DATA"] = db_url, data_dir
    if workers > 1:
        shared = Path(data_dir).resolve() / f"serve-{port}.connections"
        Balance.reset(shared)
        os.environ[BALANCE_FILE] = str(shared)
    uvicorn.run("xltemplate.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                http=Protocol, loop="asyncio",  # (the balancing pauses asyncio's own Server; uvloop's has no pause)
                proxy_headers=bool(forwarded_allow_ips), forwarded_allow_ips=forwarded_allow_ips or "",
                server_header=False, log_level="warning", timeout_graceful_shutdown=10)
