"""Finance staff accounts, their sessions, and API tokens for integrators.

* **Passwords** are hashed with argon2id (argon2-cffi's defaults); a hash made with weaker
  parameters than today's is rehashed at the next login.  A login for an unknown name still
  verifies a hash, so the answer takes as long as for a known one.
* **Lockout.** ``MAX_FAILURES`` failed logins in a row lock the account for ``LOCK_MINUTES``;
  a successful login resets the count.  A locked account says so (and until when), whatever the
  password.
* **Sessions** are random tokens (256 bits) of which only the sha256 is stored, with a CSRF token
  for the forms of that session; a session ends ``IDLE_HOURS`` after its last use and at most
  ``MAX_HOURS`` after the login, or at logout.  Sessions live in the database, so any server
  process serves any request.
* **API tokens** are made by staff, shown once, stored as their sha256, and revocable.

Every comparison of a secret with a stored value is by ``hmac.compare_digest`` on hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..messages import t
from .db import writing
from .mail import valid_address
from .store import Store

ROLES = ("admin", "staff")
MAX_FAILURES = 5
LOCK_MINUTES = 15
IDLE_HOURS = 2
MAX_HOURS = 12
MIN_PASSWORD = 8
_SEEN_EVERY = dt.timedelta(minutes=1)  # a session's last use is written at most this often
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anybody")


class AccountError(ValueError):
    """An account cannot be made or used as asked; the message is for the user."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    """What is stored of a secret token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets (or their hashes)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# -- users -------------------------------------------------------------------------------------

def add_user(store: Store, name: str, password: str, role: str = "staff", lang: str = "zh") -> User:
    """A new staff account; refuses a name taken, an unknown role, a password too short."""
    name = (name or "").strip()
    if not name:
        raise AccountError(t("user_needs_name", lang))
    if role not in ROLES:
        raise AccountError(t("user_bad_role", lang, role=role, roles="、".join(ROLES)))
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(t("password_too_short", lang, n=MIN_PASSWORD))
    u = store.t.users
    with writing(store.engine) as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first() is not None:
            raise AccountError(t("user_exists", lang, name=name))
        new = conn.execute(u.insert().returning(u.c.id), {
            "name": name, "role": role, "password_hash": _HASHER.hash(password), "created_at": _now(),
            "failed_logins": 0}).scalar_one()
    return User(new, name, role)


def set_password(store: Store, name: str, password: str, lang: str = "zh") -> None:
    """A new password for ``name`` (a forgotten one), which also lifts a lock after failed logins."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(t("password_too_short", lang, n=MIN_PASSWORD))
    u = store.t.users
    with writing(store.engine) as conn:
        done = conn.execute(u.update().where(u.c.name == name).values(
            password_hash=_HASHER.hash(password), failed_logins=0, locked_until=None)).rowcount
    if not done:
        raise AccountError(t("user_unknown", lang, name=name))


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


def users(store: Store) -> list[tuple[User, dt.datetime | None]]:
    """Every account, and until when (UTC) it is locked after failed logins (None: it is not)."""
    u = store.t.users
    now = _now()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(u.c.id, u.c.name, u.c.role, u.c.locked_until).order_by(u.c.id)).all()
    return [(User(r.id, r.name, r.role), r.locked_until if r.locked_until and r.locked_until > now else None)
            for r in rows]


def first_start(store: Store) -> bool:
    """No account exists yet: ``serve`` and the login page say how to make the first (an admin)."""
    u = store.t.users
    with store.engine.connect() as conn:
        return conn.execute(sa.select(u.c.id).limit(1)).first() is None


def authenticate(store: Store, name: str, password: str, lang: str = "zh") -> User:
    """The user whose name and password these are, or AccountError (wrong, or locked)."""
    u = store.t.users
    now = _now()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u).where(u.c.name == (name or "").strip())).first()
    if row is None or row.disabled_at is not None:
        _verify(_DUMMY, password)  # as slow as a real check: the answer tells nothing about the name
        raise AccountError(t("login_failed", lang))
    if row.locked_until is not None and row.locked_until > now:
        raise AccountError(t("login_locked", lang, minutes=_minutes_left(row.locked_until, now)))
    ok = _verify(row.password_hash, password)  # slow on purpose: outside any write transaction
    with writing(store.engine) as conn:
        if not ok:
            failures = conn.execute(u.update().where(u.c.id == row.id).values(failed_logins=u.c.failed_logins + 1)
                                    .returning(u.c.failed_logins)).scalar_one()
            if failures >= MAX_FAILURES:
                conn.execute(u.update().where(u.c.id == row.id).values(
                    failed_logins=0, locked_until=now + dt.timedelta(minutes=LOCK_MINUTES)))
        else:
            values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
            if _HASHER.check_needs_rehash(row.password_hash):
                values["password_hash"] = _HASHER.hash(password)
            conn.execute(u.update().where(u.c.id == row.id).values(**values))
    if not ok:
        locked = failures >= MAX_FAILURES
        raise AccountError(t("login_locked", lang, minutes=LOCK_MINUTES) if locked else t("login_failed", lang))
    return User(row.id, row.name, row.role)


def _minutes_left(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


def _verify(hashed: str, password: str) -> bool:
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
    return token, Session(user, csrf, expires)


def session(store: Store, token: str | None) -> Session | None:
    """The live session of a cookie's token, its idle time renewed; None when unknown or expired."""
    if not token or len(token) > 200:
        return None
    s, u = store.t.sessions, store.t.users
    now = _now()
    key = digest(token)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.c.token_hash, s.c.csrf, s.c.created_at, s.c.last_seen, s.c.expires_at,
                                     u.c.id, u.c.name, u.c.role, u.c.disabled_at)
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
    return Session(User(row.id, row.name, row.role), row.csrf, expires)


def end_session(store: Store, token: str | None) -> None:
    if not token:
        return
    s = store.t.sessions
    with writing(store.engine) as conn:
        conn.execute(s.delete().where(s.c.token_hash == digest(token)))


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
