"""The machine a benchmark runs on: how busy it is, and what a process tree costs (psutil).

Other sessions may share a 2-CPU machine: :class:`Load` says for a step how many cores our
processes and the others took, and :func:`wait_quiet` waits for the others to leave before a run.
:func:`run_sampled` runs a command and samples its process tree (the CLI and its workers): peak
RSS summed, peak PSS, the main process and the largest worker apart, and the CPU of each process.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

SAMPLE_S = 0.020  # how often the process tree is sampled


def cli() -> list[str]:
    """The ``xltemplate`` console script of this interpreter's environment (else ``-m``)."""
    script = Path(sys.executable).parent / "xltemplate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xltemplate.cli"]


def say(text: str) -> None:
    print(text, flush=True)


def _busy_s() -> float:
    """All CPUs' non-idle time so far, in seconds."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def own_cpu_s() -> float:
    """CPU time of this process and of its waited-for descendants."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Load:
    """How busy the machine was during a step, ours and other processes' (other sessions share it)."""

    def __enter__(self) -> Load:
        self.t, self.busy, self.own = time.perf_counter(), _busy_s(), own_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t
        busy = _busy_s() - self.busy
        own = own_cpu_s() - self.own
        self.result = {"wall_s": wall, "busy_cores": busy / wall, "own_cores": own / wall,
                       "other_cores": max(0.0, busy - own) / wall}


def wait_quiet(limit_s: float) -> float:
    """Other processes' CPU use (cores) over a second, waiting up to ``limit_s`` for it to drop."""
    deadline = time.monotonic() + limit_s
    while True:
        with Load() as load:
            time.sleep(1.0)
        other = load.result["other_cores"]
        if other < 0.15 or time.monotonic() >= deadline:
            return other
        say(f"  machine busy with other processes ({other:.2f} cores); waiting ...")


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process tree every ``period``; the tree itself and the summed
    PSS (costly: smaps) every 10th tick, so that sampling costs about 1 % of a core rather than
    competing with what it measures."""

    def __init__(self, pid: int, period: float = SAMPLE_S):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.period = period
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = self.peak_main = self.peak_one_worker = 0
        self.peak_procs = self.samples = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds at its last sample

    def run(self) -> None:
        tick, procs = 0, [self.root]
        while not self.stop.is_set():
            if tick % 10 == 0:
                try:
                    procs = [self.root, *self.root.children(recursive=True)]
                except psutil.Error:
                    procs = [self.root]
            rss: dict[int, int] = {}
            for p in procs:
                try:
                    rss[p.pid] = p.memory_info().rss
                    times = p.cpu_times()
                    self.cpu[p.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, sum(rss.values()))
            self.peak_main = max(self.peak_main, rss.get(self.root.pid, 0))
            workers = [v for pid, v in rss.items() if pid != self.root.pid]
            if workers:
                self.peak_one_worker = max(self.peak_one_worker, max(workers))
            self.peak_procs = max(self.peak_procs, len(rss))
            if tick % 10 == 0:
                pss = 0
                for p in procs:
                    try:
                        pss += getattr(p.memory_full_info(), "pss", 0)
                    except psutil.Error:
                        continue
                self.peak_pss = max(self.peak_pss, pss)
            tick += 1
            self.samples += 1
            self.stop.wait(self.period)


def run_sampled(cmd: list[str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run ``cmd``; wall time, exit code and the process tree's peak memory and CPU."""
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=err, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    mb = 1024 * 1024
    return {"wall_s": wall, "rc": rc, "peak_rss_mb": sampler.peak_rss / mb, "peak_pss_mb": sampler.peak_pss / mb,
            "peak_main_rss_mb": sampler.peak_main / mb, "peak_one_worker_rss_mb": sampler.peak_one_worker / mb,
            "peak_processes": sampler.peak_procs, "samples": sampler.samples,
            # CPU seen at the last sample of each process (up to one period short of the end)
            "main_cpu_s": sampler.cpu.get(proc.pid, 0.0),
            "children_cpu_s": sum(v for p, v in sampler.cpu.items() if p != proc.pid)}
