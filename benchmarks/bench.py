"""Throughput, memory and start-up figures for xltemplate on the bundled form, against the targets.

Run from the project root::

    .venv/bin/python benchmarks/bench.py [--n 10000] [--baseline-n 200] [--jobs N] [--keep DIR]
                                         [--breakdown-n 500] [--wait-quiet SECONDS] [--json PATH]

It is a script, not a test: it measures, prints a table (PASS/MISS next to each target) and writes
the same figures to ``benchmarks/results.json``.  It never asserts.  Other sessions may share this
2-CPU machine: every step reports how much CPU other processes took meanwhile, and --wait-quiet
waits (up to SECONDS) for the machine to be idle before starting.  N=10000 takes about 5 minutes.

What it does, in order (the modules beside it: ``bench_machine`` samples the machine and process
trees with psutil, ``bench_returns`` makes the returns, ``bench_steps`` measures, ``bench_report``
prints):

1. distribute: a roster of N departments -> ``distribute()`` (in-process), then the same roster
   through ``xltemplate distribute`` as a subprocess.
2. setup: N filled returns, each written separately by ``write_workbook`` from its own instance,
   1 in 50 with one of five mistakes, spread over sub-folders; no two alike (counted by hash), so
   no cache keyed on content flatters the import; a sample is read back and checked.
3. import end to end: ``xltemplate import DIR --db sqlite:///... -q --no-progress`` as a subprocess;
   wall time, CPU of the process tree (main process and workers apart), and peak RSS of the tree
   (the CLI and every descendant, summed, sampled every 20 ms); the submissions table is counted.
4. naive baseline on the first --baseline-n returns, in the same run: ``openpyxl.load_workbook`` +
   every input cell by the model's positions + the importer's coercion + the reference jsonschema
   engine, no database, in as many processes as there are CPUs (the import's worker count): the
   ratio compares the same number of processes, and CPU ms per file compares per core.
5. ``xltemplate --help`` wall time, median of 10 runs; one ``write_workbook`` and one
   ``import_workbook`` in-process, medians.
6. the per-phase profile of a return (guard, open, cells, structure, extract, cell issues,
   validate, hand-over, store) in-process over distinct returns, and a parallel-scaling probe:
   the same single-threaded loop alone, then as 2 concurrent processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_machine import Load, say, wait_quiet
from bench_report import figures, report
from bench_returns import FORM, check_returns, make_returns, return_files
from bench_steps import (
    bench_baseline,
    bench_breakdown,
    bench_distribute,
    bench_help,
    bench_import,
    bench_scaling,
    bench_single,
)

RESULTS = Path(__file__).resolve().parent / "results.json"


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
    say(f"other processes use {other:.2f} of {cpus} CPUs at the start")
    files = min(args.breakdown_n, n)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("distribute", lambda: bench_distribute(model, n, work, bool(args.keep))),
        ("returns", lambda: make_returns(model, n, returns, cpus)),
        ("returns_check", lambda: check_returns(returns, n)),
        ("import", lambda: bench_import(returns, work, n, args.jobs)),
        ("baseline", lambda: bench_baseline(model, return_files(returns)[:min(args.baseline_n, n)], cpus)),
        ("help", bench_help),
        ("single", lambda: bench_single(model, return_files(returns)[:30])),
        ("breakdown", lambda: bench_breakdown(model, return_files(returns)[:files], work)),
        ("scaling", lambda: bench_scaling(return_files(returns)[:files])),
    ]
    res["scaling_files"] = files
    try:
        for name, step in steps:
            say(f"[{time.strftime('%H:%M:%S')}] {name} ...")
            with Load() as load:
                try:
                    res[name] = step()
                except Exception as exc:  # report the others; the table says which step failed
                    res.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                    say(f"  {name} FAILED: {type(exc).__name__}: {exc}")
            res.setdefault("load", {})[name] = load.result
            say(f"[{time.strftime('%H:%M:%S')}] {name} done in {load.result['wall_s']:.1f} s "
                 f"(CPU busy {load.result['busy_cores']:.2f} cores: ours {load.result['own_cores']:.2f}, "
                 f"other processes {load.result['other_cores']:.2f})")
        res["figures"] = figures(res)
        say(report(res))
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
        say(f"\nfigures written to {args.json}" + (f"; files kept in {work}" if args.keep else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
