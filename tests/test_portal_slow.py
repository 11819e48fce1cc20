"""What a client may hold up, over real sockets against a real ``xltemplate serve`` (timeouts made
short through the environment, as an administrator may): headers that arrive slowly or never get a
408, headers too large or too many a 431, a body that stalls or trickles is cut off with a 408 and
its connection closed, and the upload slot it held is free again."""

from __future__ import annotations

import csv
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from portal_server import Server, start
from test_rounds import roster_file

from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form

FAST = {"XLTEMPLATE_HEADER_SECONDS": "1", "XLTEMPLATE_BODY_GRACE_SECONDS": "1", "XLTEMPLATE_BODY_MIN_RATE": "2000"}


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    folder = tmp_path_factory.mktemp("slow")
    db = f"sqlite:///{folder / 'p.db'}"
    store = Store(db)
    roster = roster_file(folder / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"]])
    distribute(load_form("wuhai-perf-target"), read_roster(roster), folder / "out", store=store, year=2021)
    store.dispose()
    with open(folder / "out" / "manifest.csv", encoding="utf-8-sig") as fh:
        link = next(csv.DictReader(fh))["link"]
    server = start(db, folder, env=FAST)
    yield server, link
    server.stop()


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _answer(sock: socket.socket) -> tuple[int, bytes, bool]:
    """(status, what came, whether the server closed the connection after it)."""
    data = b""
    closed = False
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            piece = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        except TimeoutError:
            break
        if not piece:
            closed = True
            break
        data += piece
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data, closed


def _trickle(sock: socket.socket, data: bytes, every: float) -> float:
    """Send ``data`` a byte at a time; the seconds until the server stopped taking it (or all was sent)."""
    began = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(every)
        sock.settimeout(0.001)
        try:
            if sock.recv(1, socket.MSG_PEEK):
                break  # the server has answered
        except (TimeoutError, BlockingIOError):
            pass
        finally:
            sock.settimeout(10)
    return time.monotonic() - began


def test_headers_that_arrive_slowly_or_never_get_408_and_the_connection_closes(strict: tuple[Server, str]) -> None:
    server, _link = strict
    sock = _connect(server)
    took = _trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n", 0.1)
    status, data, closed = _answer(sock)
    assert status == 408 and closed and "请检查网络".encode() in data and took < 3, (status, data, took)
    idle = _connect(server)  # a connection that never says anything
    began = time.monotonic()
    status, _data, closed = _answer(idle)
    assert status == 408 and closed and time.monotonic() - began < 3
    # a kept-alive connection: the next request's headers have the same deadline
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = b""
    while not first.endswith(b"\r\n\r\nok"):  # the whole answer (its body is "ok")
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    _trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n", 0.1)
    status, _data, closed = _answer(sock)
    assert status == 408 and closed
    # ... and so has a kept-alive connection that says nothing more (408 at the deadline, not
    # closed without a word at uvicorn's keep-alive timeout of 5 s)
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = b""
    while not first.endswith(b"\r\n\r\nok"):
        first += sock.recv(65536)
    began = time.monotonic()
    status, _data, closed = _answer(sock)
    assert status == 408 and closed and time.monotonic() - began < 3, (status, time.monotonic() - began)
    # a client that is quick is served
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_headers_too_large_or_too_many_get_431(strict: tuple[Server, str]) -> None:
    server, _link = strict
    big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    sock = _connect(server)
    sock.sendall(big)  # at once
    status, data, closed = _answer(sock)
    assert status == 431 and closed, data[:200]
    # headers that never end, in pieces: the server answers 431 as the limit passes, without
    # waiting for an end (or for the deadline's 408) and without keeping what comes
    endless = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 400_000
    sock = _connect(server)
    began, sent = time.monotonic(), 0
    for i in range(0, len(endless), 4000):
        try:
            sock.sendall(endless[i:i + 4000])
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 4000
        time.sleep(0.01)
    status, data, closed = _answer(sock)
    assert status == 431 and "请求头太大".encode() in data and closed, (status, data[:200])
    assert time.monotonic() - began < 1.5 and sent < 200_000, (time.monotonic() - began, sent)
    many = {f"x-h{i}": "1" for i in range(150)}
    res = httpx.get(server.url + "/healthz", headers=many)
    assert res.status_code == 431 and "请求头太大或太多" in res.text and res.headers["x-frame-options"] == "DENY"
    assert httpx.get(server.url + "/healthz", headers={f"x-h{i}": "1" for i in range(50)}).status_code == 200


@pytest.mark.parametrize("how", ["stalls", "trickles"])
def test_a_body_that_stalls_or_trickles_is_cut_off_with_408(strict: tuple[Server, str], how: str) -> None:
    server, link = strict
    for path in (link + "/upload", "/login"):  # a clerk's upload (it holds an upload slot), a plain form
        sock = _connect(server)
        kind = b"multipart/form-data; boundary=xx" if path.endswith("upload") else \
            b"application/x-www-form-urlencoded"
        sock.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + kind +
                     b"\r\nContent-Length: 100000\r\n\r\n")
        began = time.monotonic()
        start = b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n\r\nPK" \
            if path.endswith("upload") else b"name=a&password="
        if how == "stalls":
            sock.sendall(start + b"x" * 1000)  # then nothing
        else:
            sock.sendall(start)
            _trickle(sock, b"x" * 200, 0.05)  # 20 bytes a second: less than the least speed
        status, data, closed = _answer(sock)
        assert status == 408 and closed, (path, data[:300])
        assert "上传太慢或中断了".encode() in data and time.monotonic() - began < 5, path
    # the slots the uploads held are free: a quick upload is answered at once
    res = httpx.post(server.url + link + "/upload", files={"file": ("a.pdf", b"%PDF-1.4 not a workbook")}, timeout=10)
    assert res.status_code == 200 and "未收下" in res.text


def test_a_slow_but_steady_body_is_taken_and_holds_up_no_other_upload(strict: tuple[Server, str],
                                                                       tmp_path: Path) -> None:
    server, link = strict
    sock = _connect(server)
    body = b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4" + \
        b" " * 12000 + b"\r\n--xx--\r\n"
    sock.sendall(b"POST " + link.encode() + b"/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: " + str(len(body)).encode() +
                 b"\r\nConnection: close\r\n\r\n")
    quick: dict[str, float | int] = {}
    for i in range(0, len(body), 1000):  # 4,000 bytes a second for 3 s: above the least speed
        sock.sendall(body[i:i + 1000])
        time.sleep(0.25)
        if i == 4000:  # meanwhile another clerk's upload (on the one process) is answered at once
            began = time.monotonic()
            res = httpx.post(server.url + link + "/upload", files={"file": ("b.pdf", b"%PDF-1.4 quick")}, timeout=30)
            quick = {"status": res.status_code, "took": time.monotonic() - began}
    status, data, _closed = _answer(sock)
    assert status == 200 and "未收下".encode() in data
    assert quick["status"] == 200 and quick["took"] < 1, quick
