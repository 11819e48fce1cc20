"""Department links: each roster department of a round gets its own address in the portal,
``/l/<token>``, that needs no account.

* The token is 256 random bits (``secrets.token_urlsafe(32)``); only its sha256 is stored, so a
  copy of the database gives nobody a working link.  A link is found by the hash of what the
  client sent and the stored hash is compared in constant time.
* A link is valid while its round is open and until staff revoke it; regenerating revokes the
  department's live link and makes a new one (each shown once: it cannot be read back).
* A link reaches one department of one round and nothing else: every page and file behind it is
  looked up by (round, department code) from the link, never from the request.

``distribute --db`` makes the links of a new round (:func:`make_all`) and writes them into
``manifest.csv`` (``link``: absolute with ``--base-url``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from .accounts import digest, same
from .db import writing
from .events import log
from .rounds import OPEN, Round
from .store import Store

PREFIX = "/l/"


@dataclass(frozen=True)
class Link:
    id: int
    round: Round
    department_code: str
    department: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def address(token: str, base_url: str | None = None) -> str:
    """The link's address: ``/l/<token>``, after ``base_url`` when given."""
    return (base_url or "").rstrip("/") + PREFIX + token


def make_all(store: Store, conn: sa.Connection, round_id: int, tokens: dict[str, str], actor: str | None) -> None:
    """Record the links of a new round (department code -> token), inside its transaction."""
    now = _now()
    if tokens:
        conn.execute(store.t.links.insert(), [
            {"round_id": round_id, "department_code": code, "token_hash": digest(token), "created_at": now,
             "created_by": actor} for code, token in tokens.items()])


def check(store: Store, token: str | None) -> Link | None:
    """The live link ``token`` is (its round open, not revoked), or None."""
    if not token or len(token) > 100:
        return None
    key = digest(token)
    k, r, ro = store.t.links, store.t.rounds, store.t.roster
    name = (sa.select(ro.c.name).where(ro.c.round_id == k.c.round_id, ro.c.code == k.c.department_code)
            .order_by(ro.c.line).limit(1).scalar_subquery())
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(k.c.id.label("link_id"), k.c.token_hash, k.c.department_code, k.c.revoked_at,
                                     name.label("department_name"), r)
                           .select_from(k.join(r, r.c.id == k.c.round_id)).where(k.c.token_hash == key)).first()
    if row is None or row.revoked_at is not None or not same(row.token_hash, key) or row.status != OPEN:
        return None
    return Link(row.link_id, Round.of(row), row.department_code, row.department_name or row.department_code)


def live(store: Store, round_id: int, code: str) -> dict[str, object] | None:
    """What staff see of a department's live link: when it was made and by whom (never the token)."""
    k = store.t.links
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(k.c.id, k.c.created_at, k.c.created_by).where(
            k.c.round_id == round_id, k.c.department_code == code, k.c.revoked_at.is_(None))
            .order_by(k.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row else None


def revoke(store: Store, round_id: int, code: str, actor: str | None, address_: str | None = None,
           conn: sa.Connection | None = None) -> int:
    """Revoke the department's live links; how many there were."""
    k = store.t.links

    def run(c: sa.Connection) -> int:
        n = c.execute(k.update().where(k.c.round_id == round_id, k.c.department_code == code,
                                       k.c.revoked_at.is_(None)).values(revoked_at=_now(), revoked_by=actor)).rowcount
        log(store, c, "revoke_link", actor=actor, round_id=round_id, department_code=code,
            detail={"department_code": code}, address=address_)
        return int(n or 0)

    if conn is not None:
        return run(conn)
    with writing(store.engine) as c:
        return run(c)


def regenerate(store: Store, round_id: int, code: str, actor: str | None, address_: str | None = None) -> str:
    """A new link for the department (the old one stops working); the new token, shown once."""
    token = new_token()
    with writing(store.engine) as conn:
        revoke(store, round_id, code, actor, address_, conn=conn)
        make_all(store, conn, round_id, {code: token}, actor)
        log(store, conn, "new_link", actor=actor, round_id=round_id, department_code=code,
            detail={"department_code": code},
            address=address_)
    return token
