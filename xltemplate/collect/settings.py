"""The installation's settings, kept in its database so every process and machine serving it
agrees: the key its templates are signed with, and the portal's address.

The portal's address (``BASE_URL``, set by ``serve --base-url`` or on the portal's settings page)
is where every department link points; without it the portal builds links from the address the
staff member's browser used (:func:`xltemplate.collect.links.base`).

The signing key is made the first time it is needed (``distribute`` with a database, or the first
return checked against it) and never leaves the database; ``--key`` / ``XLTEMPLATE_KEY`` still
name another key explicitly.  Whoever can read the database can read the key: it protects
against forged files from outside, not against the bureau's own administrators.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..messages import CatalogError
from .db import utcnow, writing

if TYPE_CHECKING:
    from .store import Store

SIGNING_KEY = "signing_key"
BASE_URL = "base_url"


def get(store: Store, name: str) -> str | None:
    st = store.t.settings
    with store.engine.connect() as conn:
        return conn.execute(sa.select(st.c.value).where(st.c.name == name)).scalar()


def put(store: Store, name: str, value: str, actor: str | None = None) -> None:
    """Set a setting (made or replaced)."""
    st = store.t.settings
    with writing(store.engine) as conn:
        done = conn.execute(st.update().where(st.c.name == name).values(value=value, updated_at=utcnow(),
                                                                          updated_by=actor)).rowcount
        if not done:
            conn.execute(st.insert(), {"name": name, "value": value, "updated_at": utcnow(), "updated_by": actor})


def signing_key(store: Store) -> str:
    """The installation's signing key, made on first use (two processes making it at once agree:
    the first one stored wins)."""
    cached = store.memo.get(SIGNING_KEY)
    if cached is not None:
        return cached
    key = get(store, SIGNING_KEY)
    if key is None:
        st = store.t.settings
        try:
            with writing(store.engine) as conn:
                conn.execute(st.insert(), {"name": SIGNING_KEY, "value": secrets.token_urlsafe(32),
                                           "updated_at": utcnow(), "updated_by": None})
        except sa.exc.IntegrityError:
            pass  # another process made it a moment ago
        key = get(store, SIGNING_KEY)
        assert key is not None
    store.memo[SIGNING_KEY] = key
    return key


class SettingError(CatalogError):
    """A setting cannot take the value given: a catalog entry and its parameters."""


@dataclass(frozen=True)
class Setting:
    value: str
    updated_at: dt.datetime
    updated_by: str | None


def info(store: Store, name: str) -> Setting | None:
    """A setting with when and by whom it was last set."""
    st = store.t.settings
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(st.c.value, st.c.updated_at, st.c.updated_by).where(st.c.name == name)).first()
    return Setting(row.value, row.updated_at, row.updated_by) if row is not None else None


def clean_base_url(text: str | None) -> str:
    """The portal's address as links are built on it: ``http(s)://host[:port][/path]`` with no
    query, fragment or credentials, without its trailing slash; '' for none."""
    text = (text or "").strip()
    if not text:
        return ""
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # a port that is no number raises here
    except ValueError as exc:
        raise SettingError("base_url_bad", value=text[:200]) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password or len(text) > 500 or any(c.isspace() for c in text):
        raise SettingError("base_url_bad", value=text[:200])
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host + (f":{port}" if port is not None else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def base_url(store: Store) -> str | None:
    """The address department links are built on, as the administrator set it (None: not set)."""
    return get(store, BASE_URL) or None


def set_base_url(store: Store, text: str | None, actor: str | None) -> str:
    """Set (or, with '', clear) the address department links are built on; the address as kept."""
    value = clean_base_url(text)
    put(store, BASE_URL, value, actor)
    return value
