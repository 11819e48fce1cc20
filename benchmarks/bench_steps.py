"""The steps of a benchmark run that measure: distribute, import end to end, the naive baseline,
``--help``, one form in-process, the per-phase profile of a return, and the scaling probe.

Each returns a dict of figures (``bench.py`` collects them into ``results.json``).
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing as mp
import pickle
import resource
import shutil
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench_machine import cli, run_sampled
from bench_returns import FORM, write_return

# -- distribute ----------------------------------------------------------------------------------

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
    proc = subprocess.run([*cli(), "distribute", FORM, "--roster", str(csv_path), "-o", str(out_cli),
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


# -- import end to end ---------------------------------------------------------------------------

def bench_import(root: Path, work: Path, n: int, jobs: int | None) -> dict[str, Any]:
    db = work / "bench.db"
    for p in work.glob("bench.db*"):
        p.unlink()
    cmd = [*cli(), "import", str(root), "--db", f"sqlite:///{db}", "-q", "--no-progress"]
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


# -- the naive baseline --------------------------------------------------------------------------
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


# -- --help, one form in-process -----------------------------------------------------------------

def bench_help(runs: int = 10) -> dict[str, Any]:
    cmd = [*cli(), "--help"]
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


# -- the per-phase profile of a return, and the scaling probe --------------------------------------

def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


PHASES = [  # (key, label) in the order a file goes through them
    ("sha256", "sha256 of the bytes (batch: duplicate detection)"),
    ("guard", "guard: kind, limits, inflate the parts read, active content"),
    ("open", "open: workbook part, names, properties, sheets indexed, formulas"),
    ("cells", "read_cells: the form's cells by the read plan"),
    ("structure", "structure: labels where the names put them"),
    ("extract", "extract: coerce into the instance"),
    ("cell_issues", "cell issues (formulas, hidden, control) + integrity"),
    ("validate", "validate (jsonschema-rs + our keywords)"),
    ("handover", "hand-over: a worker's results pickled and unpickled, 32 a batch"),
    ("store", "store: Store.record_many, 64 files per SQLite transaction (as import)"),
]
MAIN = ("handover", "store")  # the main process's share (half of the hand-over is the worker's)


def bench_breakdown(model: Any, files: list[Path], work: Path) -> dict[str, Any]:
    """Per-file CPU of each step, in-process, one thread, over distinct returns."""
    from xltemplate.collect import batch
    from xltemplate.collect.importer import ImportResult, cell_issues, extract, import_workbook, structure_issue
    from xltemplate.collect.integrity import check
    from xltemplate.collect.store import Store
    from xltemplate.form.validate import validate
    from xltemplate.xlsx.guard import identify, refuse_active
    from xltemplate.xlsx.reader import open_book, read_cells

    blobs = [(p, p.read_bytes()) for p in files]
    db = work / "breakdown.db"
    for p in work.glob("breakdown.db*"):
        p.unlink()
    store = Store(f"sqlite:///{db}")
    store.tables_for(model)  # table creation is once per run, not per file
    import_workbook(blobs[0][0], data=blobs[0][1])  # warm: the validators, the plan
    gc.freeze()  # as a worker does after its first batch
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
        refuse_active(identify(data))
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
    from xltemplate.collect.identity import admit
    from xltemplate.collect.store import Pending

    dones = [batch.work(batch.Source(str(path), str(path), data)) for path, data in blobs]
    t = _clock()
    for i in range(0, len(dones), batch.CHUNK):  # what the pool does with a batch of results
        pickle.loads(pickle.dumps(dones[i:i + batch.CHUNK], protocol=pickle.HIGHEST_PROTOCOL))
    add("handover", t)
    pending = []
    for path, sha, saved_at, meta, result in results:
        ident = admit(result, meta, model, None, model).identity  # as the workers do, outside the timing
        pending.append(Pending(result, sha, path.name, str(path), model, saved_at, None, ident))
    t = _clock()
    for i in range(0, len(pending), batch.STORE_BATCH):
        store.record_many(pending[i:i + batch.STORE_BATCH])
    add("store", t)
    store.dispose()
    gc.unfreeze()
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
    main = ms["store"] + ms["handover"] / 2
    reading_ms = total - ms["store"] - ms["sha256"] - ms["handover"]
    return {"n": n, "cpu_ms": ms, "wall_ms": ms_wall, "total_cpu_ms": total, "read_coerce_validate_ms": reading_ms,
            "import_workbook_cpu_ms": import_cpu * 1000 / n, "import_workbook_wall_ms": import_wall * 1000 / n,
            "batch_work_cpu_ms": worker_cpu * 1000 / n, "batch_work_wall_ms": worker_wall * 1000 / n,
            "one_core_rate": 1000 / total if total else None, "main_ms": main,
            # workers do everything but storing, the main process stores: on 2 cores
            # rate <= 2 / (work + store) and rate <= 1 / main (no process switching, perfect scaling)
            "two_core_ceiling": min(2000 / total, 1000 / main) if total and main else None}


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
