"""Batch import: many files, folders and zip archives, in parallel, into a store.

Flow: :func:`collect` turns the command line's paths into sources (files, folder trees, zip
members) -> worker processes run :func:`work` (read, coerce, validate, and write an annotated copy
for an invalid return) -> the main process records the results in the database, several files per
transaction, and keeps the counts.  Memory stays bounded: only a window of files is in flight.

Work is handed to the workers in batches (up to ``CHUNK`` files a task, the first tasks smaller so
that a short batch still uses every worker) and comes back a batch at a time: what it costs to
pass a task between processes is paid per batch, not per file.  The pool starts its workers with
``fork`` where there is one (Linux) and ``spawn`` elsewhere (Windows, macOS), or as asked
(``start_method``): everything a worker needs travels in the job (:class:`_Job`, pickled), so
both give the same results (``tests/test_batch.py`` imports with ``spawn`` on Linux).  A worker
freezes what it holds after its first batch (``gc.freeze``): the form models and validators it
keeps are then never walked by the garbage collector again.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import multiprocessing as mp
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures import TimeoutError as Timeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..form.forms import find_form, find_version, load_form, register
from ..form.model import FormModel
from ..form.validate import Issue
from ..messages import message
from ..xlsx.guard import MAX_FILE
from .annotate import annotate
from .files import visible
from .identity import Context, admit
from .identity import context as rounds_context
from .importer import ImportResult, import_workbook
from .store import Identity, Pending

#: Files a folder walk passes over: lock files and OS litter, never returns.
IGNORED = re.compile(r"^(\.~lock\..*#|~\$.*|\.DS_Store|Thumbs\.db|desktop\.ini|__MACOSX)$", re.I)
SPREADSHEET = (".xlsx", ".xlsm")


@dataclass
class Source:
    """One file to import: a path on disk, or a member of a zip archive (bytes read by the main process)."""

    name: str  # shown to the user: path, or archive.zip!folder/file.xlsx (invisible characters removed)
    path: str
    data: bytes | None = None
    error: str | None = None  # an archive that could not be opened: why
    seq: int = 0  # its place among the files received together (which copy is current: collect.current)


def _member_name(info: zipfile.ZipInfo) -> str:
    """Zip member names from Chinese Windows are GBK without the UTF-8 flag; decode them right."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _zip_sources(path: Path | IO[bytes], label: str) -> Iterator[Source]:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = _member_name(info)
                base = name.rsplit("/", 1)[-1]
                if IGNORED.match(base) or name.startswith("__MACOSX/"):
                    continue
                with zf.open(info) as fh:  # bounded: a bomb inside the archive is refused as too large
                    data = fh.read(MAX_FILE + 1)
                yield Source(visible(f"{label}!{name}"), label, data)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        # a zip that cannot be opened becomes one unreadable result, named after the archive
        yield Source(visible(label), str(path), error=str(exc))


def sources_in(data: bytes, name: str) -> Iterator[Source]:
    """One uploaded file as sources: a zip archive (one that is no workbook) member by member,
    else the file itself."""
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            names = {"xl/workbook.xml"}  # a damaged file: the importer says what is wrong with it
        if not ({"xl/workbook.xml", "xl/workbook.bin", "mimetype"} & names):
            for source in _zip_sources(io.BytesIO(data), name):
                if source.error is not None and source.data is None:
                    source.data = data  # the archive itself: there is no path to read it from
                yield source
            return
    yield Source(visible(name), name, data)


def collect(inputs: Iterable[str | Path]) -> Iterator[Source]:
    """Files as given, folders recursively (sorted), zip archives member by member."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not IGNORED.match(d))
                for name in sorted(files):
                    if not IGNORED.match(name):
                        yield from _one(Path(root) / name)
        else:
            yield from _one(path)


def _one(path: Path) -> Iterator[Source]:
    if path.suffix.lower() == ".zip":
        yield from _zip_sources(path, str(path))
    else:
        yield Source(visible(str(path)), str(path))


@dataclass
class Done:
    """What a worker hands back for one source."""

    source: Source
    result: ImportResult
    sha256: str
    saved_at: dt.datetime | None
    department: str | None = None
    department_code: str | None = None
    annotated: str | None = None
    identity: Identity | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Job:
    form: str | None
    lang: str
    annotate: str | None
    key: str | None = None
    context: Context | None = None  # rounds, issued templates, published versions (with a database)


_JOB: _Job | None = None


def _init(job: _Job) -> None:
    global _JOB
    _JOB = job
    if job.context is not None:
        for schema, layout in job.context.versions:
            register(schema, layout)


def model_of(result: ImportResult, expected: FormModel | None) -> FormModel | None:
    """The form model of a read result: the version it was read by (the one asked for, bundled,
    or a published earlier version)."""
    if result.data is None or not result.form:
        return None
    if expected is not None and expected.id == result.form and expected.version == result.version:
        return expected
    current = find_form(result.form) if expected is None or expected.id != result.form else expected
    if current is None or current.version == result.version or not result.version:
        return current
    return find_version(result.form, result.version, near=current) or current


def work(source: Source, job: _Job | None = None) -> Done:
    """Import one source (in a worker process); never raises for a bad file."""
    job = job or _JOB or _Job(None, "zh", None)
    data = source.data
    try:
        if data is None:
            data = Path(source.path).read_bytes()
    except OSError as exc:
        result = ImportResult(file=source.name, status="unreadable",
                              errors=[Issue.of_file(message("io", job.lang, detail=str(exc)), "io")])
        return Done(source, result, hashlib.sha256(source.name.encode()).hexdigest(), None)
    sha = hashlib.sha256(data).hexdigest()
    if source.error is not None:
        result = ImportResult(file=source.name, status="unreadable", errors=[
            Issue.of_file(message("bad_archive", job.lang, detail=source.error), "bad_archive")])
        return Done(source, result, sha, None)
    expected = load_form(job.form) if job.form else None
    result, meta = import_workbook(source.name, expected, job.lang, data=data, with_meta=True, key=job.key)
    model = model_of(result, expected)
    current = expected if expected is not None and expected.id == result.form else \
        (find_form(result.form) if result.form else None)
    admission = admit(result, meta, model, job.context, current, job.lang)
    ident = admission.identity
    done = Done(source, result, sha, result.saved_at, ident.department, ident.department_code,
                identity=ident, notes=result.notes + admission.notes)
    if job.annotate and result.status == "invalid" and model is not None:
        done.annotated = annotate(model, result, Path(job.annotate), meta, lang=job.lang)
    return done


@dataclass
class Summary:
    """Counts per department and in all."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    files: int = 0

    KEYS = ("valid", "invalid", "unreadable", "duplicate", "superseded")

    def add(self, department: str | None, key: str, n: int = 1) -> None:
        row = self.rows.setdefault(department or "（未知部门）", dict.fromkeys(self.KEYS, 0))
        row[key] += n

    def total(self) -> dict[str, int]:
        out = dict.fromkeys(self.KEYS, 0)
        for row in self.rows.values():
            for k in self.KEYS:
                out[k] += row[k]
        return out

    @property
    def ok(self) -> bool:
        t = self.total()
        return t["invalid"] == 0 and t["unreadable"] == 0


def job_for(store: Any, round_name: str | None, lang: str = "zh", key: str | None = None) -> _Job:
    """What :func:`work` needs to import files into ``store`` (in this process): the rounds, the
    issued templates and the published versions (registered here)."""
    job = _Job(None, lang, None, key, rounds_context(store, round_name))
    for schema, layout in job.context.versions if job.context else []:
        register(schema, layout)
    return job


def _numbered(sources: Iterable[Source]) -> Iterator[Source]:
    for n, source in enumerate(sources):
        source.seq = n
        yield source


def pending_of(done: Done) -> Pending:
    """What the store takes of a worker's result."""
    return Pending(done.result, done.sha256, Path(done.source.name).name, done.source.name,
                   model_of(done.result, None), done.saved_at, None, done.identity, done.notes or None)


STORE_BATCH = 64  # results stored per transaction
STORE_WAIT = 0.5  # seconds a result may wait for its batch to fill


def run(inputs: Iterable[str | Path], *, store: Any = None, form: str | None = None, lang: str = "zh",
        annotate: str | Path | None = None, jobs: int | None = None,
        on_done: Callable[[Done, Any], None] | None = None, progress: Any = None, key: str | None = None,
        round_name: str | None = None, start_method: str | None = None) -> Summary:
    """Import everything under ``inputs``; record into ``store`` (a :class:`~xltemplate.collect.store.Store`).

    With a store, each return is placed in its round (``round_name``, else as
    :mod:`~xltemplate.collect.rounds` says) and given its identity.  Results are stored several
    per transaction; ``on_done(done, outcome)`` is called in the main process for each file once
    it is stored, in completion order.  ``progress`` is a tqdm-like object with ``update()`` and
    ``total``.
    """
    if form:
        load_form(form)  # a wrong --form fails here, once, not per file
    ctx = rounds_context(store, round_name) if store is not None else None
    job = _Job(str(form) if form else None, lang, str(annotate) if annotate else None, key, ctx)
    if annotate:
        Path(annotate).mkdir(parents=True, exist_ok=True)
    received = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # every file of a run was received together
    sources: Iterable[Source] = _numbered(collect(inputs))
    if progress is not None:
        sources = list(sources)
        progress.total = len(sources)
        progress.refresh()
    jobs = jobs or os.cpu_count() or 1
    summary = Summary()
    pending: list[Done] = []
    since = [0.0]

    def count(done: Done, outcome: Any) -> None:
        summary.files += 1
        if outcome is not None and outcome.status == "duplicate":
            summary.add(done.department, "duplicate")
        else:
            summary.add(done.department, done.result.status)
            if outcome is not None and outcome.to_history:
                summary.add(done.department, "superseded", outcome.to_history)
        if on_done:
            on_done(done, outcome)
        if progress is not None:
            progress.update(1)

    def flush() -> None:
        if not pending:
            return
        expected = load_form(form) if form else None
        outcomes = store.record_many([
            Pending(d.result, d.sha256, Path(d.source.name).name, d.source.name, model_of(d.result, expected),
                    d.saved_at, received, d.identity, d.notes or None, seq=d.source.seq) for d in pending])
        for d, outcome in zip(pending, outcomes, strict=True):
            count(d, outcome)
        pending.clear()

    def handle(done: Done) -> None:
        if store is None:
            count(done, None)
            return
        if not pending:
            since[0] = time.monotonic()
        pending.append(done)
        if len(pending) >= STORE_BATCH or time.monotonic() - since[0] > STORE_WAIT:
            flush()

    if jobs <= 1:
        _init(job)
        for source in sources:
            handle(work(source, job))
    else:
        for done in _parallel(sources, job, jobs, start_method):
            handle(done)
    if store is not None:
        flush()
    return summary


CHUNK = 32  # files per task at most: handing a task and its results between processes costs per task
FIRST_CHUNK = 4  # files of the first tasks (doubled up to CHUNK): a short batch still uses every worker
FILE_TIMEOUT = 120.0  # seconds one file may take; a normal return takes milliseconds
HANG = 8  # a worker hangs when nothing at all finishes for this many FILE_TIMEOUTs
_FROZEN = False


def work_chunk(chunk: list[Source]) -> list[Done]:
    """A batch of files in a worker; the first batch done, what the worker holds is frozen."""
    global _FROZEN
    out = [work(source) for source in chunk]
    if not _FROZEN:
        gc.freeze()  # the models, validators and caches built for the first batch stay: never walked again
        _FROZEN = True
    return out


def _crashed(source: Source, job: _Job, why: str, code: str = "crashed") -> Done:
    result = ImportResult(file=source.name, status="unreadable",
                          errors=[Issue.of_file(message(code, job.lang, detail=why), code)])
    data = source.data if source.data is not None else source.name.encode()
    return Done(source, result, hashlib.sha256(data + b"\0crashed").hexdigest(), None)


def _parallel(sources: Iterable[Source], job: _Job, jobs: int, start_method: str | None = None) -> Iterator[Done]:
    """``work`` over ``sources`` in ``jobs`` processes, at most a window of chunks in flight.

    A worker that dies (a crash inside a native library, the out-of-memory killer) breaks the pool,
    and one that hangs is stopped when nothing finishes for ``HANG`` times ``FILE_TIMEOUT``: either
    way the chunks in flight are run again one file at a time in a fresh process each, so the file
    that kills or hangs its process is found and reported as unreadable, and the batch goes on.
    """
    method = start_method or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ctx = mp.get_context(method)

    def pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(job,))

    def stop(executor: ProcessPoolExecutor) -> None:
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()  # a hung worker never returns on its own
        executor.shutdown(wait=False, cancel_futures=True)

    def alone(source: Source) -> Done:
        single = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init, initargs=(job,))
        try:
            return single.submit(work_chunk, [source]).result(timeout=FILE_TIMEOUT)[0]
        except BrokenProcessPool as exc:
            return _crashed(source, job, f"{type(exc).__name__}")
        except Timeout:
            return _crashed(source, job, f"{FILE_TIMEOUT:g} s", "timeout")
        finally:
            stop(single)

    it = iter(sources)
    executor = pool()
    pending: dict[Any, list[Source]] = {}
    size = FIRST_CHUNK
    try:
        while True:
            while len(pending) < jobs * 4:
                chunk = [s for _, s in zip(range(size), it, strict=False)]
                if not chunk:
                    break
                size = min(size * 2, CHUNK)
                pending[executor.submit(work_chunk, chunk)] = chunk
            if not pending:
                return
            finished, _ = wait(pending, timeout=FILE_TIMEOUT * HANG, return_when=FIRST_COMPLETED)
            broken: list[Source] = []
            if not finished:  # nothing finished for too long: a worker hangs
                broken = [source for chunk in pending.values() for source in chunk]
                pending.clear()
                stop(executor)
                for source in broken:
                    yield alone(source)
                executor = pool()
                continue
            for future in finished:
                chunk = pending.pop(future)
                try:
                    yield from future.result()
                except BrokenProcessPool:
                    broken += chunk
            if broken:  # the pool is gone: every chunk still pending went with it
                for future, chunk in list(pending.items()):
                    future.cancel()
                    broken += chunk
                pending.clear()
                stop(executor)
                for source in broken:
                    yield alone(source)
                executor = pool()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
