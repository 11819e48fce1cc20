"""Staff accounts (``collect/accounts.py``) on SQLite and on a real PostgreSQL: logins cannot be
raced past the lockout, a lockout from one address locks nobody out from another, account names
cannot be listed by the answer's words or its time, and an account whose password is reset or
which is disabled keeps no session."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from xltemplate.cli import main
from xltemplate.collect import accounts
from xltemplate.collect.store import Store

RIGHT = "correct horse 12"


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the least work, for the tests that count logins rather than time them."""
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_HASHER", cheap)
    monkeypatch.setattr(accounts, "_DUMMY", cheap.hash("not a password of anybody"))


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    if "timing" not in request.node.name:
        request.getfixturevalue("cheap_hashes")
    s = Store(db_url)
    accounts.add_user(s, "admin", RIGHT, "admin")
    yield s
    s.dispose()


def _try(store: Store, name: str, password: str, address: str) -> str:
    """``ok``, ``wrong`` (the password was checked) or ``throttled`` (refused before any check)."""
    try:
        accounts.authenticate(store, name, password, address=address)
    except accounts.LoginFailed as exc:
        return "throttled" if exc.throttled else "wrong"
    return "ok"


class CountedHasher:
    """argon2's hasher, counting the checks of real (not dummy) hashes, and slow enough that many
    logins are in flight at once; ``started`` is set once ``wait_for`` real checks have begun."""

    def __init__(self, real: Any, wait_for: int):
        self.real, self.wait_for = real, wait_for
        self.checked = 0
        self.started = threading.Event()
        self.lock = threading.Lock()

    def verify(self, hashed: str, password: str) -> bool:
        if hashed != accounts._DUMMY:
            with self.lock:
                self.checked += 1
                if self.checked >= self.wait_for:
                    self.started.set()
        time.sleep(0.2)
        return self.real.verify(hashed, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_right_password_sent_while_29_wrong_ones_are_checked_does_not_slip_past_the_lockout(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counted = CountedHasher(accounts._HASHER, wait_for=accounts.MAX_FAILURES)
    monkeypatch.setattr(accounts, "_HASHER", counted)
    with ThreadPoolExecutor(max_workers=30) as pool:
        wrong = [pool.submit(_try, store, "admin", f"wrong {i}", "10.0.0.1") for i in range(29)]
        # the right one leaves once five wrong passwords are being checked, none of them finished
        assert counted.started.wait(30)
        right = pool.submit(_try, store, "admin", RIGHT, "10.0.0.1")
        outcomes = [f.result() for f in wrong]
        assert right.result() == "throttled"
    assert outcomes.count("wrong") == accounts.MAX_FAILURES and outcomes.count("throttled") == 29 - 5
    assert counted.checked == accounts.MAX_FAILURES  # no password beyond the fifth was even checked
    # the lock holds afterwards from that address, and locks nobody out from another
    assert _try(store, "admin", RIGHT, "10.0.0.1") == "throttled"
    assert _try(store, "admin", RIGHT, "10.0.0.2") == "ok"


def test_thirty_logins_at_once_get_at_most_five_checks_between_them(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    counted = CountedHasher(accounts._HASHER, wait_for=1)
    monkeypatch.setattr(accounts, "_HASHER", counted)
    barrier = threading.Barrier(30)

    def attempt(password: str) -> str:
        barrier.wait()
        return _try(store, "admin", password, "10.0.0.1")

    with ThreadPoolExecutor(max_workers=30) as pool:
        futures = [pool.submit(attempt, RIGHT if i == 17 else f"wrong {i}") for i in range(30)]
        outcomes = [f.result() for f in futures]
    assert counted.checked <= accounts.MAX_FAILURES
    assert outcomes.count("ok") + outcomes.count("wrong") == counted.checked
    if outcomes[17] == "ok":  # the right one was among the five checked: it may get in, and it clears the count
        assert outcomes.count("wrong") <= accounts.MAX_FAILURES - 1
    else:
        assert outcomes[17] == "throttled"
        assert _try(store, "admin", RIGHT, "10.0.0.1") == "throttled"


def test_locking_the_admin_out_from_one_address_locks_nobody_out_from_another(store: Store) -> None:
    for _ in range(accounts.MAX_FAILURES):
        assert _try(store, "admin", "guess", "192.0.2.7") == "wrong"
    assert _try(store, "admin", RIGHT, "192.0.2.7") == "throttled"
    assert _try(store, "admin", RIGHT, "192.0.2.8") == "ok"
    # an IPv6 client counts as its /64: another address of the same network is the same client
    for _ in range(accounts.MAX_FAILURES):
        _try(store, "admin", "guess", "2001:db8:1:2::10")
    assert _try(store, "admin", RIGHT, "2001:db8:1:2::99") == "throttled"
    assert _try(store, "admin", RIGHT, "2001:db8:1:3::10") == "ok"
    # the admin sees the lock, and a new password lifts it
    [account] = accounts.users(store)
    assert account.locked_until is not None
    accounts.set_password(store, "admin", "another pass 34")
    assert _try(store, "admin", "another pass 34", "192.0.2.7") == "ok"


def test_one_address_trying_many_names_is_stopped_whatever_the_names(store: Store) -> None:
    outcomes = [_try(store, f"name{i}", "guess", "198.51.100.1") for i in range(accounts.ADDRESS_FAILURES + 3)]
    assert outcomes[:accounts.ADDRESS_FAILURES] == ["wrong"] * accounts.ADDRESS_FAILURES
    assert outcomes[accounts.ADDRESS_FAILURES:] == ["throttled"] * 3
    assert _try(store, "admin", RIGHT, "198.51.100.1") == "throttled"  # the address is stopped, for any name
    assert _try(store, "admin", RIGHT, "198.51.100.2") == "ok"
    # a right password undoes its own claim: logging in between guesses buys the address no more guesses
    for i in range(accounts.ADDRESS_FAILURES - 1):
        assert _try(store, f"x{i}", "guess", "198.51.100.3") == "wrong"
        assert _try(store, "admin", RIGHT, "198.51.100.3") == "ok"
    assert _try(store, "y", "guess", "198.51.100.3") == "wrong"
    assert _try(store, "admin", RIGHT, "198.51.100.3") == "throttled"


def _timed(store: Store, name: str, password: str, address: str) -> tuple[str, float]:
    """The sentence a login is answered with ('' when it gets in), and how long it took."""
    start = time.perf_counter()
    try:
        accounts.authenticate(store, name, password, address=address)
        text = ""
    except accounts.LoginFailed as exc:
        text = str(exc)
    return text, time.perf_counter() - start


def test_timing_unknown_disabled_and_locked_names_read_and_take_the_same_as_a_wrong_password(store: Store) -> None:
    accounts.add_user(store, "retired", RIGHT)
    accounts.disable(store, "retired")
    for _ in range(accounts.MAX_FAILURES):
        _try(store, "admin", "guess", "203.0.113.1")  # admin is locked from 203.0.113.1
    samples: dict[str, list[float]] = {"wrong": [], "unknown": [], "disabled": [], "locked": []}
    texts: dict[str, set[str]] = {k: set() for k in samples}
    for i in range(7):  # interleaved, each from an address of its own but the locked one
        for kind, (name, password, address) in {
                "wrong": ("admin", "guess", f"203.0.113.{10 + i}"),
                "unknown": ("nobody", "guess", f"203.0.113.{30 + i}"),
                "disabled": ("retired", RIGHT, f"203.0.113.{50 + i}"),
                "locked": ("admin", RIGHT, "203.0.113.1")}.items():
            text, took = _timed(store, name, password, address)
            samples[kind].append(took)
            texts[kind].add(text)
    assert len(set().union(*texts.values())) == 1, texts  # one sentence for all four
    [sentence] = texts["wrong"]
    assert "用户名或密码不正确" in sentence and "15 分钟" in sentence
    wrong = statistics.median(samples["wrong"])
    for kind in ("unknown", "disabled", "locked"):
        median = statistics.median(samples[kind])
        assert abs(median - wrong) < max(0.05, 0.3 * wrong), (kind, median, wrong, samples)


def test_a_new_password_or_disabling_ends_the_accounts_sessions_and_enable_lets_it_back(store: Store,
                                                                                        db_url: str) -> None:
    user = accounts.add_user(store, "staff1", RIGHT)
    token, _ = accounts.start_session(store, user)
    other, _ = accounts.start_session(store, accounts.authenticate(store, "admin", RIGHT))
    res = CliRunner().invoke(main, ["users", "password", "staff1", "--db", db_url], input="new password 12\n")
    assert res.exit_code == 0 and "原有的登录已全部失效" in res.output, res.output
    assert accounts.session(store, token) is None and accounts.session(store, other) is not None
    token, _ = accounts.start_session(store, accounts.authenticate(store, "staff1", "new password 12"))
    res = CliRunner().invoke(main, ["users", "disable", "staff1", "--db", db_url])
    assert res.exit_code == 0 and "已停用用户“staff1”" in res.output, res.output
    assert accounts.session(store, token) is None
    assert _try(store, "staff1", "new password 12", "10.1.1.1") == "wrong"  # as if there were no such account
    res = CliRunner().invoke(main, ["users", "--db", db_url])
    rows = {line.split()[0]: line.split()[1:] for line in res.output.splitlines()[2:]}
    assert rows["staff1"][:2] == ["staff", "已停用"] and rows["admin"][:2] == ["admin", "正常"], res.output
    res = CliRunner().invoke(main, ["users", "enable", "staff1", "--db", db_url])
    assert res.exit_code == 0 and "已恢复用户“staff1”" in res.output
    assert _try(store, "staff1", "new password 12", "10.1.1.2") == "ok"
    res = CliRunner().invoke(main, ["users", "disable", "nobody", "--db", db_url])
    assert res.exit_code == 1 and "错误：没有用户“nobody”" in res.output
