"""The installation's settings, kept in its database so every process and machine serving it
agrees: the key its templates are signed with, and the portal's address.

The signing key is made the first time it is needed (``distribute`` with a database, or the first
return checked against it) and never leaves the database; ``--key`` / ``XLTEMPLATE_KEY`` still
name another key explicitly.  Whoever can read the database can read the key: it protects
against forged files from outside, not against the bureau's own administrators.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import sqlalchemy as sa

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
