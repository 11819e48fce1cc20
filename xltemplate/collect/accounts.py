"""Finance staff accounts, their sessions, and API tokens for integrators.

* **Passwords** are hashed with argon2id (argon2-cffi's defaults); a hash made with weaker
  parameters than today's is rehashed at the next login.  At most :data:`VERIFYING` passwords are
  checked at once in a process (each check takes 64 MB and most of a core for a moment), the
  others wait their turn.
* **Throttling, decided before any password is checked** (:func:`authenticate`).  Every attempt
  first *claims* a failure in two counters, in one write transaction, by one conditional
  ``INSERT … ON CONFLICT DO UPDATE … WHERE`` each (no read-then-write: a row is counted and tested
  in the same statement, under the database's row lock): the counter of (the name typed, the
  address) and the counter of the address.  A counter takes :data:`MAX_FAILURES` (per name and
  address) or :data:`ADDRESS_FAILURES` (per address, whatever the names) in a window of
  :data:`LOCK_MINUTES`; the claim that fills it locks it for :data:`LOCK_MINUTES`; a locked
  counter refuses the claim, and then no password is checked at all.  A right password undoes
  its claims (the name's counter is cleared).  So thirty logins at once, 29 wrong and one right,
  get at most ``MAX_FAILURES`` password checks between them, and a right password arriving after
  them is refused like any other.  Locking the admin out from one address locks nobody out from
  another (``docs/security.md`` says why the account has no counter of its own).  An IPv6 address
  counts as its /64 network (one machine can use many addresses of its network).
* **One answer for every failure.** An unknown name, a disabled account, a wrong password and a
  throttled attempt get the same sentence (``login_failed``, which also says how long a lock
  lasts) after the same work: one argon2 check (of a dummy hash when there is no account to check,
  or when the attempt is throttled), and the same two claims, keyed by the name as typed.  Neither
  the words nor the time tell whether a name is an account.
* **Sessions** are random tokens (256 bits) of which only the sha256 is stored, with a CSRF token
  for the forms of that session; a session ends ``IDLE_HOURS`` after its last use and at most
  ``MAX_HOURS`` after the login, at logout, and when its account gets a new password or is
  disabled.  Sessions live in the database, so any server process serves any request.  A session
  also carries its *flash*: what the page after a redirect shows once (:func:`put_flash`).
* **API tokens** are made by staff, shown once, stored as their sha256, and revocable.
* **Roles.** ``admin`` does everything; ``staff`` runs the rounds (links, uploads, withdrawals)
  and reviews every department at every stage; a ``reviewer`` reads everything and decides the
  reviews of the departments of their 科室 (``office``; none: every department) at the stages
  they hold (``stages``; none: every stage), and changes nothing else; a ``viewer`` reads only.
  Who may decide which review is :func:`xltemplate.collect.reviews.may_decide`.

Every comparison of a secret with a stored value is by ``hmac.compare_digest`` on hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.dialects import postgresql, sqlite

from ..messages import t
from .db import writing
from .mail import valid_address

if TYPE_CHECKING:
    from .store import Store

ROLES = ("admin", "staff", "reviewer", "viewer")
MANAGERS = ("admin", "staff")  # run the rounds: create and close them, links, uploads, withdrawals
MAX_FAILURES = 5  # per (name typed, address) in a window of LOCK_MINUTES
ADDRESS_FAILURES = 20  # per address, whatever the names, in the same window
LOCK_MINUTES = 15
IDLE_HOURS = 2
MAX_HOURS = 12
MIN_PASSWORD = 8
_SEEN_EVERY = dt.timedelta(minutes=1)  # a session's last use is written at most this often
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anybody")
#: password checks at once in this process (the others wait: memory and cores stay bounded)
VERIFYING = max(2, os.cpu_count() or 2)
_CHECKS = threading.BoundedSemaphore(VERIFYING)
ACCOUNT, ADDRESS = "account", "address"  # the two scopes of ``login_throttle``


class AccountError(ValueError):
    """An account cannot be made or used as asked; the message is for the user."""


class LoginFailed(AccountError):
    """A login refused; ``throttled``: refused by a counter before any password was checked (for
    the audit log only: the user reads the same sentence either way)."""

    def __init__(self, message: str, throttled: bool = False):
        super().__init__(message)
        self.throttled = throttled


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    office: str | None = None  # a reviewer's 科室 (None: every department)
    stages: tuple[str, ...] = ()  # the review stages a reviewer holds (empty: every stage)

    @property
    def manages(self) -> bool:
        """Whether the account runs the rounds (anything but reviewing and reading)."""
        return self.role in MANAGERS


def _user(row: Any) -> User:
    return User(row.id, row.name, row.role, row.office or None, tuple(row.stages or ()))


def _scope(role: str, office: str | None, stages: Any, lang: str) -> tuple[str | None, list[str] | None]:
    """A role's 科室 and stages as stored; only a reviewer has them."""
    if role not in ROLES:
        raise AccountError(t("user_bad_role", lang, role=role, roles="、".join(ROLES)))
    office = (office or "").strip() or None
    wanted = [x.strip() for x in (stages or ()) if x and x.strip()]
    if (office or wanted) and role != "reviewer":
        raise AccountError(t("user_scope_reviewer_only", lang))
    return office, wanted or None


@dataclass(frozen=True)
class Account:
    """An account as the ``users`` command lists it."""

    user: User
    locked_until: dt.datetime | None  # UTC: the latest lock of its name from some address, if live
    disabled_at: dt.datetime | None
    last_login_at: dt.datetime | None
    email: str | None = None  # where its mail goes (a reviewer's daily digest)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: dt.datetime
    key: str = ""  # the stored hash of the cookie's token
    flash: dict[str, Any] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    """What is stored of a secret token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets (or their hashes)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# -- users -------------------------------------------------------------------------------------

def add_user(store: Store, name: str, password: str, role: str = "staff", lang: str = "zh", *,
             office: str | None = None, stages: Any = ()) -> User:
    """A new staff account; refuses a name taken, an unknown role, a password too short, and a
    科室 or stages for any role but reviewer."""
    name = (name or "").strip()
    if not name:
        raise AccountError(t("user_needs_name", lang))
    office, held = _scope(role, office, stages, lang)
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(t("password_too_short", lang, n=MIN_PASSWORD))
    u = store.t.users
    with writing(store.engine) as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first() is not None:
            raise AccountError(t("user_exists", lang, name=name))
        new = conn.execute(u.insert().returning(u.c.id), {
            "name": name, "role": role, "password_hash": _HASHER.hash(password), "created_at": _now(),
            "failed_logins": 0, "office": office, "stages": held}).scalar_one()
    return User(new, name, role, office, tuple(held or ()))


def set_role(store: Store, name: str, role: str, lang: str = "zh", *, office: str | None = None,
             stages: Any = ()) -> User:
    """Give account ``name`` a role (and, for a reviewer, its 科室 and stages)."""
    office, held = _scope(role, office, stages, lang)
    u = store.t.users
    with writing(store.engine) as conn:
        row = conn.execute(u.update().where(u.c.name == name).values(role=role, office=office, stages=held)
                           .returning(u.c.id, u.c.name, u.c.role, u.c.office, u.c.stages)).first()
    if row is None:
        raise AccountError(t("user_unknown", lang, name=name))
    return _user(row)


def user(store: Store, name: str) -> User | None:
    """The live (not disabled) account ``name``, or None."""
    u = store.t.users
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.office, u.c.stages)
                           .where(u.c.name == (name or "").strip(), u.c.disabled_at.is_(None))).first()
    return _user(row) if row is not None else None


def _change(store: Store, name: str, values: dict[str, Any], lang: str, *, unlock: bool, end_sessions: bool) -> None:
    """Change account ``name``; lift the locks of its name and end its sessions as asked."""
    u, s, th = store.t.users, store.t.sessions, store.t.login_throttle
    with writing(store.engine) as conn:
        uid = conn.execute(sa.select(u.c.id).where(u.c.name == name)).scalar()
        if uid is None:
            raise AccountError(t("user_unknown", lang, name=name))
        if values:
            conn.execute(u.update().where(u.c.id == uid).values(**values))
        if unlock:
            conn.execute(th.delete().where(th.c.scope == ACCOUNT, th.c.name == name))
        if end_sessions:
            conn.execute(s.delete().where(s.c.user_id == uid))


def set_password(store: Store, name: str, password: str, lang: str = "zh") -> None:
    """A new password for ``name`` (a forgotten one, or one that may be known to others): it also
    lifts the locks of the name after failed logins, and ends every session of the account."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(t("password_too_short", lang, n=MIN_PASSWORD))
    _change(store, name, {"password_hash": _HASHER.hash(password)}, lang, unlock=True, end_sessions=True)


def set_email(store: Store, name: str, email: str, lang: str = "zh") -> str | None:
    """Where the account's mail goes (a reviewer's daily digest); "" removes it.  The address now."""
    email = email.strip()
    if email and not valid_address(email):
        raise AccountError(t("emails_bad", lang, found=email))
    u = store.t.users
    with writing(store.engine) as conn:
        done = conn.execute(u.update().where(u.c.name == name).values(email=email or None)).rowcount
    if not done:
        raise AccountError(t("user_unknown", lang, name=name))
    return email or None


def disable(store: Store, name: str, lang: str = "zh") -> None:
    """Account ``name`` can no longer log in (it answers as an unknown name), and its sessions end."""
    _change(store, name, {"disabled_at": _now()}, lang, unlock=False, end_sessions=True)


def enable(store: Store, name: str, lang: str = "zh") -> None:
    """A disabled account can log in again (with its password as it was)."""
    _change(store, name, {"disabled_at": None}, lang, unlock=True, end_sessions=False)


def users(store: Store) -> list[Account]:
    """Every account: whether it is disabled, and until when (UTC) its name is locked from some
    address after failed logins."""
    u, th = store.t.users, store.t.login_throttle
    now = _now()
    locked = (sa.select(sa.func.max(th.c.locked_until)).where(th.c.scope == ACCOUNT, th.c.name == u.c.name,
                                                               th.c.locked_until > now).scalar_subquery())
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.office, u.c.stages, u.c.disabled_at,
                                      u.c.last_login_at, u.c.email, locked.label("locked")).order_by(u.c.id)).all()
    return [Account(_user(r), r.locked, r.disabled_at, r.last_login_at, r.email) for r in rows]


def first_start(store: Store) -> bool:
    """No account exists yet: ``serve`` and the login page say how to make the first (an admin)."""
    u = store.t.users
    with store.engine.connect() as conn:
        return conn.execute(sa.select(u.c.id).limit(1)).first() is None


# -- logging in --------------------------------------------------------------------------------

def throttle_address(address: str | None) -> str:
    """The address a login is counted against: IPv4 as it is, IPv6 as its /64 network."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class _Throttled(Exception):
    """A claim refused: the transaction that made the other one rolls back."""


def _claim(conn: sa.Connection, store: Store, scope: str, name: str, address: str, limit: int,
           now: dt.datetime) -> None:
    """Count one failed attempt against a counter before the password is checked, in one statement;
    :class:`_Throttled` when the counter is locked (nothing is counted then)."""
    th = store.t.login_throttle
    lock_end = now + dt.timedelta(minutes=LOCK_MINUTES)
    restart = sa.or_(th.c.first_at <= now - dt.timedelta(minutes=LOCK_MINUTES),
                     sa.and_(th.c.locked_until.is_not(None), th.c.locked_until <= now))
    count = sa.case((restart, 1), else_=th.c.failures + 1)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(th).values(scope=scope, name=name, address=address, failures=1, first_at=now,
                             locked_until=lock_end if limit <= 1 else None)
    stmt = stmt.on_conflict_do_update(
        index_elements=[th.c.scope, th.c.name, th.c.address],
        set_={"failures": count, "first_at": sa.case((restart, now), else_=th.c.first_at),
              "locked_until": sa.case((count >= limit, lock_end), else_=None)},
        where=sa.or_(restart, sa.and_(th.c.locked_until.is_(None), th.c.failures < limit)))
    if conn.execute(stmt.returning(th.c.failures)).first() is None:
        raise _Throttled


def _undo(conn: sa.Connection, store: Store, name: str, address: str) -> None:
    """A right password: the name's counter from this address is cleared, the address's claim undone."""
    th = store.t.login_throttle
    conn.execute(th.delete().where(th.c.scope == ACCOUNT, th.c.name == name, th.c.address == address))
    conn.execute(th.update().where(th.c.scope == ADDRESS, th.c.name == "", th.c.address == address,
                                   th.c.failures > 0)
                 .values(failures=th.c.failures - 1,
                         locked_until=sa.case((th.c.failures - 1 >= ADDRESS_FAILURES, th.c.locked_until),
                                              else_=None)))


def authenticate(store: Store, name: str, password: str, lang: str = "zh", address: str | None = None) -> User:
    """The user whose name and password these are, or :class:`LoginFailed` (the same sentence for
    a wrong password, an unknown or disabled name, and an attempt refused by a counter)."""
    u = store.t.users
    name = (name or "").strip()[:200]
    where = throttle_address(address)
    now = _now()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u).where(u.c.name == name)).first()
    throttled = False
    try:
        with writing(store.engine) as conn:  # both claims, or neither
            _claim(conn, store, ACCOUNT, name, where, MAX_FAILURES, now)
            _claim(conn, store, ADDRESS, "", where, ADDRESS_FAILURES, now)
    except _Throttled:
        throttled = True
    real = row is not None and row.disabled_at is None and not throttled
    ok = _verify(row.password_hash if real else _DUMMY, password) and real  # slow: outside any transaction
    if not ok:
        raise LoginFailed(t("login_failed", lang, n=MAX_FAILURES, minutes=LOCK_MINUTES), throttled)
    values: dict[str, Any] = {"last_login_at": now}
    if _HASHER.check_needs_rehash(row.password_hash):
        values["password_hash"] = _HASHER.hash(password)
    with writing(store.engine) as conn:
        _undo(conn, store, name, where)
        conn.execute(u.update().where(u.c.id == row.id).values(**values))
    return _user(row)


def _verify(hashed: str, password: str) -> bool:
    with _CHECKS:
        try:
            return _HASHER.verify(hashed, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


# -- sessions ----------------------------------------------------------------------------------

def start_session(store: Store, user: User, address: str | None = None) -> tuple[str, Session]:
    """A new session for ``user``: (the cookie's token, the session)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    expires = now + dt.timedelta(hours=IDLE_HOURS)
    s = store.t.sessions
    with writing(store.engine) as conn:
        conn.execute(s.delete().where(s.c.expires_at < now))  # the expired ones of everybody
        conn.execute(s.insert(), {"token_hash": digest(token), "user_id": user.id, "csrf": csrf, "created_at": now,
                                  "last_seen": now, "expires_at": expires, "address": address})
    return token, Session(user, csrf, expires, digest(token))


def session(store: Store, token: str | None) -> Session | None:
    """The live session of a cookie's token, its idle time renewed; None when unknown or expired."""
    if not token or len(token) > 200:
        return None
    s, u = store.t.sessions, store.t.users
    now = _now()
    key = digest(token)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.token_hash, s.c.csrf, s.c.created_at, s.c.last_seen, s.c.expires_at,
                                     s.c.flash, u.c.id, u.c.name, u.c.role, u.c.office, u.c.stages,
                                     u.c.disabled_at)
                           .select_from(s.join(u, u.c.id == s.c.user_id)).where(s.c.token_hash == key)).first()
    if row is None or not same(row.token_hash, key) or row.disabled_at is not None:
        return None
    if row.expires_at <= now or row.created_at + dt.timedelta(hours=MAX_HOURS) <= now:
        end_session(store, token)
        return None
    expires = row.expires_at
    if now - row.last_seen >= _SEEN_EVERY:
        expires = min(now + dt.timedelta(hours=IDLE_HOURS), row.created_at + dt.timedelta(hours=MAX_HOURS))
        with writing(store.engine) as conn:
            conn.execute(s.update().where(s.c.token_hash == key).values(last_seen=now, expires_at=expires))
    return Session(_user(row), row.csrf, expires, key, dict(row.flash or {}))


def end_session(store: Store, token: str | None) -> None:
    if not token:
        return
    s = store.t.sessions
    with writing(store.engine) as conn:
        conn.execute(s.delete().where(s.c.token_hash == digest(token)))


def put_flash(store: Store, sess: Session, name: str, value: Any) -> None:
    """Keep ``value`` with the session for the next page to show once (after the redirect that
    answers a change: a reload of that page shows it no more, and changes nothing)."""
    s = store.t.sessions
    with writing(store.engine) as conn:
        current = conn.execute(sa.select(s.c.flash).where(s.c.token_hash == sess.key)).scalar() or {}
        conn.execute(s.update().where(s.c.token_hash == sess.key).values(flash={**current, name: value}))


def take_flash(store: Store, sess: Session, name: str) -> Any:
    """What was kept under ``name`` for this session, removed as it is taken (None: nothing)."""
    if name not in sess.flash:  # the session was read with its flash: most pages write nothing
        return None
    s = store.t.sessions
    with writing(store.engine) as conn:
        current = dict(conn.execute(sa.select(s.c.flash).where(s.c.token_hash == sess.key)).scalar() or {})
        value = current.pop(name, None)
        conn.execute(s.update().where(s.c.token_hash == sess.key).values(flash=current or None))
    return value


def peek_flash(sess: Session, name: str) -> Any:
    """What is kept under ``name`` for this session, left in place."""
    return sess.flash.get(name)


# -- API tokens --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    user: str | None


def make_api_token(store: Store, name: str, user: User | None, lang: str = "zh") -> tuple[str, int]:
    """A new API token (shown once; only its hash is kept): (token, id)."""
    name = (name or "").strip()
    if not name:
        raise AccountError(t("token_needs_name", lang))
    token = "xt_" + secrets.token_urlsafe(32)
    a = store.t.api_tokens
    with writing(store.engine) as conn:
        new = conn.execute(a.insert().returning(a.c.id), {
            "name": name[:200], "token_hash": digest(token), "user_id": user.id if user else None,
            "created_at": _now()}).scalar_one()
    return token, int(new)


def api_tokens(store: Store) -> list[ApiToken]:
    a, u = store.t.api_tokens, store.t.users
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(a.c.id, a.c.name, a.c.created_at, a.c.last_used_at, a.c.revoked_at, u.c.name)
                            .select_from(a.outerjoin(u, u.c.id == a.c.user_id)).order_by(a.c.id)).all()
    return [ApiToken(*r) for r in rows]


def revoke_api_token(store: Store, token_id: int) -> None:
    a = store.t.api_tokens
    with writing(store.engine) as conn:
        conn.execute(a.update().where(a.c.id == token_id, a.c.revoked_at.is_(None)).values(revoked_at=_now()))


def api_user(store: Store, token: str | None) -> User | None:
    """The account a live API token acts for (None: no live token, or a token of no live account)."""
    found = check_api_token(store, token)
    if found is None:
        return None
    a, u = store.t.api_tokens, store.t.users
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.office, u.c.stages)
                           .select_from(a.join(u, u.c.id == a.c.user_id))
                           .where(a.c.id == found, u.c.disabled_at.is_(None))).first()
    return _user(row) if row is not None else None


def check_api_token(store: Store, token: str | None) -> int | None:
    """The id of the live API token ``token`` is, or None."""
    if not token or len(token) > 200:
        return None
    a = store.t.api_tokens
    key = digest(token)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(a.c.id, a.c.token_hash, a.c.last_used_at, a.c.revoked_at)
                           .where(a.c.token_hash == key)).first()
    if row is None or row.revoked_at is not None or not same(row.token_hash, key):
        return None
    now = _now()
    if row.last_used_at is None or now - row.last_used_at >= _SEEN_EVERY:
        with writing(store.engine) as conn:
            conn.execute(a.update().where(a.c.id == row.id).values(last_used_at=now))
    return int(row.id)
