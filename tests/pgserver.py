"""A real, throw-away PostgreSQL server for tests (helper module, not a test file).

API:
    available() -> bool
    require() -> None                      # skip, or fail if XLTEMPLATE_REQUIRE_POSTGRES=1
    server() -> ContextManager[str]        # yields postgresql+psycopg://postgres@127.0.0.1:PORT/xltemplate
    PostgresError                          # startup / shutdown failure; message carries the server log

Session fixture (tests/conftest.py)::

    @pytest.fixture(scope="session")
    def pg_url():
        pgserver.require()
        with pgserver.server() as url:
            yield url

``server()`` runs ``initdb`` into a fresh temp dir, starts the cluster with ``pg_ctl`` on
127.0.0.1 and a free port (unix socket inside the temp dir, fsync off), trust auth,
creates database ``xltemplate``, and on exit stops it (``pg_ctl stop -m immediate``) and
removes the dir.  As root the server runs as the ``postgres`` system user (PostgreSQL
refuses to run as root).  Cleanup also happens at interpreter exit (atexit) and, when
the test process is killed outright (SIGKILL/SIGTERM), from a small watchdog process.

Binaries: $XLTEMPLATE_PG_BINDIR, else the newest /usr/lib/postgresql/<ver>/bin (Debian,
not on PATH), else pg_ctl found on PATH.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REQUIRE_ENV = "XLTEMPLATE_REQUIRE_POSTGRES"
BINDIR_ENV = "XLTEMPLATE_PG_BINDIR"
RUN_AS_USER = "postgres"  # used only when running as root
DBNAME = "xltemplate"
SUPERUSER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_PORT_ATTEMPTS = 3  # retry with a new port if another process grabbed ours

_NEEDED = ("initdb", "pg_ctl", "postgres", "pg_isready", "createdb")
_SERVER_OPTS = "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


class PostgresError(RuntimeError):
    """Starting or stopping the test server failed; the message carries its output."""


# --------------------------------------------------------------------------- discovery


def _version_key(bindir: str) -> tuple[int, ...]:
    ver = Path(bindir).parent.name  # /usr/lib/postgresql/<ver>/bin
    try:
        return tuple(int(p) for p in ver.split("."))
    except ValueError:
        return (-1,)


def _candidate_bindirs() -> list[str]:
    env = os.environ.get(BINDIR_ENV)
    if env:
        return [env]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        found.append(str(Path(on_path).resolve().parent))
    return found


def _has_all(bindir: str) -> bool:
    return all(os.access(os.path.join(bindir, exe), os.X_OK) for exe in _NEEDED)


@functools.lru_cache(maxsize=1)
def _bindir_or_reason() -> tuple[str | None, str | None]:
    cands = _candidate_bindirs()
    for d in cands:
        if _has_all(d):
            break
    else:
        where = ", ".join(cands) or f"/usr/lib/postgresql/*/bin, PATH, ${BINDIR_ENV}"
        return None, f"PostgreSQL binaries ({', '.join(_NEEDED)}) not found in {where}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS_USER)
        except KeyError:
            return None, f"running as root but there is no '{RUN_AS_USER}' system user to run the server as"
        if not (shutil.which("runuser") or shutil.which("setpriv")):
            return None, "running as root but neither runuser nor setpriv is available"
    return d, None


def bindir() -> str:
    """Directory holding initdb/pg_ctl/postgres (raises PostgresError if unavailable)."""
    d, why = _bindir_or_reason()
    if d is None:
        raise PostgresError(why)
    return d


def available() -> bool:
    """True if the PostgreSQL server binaries (and, as root, a user to run them as) exist."""
    return _bindir_or_reason()[0] is not None


def require() -> None:
    """Call at the start of a test/fixture: skip if PostgreSQL is unavailable, or fail
    instead when XLTEMPLATE_REQUIRE_POSTGRES=1 (CI)."""
    import pytest

    _, why = _bindir_or_reason()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_ENV}=1) but unavailable: {why}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {why}")


# --------------------------------------------------------------------------- process helpers


def _as_server_user() -> list[str]:
    """Command prefix that drops root to the postgres user (empty when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", RUN_AS_USER, "--"]
    pw = pwd.getpwnam(RUN_AS_USER)
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--"]


def _child_env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=home, LC_ALL="C", LANG="C", TZ="UTC")
    return env


def _run(cmd: list[str], *, cwd: str, env: dict[str, str], timeout: float, what: str) -> str:
    try:
        r = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=max(timeout, 1.0),
        )
    except subprocess.TimeoutExpired as exc:
        raise PostgresError(f"{what} timed out after {timeout:.0f}s: {shlex.join(cmd)}") from exc
    if r.returncode != 0:
        raise PostgresError(f"{what} failed (exit {r.returncode}): {shlex.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tmp_base() -> str | None:
    """Temp base dir; as root it must be traversable by the postgres user."""
    base = tempfile.gettempdir()
    if os.geteuid() != 0:
        return None
    p = Path(base).resolve()
    for part in (p, *p.parents):
        if not os.stat(part).st_mode & 0o001:
            return "/tmp"
    return None


def _read(path: Path, limit: int = 20000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "(no server log)"


# --------------------------------------------------------------------------- cleanup


def _stop_and_remove(bindir: str, root: str, prefix: list[str]) -> None:
    """Stop the cluster in root/data (immediate) and delete root.  Idempotent, never raises."""
    data = os.path.join(root, "data")
    pidfile = os.path.join(data, "postmaster.pid")
    if os.path.exists(pidfile):
        with contextlib.suppress(Exception):
            subprocess.run(
                [
                    *prefix,
                    os.path.join(bindir, "pg_ctl"),
                    "-D",
                    data,
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    str(int(STOP_TIMEOUT)),
                    "stop",
                ],
                cwd=root if os.path.isdir(root) else "/",
                env=_child_env(root),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=STOP_TIMEOUT + 5,
            )
        # pg_ctl failed or timed out: kill the postmaster outright.
        with contextlib.suppress(Exception):
            pid = int(Path(pidfile).read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


_live: dict[str, tuple[str, list[str], int]] = {}  # root -> (bindir, prefix, owner pid)


@atexit.register
def _cleanup_all() -> None:
    for root, (bd, prefix, owner) in list(_live.items()):
        if owner == os.getpid():  # not in a forked child that inherited _live
            _stop_and_remove(bd, root, prefix)
        _live.pop(root, None)


def _start_watchdog(bindir: str, root: str, prefix: list[str]) -> subprocess.Popen[bytes] | None:
    """A detached process that cleans up if we die without running atexit (SIGKILL, SIGTERM).
    It waits for EOF on its stdin pipe; we write b"done" before closing it on a normal exit."""
    spec = json.dumps({"bindir": bindir, "root": root, "prefix": prefix})
    try:
        return subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "_watchdog", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survive a kill of our process group
            cwd="/",
        )
    except OSError:
        return None  # best effort; atexit still covers ordinary exits


def _end_watchdog(wd: subprocess.Popen[bytes] | None) -> None:
    if wd is None:
        return
    with contextlib.suppress(Exception):
        assert wd.stdin is not None
        wd.stdin.write(b"done")
        wd.stdin.close()
    with contextlib.suppress(Exception):
        wd.wait(timeout=5)


def _watchdog_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    try:
        msg = sys.stdin.buffer.read()
    except Exception:
        msg = b""
    if msg != b"done":
        _stop_and_remove(spec["bindir"], spec["root"], spec["prefix"])


# --------------------------------------------------------------------------- the server


def _start(bindir: str, root: str, prefix: list[str], env: dict[str, str], deadline: float) -> int:
    """pg_ctl start on a free port; retry with another port if it was taken. Returns the port."""
    data, log = os.path.join(root, "data"), Path(root, "server.log")
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = _free_port()
        opts = f"{_SERVER_OPTS} -p {port} -k {shlex.quote(root)}"
        remaining = deadline - time.monotonic()
        try:
            _run(
                [
                    *prefix,
                    os.path.join(bindir, "pg_ctl"),
                    "-D",
                    data,
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    str(max(int(remaining), 1)),
                    "start",
                ],
                cwd=root,
                env=env,
                timeout=remaining + 5,
                what="pg_ctl start",
            )
            return port
        except PostgresError as exc:
            text = _read(log)
            if attempt < _PORT_ATTEMPTS and "could not bind" in text and time.monotonic() < deadline:
                _stop_and_remove_server_only(bindir, root, prefix, env)
                log.unlink(missing_ok=True)
                continue
            raise PostgresError(f"{exc}\n--- server log ({log}) ---\n{text}") from None
    raise AssertionError("unreachable")


def _stop_and_remove_server_only(bindir: str, root: str, prefix: list[str], env: dict[str, str]) -> None:
    data = os.path.join(root, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        with contextlib.suppress(Exception):
            _run(
                [*prefix, os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                cwd=root,
                env=env,
                timeout=STOP_TIMEOUT,
                what="pg_ctl stop",
            )


@contextlib.contextmanager
def server(timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Start a throw-away PostgreSQL cluster; yield its SQLAlchemy URL
    ``postgresql+psycopg://postgres@127.0.0.1:PORT/xltemplate``; stop and delete it on exit."""
    bd = bindir()
    prefix = _as_server_user()
    deadline = time.monotonic() + timeout
    root = tempfile.mkdtemp(prefix="xltpg-", dir=_tmp_base())
    owner = os.getpid()
    _live[root] = (bd, prefix, owner)
    wd = _start_watchdog(bd, root, prefix)
    try:
        if prefix:
            pw = pwd.getpwnam(RUN_AS_USER)
            os.chown(root, pw.pw_uid, pw.pw_gid)
        env = _child_env(root)
        data = os.path.join(root, "data")
        initdb = [
            *prefix,
            os.path.join(bd, "initdb"),
            "-D",
            data,
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
        try:
            _run([*initdb, "--locale=C.UTF-8"], cwd=root, env=env, timeout=deadline - time.monotonic(), what="initdb")
        except PostgresError:  # no C.UTF-8 locale on this system
            shutil.rmtree(data, ignore_errors=True)
            _run([*initdb, "--locale=C"], cwd=root, env=env, timeout=deadline - time.monotonic(), what="initdb")
        hba = Path(data, "pg_hba.conf")
        hba.write_text(_HBA, encoding="utf-8")  # written as root: keep it readable by the server
        if prefix:
            os.chown(hba, pw.pw_uid, pw.pw_gid)

        port = _start(bd, root, prefix, env, deadline)
        log = Path(root, "server.log")
        try:
            _wait_ready(bd, port, env, root, deadline)
            _run(
                [os.path.join(bd, "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DBNAME],
                cwd=root,
                env=env,
                timeout=deadline - time.monotonic(),
                what="createdb",
            )
        except PostgresError as exc:
            raise PostgresError(f"{exc}\n--- server log ({log}) ---\n{_read(log)}") from None
        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{DBNAME}"
    finally:
        if os.getpid() == owner:  # a forked child leaving the block must not stop our server
            _stop_and_remove(bd, root, prefix)
            _end_watchdog(wd)
        _live.pop(root, None)


def _wait_ready(bd: str, port: int, env: dict[str, str], root: str, deadline: float) -> None:
    cmd = [os.path.join(bd, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-t", "2"]
    while True:
        r = subprocess.run(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        if r.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise PostgresError(
                f"server on 127.0.0.1:{port} not accepting connections (pg_isready exit {r.returncode})"
            )
        time.sleep(0.1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_watchdog":
        _watchdog_main(sys.argv[2])
    else:  # manual smoke test / timing: python tests/pgserver.py
        t0 = time.monotonic()
        with server() as url:
            t1 = time.monotonic()
            print(url)
        t2 = time.monotonic()
        print(f"start {t1 - t0:.2f}s, stop {t2 - t1:.2f}s")
