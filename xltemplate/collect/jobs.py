"""Background jobs (bulk imports of returns received by mail) in the ``jobs`` table, so that any
server process can run any job and a job outlives the process that started it.

* **Claiming.** A worker thread in each server process claims the oldest queued job
  (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two processes never take the same one; SQLite: the
  write lock of ``BEGIN IMMEDIATE``, :func:`~xltemplate.collect.db.writing`).
* **Heartbeat.** While it runs, the job's row is updated every ``HEARTBEAT`` seconds with its
  progress; a job whose heartbeat is older than ``STALE`` seconds (its process died) is claimed
  again by any process and run again from the start.
* **Exactly once.** Storing is idempotent by sha256 (:class:`~xltemplate.collect.store.Store`),
  so a job run again stores only what the first run had not: nothing is imported twice.
* **A worker that lost its claim** (it stalled past ``STALE`` and another took over) notices at
  its next heartbeat and stops.
* **Kinds.** A worker claims only the kinds it has handlers for: the mail worker (a thread of its
  own, :mod:`xltemplate.collect.notices`) never waits behind a bulk import, nor one behind a slow
  mail server, and a process without mail settings leaves messages to one that has them.
* **Later.** A handler that raises :class:`Retry` puts its job back in the queue until
  ``run_after``; the claim ended cleanly, so ``attempts`` (claims that never finished: a process
  that died) starts again from nought.  The mail queue counts its own tries.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .db import writing
from .store import Store

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
HEARTBEAT = 1.0
STALE = float(os.environ.get("XLTEMPLATE_JOB_STALE", "30"))
IDLE_POLL = 1.0
MAX_ATTEMPTS = 5
log = logging.getLogger("xltemplate.jobs")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Job:
    id: int
    kind: str
    round_id: int | None
    status: str
    payload: dict[str, Any]
    total: int
    done: int
    results: list[dict[str, Any]]
    error: str | None
    created_by: str | None
    created_at: dt.datetime
    attempts: int
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, row: Any) -> Job:
        return cls(row.id, row.kind, row.round_id, row.status, row.payload or {}, row.total, row.done,
                   row.results or [], row.error, row.created_by, row.created_at, row.attempts, row.finished_at)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "round_id": self.round_id, "status": self.status,
                "total": self.total, "done": self.done, "results": self.results, "error": self.error,
                "attempts": self.attempts}


def enqueue(store: Store, kind: str, payload: dict[str, Any], *, total: int = 0, round_id: int | None = None,
            actor: str | None = None, conn: sa.Connection | None = None) -> int:
    j = store.t.jobs
    values = {"kind": kind, "round_id": round_id, "status": QUEUED, "payload": payload, "total": total, "done": 0,
              "results": [], "created_by": actor, "created_at": _now(), "attempts": 0}
    if conn is not None:
        return int(conn.execute(j.insert().returning(j.c.id), values).scalar_one())
    with writing(store.engine) as c:
        return int(c.execute(j.insert().returning(j.c.id), values).scalar_one())


def get(store: Store, job_id: int) -> Job | None:
    j = store.t.jobs
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(j).where(j.c.id == job_id)).first()
    return Job.of(row) if row else None


def recent(store: Store, round_id: int, limit: int = 5) -> list[Job]:
    """A round's newest jobs, newest first."""
    j = store.t.jobs
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(j).where(j.c.round_id == round_id).order_by(j.c.id.desc()).limit(limit)).all()
    return [Job.of(row) for row in rows]


def counts(job: Job) -> dict[str, int]:
    """A bulk job's results by what became of each file (duplicates apart)."""
    out: dict[str, int] = {}
    for r in job.results:
        key = "duplicate" if r.get("stored") == "duplicate" else r.get("status", "unreadable")
        out[key] = out.get(key, 0) + 1
    return out


def _claimable(store: Store, kinds: tuple[str, ...] | None = None) -> Any:
    j = store.t.jobs
    now = _now()
    stale = now - dt.timedelta(seconds=STALE)
    waiting = sa.and_(j.c.status == QUEUED, sa.or_(j.c.run_after.is_(None), j.c.run_after <= now))
    found = sa.or_(waiting, sa.and_(j.c.status == RUNNING, j.c.heartbeat_at < stale))
    return sa.and_(found, j.c.kind.in_(kinds)) if kinds is not None else found


def claim(store: Store, worker: str, kinds: tuple[str, ...] | None = None) -> Job | None:
    """The oldest job waiting (or left by a dead process) of ``kinds`` (None: any), now this
    worker's; None when there is none."""
    j = store.t.jobs
    with store.engine.connect() as conn:  # a cheap look first: idle servers take no write lock
        if conn.execute(sa.select(j.c.id).where(_claimable(store, kinds)).limit(1)).first() is None:
            return None
    with writing(store.engine) as conn:
        stmt = sa.select(j.c.id, j.c.attempts).where(_claimable(store, kinds)).order_by(j.c.id).limit(1)
        if store.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        row = conn.execute(stmt).first()
        if row is None:
            return None
        now = _now()
        if row.attempts >= MAX_ATTEMPTS:  # it killed every process that ran it
            conn.execute(j.update().where(j.c.id == row.id).values(status=FAILED, finished_at=now,
                                                                   error="too many attempts"))
            return None
        conn.execute(j.update().where(j.c.id == row.id).values(
            status=RUNNING, claimed_by=worker, claimed_at=now, heartbeat_at=now, attempts=j.c.attempts + 1))
        return Job.of(conn.execute(sa.select(j).where(j.c.id == row.id)).one())


def heartbeat(store: Store, job_id: int, worker: str, done: int, results: list[dict[str, Any]],
              total: int | None = None) -> bool:
    """Progress, and proof of life; False when this worker no longer holds the job."""
    values: dict[str, Any] = {"heartbeat_at": _now(), "done": done, "results": results}
    return _update_held(store, job_id, worker, values, total)


def finish(store: Store, job_id: int, worker: str, status: str, done: int, results: list[dict[str, Any]],
           error: str | None = None, total: int | None = None) -> bool:
    values: dict[str, Any] = {"status": status, "done": done, "results": results, "error": error,
                              "finished_at": _now(), "heartbeat_at": _now()}
    return _update_held(store, job_id, worker, values, total)


def _update_held(store: Store, job_id: int, worker: str, values: dict[str, Any], total: int | None) -> bool:
    """Write ``values`` into the job while ``worker`` holds it; False when it no longer does."""
    j = store.t.jobs
    if total is not None:
        values["total"] = total
    with writing(store.engine) as conn:
        n = conn.execute(j.update().where(j.c.id == job_id, j.c.claimed_by == worker, j.c.status == RUNNING)
                         .values(**values)).rowcount
    return bool(n)


class Lost(Exception):
    """The job was taken over by another process (this one stalled)."""


class Retry(Exception):
    """Raised by a handler: run the job again, not before ``after`` seconds from now."""

    def __init__(self, after: float):
        super().__init__(after)
        self.after = after


def later(store: Store, job_id: int, worker: str, after: float) -> bool:
    """Put a job this worker holds back in the queue until ``after`` seconds from now."""
    j = store.t.jobs
    with writing(store.engine) as conn:
        n = conn.execute(j.update().where(j.c.id == job_id, j.c.claimed_by == worker, j.c.status == RUNNING)
                         .values(status=QUEUED, claimed_by=None, attempts=0,
                                 run_after=_now() + dt.timedelta(seconds=after))).rowcount
    return bool(n)


@dataclass
class Progress:
    """What a running job reports; written to its row by the heartbeat."""

    total: int = 0
    done: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    lost: bool = False

    def add(self, result: dict[str, Any]) -> None:
        if self.lost:
            raise Lost
        self.results.append(result)
        self.done += 1


Handler = Callable[[Store, Job, Progress], None]


class Worker(threading.Thread):
    """Claims and runs jobs in this process until stopped."""

    def __init__(self, store: Store, handlers: dict[str, Handler], name: str = "xltemplate-jobs",
                 idle: Callable[[], None] | None = None):
        super().__init__(name=name, daemon=True)
        self.store, self.handlers, self.idle = store, handlers, idle
        self.kinds = tuple(handlers)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                job = claim(self.store, self.id, self.kinds)
            except Exception:  # the database is away for a moment: try again later
                log.exception("claiming a job failed")
                job = None
            if job is None:
                if self.idle is not None:
                    try:
                        self.idle()
                    except Exception:
                        log.exception("%s: the idle task failed", self.name)
                self.stopping.wait(IDLE_POLL)
                continue
            self.run_job(job)

    def run_job(self, job: Job) -> None:
        progress = Progress(total=job.total)
        beating = threading.Event()

        def beat() -> None:
            while not beating.wait(HEARTBEAT):
                try:
                    if not heartbeat(self.store, job.id, self.id, progress.done, list(progress.results),
                                     progress.total):
                        progress.lost = True
                        return
                except Exception:
                    log.exception("heartbeat of job %s failed", job.id)

        pulse = threading.Thread(target=beat, name=f"job-{job.id}-heartbeat", daemon=True)
        pulse.start()
        status, error = DONE, None
        try:
            self.handlers[job.kind](self.store, job, progress)
        except Lost:
            return
        except Retry as again:
            beating.set()
            pulse.join()
            if not progress.lost:
                later(self.store, job.id, self.id, again.after)
            return
        except Exception as exc:  # a bug of ours: the job fails with a reason, the server goes on
            log.exception("job %s failed", job.id)
            status, error = FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            beating.set()
            pulse.join()
        if not progress.lost:
            finish(self.store, job.id, self.id, status, progress.done, progress.results, error, progress.total)


def wait(store: Store, job_id: int, timeout: float = 60.0) -> Job | None:
    """The job once it has finished (for scripts and tests); None on time-out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = get(store, job_id)
        if job is not None and job.status in (DONE, FAILED):
            return job
        time.sleep(0.1)
    return None
