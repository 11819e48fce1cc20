"""Real portal servers for tests (helper module, not a test file): ``xltemplate serve`` started as
its own process on a free port of 127.0.0.1, over a database the test chose, and staff logged in
over HTTP.  ``Server.stop()`` ends it (SIGTERM, then SIGKILL); ``kill()`` kills it outright."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PASSWORD = "correct horse 12"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, stdin: str | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own (``env`` over this one's environment)."""
    return subprocess.run([sys.executable, "-m", "xltemplate.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=120, env={**os.environ, **(env or {})})


@dataclass
class Server:
    url: str
    db: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start(db: str, folder: Path, env: dict[str, str] | None = None, port: int | None = None,
          workers: int = 1, args: tuple[str, ...] = ()) -> Server:
    """``xltemplate serve --db DB [ARGS]`` on a free port; returns once it answers.  One process
    unless ``workers`` says more (``serve``'s own default is one per core), so that a test that
    kills the server kills all of it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = folder / f"serve-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "xltemplate.cli", "serve", "--db", db, "--data",
                                    str(folder / f"data-{port}"), "--port", str(port), "--workers", str(workers),
                                    *args],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=folder, env=full_env)
    server = Server(f"http://127.0.0.1:{port}", db, process, log, env or {})
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError("the server stopped:\n" + server.output())
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not answer:\n" + server.output())


@contextlib.contextmanager
def running(db: str, folder: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Iterator[Server]:
    server = start(db, folder, env, args=args)
    try:
        yield server
    finally:
        server.stop()


def add_user(db: str, name: str, role: str = "staff", password: str = PASSWORD) -> None:
    res = cli("users", "add", name, "--role", role, "--db", db, stdin=password + "\n")
    assert res.returncode == 0, res.stderr


def login(server: Server, name: str, password: str = PASSWORD, source: str | None = None) -> httpx.Client:
    """An HTTP client with a staff session (its CSRF token in ``client.csrf``), connecting from
    ``source`` (another loopback address, e.g. 127.0.0.2) when given."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False, transport=transport)
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    res = client.post("/login", data={"login_token": token, "name": name, "password": password, "next": "/rounds"})
    assert res.status_code == 303, res.text
    client.csrf = csrf_of(client.get("/rounds").text)  # type: ignore[attr-defined]
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
