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
2. setup: N filled returns, each written separately by ``write_workbook`` from its own instance
   (the seeds in ``tests/data`` with every value varied: names, amounts, texts, dates, 1-8 budget
   rows, 0-3 rows per indicator), 1 in 50 with one of five mistakes, spread over sub-folders.
   No two files are alike (counted by hash), so no cache keyed on content flatters the import.
3. import end to end: ``xltemplate import DIR --db sqlite:///... -q --no-progress`` as a subprocess;
   wall time, CPU of the process tree (main process and workers apart), and peak RSS of the tree
   (VmRSS of the CLI and every descendant, summed, sampled every 20 ms); the submissions table is
   counted afterwards.
4. naive baseline on the first --baseline-n returns: ``openpyxl.load_workbook`` + every input cell
   by the model's positions + the importer's coercion + the reference jsonschema engine, no
   database, in as many processes as there are CPUs (the import's worker count): the ratio
   compares the same number of processes, and CPU ms per file compares per core.
5. ``xltemplate --help`` wall time, median of 10 runs; one ``write_workbook`` and one
   ``import_workbook`` in-process, medians.
6. per-file CPU breakdown by step (guard, open, cells, structure, extract, cell issues, validate,
   store) in-process over distinct returns, and a parallel-scaling probe: the same
   single-threaded loop alone, then as 2 concurrent processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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
    "distribute_rate": 1000.0,  # templates/s, at least
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
#
# Every return is its own workbook, written by the real writer from its own instance: names,
# amounts, texts, dates, the number of budget rows and indicator rows all vary (seeded by the
# return's index, so a run is reproducible), and 1 in INVALID_EVERY carries one of five mistakes.
# No part is shared between two returns but what the template itself fixes (styles, theme), so
# no cache keyed on a part's content can flatter the figures.

SEEDS = [ROOT / "tests" / "data" / name for name in ("seed_000.json", "seed_001.json")]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国晓西兵"
_WORDS = ["信访", "教育", "卫生", "交通", "水务", "林业", "农牧", "科技", "文旅", "应急", "民政", "司法"]
_ITEMS = ["生活补贴", "办公设备购置", "专项培训", "宣传印刷", "差旅费", "劳务费", "委托业务费", "维修维护"]
_INDICATORS = ["覆盖人数", "完成率", "按期完成", "成本控制", "群众满意度", "设备完好率", "培训人次", "资金到位率"]
_CATEGORIES = {"output": ["quantity", "quality", "timeliness", "cost"],
               "benefit": ["economic", "social", "ecological", "sustainability", "satisfaction"]}
#: The mistakes of invalid returns, in turn: (what, error code the importer must report)
MISTAKES = [("项目属性 = 新建", "enum"), ("预算功能科目 6 位", "pattern"), ("资金总额 ≠ 明细合计", "x-sum"),
            ("金额 3 位小数", "multipleOf"), ("项目单位 空", "required")]
_SEED_DATA: list[dict[str, Any]] = []


def return_path(root: Path, i: int, n: int) -> Path:
    """Consecutive blocks per folder, so the importer's walk (sorted) meets the returns in index order."""
    per = -(-n // FOLDERS)
    return root / f"batch_{i // per:02d}" / f"return_{i:06d}.xlsx"


def is_invalid(i: int) -> bool:
    return i % INVALID_EVERY == INVALID_EVERY - 1


def mistake(i: int) -> int:
    return i // INVALID_EVERY % len(MISTAKES)


def instance(i: int) -> dict[str, Any]:
    """The instance of return ``i``: a seed with every value varied; invalid ones get a mistake."""
    import copy
    import random

    if not _SEED_DATA:
        _SEED_DATA.extend(json.loads(p.read_text(encoding="utf-8")) for p in SEEDS)
    r = random.Random(i)

    def person() -> str:
        return r.choice(_SURNAMES) + "".join(r.choice(_GIVEN) for _ in range(r.randint(1, 2)))

    def text(source: str, lo: int, hi: int) -> str:
        n = r.randint(lo, hi)
        start = r.randint(0, max(0, len(source) - n))
        return (source[start:start + n] or source).strip()

    def money(cents: int) -> int | float:
        return cents // 100 if cents % 100 == 0 else cents / 100

    seed = _SEED_DATA[i % len(_SEED_DATA)]
    d = copy.deepcopy(seed)
    word, year = r.choice(_WORDS), r.randint(2021, 2027)
    dept = f"乌海市{word}局第{i + 1}预算单位"
    d["cover"] = {"year": year, "project_name": f"{word}{r.choice(_ITEMS)}项目{i}", "department": dept,
                  "budget_code": f"{150000 + i}", "preparer": person(),
                  "prepared_on": f"{year - 1}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"}
    unit = {"name": dept, "functions": text(_SEED_DATA[0]["unit"]["functions"], 40, 900)}
    if r.random() < 0.7:
        unit["contact"] = f"{person()} 1{r.randint(3, 9)}{r.randint(0, 10**9 - 1):09d}"
    if r.random() < 0.5:
        unit |= {"supervisor": f"乌海市{r.choice(_WORDS)}委员会",
                 "supervisor_contact": f"{person()} 0473-{r.randint(10**6, 10**7 - 1)}"}
    d["unit"] = unit
    period = f"{year}-{r.randint(1, 6):02d}~{year}-{r.randint(7, 12):02d}"
    d["project"] |= {"function_code": f"{r.randint(2000000, 2299999)}", "attribute": r.choice(["新增", "延续"]),
                     "period": period, "overview": text(_SEED_DATA[1]["project"]["overview"], 20, 400),
                     "basis": text(_SEED_DATA[0]["project"]["basis"], 20, 200),
                     "necessity": text(_SEED_DATA[1]["project"]["necessity"], 10, 120)}
    cents = [r.randint(1, 500000) for _ in range(r.randint(1, 8))]
    d["budget_items"] = [{"name": f"{r.choice(_ITEMS)}{n + 1}", "amount": money(c)}
                         | ({"period": period} if r.random() < 0.6 else {}) for n, c in enumerate(cents)]
    total = sum(cents)
    carry = r.randint(0, total // 3) if r.random() < 0.4 else 0
    d["funding"] = {"total": money(total), "request": money(total - carry)}
    if carry:
        d["funding"]["carryover"] = money(carry)
    d["goals"] = {"annual": text(_SEED_DATA[0]["goals"]["annual"], 8, 200)}
    if r.random() < 0.5:
        d["goals"]["long_term"] = text(_SEED_DATA[0]["unit"]["functions"], 8, 300)
    d["indicators"] = {}
    for span in ("annual", "long_term") if r.random() < 0.4 else ("annual",):
        groups = {}
        for group, categories in _CATEGORIES.items():
            rows = {c: [{"name": f"{r.choice(_INDICATORS)}{k + 1}", "value": f"≥{r.randint(50, 100)}%"}
                        for k in range(r.randint(1, 3))] for c in categories if r.random() < 0.8}
            if rows:
                groups[group] = rows
        d["indicators"][span] = groups
    d["sign_off"] = {"preparer": d["cover"]["preparer"], "date": d["cover"]["prepared_on"]}
    if r.random() < 0.5:
        d["sign_off"]["department_head"] = person()
    if is_invalid(i):
        kind = mistake(i)
        if kind == 0:
            d["project"]["attribute"] = "新建"
        elif kind == 1:
            d["project"]["function_code"] = d["project"]["function_code"][:6]
        elif kind == 2:
            d["funding"]["total"] = money(total + 100)
        elif kind == 3:
            d["budget_items"][0]["amount"] = cents[0] / 100 + 0.001
        else:
            del d["unit"]["name"]
    return d


def write_return(model: Any, i: int) -> bytes:
    """Return ``i`` as the department sends it: the template issued to it, filled in."""
    from xltemplate.xlsx.writer import write_workbook

    d = instance(i)
    return write_workbook(model, d, submission_id=f"BENCH-{i:06d}",
                          extra_meta={"department": d["cover"]["department"], "department_code": f"{150000 + i}"})


def _make_range(args: tuple[str, int, int, int]) -> int:
    from xltemplate.form.forms import load_form

    root, start, stop, n = args
    model = load_form(FORM)
    for i in range(start, stop):
        return_path(Path(root), i, n).write_bytes(write_return(model, i))
    return stop - start


def make_returns(model: Any, n: int, root: Path, jobs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    for i in range(n):
        return_path(root, i, n).parent.mkdir(parents=True, exist_ok=True)
    chunk = 100
    tasks = [(str(root), s, min(s + chunk, n), n) for s in range(0, n, chunk)]
    if jobs > 1 and n > chunk:
        with mp.get_context("fork").Pool(jobs) as pool:
            made = sum(pool.imap_unordered(_make_range, tasks))
    else:
        made = sum(map(_make_range, tasks))
    wall = time.perf_counter() - t0
    files = _files(root)
    digests = {hashlib.sha256(p.read_bytes()).digest() for p in files}
    sizes = [p.stat().st_size for p in files]
    return {"n": made, "invalid": sum(1 for i in range(n) if is_invalid(i)), "wall_s": wall,
            "folders": len({return_path(root, i, n).parent for i in range(n)}), "mb": sum(sizes) / 2**20,
            "distinct_files": len(digests), "kb_min": min(sizes) / 1024, "kb_max": max(sizes) / 1024}


def check_returns(root: Path, n: int) -> dict[str, Any]:
    """A sample of returns through the importer: each gets its own data back, or its mistake."""
    from xltemplate.collect.importer import import_workbook

    picks = sorted(set(range(0, n, max(1, n // 40))) | set([i for i in range(n) if is_invalid(i)][:10]) | {n - 1})
    out, ok = {}, True
    for i in picks:
        r = import_workbook(return_path(root, i, n))
        codes = [e.code for e in r.errors]
        if is_invalid(i):
            good = r.status == "invalid" and MISTAKES[mistake(i)][1] in codes
        else:
            good = r.status == "valid" and r.data == instance(i)
        ok &= good and r.submission_id == f"BENCH-{i:06d}"
        out[i] = (r.status, codes)
    return {"ok": ok, "checked": len(picks), "sample": {str(k): list(v) for k, v in list(out.items())[:6]}}


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
        from xltemplate.collect.store import Store

        store = Store(f"sqlite:///{db}")  # the store's own lookup of current copies, as each batch runs it
        out["supersede_plan"] = store.current_lookup_plan()
        store.dispose()
    except sqlite3.Error as exc:
        out["stored"], out["db_error"] = None, str(exc)
    return out


# -- 4. naive baseline ------------------------------------------------------------------------
#
# What the importer is measured against: openpyxl's load_workbook, every input cell read by the
# model's positions, the importer's coercion, and the reference jsonschema engine; no database.
# It runs in as many processes as the import has workers (one per CPU), so the ratio compares
# the same number of processes; its CPU per file is the per-core comparison.

def naive_import(model: Any, path: Path) -> tuple[str, dict[str, Any]]:
    import openpyxl

    from xltemplate.collect.importer import extract
    from xltemplate.form.validate import validate
    from xltemplate.xlsx.reader import Cells

    wb = openpyxl.load_workbook(path)
    values = tuple(None if v == "" else v for v in
                   (wb[f.sheet].cell(row=f.row + 1, column=f.col + 1).value for f in model.fields))
    reading = extract(model, Cells(values, tuple((f.sheet, f.row, f.col) for f in model.fields)))
    issues = validate(model, reading.data, "zh", reading.locate, engine="jsonschema")
    wb.close()
    return ("invalid" if issues else "valid"), reading.data


def _naive_chunk(paths: list[str]) -> tuple[list[str], float]:
    from xltemplate.form.forms import load_form

    model = load_form(FORM)
    naive_import(model, Path(paths[0]))  # warm: the model, openpyxl's modules
    c0 = time.process_time()
    statuses = [naive_import(model, Path(p))[0] for p in paths]
    return statuses, time.process_time() - c0


def bench_baseline(model: Any, files: list[Path], procs: int) -> dict[str, Any]:
    from xltemplate.collect.importer import import_workbook

    parts = [[str(p) for p in files[k::procs]] for k in range(procs)]
    with mp.get_context("fork").Pool(procs) as pool:
        pool.map(abs, range(procs))  # the processes exist before the clock starts
        t0 = time.perf_counter()
        done = pool.map(_naive_chunk, parts)
        wall = time.perf_counter() - t0
    statuses = [s for chunk, _ in done for s in chunk]
    cpu = sum(c for _, c in done)
    same = 0  # the baseline reads the same data as the importer (checked on a few files, not timed)
    for path in files[:20]:
        ours = import_workbook(path)
        status, data = naive_import(model, path)
        same += status == ours.status and data == ours.data
    return {"n": len(files), "processes": procs, "wall_s": wall, "rate": len(files) / wall,
            "cpu_ms_per_file": cpu * 1000 / len(files), "invalid": statuses.count("invalid"),
            "agrees_with_importer": f"{same}/{min(20, len(files))}"}


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


def bench_single(model: Any, files: list[Path], runs: int = 30) -> dict[str, Any]:
    """One form written (``write_workbook``) and one return imported (``import_workbook``), in-process."""
    from xltemplate.collect.importer import import_workbook

    writes, imports = [], []
    for k in range(runs):
        t0 = time.perf_counter()
        write_return(model, k)
        writes.append(time.perf_counter() - t0)
        path = files[k % len(files)]
        data = path.read_bytes()
        t0 = time.perf_counter()
        import_workbook(path, data=data)
        imports.append(time.perf_counter() - t0)
    return {"fill_ms": statistics.median(writes) * 1000, "import_ms": statistics.median(imports) * 1000, "runs": runs}


# -- 6. per-file breakdown and the scaling probe ----------------------------------------------

def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


PHASES = [  # (key, label) in the order a file goes through them
    ("sha256", "sha256 of the bytes (batch: duplicate detection)"),
    ("guard", "guard: kind, limits, prologs, inflate the parts we parse"),
    ("open", "open: workbook.xml, properties, calamine opens the file"),
    ("cells", "read_cells: calamine parses the form's sheets, values by name"),
    ("structure", "structure: labels where the names put them"),
    ("extract", "extract: coerce into the instance"),
    ("cell_issues", "cell issues (formulas, hidden, control) + integrity"),
    ("validate", "validate (jsonschema-rs + our keywords)"),
    ("store", "store: Store.record_many, 64 files per SQLite transaction (as import)"),
]


def bench_breakdown(model: Any, files: list[Path], work: Path) -> dict[str, Any]:
    """Per-file CPU of each step, in-process, one thread, over distinct returns."""
    from xltemplate.collect import batch
    from xltemplate.collect.importer import ImportResult, cell_issues, extract, import_workbook, structure_issue
    from xltemplate.collect.integrity import check
    from xltemplate.collect.store import Store
    from xltemplate.form.validate import validate
    from xltemplate.xlsx.guard import identify
    from xltemplate.xlsx.reader import open_book, read_cells

    blobs = [(p, p.read_bytes()) for p in files]
    db = work / "breakdown.db"
    for p in work.glob("breakdown.db*"):
        p.unlink()
    store = Store(f"sqlite:///{db}")
    store.tables_for(model)  # table creation is once per run, not per file
    import_workbook(blobs[0][0], data=blobs[0][1])  # warm: the validators, the plan
    keys = [k for k, _ in PHASES]
    cpu = dict.fromkeys(keys, 0.0)
    wall = dict.fromkeys(keys, 0.0)

    def add(name: str, start: tuple[float, float]) -> tuple[float, float]:
        now = _clock()
        cpu[name] += now[0] - start[0]
        wall[name] += now[1] - start[1]
        return now

    results = []
    for path, data in blobs:  # what a worker does; storing is the main process's, timed apart below
        t = _clock()
        sha = hashlib.sha256(data).hexdigest()
        t = add("sha256", t)
        identify(data)
        t = add("guard", t)
        book = open_book(path, data)  # guard again inside: subtracted below
        t = add("open", t)
        plan = model.read_plan
        cells = read_cells(book, plan)
        t = add("cells", t)
        structure_issue(model, book, cells, "zh")
        t = add("structure", t)
        reading = extract(model, cells)
        t = add("extract", t)
        issues = cell_issues(book, reading, "zh") + check(model, book.meta, reading.data, None, "zh", reading.locate)
        t = add("cell_issues", t)
        issues += validate(model, reading.data, "zh", reading.locate)
        add("validate", t)
        meta = book.meta
        results.append((path, sha, book.saved_at, meta, ImportResult(
            file=str(path), status="invalid" if issues else "valid", form=meta.get("form_id"),
            version=meta.get("form_version"), submission_id=meta.get("submission_id"), data=reading.data,
            errors=issues, saved_at=book.saved_at)))
    from xltemplate.collect.rounds import admit
    from xltemplate.collect.store import Pending

    pending = []
    for path, sha, saved_at, meta, result in results:
        ident = admit(result, meta, model, None, model).identity  # as the workers do, outside the timing
        pending.append(Pending(result, sha, path.name, str(path), model, saved_at, None, ident))
    t = _clock()
    for i in range(0, len(pending), batch.STORE_BATCH):
        store.record_many(pending[i:i + batch.STORE_BATCH])
    add("store", t)
    store.dispose()
    cpu["open"] -= cpu["guard"]
    wall["open"] -= wall["guard"]
    n = len(blobs)
    # the real functions, for comparison: import_workbook (all but sha256 and store) and batch.work
    t = _clock()
    for path, data in blobs:
        import_workbook(path, data=data)
    import_cpu, import_wall = time.process_time() - t[0], time.perf_counter() - t[1]
    t = _clock()
    for path, data in blobs:
        batch.work(batch.Source(str(path), str(path), data))
    worker_cpu, worker_wall = time.process_time() - t[0], time.perf_counter() - t[1]
    ms = {k: cpu[k] * 1000 / n for k in keys}
    ms_wall = {k: wall[k] * 1000 / n for k in keys}
    total = sum(ms.values())
    reading_ms = total - ms["store"] - ms["sha256"]
    return {"n": n, "cpu_ms": ms, "wall_ms": ms_wall, "total_cpu_ms": total, "read_coerce_validate_ms": reading_ms,
            "import_workbook_cpu_ms": import_cpu * 1000 / n, "import_workbook_wall_ms": import_wall * 1000 / n,
            "batch_work_cpu_ms": worker_cpu * 1000 / n, "batch_work_wall_ms": worker_wall * 1000 / n,
            "one_core_rate": 1000 / total if total else None,
            # workers do everything but storing, the main process stores: on 2 cores
            # rate <= 2 / (work + store) and rate <= 1 / store (no IPC, perfect scaling)
            "two_core_ceiling": min(2000 / total, 1000 / ms["store"]) if total and ms["store"] else None}


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
        ("import_vs_baseline", "import / naive baseline, same number of processes", "x", 1),
        ("import_vs_baseline_per_core", "import / naive baseline, CPU per file (per core)", "x", 1),
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
    one = res.get("single", {})
    info = [["detail", "value"],
            ["distribute API", _safe(lambda: f"{d['n']:,} templates in {d['api_wall_s']:.2f} s "
                                             f"= {d['api_ms_per_template']:.2f} ms each")],
            ["distribute CLI", _safe(lambda: f"{d['cli_files']:,} templates in {d['cli_wall_s']:.2f} s "
                                             f"= {d['cli_ms_per_template']:.2f} ms each (exit {d['cli_rc']})")],
            ["setup: make returns", _safe(lambda: f"{g['n']:,} files written separately ({g['distinct_files']:,} "
                                                  f"distinct, {g['kb_min']:.0f}-{g['kb_max']:.0f} KB; "
                                                  f"{g['invalid']:,} invalid; {g['folders']} folders, "
                                                  f"{g['mb']:.0f} MB) in {g['wall_s']:.1f} s; {chk['checked']} checked "
                                                  f"through the importer: "
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
            ["import DB lookup", _safe(lambda: f"current-copy lookup (Store.current_lookup_plan): "
                                               f"{im['supersede_plan']}"
                                               + ("" if any(ix in im["supersede_plan"] for ix in
                                                          ("ix_submissions_return", "ux_submissions_current_return"))
                                                  else " <- not by the return's key index: every row of "
                                                       "the form, per batch: O(N^2)"))],
            ["import memory", _safe(lambda: f"peak RSS sum {im['peak_rss_mb']:.1f} MB over {im['peak_processes']} "
                                            f"processes (main {im['peak_main_rss_mb']:.1f} MB, largest worker "
                                            f"{im['peak_one_worker_rss_mb']:.1f} MB); peak PSS sum "
                                            f"{im['peak_pss_mb']:.1f} MB; {im['samples']} samples")],
            ["naive baseline", _safe(lambda: f"{bl['n']} files in {bl['wall_s']:.2f} s = {bl['rate']:.1f} returns/s "
                                             f"in {bl['processes']} processes ({bl['cpu_ms_per_file']:.1f} ms CPU "
                                             f"each: openpyxl + jsonschema, no DB) vs the import's "
                                             f"{im.get('cpu_ms_per_return', float('nan')):.2f} ms CPU per return "
                                             f"(whole process tree, DB included); {bl['invalid']} invalid; same "
                                             f"data and status as the importer: {bl['agrees_with_importer']}")],
            ["one form in-process", _safe(lambda: f"write_workbook {one['fill_ms']:.1f} ms, import_workbook "
                                                  f"{one['import_ms']:.2f} ms (medians of {one['runs']})")],
            ["--help", _safe(lambda: f"median {hp['median_s']:.3f} s, min {hp['min_s']:.3f}, "
                                     f"max {hp['max_s']:.3f}")]]
    info += [[f"step {name} FAILED", text] for name, text in errors.items()]
    out = ["", f"xltemplate benchmarks: form {FORM}, N={meta['n']:,}, {meta['cpus']} CPUs, "
               f"Python {meta['python']}, {meta['when']}", "", _table(rows, {1, 2}), "", _table(info)]
    b = res.get("breakdown")
    if b:
        rows = [["phase (in-process, 1 thread)", "CPU ms/file", "wall ms/file", "share"]]
        for k, label in PHASES:
            rows.append([label, f"{b['cpu_ms'][k]:.3f}", f"{b['wall_ms'][k]:.3f}",
                         f"{100 * b['cpu_ms'][k] / b['total_cpu_ms']:.0f} %"])
        rows.append(["total", f"{b['total_cpu_ms']:.3f}", f"{sum(b['wall_ms'].values()):.3f}", "100 %"])
        rows.append(["read + coerce + validate (all but sha256 and store)", f"{b['read_coerce_validate_ms']:.3f}",
                     "", ""])
        rows.append(["import_workbook, the real function (for comparison)", f"{b['import_workbook_cpu_ms']:.3f}",
                     f"{b['import_workbook_wall_ms']:.3f}", ""])
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
    ours_ms, base_ms = _get(res, "import", "cpu_ms_per_return"), _get(res, "baseline", "cpu_ms_per_file")
    return {
        "import_rate": fig(rate, TARGETS["import_rate"], True),
        "import_vs_baseline": fig(rate / base if rate and base else None, TARGETS["import_vs_baseline"], True),
        "import_vs_baseline_per_core": fig(base_ms / ours_ms if base_ms and ours_ms else None,
                                           TARGETS["import_vs_baseline"], True),
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
        ("baseline", lambda: bench_baseline(model, _files(returns)[:min(args.baseline_n, n)], cpus)),
        ("help", bench_help),
        ("single", lambda: bench_single(model, _files(returns)[:30])),
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
