"""Throughput, memory and start-up figures for xltemplate on the bundled form, against the targets.

Run from the project root::

    .venv/bin/python benchmarks/bench.py [--n 10000] [--baseline-n 200] [--jobs N] [--keep DIR]
                                         [--breakdown-n 500] [--wait-quiet SECONDS] [--json PATH]

It is a script, not a test: it measures, prints a table (PASS/MISS next to each target) and writes
the same figures to ``benchmarks/results.json``.  It never asserts.  Other sessions may share this
2-CPU machine: every step reports how much CPU other processes took meanwhile, and --wait-quiet
waits (up to SECONDS) for the machine to be idle before starting.  N=10000 takes about 2-3 minutes.

What it does, in order:

1. distribute: a roster of N departments -> ``distribute()`` (in-process), then the same roster
   through ``xltemplate distribute`` as a subprocess.
2. setup: N filled, valid, distinct returns (one workbook written by ``write_workbook`` from
   ``tests/data/seed_000.json``, copied with a new ``xltemplate.submission_id`` custom property),
   ~2 % of them invalid (项目属性 = 新建), spread over a few sub-folders.
3. import end to end: ``xltemplate import DIR --db sqlite:///... -q --no-progress`` as a subprocess;
   wall time, and peak RSS of the process tree (VmRSS of the CLI and every descendant, summed,
   sampled every 20 ms); the submissions table is counted afterwards.
4. naive baseline on the first --baseline-n returns: ``openpyxl.load_workbook`` + the cells by the
   model's positions + the importer's extraction + the reference jsonschema engine, one process,
   no database.
5. ``xltemplate --help`` wall time, median of 10 runs.
6. per-file CPU breakdown (read / extract / validate / store) in-process, and a parallel-scaling
   probe: the same single-threaded loop alone, then as 2 concurrent processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
FORM = "wuhai-perf-target"
SEED = ROOT / "tests" / "data" / "seed_000.json"
FOLDERS = 8  # returns are spread over this many sub-folders
INVALID_EVERY = 50  # 1 in 50 returns is invalid (2 %)
SAMPLE_S = 0.020  # RSS sampling period

TARGETS = {
    "import_rate": 1000.0,  # returns/s end to end, at least
    "import_vs_baseline": 50.0,  # times the naive baseline, at least
    "distribute_rate": 200.0,  # templates/s, at least
    "peak_rss_mb": 250.0,  # MB for 10,000 returns, at most
    "help_s": 0.3,  # s, at most
}


# -- helpers -------------------------------------------------------------------------------

def _cli() -> list[str]:
    """The ``xltemplate`` console script of this interpreter's environment (else ``-m``)."""
    script = Path(sys.executable).parent / "xltemplate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xltemplate.cli"]


def _status(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "MISS"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain text table; columns in ``right`` are right-aligned."""
    from xltemplate.xlsx.writer import display_width

    right = right or set()
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = []
        for i, c in enumerate(r):
            pad = " " * (widths[i] - display_width(c))
            cells.append(pad + c if i in right else c + pad)
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, flush=True)


# -- machine load --------------------------------------------------------------------------

def _busy_jiffies() -> int:
    """All CPUs' non-idle time so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def _own_cpu_s() -> float:
    """CPU time of this process and of its waited-for descendants."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Load:
    """How busy the machine was during a step, ours and other processes' (other sessions share it)."""

    def __enter__(self) -> Load:
        self.t, self.busy, self.own = time.perf_counter(), _busy_jiffies(), _own_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t
        busy = (_busy_jiffies() - self.busy) / os.sysconf("SC_CLK_TCK")
        own = _own_cpu_s() - self.own
        self.result = {"wall_s": wall, "busy_cores": busy / wall, "own_cores": own / wall,
                       "other_cores": max(0.0, busy - own) / wall}


# -- process-tree memory ----------------------------------------------------------------------

def _ppids(newer_than: int = 0) -> dict[int, int]:
    """pid -> parent pid of the processes with a pid above ``newer_than`` (descendants are newer
    than their ancestor unless pids wrapped; this kernel has no /proc/<pid>/task/<tid>/children)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) <= newer_than:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        out[int(name)] = int(fields[1])
    return out


def _tree(pid: int) -> list[int]:
    parents = _ppids(newer_than=pid)
    tree, frontier = [pid], {pid}
    while frontier:
        found = [p for p, pp in parents.items() if pp in frontier]
        tree += found
        frontier = set(found)
    return tree


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (/proc/<pid>/stat), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: bytes, path: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{path}", "rb") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed VmRSS of a process tree every ``period``; the tree itself (a walk of
    /proc) and the summed Pss (costly: smaps_rollup) every 10th tick, so that sampling costs
    about 1 % of a core rather than competing with what it measures."""

    def __init__(self, pid: int, period: float = SAMPLE_S):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.stop = threading.Event()
        self.peak_rss_kb = self.peak_pss_kb = self.peak_main_kb = self.peak_one_worker_kb = 0
        self.peak_procs = self.samples = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds at its last sample

    def run(self) -> None:
        tick, pids = 0, [self.pid]
        while not self.stop.is_set():
            if tick % 10 == 0:
                pids = _tree(self.pid)
            rss = {p: _status_kb(p, b"VmRSS:") for p in pids}
            for p in pids:
                cpu = _cpu_s(p)
                if cpu is not None:
                    self.cpu[p] = cpu
            self.peak_rss_kb = max(self.peak_rss_kb, sum(rss.values()))
            self.peak_main_kb = max(self.peak_main_kb, rss.get(self.pid, 0))
            workers = [v for p, v in rss.items() if p != self.pid]
            if workers:
                self.peak_one_worker_kb = max(self.peak_one_worker_kb, max(workers))
            self.peak_procs = max(self.peak_procs, sum(1 for v in rss.values() if v))
            if tick % 10 == 0:
                pss = sum(_status_kb(p, b"Pss:", "smaps_rollup") for p in pids)
                self.peak_pss_kb = max(self.peak_pss_kb, pss)
            tick += 1
            self.samples += 1
            self.stop.wait(self.period)


def run_sampled(cmd: list[str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run ``cmd``; wall time, exit code and the process tree's peak memory."""
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=err, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    return {"wall_s": wall, "rc": rc, "peak_rss_mb": sampler.peak_rss_kb / 1024,
            "peak_pss_mb": sampler.peak_pss_kb / 1024, "peak_main_rss_mb": sampler.peak_main_kb / 1024,
            "peak_one_worker_rss_mb": sampler.peak_one_worker_kb / 1024, "peak_processes": sampler.peak_procs,
            "samples": sampler.samples,
            # CPU seen at the last sample of each process (up to one period short of the end)
            "main_cpu_s": sampler.cpu.get(proc.pid, 0.0),
            "children_cpu_s": sum(v for p, v in sampler.cpu.items() if p != proc.pid)}


# -- 1. distribute ----------------------------------------------------------------------------

def roster(n: int) -> list[dict[str, str]]:
    return [{"code": f"{150000 + i}", "name": f"乌海市第{i + 1}预算单位",
             "contact": f"联系人{i % 97} 1350473{i % 10000:04d}"} for i in range(n)]


def bench_distribute(model: Any, n: int, work: Path, keep: bool) -> dict[str, Any]:
    from xltemplate.collect.distribute import distribute

    rows = roster(n)
    out_api = work / "distribute_api"
    t0 = time.perf_counter()
    issued = distribute(model, rows, out_api)
    api_s = time.perf_counter() - t0
    api_files = sum(1 for p in out_api.glob("*.xlsx"))

    csv_path = work / "roster.csv"
    import csv

    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["code", "name", "contact"])
        w.writeheader()
        w.writerows(rows)
    out_cli = work / "distribute_cli"
    t0 = time.perf_counter()
    proc = subprocess.run([*_cli(), "distribute", FORM, "--roster", str(csv_path), "-o", str(out_cli),
                           "--no-progress"], cwd=work, capture_output=True, text=True)
    cli_s = time.perf_counter() - t0
    cli_files = sum(1 for p in out_cli.glob("*.xlsx"))
    if not keep:
        shutil.rmtree(out_api, ignore_errors=True)
        shutil.rmtree(out_cli, ignore_errors=True)
    return {"n": n, "issued": len(issued), "api_files": api_files, "api_wall_s": api_s,
            "api_rate": n / api_s, "api_ms_per_template": api_s * 1000 / n,
            "cli_wall_s": cli_s, "cli_rate": cli_files / cli_s if cli_files else None, "cli_files": cli_files,
            "cli_ms_per_template": cli_s * 1000 / n, "cli_rc": proc.returncode,
            "cli_stderr_tail": proc.stderr.strip().splitlines()[-1:] if proc.stderr else []}


# -- 2. the returns ---------------------------------------------------------------------------

_PROP = re.compile(rb'(name="xltemplate\.submission_id"><vt:lpwstr>)[^<]*(</vt:lpwstr>)')
_BASES: dict[bool, list[tuple[zipfile.ZipInfo, bytes]]] = {}  # invalid? -> members (set before forking)


def _members(book: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(book)) as zf:
        return [(info, zf.read(info.filename)) for info in zf.infolist()]


def return_path(root: Path, i: int, n: int) -> Path:
    """Consecutive blocks per folder, so the importer's walk (sorted) meets the returns in index order."""
    per = -(-n // FOLDERS)
    return root / f"batch_{i // per:02d}" / f"return_{i:06d}.xlsx"


def is_invalid(i: int) -> bool:
    return i % INVALID_EVERY == INVALID_EVERY - 1


def _copy(book: list[tuple[zipfile.ZipInfo, bytes]], submission_id: str) -> bytes:
    """The workbook with its ``xltemplate.submission_id`` custom property replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in book:
            if info.filename == "docProps/custom.xml":
                data, n = _PROP.subn(rb"\g<1>" + submission_id.encode() + rb"\g<2>", data)
                if n != 1:
                    raise RuntimeError("no xltemplate.submission_id property in docProps/custom.xml")
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zf.writestr(zi, data)
    return out.getvalue()


def _make_range(args: tuple[str, int, int, int]) -> int:
    root, start, stop, n = args
    for i in range(start, stop):
        path = return_path(Path(root), i, n)
        path.write_bytes(_copy(_BASES[is_invalid(i)], f"BENCH-{i:06d}"))
    return stop - start


def make_returns(model: Any, n: int, root: Path, jobs: int) -> dict[str, Any]:
    from xltemplate.xlsx.writer import write_workbook

    t0 = time.perf_counter()
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    bad = json.loads(SEED.read_text(encoding="utf-8"))
    bad["project"]["attribute"] = "新建"  # not one of 新增/延续: an enum error at 项目属性
    _BASES[False] = _members(write_workbook(model, seed, submission_id="BENCH-BASE"))
    _BASES[True] = _members(write_workbook(model, bad, submission_id="BENCH-BASE"))
    for i in range(n):
        return_path(root, i, n).parent.mkdir(parents=True, exist_ok=True)
    chunk = 250
    tasks = [(str(root), s, min(s + chunk, n), n) for s in range(0, n, chunk)]
    if jobs > 1 and n > chunk:
        with mp.get_context("fork").Pool(jobs) as pool:
            made = sum(pool.imap_unordered(_make_range, tasks))
    else:
        made = sum(map(_make_range, tasks))
    wall = time.perf_counter() - t0
    total_bytes = sum(p.stat().st_size for p in root.rglob("*.xlsx"))
    return {"n": made, "invalid": sum(1 for i in range(n) if is_invalid(i)), "wall_s": wall,
            "folders": len({return_path(root, i, n).parent for i in range(n)}), "mb": total_bytes / 2**20}


def check_returns(root: Path, n: int) -> dict[str, Any]:
    """A few returns through the importer: distinct ids, expected statuses."""
    from xltemplate.collect.importer import import_workbook

    picks = sorted({0, 1, INVALID_EVERY - 1, n // 2, n - 1} & set(range(n)))
    out = {}
    for i in picks:
        r = import_workbook(return_path(root, i, n))
        out[i] = (r.status, r.submission_id, [e.code for e in r.errors])
    ok = all(s == ("invalid" if is_invalid(i) else "valid") and sid == f"BENCH-{i:06d}"
             for i, (s, sid, _) in out.items())
    return {"ok": ok, "sample": {str(k): list(v) for k, v in out.items()}}


# -- 3. import end to end ---------------------------------------------------------------------

def bench_import(root: Path, work: Path, n: int, jobs: int | None) -> dict[str, Any]:
    db = work / "bench.db"
    for p in work.glob("bench.db*"):
        p.unlink()
    cmd = [*_cli(), "import", str(root), "--db", f"sqlite:///{db}", "-q", "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = run_sampled(cmd, work, work / "import.log")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the CLI and its workers (reaped by it) are all accounted to our children once it exits
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out["cpu_s"] = cpu
    out["cpu_ms_per_return"] = cpu * 1000 / n
    out["cores_used"] = cpu / out["wall_s"]
    out["main_cpu_ms_per_return"] = out["main_cpu_s"] * 1000 / n
    out["workers_cpu_ms_per_return"] = out["children_cpu_s"] * 1000 / n
    out["cmd"] = " ".join(cmd)
    out["rate"] = n / out["wall_s"]
    out["log_tail"] = (work / "import.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:] \
        if (work / "import.log").exists() else []
    try:
        with sqlite3.connect(db) as conn:
            out["stored"] = conn.execute("select count(*) from submissions").fetchone()[0]
            out["by_status"] = dict(conn.execute("select status, count(*) from submissions group by status"))
            out["distinct_submission_ids"] = conn.execute(
                "select count(distinct submission_id) from submissions").fetchone()[0]
            # the per-file lookup of earlier copies of a submission (Store._supersede); SQLite has no
            # statistics, so which index it takes can differ from one new database to the next
            plan = conn.execute("explain query plan select id from submissions where form_id = ? and "
                                "submission_id = ? and is_current is 1", ("x", "y")).fetchall()
            out["supersede_plan"] = "; ".join(str(row[-1]) for row in plan)
    except sqlite3.Error as exc:
        out["stored"], out["db_error"] = None, str(exc)
    return out


# -- 4. naive baseline ------------------------------------------------------------------------

class _Cells:
    """The importer's ``RawBook.read_all`` over values read with openpyxl."""

    def __init__(self, values: list[Any]):
        self.values = values

    def read_all(self, fields: list[Any]) -> list[Any]:
        return self.values


def _simple_instance(model: Any, values: list[Any]) -> dict[str, Any]:
    """Coerced values into a nested dict by their pointers; blank array rows dropped."""
    from xltemplate.form.coerce import coerce
    from xltemplate.form.values import MISSING

    data: dict[str, Any] = {}
    for f, raw in zip(model.fields, values, strict=True):
        value = MISSING if raw is None else coerce(raw, f)
        if value is MISSING:
            continue
        node: Any = data
        tokens = f.pointer.strip("/").split("/")
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
        node[tokens[-1]] = value
    for pointer in getattr(model, "arrays", {}):
        tokens = pointer.strip("/").split("/")
        node = data
        for token in tokens[:-1]:
            node = node.get(token, {}) if isinstance(node, dict) else {}
        rows = node.get(tokens[-1]) if isinstance(node, dict) else None
        if isinstance(rows, dict):
            node[tokens[-1]] = [rows[k] for k in sorted(rows, key=int)]
    return data


def naive_import(model: Any, path: Path) -> tuple[str, dict[str, Any]]:
    import openpyxl

    from xltemplate.collect.importer import extract
    from xltemplate.form.validate import validate

    wb = openpyxl.load_workbook(path)
    sheets = {name: wb[name] for name in {f.sheet for f in model.fields}}
    values = [sheets[f.sheet].cell(row=f.row + 1, column=f.col + 1).value for f in model.fields]
    values = [None if v == "" else v for v in values]
    try:
        data, locate = extract(model, _Cells(values))
    except (AttributeError, TypeError):  # the importer changed its book interface: a plain nested dict
        data, locate = _simple_instance(model, values), None
    issues = validate(model, data, "zh", locate, engine="jsonschema")
    wb.close()
    return ("invalid" if issues else "valid"), data


def bench_baseline(model: Any, files: list[Path]) -> dict[str, Any]:
    from xltemplate.collect.importer import import_workbook

    statuses = []
    t0 = time.perf_counter()
    for path in files:
        statuses.append(naive_import(model, path)[0])
    wall = time.perf_counter() - t0
    # the baseline reads the same data as the importer (checked on a few files, not timed)
    same = 0
    for path in files[:20]:
        ours = import_workbook(path)
        status, data = naive_import(model, path)
        same += status == ours.status and data == ours.data
    return {"n": len(files), "wall_s": wall, "rate": len(files) / wall, "ms_per_file": wall * 1000 / len(files),
            "invalid": statuses.count("invalid"), "agrees_with_importer": f"{same}/{min(20, len(files))}"}


# -- 5. --help --------------------------------------------------------------------------------

def bench_help(runs: int = 10) -> dict[str, Any]:
    cmd = [*_cli(), "--help"]
    subprocess.run(cmd, capture_output=True)  # warm the page cache once, not counted
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": runs}


# -- 6. per-file breakdown and the scaling probe ----------------------------------------------

def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def bench_breakdown(model: Any, files: list[Path], work: Path) -> dict[str, Any]:
    from xltemplate.collect import batch
    from xltemplate.collect.importer import ImportResult, extract
    from xltemplate.collect.store import Store
    from xltemplate.form.validate import validate
    from xltemplate.xlsx.reader import open_book

    blobs = [(p, p.read_bytes()) for p in files]
    db = work / "breakdown.db"
    for p in work.glob("breakdown.db*"):
        p.unlink()
    store = Store(f"sqlite:///{db}")
    store.tables_for(model)  # table creation is once per run, not per file
    phases = ["sha256", "read", "extract", "validate", "store"]
    cpu = dict.fromkeys(phases, 0.0)
    wall = dict.fromkeys(phases, 0.0)

    def add(name: str, start: tuple[float, float]) -> tuple[float, float]:
        now = _clock()
        cpu[name] += now[0] - start[0]
        wall[name] += now[1] - start[1]
        return now

    for path, data in blobs:
        t = _clock()
        sha = hashlib.sha256(data).hexdigest()
        t = add("sha256", t)
        book = open_book(path, data)
        book.read_all(model.fields)
        t = add("read", t)
        values, locate = extract(model, book)  # its read_all finds the grids already parsed
        t = add("extract", t)
        errors = validate(model, values, "zh", locate)
        t = add("validate", t)
        meta = book.meta
        result = ImportResult(file=str(path), status="invalid" if errors else "valid", form=meta.get("form_id"),
                              version=meta.get("form_version"), submission_id=meta.get("submission_id"),
                              data=values, errors=errors, saved_at=book.saved_at)
        dept = (values.get("cover") or {}).get("department")
        code = (values.get("cover") or {}).get("budget_code")
        store.record(result, sha256=sha, file_name=path.name, source=str(path), model=model,
                     saved_at=book.saved_at, department=dept, department_code=code)
        add("store", t)
    store.dispose()
    # the real worker function, for comparison (read + extract + validate + hashing + department)
    t = _clock()
    for path, data in blobs:
        batch.work(batch.Source(str(path), str(path), data))
    worker_cpu = time.process_time() - t[0]
    worker_wall = time.perf_counter() - t[1]
    n = len(blobs)
    ms = {k: cpu[k] * 1000 / n for k in phases}
    ms_wall = {k: wall[k] * 1000 / n for k in phases}
    total = sum(ms.values())
    work_ms = ms["sha256"] + ms["read"] + ms["extract"] + ms["validate"]
    return {"n": n, "cpu_ms": ms, "wall_ms": ms_wall, "total_cpu_ms": total,
            "batch_work_cpu_ms": worker_cpu * 1000 / n, "batch_work_wall_ms": worker_wall * 1000 / n,
            "one_core_rate": 1000 / total if total else None,
            # workers do everything but storing, the main process stores: on 2 cores
            # rate <= 2 / (work + store) and rate <= 1 / store (no IPC, perfect scaling)
            "two_core_ceiling": min(2000 / total, 1000 / ms["store"]) if total and ms["store"] else None,
            "worker_ms": work_ms}


def _probe_child(kind: str, paths: list[str], ready: Any, go: Any, conn: Any) -> None:
    """One probe process (spawned: a fresh interpreter, nothing inherited from this one)."""
    from xltemplate.collect import batch

    blobs = [(p, Path(p).read_bytes()) for p in paths]
    if kind == "import":
        for name, data in blobs[:5]:  # warm: form model loaded, caches filled
            batch.work(batch.Source(name, name, data))
    ready.set()
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "import":
        for name, data in blobs:
            batch.work(batch.Source(name, name, data))
    else:  # pure Python arithmetic: does the VM itself scale?
        x = 0
        for i in range(PROBE_LOOP):
            x += i * i % 7
    conn.send((t0, time.perf_counter(), time.process_time() - c0))
    conn.close()


PROBE_LOOP = 8_000_000


def _probe(kind: str, paths: list[str], procs: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    children = []
    for _ in range(procs):
        ready = ctx.Event()
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_probe_child, args=(kind, paths, ready, go, child))
        p.start()
        children.append((p, ready, parent))
    try:
        for p, ready, _ in children:
            while not ready.wait(0.5):
                if p.exitcode is not None:
                    raise RuntimeError(f"probe process failed (exit {p.exitcode})")
        go.set()
        times = []
        for p, _, parent in children:
            while not parent.poll(0.5):
                if p.exitcode is not None and not parent.poll(0):
                    raise RuntimeError(f"probe process failed (exit {p.exitcode})")
            times.append(parent.recv())
    finally:
        for p, _, _ in children:
            if p.is_alive() and not go.is_set():
                p.terminate()
            p.join()
    wall = max(t[1] for t in times) - min(t[0] for t in times)
    return {"wall_s": wall, "cpu_s": [t[2] for t in times], "each_wall_s": [t[1] - t[0] for t in times],
            "units_per_s": procs / wall, "cores_busy": sum(t[2] for t in times) / wall}


def bench_scaling(files: list[Path]) -> dict[str, Any]:
    paths = [str(p) for p in files]
    out: dict[str, Any] = {}
    for kind in ("import", "python-loop"):
        one = _probe(kind, paths, 1)
        two = _probe(kind, paths, 2)
        out[kind] = {"one": one, "two": two, "speedup": two["units_per_s"] / one["units_per_s"]}
        if kind == "import":
            out[kind]["one_rate"] = len(paths) / one["wall_s"]
            out[kind]["two_rate"] = 2 * len(paths) / two["wall_s"]
    return out


# -- report -----------------------------------------------------------------------------------

def _safe(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return f"n/a ({type(exc).__name__}: {exc})"


def report(res: dict[str, Any]) -> str:
    meta = res["meta"]
    errors = res.get("errors", {})
    rows = [["figure", "value", "target", "status"]]
    for key, label, unit, digits in [
        ("import_rate", "import end to end (CLI)", "returns/s", 0),
        ("import_vs_baseline", "import / naive baseline", "x", 1),
        ("distribute_rate", "distribute (API)", "templates/s", 0),
        ("distribute_cli_rate", "distribute (CLI, subprocess)", "templates/s", 0),
        ("peak_rss_mb", "import peak RSS, process tree", "MB", 1),
        ("help_s", "xltemplate --help (median of 10)", "s", 3),
    ]:
        item = res["figures"][key]
        target = item.get("target")
        cmp = ">=" if item.get("higher_is_better") else "<="
        rows.append([label, f"{_fmt(item['value'], digits)} {unit}",
                     f"{cmp} {_fmt(target, digits if digits else 0)} {unit}" if target is not None else "",
                     item.get("status", "")])
    d, g, im = res.get("distribute", {}), res.get("returns", {}), res.get("import", {})
    bl, hp, chk = res.get("baseline", {}), res.get("help", {}), res.get("returns_check", {})
    info = [["detail", "value"],
            ["distribute API", _safe(lambda: f"{d['n']:,} templates in {d['api_wall_s']:.2f} s "
                                             f"= {d['api_ms_per_template']:.2f} ms each")],
            ["distribute CLI", _safe(lambda: f"{d['cli_files']:,} templates in {d['cli_wall_s']:.2f} s "
                                             f"= {d['cli_ms_per_template']:.2f} ms each (exit {d['cli_rc']})")],
            ["setup: make returns", _safe(lambda: f"{g['n']:,} files ({g['invalid']:,} invalid, {g['folders']} "
                                                  f"folders, {g['mb']:.0f} MB) in {g['wall_s']:.2f} s; spot check "
                                                  f"{'ok' if chk['ok'] else 'FAILED ' + str(chk['sample'])}")],
            ["import wall", _safe(lambda: f"{im['wall_s']:.2f} s for {meta['n']:,} files, exit {im['rc']} "
                                          f"(1 expected: there are invalid returns), "
                                          f"jobs={meta['jobs'] or 'default'}")],
            ["import CPU", _safe(lambda: f"{im['cpu_s']:.1f} s CPU for the whole process tree = "
                                         f"{im['cpu_ms_per_return']:.2f} ms per return, {im['cores_used']:.2f} "
                                         f"cores busy on average (so {meta['cpus']} cores cap it at "
                                         f"~{meta['cpus'] * 1000 / im['cpu_ms_per_return']:.0f} returns/s); "
                                         f"main process (collect, store, summary) "
                                         f"{im['main_cpu_ms_per_return']:.2f} ms per return, workers "
                                         f"{im['workers_cpu_ms_per_return']:.2f} ms")],
            ["import stored", _safe(lambda: f"{_fmt(im['stored'])} of {meta['n']:,} submissions "
                                            f"{im.get('by_status', {})}, "
                                            f"{_fmt(im.get('distinct_submission_ids'))} distinct submission ids")],
            ["import DB lookup", _safe(lambda: f"supersede query plan: {im['supersede_plan']}"
                                               + (" <- not by submission id: every row of the form, per "
                                                  "file: O(N^2)" if "submission_id=" not in im["supersede_plan"]
                                                  else ""))],
            ["import memory", _safe(lambda: f"peak RSS sum {im['peak_rss_mb']:.1f} MB over {im['peak_processes']} "
                                            f"processes (main {im['peak_main_rss_mb']:.1f} MB, largest worker "
                                            f"{im['peak_one_worker_rss_mb']:.1f} MB); peak PSS sum "
                                            f"{im['peak_pss_mb']:.1f} MB; {im['samples']} samples")],
            ["naive baseline", _safe(lambda: f"{bl['n']} files in {bl['wall_s']:.2f} s = {bl['rate']:.1f} returns/s "
                                             f"({bl['ms_per_file']:.1f} ms each: openpyxl + jsonschema, 1 process, "
                                             f"no DB); {bl['invalid']} invalid; same data and status as the "
                                             f"importer: {bl['agrees_with_importer']}")],
            ["--help", _safe(lambda: f"median {hp['median_s']:.3f} s, min {hp['min_s']:.3f}, "
                                     f"max {hp['max_s']:.3f}")]]
    info += [[f"step {name} FAILED", text] for name, text in errors.items()]
    out = ["", f"xltemplate benchmarks: form {FORM}, N={meta['n']:,}, {meta['cpus']} CPUs, "
               f"Python {meta['python']}, {meta['when']}", "", _table(rows, {1, 2}), "", _table(info)]
    b = res.get("breakdown")
    if b:
        rows = [["phase (in-process, 1 thread)", "CPU ms/file", "wall ms/file", "share"]]
        for k, label in [("sha256", "sha256 of the bytes"), ("read", "read (open_book + read_all)"),
                         ("extract", "coerce + extract (importer.extract)"),
                         ("validate", "validate (default engine)"), ("store", "store (Store.record, SQLite)")]:
            rows.append([label, f"{b['cpu_ms'][k]:.3f}", f"{b['wall_ms'][k]:.3f}",
                         f"{100 * b['cpu_ms'][k] / b['total_cpu_ms']:.0f} %"])
        rows.append(["total", f"{b['total_cpu_ms']:.3f}", f"{sum(b['wall_ms'].values()):.3f}", "100 %"])
        rows.append(["batch.work: all a worker does per file (for comparison)", f"{b['batch_work_cpu_ms']:.3f}",
                     f"{b['batch_work_wall_ms']:.3f}", ""])
        out += ["", f"per-file CPU breakdown over {b['n']} returns", _table(rows, {1, 2, 3}),
                f"=> one core: {b['one_core_rate']:.0f} returns/s; ideal 2-core ceiling with storing in the main "
                f"process (min(2/total, 1/store), no IPC, perfect scaling): {b['two_core_ceiling']:.0f} returns/s"]
    sc = res.get("scaling")
    if sc:
        rows = [["scaling probe (fresh processes)", "1 process", "2 processes at once", "speed-up",
                 "CPU s per process (1 | 2)"]]
        imp, loop = sc["import"], sc["python-loop"]

        def cpus(r: dict[str, Any]) -> str:
            return f"{r['one']['cpu_s'][0]:.2f} | " + " + ".join(f"{c:.2f}" for c in r["two"]["cpu_s"])

        rows.append([f"batch.work loop over {res['scaling_files']} files", f"{imp['one_rate']:.0f} returns/s",
                     f"{imp['two_rate']:.0f} returns/s", f"{imp['speedup']:.2f}x", cpus(imp)])
        rows.append([f"pure Python loop, {PROBE_LOOP:,} steps (control)", f"{loop['one']['wall_s']:.2f} s",
                     f"{loop['two']['wall_s']:.2f} s for 2x the work", f"{loop['speedup']:.2f}x", cpus(loop)])
        out += ["", _table(rows, {1, 2, 3, 4})]
    load = res.get("load")
    if load:
        rows = [["step", "wall s", "CPU busy (cores)", "ours", "other processes"]]
        for name, r in load.items():
            rows.append([name, f"{r['wall_s']:.1f}", f"{r['busy_cores']:.2f}", f"{r['own_cores']:.2f}",
                         f"{r['other_cores']:.2f}"])
        out += ["", f"machine load per step ({meta['cpus']} CPUs; other sessions may share this machine: "
                    "'other processes' above ~0.1 core means that step's figures are depressed)",
                _table(rows, {1, 2, 3, 4})]
    return "\n".join(out)


def _get(res: dict[str, Any], *path: str) -> Any:
    node: Any = res
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def figures(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def fig(value: Any, target: float, higher: bool) -> dict[str, Any]:
        return {"value": value, "target": target, "higher_is_better": higher, "status": _status(value, target, higher)}

    rate, base = _get(res, "import", "rate"), _get(res, "baseline", "rate")
    return {
        "import_rate": fig(rate, TARGETS["import_rate"], True),
        "import_vs_baseline": fig(rate / base if rate and base else None, TARGETS["import_vs_baseline"], True),
        "distribute_rate": fig(_get(res, "distribute", "api_rate"), TARGETS["distribute_rate"], True),
        "distribute_cli_rate": fig(_get(res, "distribute", "cli_rate"), TARGETS["distribute_rate"], True),
        # the memory target is stated for 10,000 returns; it is applied as is to other N
        "peak_rss_mb": fig(_get(res, "import", "peak_rss_mb"), TARGETS["peak_rss_mb"], False),
        "help_s": fig(_get(res, "help", "median_s"), TARGETS["help_s"], False),
    }


def wait_quiet(limit_s: float) -> float:
    """Other processes' CPU use (cores) over a second, waiting up to ``limit_s`` for it to drop."""
    deadline = time.monotonic() + limit_s
    while True:
        with Load() as load:
            time.sleep(1.0)
        other = load.result["other_cores"]
        if other < 0.15 or time.monotonic() >= deadline:
            return other
        _say(f"  machine busy with other processes ({other:.2f} cores); waiting ...")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="returns to import and templates to distribute")
    ap.add_argument("--baseline-n", type=int, default=200, help="returns for the naive baseline")
    ap.add_argument("--jobs", type=int, default=None, help="--jobs for xltemplate import (default: its own)")
    ap.add_argument("--keep", type=Path, default=None, help="work in DIR and keep everything there")
    ap.add_argument("--breakdown-n", type=int, default=500, help="returns for the per-file breakdown")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for other processes to leave the CPUs idle before starting")
    ap.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures as JSON")
    args = ap.parse_args(argv)
    n = max(1, args.n)

    from xltemplate.form.forms import load_form

    model = load_form(FORM)
    if args.keep:
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="xltemplate-bench-"))
    returns = work / "returns"
    if returns.exists():
        shutil.rmtree(returns)
    cpus = os.cpu_count() or 1
    res: dict[str, Any] = {"meta": {"n": n, "baseline_n": min(args.baseline_n, n), "jobs": args.jobs, "cpus": cpus,
                                    "python": platform.python_version(), "platform": platform.platform(),
                                    "when": dt.datetime.now().isoformat(timespec="seconds"), "work": str(work)}}
    other = wait_quiet(args.wait_quiet)
    res["meta"]["other_cores_at_start"] = other
    _say(f"other processes use {other:.2f} of {cpus} CPUs at the start")
    files = min(args.breakdown_n, n)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("distribute", lambda: bench_distribute(model, n, work, bool(args.keep))),
        ("returns", lambda: make_returns(model, n, returns, cpus)),
        ("returns_check", lambda: check_returns(returns, n)),
        ("import", lambda: bench_import(returns, work, n, args.jobs)),
        ("baseline", lambda: bench_baseline(model, _files(returns)[:min(args.baseline_n, n)])),
        ("help", bench_help),
        ("breakdown", lambda: bench_breakdown(model, _files(returns)[:files], work)),
        ("scaling", lambda: bench_scaling(_files(returns)[:files])),
    ]
    res["scaling_files"] = files
    try:
        for name, step in steps:
            _say(f"[{time.strftime('%H:%M:%S')}] {name} ...")
            with Load() as load:
                try:
                    res[name] = step()
                except Exception as exc:  # report the others; the table says which step failed
                    res.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                    _say(f"  {name} FAILED: {type(exc).__name__}: {exc}")
            res.setdefault("load", {})[name] = load.result
            _say(f"[{time.strftime('%H:%M:%S')}] {name} done in {load.result['wall_s']:.1f} s "
                 f"(CPU busy {load.result['busy_cores']:.2f} cores: ours {load.result['own_cores']:.2f}, "
                 f"other processes {load.result['other_cores']:.2f})")
        res["figures"] = figures(res)
        _say(report(res))
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
        _say(f"\nfigures written to {args.json}" + (f"; files kept in {work}" if args.keep else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _files(root: Path) -> list[Path]:
    """The returns in the order the importer walks them (sorted folders, sorted names)."""
    return sorted(root.rglob("*.xlsx"))


if __name__ == "__main__":
    sys.exit(main())
