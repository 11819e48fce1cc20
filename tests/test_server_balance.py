"""``serve``'s worker processes keep their connections level (:class:`xltemplate.web.server.Balance`):
the shared file's bookkeeping, and real workers under a burst of connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from portal_server import start

from xltemplate.web.server import Balance


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_worker_is_crowded_only_when_it_holds_more_than_one_above_the_least_busy_live_one(tmp_path: Path) -> None:
    path = tmp_path / "serve-8000.connections"
    mine = Balance(path)
    other = Balance(path, pid=os.getppid())  # another live process
    assert mine.slot != other.slot
    other.holding(3)
    assert not mine.crowded(4)  # one above: level enough
    assert mine.crowded(5)
    mine.holding(5)
    assert not other.crowded(3)  # the least busy never stops accepting
    other.holding(9)
    assert not mine.crowded(5) and other.crowded(9)


def test_a_dead_workers_slot_is_never_counted_and_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "serve-8000.connections"
    other = Balance(path, pid=os.getppid())  # a live worker
    other.holding(50)
    dead = Balance(path, pid=_dead_pid())  # dies in the next free slot, holding nothing
    dead.holding(0)
    assert other.crowded(50) is False  # were the dead one counted, the live one would stop accepting
    assert dead._pid(dead.slot) == 0  # and its slot was emptied as it was looked at
    mine = Balance(path)
    assert mine.slot == dead.slot  # taken over


def _held(worker: psutil.Process, port: int) -> int:
    return sum(1 for c in worker.net_connections(kind="tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


def _ask(sock: socket.socket) -> bool:
    """One request on the connection; whether the server closes it after its answer."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without an answer"
        head += chunk
    return b"\r\nconnection: close" in head.lower()


def test_a_burst_of_clerks_ends_up_shared_evenly_between_two_workers(tmp_path: Path) -> None:
    """50 connections opened at one moment (as the benchmark's clerks start) go mostly to whichever
    worker wakes first; the crowded worker answers and closes, its clients come back (as a browser
    does) and are taken by the other, until both hold about as many."""
    server = start(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, workers=2)
    port = int(server.url.rsplit(":", 1)[1])
    socks: list[socket.socket] = []
    try:
        shared = tmp_path / f"data-{port}" / f"serve-{port}.connections"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both workers in the shared file (start() returns once one answers)
            slots = [Balance.SLOT.unpack_from(shared.read_bytes(), i * Balance.SLOT.size)[0]
                     for i in range(Balance.SLOTS)] if shared.exists() else []
            if sum(1 for pid in slots if pid) == 2:
                break
            time.sleep(0.05)
        assert sum(1 for pid in slots if pid) == 2, "each worker takes its slot as it starts"
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        held: list[int] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # rounds of one request on every connection
            for i, s in enumerate(socks):
                if _ask(s):
                    s.close()
                    socks[i] = socket.create_connection(("127.0.0.1", port))
            time.sleep(0.05)
            workers = psutil.Process(server.pid).children(recursive=True)
            held = sorted(h for h in (_held(w, port) for w in workers) if h)
            if sum(held) == 50 and len(held) == 2 and held[1] - held[0] <= 4:
                break
        assert sum(held) == 50 and len(held) == 2 and held[1] - held[0] <= 4, held
    finally:
        for s in socks:
            s.close()
        server.stop()
