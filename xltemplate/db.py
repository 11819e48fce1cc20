"""The database: its tables (defined here, once), how it is opened, and how it is upgraded.

SQLite (the embedded default, a file beside the user) and PostgreSQL (several processes or
machines) run the same SQLAlchemy Core code.

* **Tables.** :func:`core_tables` defines the tables every database has (submissions, their errors,
  rounds, rosters, issued templates, published form versions, the audit log, the review decisions;
  and for the portal stored files, department links, users, sessions, API tokens and jobs); the typed per-form
  tables are made by :mod:`xltemplate.collect.store` from the form model.
* **Upgrades.** A database is brought to the current layout by Alembic migrations
  (``collect/migrations/``), run by every command that opens it, or by ``xltemplate db upgrade``.
  A database made by the release before migrations existed (tables but no ``alembic_version``) is
  recognised as the baseline revision and upgraded in place, its data kept.
* **Several processes at once.** Migrations and the creation of per-form tables run under a lock
  (PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``), so two importers using a new
  database for the first time never collide. On SQLite every write transaction starts with
  ``BEGIN IMMEDIATE`` (it takes the write lock at once, so two writers wait instead of failing
  on a lock upgrade) and waits up to a minute for another writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

try:
    import fcntl
except ImportError:  # Windows: the threads of one process take turns; processes wait as SQLite makes them
    fcntl = None  # type: ignore[assignment]

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
DEFAULT_DB = "sqlite:///xltemplate.db"
HEAD = "0007"  # the newest migration: a database at HEAD needs no Alembic at all
BASELINE = "0001"  # the layout of the release before migrations
_LOCK_KEY = 0x78_6C_74_70  # "xltp": the advisory lock of schema changes on PostgreSQL
SQLITE_BUSY_SECONDS = 60


def db_url(text: str | None) -> str:
    """A SQLAlchemy URL; a bare path means a SQLite file."""
    if not text:
        return DEFAULT_DB
    return text if "://" in text else f"sqlite:///{text}"


@dataclass
class CoreTables:
    submissions: sa.Table
    errors: sa.Table
    rounds: sa.Table
    roster: sa.Table
    issued: sa.Table
    form_versions: sa.Table
    events: sa.Table
    files: sa.Table
    links: sa.Table
    users: sa.Table
    sessions: sa.Table
    api_tokens: sa.Table
    jobs: sa.Table
    link_usage: sa.Table
    settings: sa.Table
    login_throttle: sa.Table
    reviews: sa.Table
    messages: sa.Table
    mail_claims: sa.Table
    scans: sa.Table


def core_tables(meta: sa.MetaData) -> CoreTables:
    """The tables every database has, in ``meta`` (the per-form tables join it)."""
    submissions = sa.Table(
        "submissions", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("saved_at", sa.DateTime),
        sa.Column("form_id", sa.String(200)),
        sa.Column("form_version", sa.String(50)),
        sa.Column("submission_id", sa.String(200)),
        sa.Column("department", sa.Text),
        sa.Column("department_code", sa.String(100)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False, default=0),
        sa.Column("is_current", sa.Boolean, nullable=False, default=True),
        sa.Column("superseded_by", sa.Integer, sa.ForeignKey("submissions.id")),
        sa.Column("data", JSONType),
        sa.Column("errors", JSONType),
        # since 0002: the round, the identity of the return, withdrawal, notes for staff
        sa.Column("round_id", sa.Integer, index=True),
        sa.Column("return_key", sa.Text),
        sa.Column("key_text", sa.Text),
        sa.Column("withdrawn_at", sa.DateTime),
        sa.Column("withdrawn_by", sa.Text),
        sa.Column("withdraw_reason", sa.Text),
        sa.Column("notes", JSONType),
        # since 0003: the file it came in (``files``) and its annotated copy, made when first asked for
        sa.Column("file_id", sa.Integer),
        sa.Column("annotated_id", sa.Integer),
        # since 0004: its place among the files received with it (``collect.current``)
        sa.Column("received_seq", sa.Integer),
        # since 0006: its warnings (提示), and where its review stands (``collect.reviews``): review is
        # pending | returned | approved for a copy that passed the machine check, else NULL;
        # review_stage the stage it waits for (returned: was returned at; approved: the number of stages)
        sa.Column("warnings", JSONType),
        sa.Column("review", sa.String(20)),
        sa.Column("review_stage", sa.Integer),
        sa.Column("grade", sa.String(20)),
        # since 0007: the 校验码 of its data (collect.checkcode), printed on its 打印版 and kept with its scans
        sa.Column("check_code", sa.String(9)),
        sa.Index("ix_submissions_department", "round_id", "department_code"),
        sa.Index("ix_submissions_review", "round_id", "review"),
        sa.Index("ix_submissions_superseded_by", "superseded_by"),  # since 0006: 重新报送, asked per row listed
        sa.Index("ix_submissions_form", "form_id", "status", "is_current"),
        # at most one current copy of each return, whatever importers run at once
        sa.Index("ux_submissions_current_return", "return_key", unique=True,
                 sqlite_where=sa.text("is_current AND return_key IS NOT NULL"),
                 postgresql_where=sa.text("is_current AND return_key IS NOT NULL")),
        sa.Index("ix_submissions_return", "return_key"),
        sa.Index("ix_submissions_lookup", "submission_id", "form_id", "is_current"),
    )
    errors = sa.Table(
        "submission_errors", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        *(sa.Column(name, sa.Text) for name in ("sheet", "cell", "pointer", "label", "value", "message", "code")),
    )
    rounds = sa.Table(
        "rounds", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("form_version", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("deadline", sa.Date),
        sa.Column("status", sa.String(20), nullable=False, default="open"),  # open | closed
        sa.Column("roster_kind", sa.String(20), nullable=False, default="departments"),  # or projects
        sa.Column("roster_columns", JSONType),
        sa.Column("carried_from", sa.Integer, sa.ForeignKey("rounds.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("stages", JSONType),  # since 0006: the names of its review stages (NULL: one, 审核)
        sa.Column("reach", JSONType),  # since 0007: notices on or off, the reminder plan (None: the defaults)
    )
    roster = sa.Table(
        "roster", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),  # the roster file's row (1 is the header)
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contact", sa.Text),
        sa.Column("project", sa.Text),  # a roster of projects: the project this line is for
        sa.Column("columns", JSONType),  # every column as given
        sa.Column("office", sa.Text),  # since 0006: the 科室 the department is assigned to (归口科室)
        sa.Column("emails", JSONType),  # since 0007: the department's e-mail addresses (a list)
        sa.Index("ix_roster_round", "round_id", "code"),
    )
    issued = sa.Table(
        "issued", meta,
        sa.Column("submission_id", sa.String(200), primary_key=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster.id", ondelete="CASCADE")),
        sa.Column("department_code", sa.String(100), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("project", sa.Text),  # set: this template is for one project, its id alone identifies the return
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Column("carried_from", sa.Integer),  # the submission of the earlier round it carries forward
        sa.Column("data", JSONType),  # what was prefilled
        sa.Column("file_id", sa.Integer),  # since 0003: the template itself, in ``files``
        sa.Column("signature", sa.String(64)),  # since 0004: the signature it was issued with
    )
    form_versions = sa.Table(
        "form_versions", meta,
        sa.Column("form_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(50), primary_key=True),
        sa.Column("hash", sa.String(32), primary_key=True),
        sa.Column("schema", JSONType, nullable=False),
        sa.Column("layout", JSONType),  # None: the automatic layout
        sa.Column("published_at", sa.DateTime, nullable=False),
    )
    events = sa.Table(
        "events", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("submission", sa.Integer),
        sa.Column("detail", JSONType),
        sa.Column("address", sa.Text),
        sa.Column("department_code", sa.String(100)),  # since 0004: the department it concerns
        sa.Index("ix_events_submission", "submission"),
        sa.Index("ix_events_round", "round_id", "at"),
        sa.Index("ix_events_department", "round_id", "department_code", "action", "id"),
    )
    files = sa.Table(
        "files", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),  # upload | template | annotated | package
        sa.Column("name", sa.Text, nullable=False),  # shown and offered as the download name, never a path
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("full_size", sa.BigInteger),  # since 0004: only the head of a file this size is kept
        sa.Index("ux_files_kind_sha", "kind", "sha256", unique=True),
    )
    links = sa.Table(
        "links", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("department_code", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the token, never the token
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("revoked_at", sa.DateTime),
        sa.Column("revoked_by", sa.Text),
        sa.Index("ix_links_department", "round_id", "department_code"),
    )
    users = sa.Table(
        "users", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),  # admin | staff | reviewer | viewer (0006)
        sa.Column("password_hash", sa.Text, nullable=False),  # argon2id
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, default=0),  # unused since 0005 (login_throttle)
        sa.Column("locked_until", sa.DateTime),  # unused since 0005
        sa.Column("last_login_at", sa.DateTime),
        sa.Column("disabled_at", sa.DateTime),
        sa.Column("office", sa.Text),  # since 0006: a reviewer's 科室 (NULL: every department)
        sa.Column("stages", JSONType),  # since 0006: the review stages a reviewer holds (NULL: every stage)
        sa.Column("email", sa.Text),  # since 0007: where the reviewers' digest goes
    )
    sessions = sa.Table(
        "sessions", meta,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("flash", JSONType),  # since 0005: what the page after a redirect shows once
    )
    api_tokens = sa.Table(
        "api_tokens", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
    )
    jobs = sa.Table(
        "jobs", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),  # queued | running | done | failed
        sa.Column("payload", JSONType),
        sa.Column("total", sa.Integer, nullable=False, default=0),
        sa.Column("done", sa.Integer, nullable=False, default=0),
        sa.Column("results", JSONType),
        sa.Column("error", sa.Text),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("heartbeat_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("run_after", sa.DateTime),  # since 0007: a job retried later (mail) waits until then
        sa.Index("ix_jobs_status", "status", "id"),
    )
    link_usage = sa.Table(
        "link_usage", meta,  # since 0004: uploads and bytes per department link and day (the quota)
        sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("uploads", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    settings = sa.Table(
        "settings", meta,  # since 0004: the installation's settings
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.Text),
    )
    login_throttle = sa.Table(
        "login_throttle", meta,  # since 0005: failed logins per (account name, address) and per address
        sa.Column("scope", sa.String(10), primary_key=True),  # account | address
        sa.Column("name", sa.String(200), primary_key=True),  # the name typed ('' for scope address)
        sa.Column("address", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),  # claimed attempts in the window, not undone
        sa.Column("first_at", sa.DateTime, nullable=False),  # the window's start
        sa.Column("locked_until", sa.DateTime),
    )
    reviews = sa.Table(
        "reviews", meta,  # since 0006: every review decision, one per copy and stage (the constraint decides races)
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("department_code", sa.String(100)),
        sa.Column("stage", sa.Integer, nullable=False),  # 0 the first
        sa.Column("stage_name", sa.Text, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),  # approved | returned
        sa.Column("grade", sa.String(20)),
        sa.Column("reasons", JSONType),  # [{pointer, sheet, cell, label, value, text}]
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("address", sa.Text),
        sa.UniqueConstraint("submission", "stage", name="ux_reviews_stage"),
        sa.Index("ix_reviews_round", "round_id", "department_code"),
    )
    messages = sa.Table(
        "messages", meta,  # since 0007: every e-mail notice and reminder, queued, sent or given up
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("department_code", sa.String(100)),
        sa.Column("submission", sa.Integer),
        sa.Column("user_name", sa.String(200)),  # a reviewer's digest: to whom
        sa.Column("recipients", JSONType, nullable=False),  # [address, ...]
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # the department's link is made when it is sent: a mark here
        sa.Column("status", sa.String(20), nullable=False),  # queued | retrying | sent | failed
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("answer", sa.Text),  # the mail server's last answer (or why it could not be reached)
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("next_at", sa.DateTime),  # when it is tried again
        sa.Column("job_id", sa.Integer),
        sa.Index("ix_messages_department", "round_id", "department_code", "id"),
    )
    mail_claims = sa.Table(
        "mail_claims", meta,  # since 0007: one reminder (or digest) per department, round, kind and day
        sa.Column("kind", sa.String(30), primary_key=True),
        sa.Column("round_id", sa.Integer, primary_key=True),  # 0 for a reviewer's digest
        sa.Column("department_code", sa.String(210), primary_key=True),  # a digest: user:<name>
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("message_id", sa.Integer),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.Text),
    )
    scans = sa.Table(
        "scans", meta,  # since 0007: stamped paper copies, each bound to the version of the data it signs
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("department_code", sa.String(100), nullable=False),
        sa.Column("submission", sa.Integer, nullable=False),  # the stored copy it was uploaded for
        sa.Column("return_key", sa.Text),  # the return it belongs to (all its copies)
        sa.Column("attachment", sa.String(50), nullable=False),  # which of the form's attachments
        sa.Column("code", sa.String(20), nullable=False),  # the 校验码 of the copy it was uploaded for
        sa.Column("kind", sa.String(10), nullable=False),  # pdf | jpg | png, by content
        sa.Column("file_id", sa.Integer, nullable=False),
        sa.Column("preview_id", sa.Integer),  # the picture staff see (a PDF's first page as PNG)
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("pages", sa.Integer),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),  # as the clerk called it: shown only
        sa.Column("uploaded_at", sa.DateTime, nullable=False),
        sa.Column("uploaded_by", sa.Text),
        sa.Column("address", sa.Text),
        sa.Index("ix_scans_return", "return_key", "id"),
        sa.Index("ix_scans_department", "round_id", "department_code", "id"),
    )
    return CoreTables(submissions, errors, rounds, roster, issued, form_versions, events, files, links, users,
                      sessions, api_tokens, jobs, link_usage, settings, login_throttle, reviews, messages, mail_claims,
                      scans)


def utcnow() -> dt.datetime:
    """Now, as every table keeps times: naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- opening ------------------------------------------------------------------------------------

# Dates reach SQLite as ISO text, as SQLAlchemy's Date type stores them (for rows inserted at the
# driver level by the store); Python's own default adapter for dates is deprecated since 3.12.
sqlite3.register_adapter(dt.date, dt.date.isoformat)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """Writes take SQLite's write lock at once (``BEGIN IMMEDIATE``).  Reads open no transaction:
    each statement reads a consistent database of its own (WAL), and a page's few reads cost no
    BEGIN of theirs; what must be read together with a change is read in the change's transaction."""
    if conn.get_execution_options().get("xt_write", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def engine_for(url: str | None) -> sa.Engine:
    url = db_url(url)
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    return engine


class _Writers:
    """The turn of writers on one SQLite database: a lock of this process's threads, then (where
    the system has ``flock``: Linux, macOS) an exclusive lock on ``<database>-writer``, a file
    beside the database, which the writers of every other process (``serve``'s workers, a batch
    import) take too.  A writer waiting for either starts the moment the other one has committed;
    SQLite's own busy wait sleeps and retries up to 100 ms at a time, which under many uploads at
    once made a few wait seconds.  The file is opened once per process (a forked child opens its
    own: a lock shared through an inherited descriptor would exclude nobody).

    A thread that asks for a turn on a database it is writing already (through another engine)
    gets SQLite's error at once: it would wait for itself for ever."""

    _held = threading.local()  # the databases this thread is writing, by lock file

    def __init__(self, database: str | None):
        self.threads = threading.Lock()
        self.path = Path(database + "-writer").resolve() if database and database != ":memory:" and fcntl \
            else None
        self.fd: int | None = None
        self.pid = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        held: set[Path] = self._held.__dict__.setdefault("paths", set())
        if self.path is not None and self.path in held:
            raise sa.exc.OperationalError("flock", None, sqlite3.OperationalError(
                "database is locked (this thread is writing it already, through another connection)"))
        with self.threads:
            if self.path is None:
                yield
                return
            if self.pid != os.getpid():
                self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            held.add(self.path)
            try:
                yield
            finally:
                held.discard(self.path)
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = None


#: each engine's writers (freed with the engine)
_WRITERS: weakref.WeakKeyDictionary[sa.Engine, _Writers] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


@contextlib.contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success.

    On SQLite the writers of every thread and process take turns on a lock first (:class:`_Writers`):
    SQLite makes a writer that finds the database locked sleep and retry (up to 100 ms a time),
    where one waiting on the lock starts the moment the other one commits."""
    if engine.dialect.name != "sqlite":
        with engine.connect().execution_options(xt_write=True) as conn, conn.begin():
            yield conn
        return
    with _WRITERS_LOCK:
        writers = _WRITERS.get(engine)
        if writers is None:
            writers = _WRITERS[engine] = _Writers(engine.url.database)
            weakref.finalize(engine, writers.close)
    with writers.turn(), engine.connect().execution_options(xt_write=True) as conn, conn.begin():
        yield conn


class Direct:
    """A statement run on the driver's cursor, as SQLAlchemy would run it, without its work per call.

    Compiled once for one dialect and one set of parameter names (``keys``): the SQL text, the order
    of its parameters, each one's conversion (SQLAlchemy's own bind processors: JSON, dates and
    booleans as this database stores them) and the values the statement holds itself.  A call is a
    cursor's ``execute`` and, with RETURNING, its rows: about 8 µs of Python against some 55 µs
    through ``Connection.execute`` (the upload's writes, benchmarks/portal.py).  The driver's errors
    come out as SQLAlchemy's (``IntegrityError`` and the rest), so callers catch what they caught;
    listeners of ``before_cursor_execute`` (the tests that count an upload's statements) are told of
    each statement.  For statements whose columns have no Python-side defaults (checked here) and no
    expanding parameters; anything else goes through ``Connection.execute``."""

    def __init__(self, stmt: Any, dialect: sa.Dialect, keys: Iterable[str]):
        keys = list(keys)
        compiled = stmt.compile(dialect=dialect, column_keys=keys)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError("a statement with Python-side defaults cannot run directly")
        self.sql: str = compiled.string
        # the values the statement holds itself (literals), and the parameters' order for a positional
        # driver (``positiontup``): SQLAlchemy's compiled statement says both (tests/test_db.py holds
        # the rows stored this way equal to SQLAlchemy's on SQLite and PostgreSQL)
        base = compiled.construct_params(dict.fromkeys(keys))
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for name, bind in compiled.binds.items()}
        self.names: list[str] = list(compiled.positiontup) if dialect.positional else list(base)
        self.convert = [(name, processors.get(name)) for name in self.names]
        self.fixed = {name: value for name, value in base.items() if name not in keys}
        self.positional = dialect.positional
        self.returns = bool(getattr(compiled, "returning", None) or getattr(compiled, "implicit_returning", None))

    def __call__(self, conn: sa.Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run with ``params`` on ``conn`` (inside its transaction); the rows it returns."""
        given = {**self.fixed, **params} if self.fixed else params
        values = [given[name] if convert is None else convert(given[name]) for name, convert in self.convert]
        args: Any = values if self.positional else dict(zip(self.names, values, strict=True))
        return on_driver(conn, self.sql, args, returns=self.returns)


def on_driver(conn: sa.Connection, sql: str, args: Any, *, many: bool = False,
              returns: bool = False) -> list[tuple[Any, ...]]:
    """``sql`` with ``args`` (a list of them, ``many``) on the cursor of ``conn``'s driver, inside its
    transaction; the rows it returns (``returns``).  Values must be as the driver takes them.  The
    driver's errors come out as SQLAlchemy's, and ``before_cursor_execute`` listeners are told."""
    cursor = conn.connection.cursor()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, args, None, many)
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
        return [tuple(row) for row in cursor.fetchall()] if returns else []
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(sql, args, exc, dbapi_error) from exc
    except (ValueError, TypeError, OverflowError) as exc:  # a value the driver cannot take
        raise sa.exc.StatementError(str(exc), sql, args, exc) from exc
    finally:
        cursor.close()


@contextlib.contextmanager
def schema_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction in which one process at a time changes the database's tables."""
    with writing(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        yield conn


# -- upgrading ----------------------------------------------------------------------------------

def revision(conn: sa.Connection) -> str | None:
    """The database's migration revision; ``BASELINE`` for a database of the release before
    migrations; None for an empty database."""
    names = set(sa.inspect(conn).get_table_names())
    if "alembic_version" in names:
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if found:
            return str(found)
    return BASELINE if "submissions" in names else None


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the database to the newest layout; return (revision before, revision after).

    Cheap when there is nothing to do (one query, no Alembic import)."""
    with engine.connect() as conn:
        before = revision(conn)
    if before == HEAD:
        return before, before
    # imported here, not at the top: Alembic (and what it loads) takes longer than most commands,
    # and is needed only when the database is older than this release
    from alembic import command
    from alembic.config import Config

    with schema_lock(engine) as conn:
        before = revision(conn)  # another process may have upgraded while we waited for the lock
        if before == HEAD:
            return before, before
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        cfg.attributes["connection"] = conn
        if before == BASELINE and not sa.inspect(conn).has_table("alembic_version"):
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
    return before, HEAD
