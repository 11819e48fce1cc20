"""Staff accounts over HTTP, against a real ``xltemplate serve`` on SQLite and on PostgreSQL:
thirty logins at once cannot slip a right password past the lockout, the admin locked out from one
address logs in from another (a second loopback address, 127.0.0.2), ``X-Forwarded-For`` is
believed only from the proxies named, a password reset or a disabled account ends its sessions,
an unknown, disabled or locked name reads and takes the same as a wrong password, and a staff
account on an admin page reads 需要管理员权限."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from portal_server import PASSWORD, Server, cli, login, start

from xltemplate.collect import accounts, events
from xltemplate.collect.store import Store


def _serve(db: str, folder: Path) -> Iterator[tuple[Server, Store]]:
    store = Store(db)
    accounts.add_user(store, "admin", PASSWORD, "admin")
    accounts.add_user(store, "staff", PASSWORD)
    server = start(db, folder)
    yield server, store
    server.stop()
    store.dispose()


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Store]]:
    """A server over SQLite, and over PostgreSQL (for what the database decides)."""
    yield from _serve(db_url, tmp_path)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Server, Store]]:
    """A server over SQLite (for what the database does not decide)."""
    yield from _serve(f"sqlite:///{tmp_path / 'p.db'}", tmp_path)


def _client(server: Server, source: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=server.url, timeout=120, follow_redirects=False, transport=transport)


def _post_login(server: Server, name: str, password: str, source: str | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
    with _client(server, source) as c:
        token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text).group(1)
        return c.post("/login", data={"login_token": token, "name": name, "password": password},
                      headers=headers or {})


def _logins(store: Store) -> list[events.Event]:
    return events.page(store, actions=("login", "login_failed"), limit=1000)


def test_a_right_password_among_29_wrong_ones_at_once_is_refused_and_the_lock_holds(served: Any) -> None:
    server, store = served
    th = store.t.login_throttle
    with ThreadPoolExecutor(max_workers=30) as pool:
        wrong = [pool.submit(_post_login, server, "admin", f"wrong {i}") for i in range(29)]
        # the right one leaves once the wrong ones have taken every try the account has (their
        # passwords are still being checked: the server has answered none of them yet)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.engine.connect() as conn:
                if conn.execute(sa.select(th.c.locked_until).where(th.c.scope == "account", th.c.name == "admin",
                                                                   th.c.locked_until.is_not(None))).first():
                    break
            time.sleep(0.01)
        answered_before = sum(f.done() for f in wrong)
        right = pool.submit(_post_login, server, "admin", PASSWORD)
        answers = [f.result() for f in wrong]
        assert right.result().status_code == 401
    assert answered_before < 29
    assert all(r.status_code == 401 and "用户名或密码不正确" in r.text for r in answers)
    found = _logins(store)
    checked = [e for e in found if e.action == "login_failed" and not (e.detail or {}).get("throttled")]
    assert len(checked) == accounts.MAX_FAILURES and len(found) == 30 and all(e.action != "login" for e in found)
    audit = login(server, "staff", source="127.0.0.9").get("/audit").text
    assert audit.count("有人以用户名“admin”登录，因从同一地址连续失败被暂时拒绝（未核对密码）") == 25
    # the lock holds from this address; from another the right password gets in
    assert _post_login(server, "admin", PASSWORD).status_code == 401
    assert _post_login(server, "admin", PASSWORD, source="127.0.0.2").status_code == 303


def test_an_admin_locked_out_from_one_address_logs_in_from_another(site: Any) -> None:
    server, _store = site
    for _ in range(accounts.MAX_FAILURES):
        assert _post_login(server, "admin", "guess", source="127.0.0.3").status_code == 401
    assert _post_login(server, "admin", PASSWORD, source="127.0.0.3").status_code == 401
    admin = login(server, "admin", source="127.0.0.4")
    assert admin.get("/tokens").status_code == 200


def test_forwarded_for_is_believed_only_from_the_proxies_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(db)
    accounts.add_user(store, "admin", PASSWORD, "admin")
    plain = start(db, tmp_path / "plain")
    try:
        # from 127.0.0.1 without --forwarded-allow-ips: the header is a client's word, not the address
        assert _post_login(plain, "admin", PASSWORD, headers={"x-forwarded-for": "203.0.113.9"}).status_code == 303
        assert _logins(store)[0].address == "127.0.0.1"
        # nor does it buy a guesser more tries: every guess counts against the connection's address
        for i in range(accounts.MAX_FAILURES):
            _post_login(plain, "admin", "guess", headers={"x-forwarded-for": f"198.51.100.{i}"})
        assert _post_login(plain, "admin", PASSWORD, headers={"x-forwarded-for": "198.51.100.77"}).status_code == 401
    finally:
        plain.stop()
    proxied = start(db, tmp_path / "proxied", args=("--forwarded-allow-ips", "127.0.0.1"))
    try:
        res = _post_login(proxied, "admin", PASSWORD, headers={"x-forwarded-for": "203.0.113.9"})
        assert res.status_code == 303 and _logins(store)[0].address == "203.0.113.9"
        # a proxy not named is not believed
        res = _post_login(proxied, "admin", PASSWORD, source="127.0.0.2", headers={"x-forwarded-for": "203.0.113.10"})
        assert res.status_code == 303 and _logins(store)[0].address == "127.0.0.2"
    finally:
        proxied.stop()
        store.dispose()


def test_a_password_reset_or_a_disabled_account_ends_its_sessions(served: Any) -> None:
    server, _store = served
    staff, admin = login(server, "staff"), login(server, "admin", source="127.0.0.2")
    assert staff.get("/rounds").status_code == 200
    res = cli("users", "password", "staff", "--db", server.db, stdin="new password 12\n")
    assert res.returncode == 0, res.stderr
    after = staff.get("/rounds")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    assert admin.get("/rounds").status_code == 200  # another account's session goes on
    staff = login(server, "staff", "new password 12")
    res = cli("users", "disable", "staff", "--db", server.db)
    assert res.returncode == 0, res.stderr
    assert staff.get("/rounds").status_code == 303
    refused = _post_login(server, "staff", "new password 12", source="127.0.0.5")
    assert refused.status_code == 401 and "用户名或密码不正确" in refused.text
    listed = cli("users", "--db", server.db).stdout
    assert re.search(r"staff\s+staff\s+已停用", listed), listed
    assert cli("users", "enable", "staff", "--db", server.db).returncode == 0
    assert login(server, "staff", "new password 12", source="127.0.0.6").get("/rounds").status_code == 200


def test_timing_unknown_disabled_and_locked_names_answer_as_a_wrong_password(site: Any) -> None:
    server, store = site
    accounts.add_user(store, "retired", PASSWORD)
    accounts.disable(store, "retired")
    for _ in range(accounts.MAX_FAILURES):
        _post_login(server, "admin", "guess", source="127.0.1.1")
    samples: dict[str, list[float]] = {"wrong": [], "unknown": [], "disabled": [], "locked": []}
    texts: dict[str, set[str]] = {k: set() for k in samples}
    for i in range(7):
        tries = {"wrong": ("admin", "guess", f"127.0.2.{i + 1}"), "unknown": ("nobody", PASSWORD, f"127.0.3.{i + 1}"),
                 "disabled": ("retired", PASSWORD, f"127.0.4.{i + 1}"), "locked": ("admin", PASSWORD, "127.0.1.1")}
        for kind, (name, password, source) in tries.items():
            with _client(server, source) as c:
                token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text).group(1)
                began = time.perf_counter()
                res = c.post("/login", data={"login_token": token, "name": name, "password": password})
                samples[kind].append(time.perf_counter() - began)
            assert res.status_code == 401
            texts[kind].add(re.search(r'class="alert bad" role="alert">([^<]+)<', res.text).group(1))
    assert len(set().union(*texts.values())) == 1, texts
    wrong = statistics.median(samples["wrong"])
    for kind in ("unknown", "disabled", "locked"):
        median = statistics.median(samples[kind])
        assert abs(median - wrong) < max(0.05, 0.3 * wrong), (kind, median, wrong, samples)


def test_a_staff_account_on_an_admin_page_is_told_it_needs_an_administrator(site: Any) -> None:
    server, _store = site
    staff = login(server, "staff")
    for path in ("/tokens", "/settings"):
        res = staff.get(path)
        assert res.status_code == 403 and "需要管理员权限" in res.text and "可能已过期" not in res.text, path
        assert 'class="who">staff<' in res.text  # still a page of the staff member's own session
    res = staff.post("/settings", data={"csrf": staff.csrf, "base_url": "https://evil.example"})
    assert res.status_code == 403 and "需要管理员权限" in res.text
    admin = login(server, "admin", source="127.0.0.2")
    assert admin.get("/settings").status_code == 200 and admin.get("/tokens").status_code == 200
    assert "evil.example" not in admin.get("/settings").text
