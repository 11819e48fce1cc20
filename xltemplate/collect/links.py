"""Department links: each roster department of a round gets its own address in the portal,
``/l/<token>``, that needs no account.

* The token is 256 random bits (``secrets.token_urlsafe(32)``); only its sha256 is stored, so a
  copy of the database gives nobody a working link.  A link is found by the hash of what the
  client sent and the stored hash is compared in constant time.
* A link is valid until staff revoke it; regenerating revokes the department's live link and
  makes a new one (each shown once: it cannot be read back).  Once its round is closed the link
  still shows the department where it finally stands, but takes no upload.
* Each link may take so many uploads and bytes a day (:data:`UPLOADS_PER_DAY`,
  :data:`BYTES_PER_DAY`; the environment may set others): counted in ``link_usage`` in the same
  transaction as the upload itself, so parallel uploads cannot slip past it together.
* A link reaches one department of one round and nothing else: every page and file behind it is
  looked up by (round, department code) from the link, never from the request.

``distribute --db`` makes the links of a new round (:func:`make_all`) and writes them into
``manifest.csv`` (``link``: absolute with ``--base-url``).

**Where a link points** (:func:`base`): the portal's address as the administrator set it
(``serve --base-url``, or the portal's settings page); without it, the address the staff member's
browser used, which is no address for anybody else when it is a loopback or unspecified one
(``localhost``, ``127.x``, ``::1``, ``0.0.0.0``): the pages say so before a link is made.
**A link for each message** (:func:`mint`).  Since a link cannot be read back, every e-mail
notice or reminder, and every line of a 催报清单, carries a link of its own, made at the moment it
is sent (never kept in the clear, not even in the mail queue) beside the department's other live
links: a department may hold several, each works until staff revoke or regenerate the
department's links, which ends them all.  A department whose links staff revoked gets none (the
message says to ask the bureau).  Each link has its own daily quota.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import settings
from .accounts import digest, same
from .db import utcnow, writing
from .events import log
from .rounds import OPEN, IssuedTemplate, Round

if TYPE_CHECKING:
    from .store import Store

PREFIX = "/l/"
#: what one department link may take in a day (a department files one return per project, with
#: corrections; these leave room for several times that)
UPLOADS_PER_DAY = int(os.environ.get("XLTEMPLATE_LINK_UPLOADS_PER_DAY", "200"))
BYTES_PER_DAY = int(os.environ.get("XLTEMPLATE_LINK_MB_PER_DAY", "200")) * 1024 * 1024


class QuotaReached(Exception):
    """A link has taken all it may today (``what``: uploads or bytes)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Link:
    """A department's link, with what its pages need: the round, the department's templates and
    what it has sent today."""

    id: int
    round: Round
    department_code: str
    department: str
    templates: list[IssuedTemplate] = field(default_factory=list)
    uploads_today: int = 0
    bytes_today: int = 0

    @property
    def open(self) -> bool:
        return self.round.status == OPEN

    def room_for(self, size: int) -> str | None:
        """What today's quota has no room for (``uploads`` or ``bytes``), or None."""
        if self.uploads_today >= UPLOADS_PER_DAY:
            return "uploads"
        if self.bytes_today + size > BYTES_PER_DAY:
            return "bytes"
        return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Base:
    """Where department links point: ``url`` (no trailing slash); ``configured``: the address the
    administrator set; ``local``: an address no other computer reaches."""

    url: str
    configured: bool
    local: bool


def is_local(url: str) -> bool:
    """A loopback or unspecified host (``localhost``, ``127.x``, ``::1``, ``0.0.0.0``, ``::``)."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost") or not host:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def base(store: Store, seen: str) -> Base:
    """Where the links made now point: the address set for the installation, else ``seen`` (the
    address the request came to)."""
    configured = settings.base_url(store)
    url = (configured or seen).rstrip("/")
    return Base(url, configured is not None, is_local(url))


def address(token: str, base_url: str | None = None) -> str:
    """The link's address: ``/l/<token>``, after ``base_url`` when given."""
    return (base_url or "").rstrip("/") + PREFIX + token


def make_all(store: Store, conn: sa.Connection, round_id: int, tokens: dict[str, str], actor: str | None) -> None:
    """Record the links of a new round (department code -> token), inside its transaction."""
    now = utcnow()
    if tokens:
        conn.execute(store.t.links.insert(), [
            {"round_id": round_id, "department_code": code, "token_hash": digest(token), "created_at": now,
             "created_by": actor} for code, token in tokens.items()])


def today() -> dt.date:
    """The quota's day (UTC, as every stored time)."""
    return utcnow().date()


def check(store: Store, token: str | None) -> Link | None:
    """The link ``token`` is (not revoked; its round open or closed), with the department's
    templates and today's usage, in one statement; None for a token that is no live link."""
    if not token or len(token) > 100:
        return None
    key = digest(token)
    with store.engine.connect() as conn:
        rows = conn.execute(store.prepared("links.check", lambda: _check_statement(store)),
                            {"hash": key, "day": today()}).all()
    if not rows:
        return None
    row = rows[0]
    if row.revoked_at is not None or not same(row.token_hash, key):
        return None
    rnd = Round.of(row)
    templates = [IssuedTemplate(x.submission_id, rnd.id, x.department_code, x.issued_to, x.project, x.file,
                                x.file_id, x.signature) for x in rows if x.submission_id is not None]
    return Link(row.link_id, rnd, row.department_code, row.department_name or row.department_code, templates,
                row.uploads or 0, row.bytes or 0)


def _check_statement(store: Store) -> Any:
    k, r, ro, i, u = store.t.links, store.t.rounds, store.t.roster, store.t.issued, store.t.link_usage
    name = (sa.select(ro.c.name).where(ro.c.round_id == k.c.round_id, ro.c.code == k.c.department_code)
            .order_by(ro.c.line).limit(1).scalar_subquery())
    return (sa.select(k.c.id.label("link_id"), k.c.token_hash, k.c.department_code, k.c.revoked_at,
                      name.label("department_name"), u.c.uploads, u.c.bytes,
                      i.c.submission_id, i.c.department.label("issued_to"), i.c.project, i.c.file, i.c.file_id,
                      i.c.signature, r)
            .select_from(k.join(r, r.c.id == k.c.round_id)
                         .outerjoin(u, sa.and_(u.c.link_id == k.c.id, u.c.day == sa.bindparam("day")))
                         .outerjoin(i, sa.and_(i.c.round_id == k.c.round_id,
                                               i.c.department_code == k.c.department_code)))
            .where(k.c.token_hash == sa.bindparam("hash")).order_by(i.c.file))


def count_upload(store: Store, conn: sa.Connection, link: Link, size: int) -> None:
    """Count one upload of ``size`` bytes against the link's quota, inside the upload's transaction;
    :class:`QuotaReached` (the transaction then rolls back) when it has no room left."""
    def build() -> Any:
        u = store.t.link_usage
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(u).values(link_id=sa.bindparam("link"), day=sa.bindparam("day"), uploads=1,
                                bytes=sa.bindparam("size"))
        return stmt.on_conflict_do_update(index_elements=[u.c.link_id, u.c.day], set_={
            "uploads": u.c.uploads + 1, "bytes": u.c.bytes + stmt.excluded.bytes}).returning(u.c.uploads, u.c.bytes)

    [(uploads, used)] = store.direct("links.count_upload", build, ("link", "day", "size"))(
        conn, {"link": link.id, "day": today(), "size": size})
    if uploads > UPLOADS_PER_DAY:
        raise QuotaReached("uploads")
    if used > BYTES_PER_DAY:
        raise QuotaReached("bytes")


def count_live(store: Store, round_id: int) -> int:
    """How many departments of the round have a live link."""
    k = store.t.links
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count(sa.distinct(k.c.department_code))).where(
            k.c.round_id == round_id, k.c.revoked_at.is_(None))).scalar_one())


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
                                       k.c.revoked_at.is_(None)).values(revoked_at=utcnow(), revoked_by=actor)).rowcount
        log(store, c, "revoke_link", actor=actor, round_id=round_id, department_code=code,
            detail={"department_code": code}, address=address_)
        return int(n or 0)

    if conn is not None:
        return run(conn)
    with writing(store.engine) as c:
        return run(c)


def revoke_all(store: Store, conn: sa.Connection, round_id: int, actor: str | None) -> int:
    """Revoke every live link of the round, inside the caller's transaction; how many departments
    had one."""
    k = store.t.links
    codes = conn.execute(sa.select(k.c.department_code).distinct().where(
        k.c.round_id == round_id, k.c.revoked_at.is_(None))).scalars().all()
    conn.execute(k.update().where(k.c.round_id == round_id, k.c.revoked_at.is_(None)).values(
        revoked_at=utcnow(), revoked_by=actor))
    return len(codes)


def mint(store: Store, conn: sa.Connection, round_id: int, code: str, actor: str | None) -> str | None:
    """One more live link for the department (a message's), inside the caller's transaction; None
    when staff revoked its links (it has no live one)."""
    k = store.t.links
    alive = conn.execute(sa.select(k.c.id).where(k.c.round_id == round_id, k.c.department_code == code,
                                                 k.c.revoked_at.is_(None)).limit(1)).first()
    if alive is None:
        return None
    token = new_token()
    make_all(store, conn, round_id, {code: token}, actor)
    return token


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
