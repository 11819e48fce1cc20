"""LibreOffice as a real spreadsheet client for tests (helper module, not a test file).

API:
    available() -> bool
    require() -> None                      # skip, or fail if XLTEMPLATE_REQUIRE_LIBREOFFICE=1
    convert(src, outdir, fmt="xlsx") -> Path
    fill_by_names(src, dst, values) -> None
    check_validation(src, {name: [values]}) -> {name: ([accepted...], formula)}
    render_png(src, png, sheet_index=None, dpi=80) -> None
    pages(src, dpi=60) -> list[bytes]      # every printed page as a greyscale bitmap (PGM)

Every soffice run gets a fresh throw-away profile (-env:UserInstallation) and HOME,
so calls are independent and may run in parallel.  UNO work is done by
``uno_fill.py`` under the system python (/usr/bin/python3), because pyuno is not
importable from the virtualenv.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SOFFICE = os.environ.get("XLTEMPLATE_SOFFICE") or shutil.which("soffice") or "/usr/bin/soffice"
UNO_PYTHON = os.environ.get("XLTEMPLATE_UNO_PYTHON", "/usr/bin/python3")
UNO_FILL_SCRIPT = Path(__file__).with_name("uno_fill.py")
REQUIRE_ENV = "XLTEMPLATE_REQUIRE_LIBREOFFICE"

CONVERT_TIMEOUT = 120.0
FILL_TIMEOUT = 240.0  # includes up to ~60 s for soffice to accept the connection

XLSX_FILTER = "Calc MS Excel 2007 XML"
#: CSV import options: comma, double quote, UTF-8 (76), from line 1; formulas evaluated (LibreOffice's default)
INFILTERS = {"CSV_UTF8": "CSV:44,34,76,1"}
_CONVERT_FILTERS = {
    "xlsx": f"xlsx:{XLSX_FILTER}",
    "ods": "ods:calc8",
    "xls": "xls:MS Excel 97",
    "pdf": "pdf:calc_pdf_Export",
}


# Profile seed: recalculate all formulas on load (xlsx and ods), as Excel does for
# xlsxwriter files (fullCalcOnLoad).  LibreOffice's default is "never recalculate",
# which would show xlsxwriter's cached 0 for every formula.
RECALC_ON_LOAD_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    """A soffice / UNO / pdftoppm run failed; the message carries its output."""


# --------------------------------------------------------------------------- availability


@functools.lru_cache(maxsize=1)
def _why_unavailable() -> str | None:
    if not (os.path.isfile(SOFFICE) and os.access(SOFFICE, os.X_OK)):
        return f"soffice not found ({SOFFICE})"
    if not (os.path.isfile(UNO_PYTHON) and os.access(UNO_PYTHON, os.X_OK)):
        return f"{UNO_PYTHON} not found"
    try:
        r = subprocess.run(
            [UNO_PYTHON, "-c", "import uno"],
            capture_output=True,
            text=True,
            timeout=30,
            env=_child_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{UNO_PYTHON} -c 'import uno' failed: {exc}"
    if r.returncode != 0:
        return f"{UNO_PYTHON} cannot import uno: {r.stderr.strip()}"
    return None


def available() -> bool:
    """True if soffice and a system python with ``uno`` are present."""
    return _why_unavailable() is None


def require() -> None:
    """Call at the start of a test: skip if LibreOffice is unavailable, or fail
    instead when XLTEMPLATE_REQUIRE_LIBREOFFICE=1 (CI)."""
    import pytest

    why = _why_unavailable()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"LibreOffice required ({REQUIRE_ENV}=1) but unavailable: {why}", pytrace=False)
    pytest.skip(f"LibreOffice unavailable: {why}")


# --------------------------------------------------------------------------- process helpers


def _child_env(home: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The venv must not leak into the system python / LibreOffice's own python.
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(var, None)
    if home is not None:
        env["HOME"] = home
    return env


def _run(
    cmd: list[str],
    *,
    timeout: float,
    env: dict[str, str],
    what: str,
    on_timeout: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run cmd in its own process group; on timeout kill the whole group
    (soffice is a shell wrapper -> oosplash -> soffice.bin) and call on_timeout."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(proc.pid)
        if on_timeout is not None:
            on_timeout()
        out, err = proc.communicate()
        raise LibreOfficeError(
            f"{what}: timed out after {timeout:g} s\ncommand: {cmd}\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    finally:
        # Reap any stragglers left in the group (normally none).
        _killpg(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _new_profile(tmp: str, recalc: bool) -> str:
    """Create a fresh profile dir under tmp; return its file:// URL."""
    profile = Path(tmp, "profile")
    if recalc:
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ON_LOAD_XCU, encoding="utf-8")
    return profile.as_uri()


def _remove_lock_files(*paths: Path) -> None:
    for p in paths:
        lock = p.parent / f".~lock.{p.name}#"
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


# --------------------------------------------------------------------------- convert


def convert(src: Path, outdir: Path, fmt: str = "xlsx", *, recalc: bool = True, infilter: str | None = None) -> Path:
    """Convert src with ``soffice --headless --convert-to`` into outdir; return the new file.

    fmt: xlsx, ods, xls or pdf.  The output is outdir/<src stem>.<fmt>; outdir must
    not be src's directory when that would overwrite src.  With recalc (default)
    formulas are recalculated on load; otherwise cached results are kept.  ``infilter``: how
    soffice reads src (``CSV_UTF8`` opens a CSV as UTF-8 with commas, as a user's double click
    in a Chinese office would, formulas evaluated).
    """
    src = Path(src).resolve()
    outdir = Path(outdir).resolve()
    try:
        filter_spec = _CONVERT_FILTERS[fmt]
    except KeyError:
        raise ValueError(f"fmt must be one of {sorted(_CONVERT_FILTERS)}, got {fmt!r}") from None
    if not src.is_file():
        raise FileNotFoundError(src)
    out = outdir / f"{src.stem}.{fmt}"
    if out == src:
        raise ValueError(
            f"converting {src} to {fmt} in its own directory would overwrite it; use another outdir"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()  # so a stale file cannot pass for a successful conversion

    with tempfile.TemporaryDirectory(prefix="xlt-lo-", ignore_cleanup_errors=True) as tmp:
        # Convert a private copy: no lock file beside src, and concurrent
        # conversions of the same src do not trip over each other's lock.
        work = Path(tmp, "in", src.name)
        work.parent.mkdir()
        shutil.copyfile(src, work)
        cmd = [
            SOFFICE,
            f"-env:UserInstallation={_new_profile(tmp, recalc)}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nodefault",
            *([f"--infilter={INFILTERS.get(infilter, infilter)}"] if infilter else []),
            "--convert-to",
            filter_spec,
            "--outdir",
            str(outdir),
            str(work),
        ]
        try:
            r = _run(
                cmd, timeout=CONVERT_TIMEOUT, env=_child_env(home=tmp), what=f"convert {src.name} -> {fmt}"
            )
        finally:
            _remove_lock_files(src)  # stale locks (e.g. from a killed run) beside src
    # soffice exits 0 even when it could not load the source, so check the output.
    if r.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise LibreOfficeError(
            f"soffice failed to convert {src} to {fmt} (exit {r.returncode}, expected {out})\n"
            f"command: {cmd}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        )
    return out


# --------------------------------------------------------------------------- fill_by_names


@dataclasses.dataclass(frozen=True)
class Formula:
    """A formula typed into a cell (``fill_by_names`` writes a plain str as text)."""

    text: str


@dataclasses.dataclass(frozen=True)
class Typed:
    """Text typed as a clerk types it, into a cell of the General format: Calc recognises 95%,
    2021/1/15, 0 1/2 or 1.5E+3 and formats the cell (``fill_by_names`` writes a plain str as text)."""

    text: str


def _encode_value(name: str, value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name}: bool values are not supported (use 1/0 or a string)")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Formula):
        return {"formula": value.text}
    if isinstance(value, Typed):
        return {"typed": value.text}
    if isinstance(value, _dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"date": value.isoformat()}
    raise TypeError(f"{name}: unsupported value type {type(value).__name__}")


def fill_by_names(
    src: Path,
    dst: Path,
    values: dict[str, object],
    *,
    recalc: bool = True,
    timeout: float = FILL_TIMEOUT,
    insert_rows: list[tuple[str, int, int]] | None = None,
    row_ops: list[dict[str, object]] | None = None,
) -> dict[str, str]:
    """Open src in LibreOffice (UNO), write each value into the top-left cell of the
    workbook-level defined name, store dst as xlsx and close.

    ``insert_rows``: (sheet, before row 1-based, count) inserted first, as a clerk would;
    ``row_ops``: {"op": "insert"|"delete"|"move", "sheet", "before", "count", "to"} likewise.

    Values: str -> text, int/float -> number, None -> clear contents,
    datetime.date/datetime -> serial number (the cell keeps its number format), Formula -> a formula.
    Typed -> typed as a clerk types it (the returned dict has the text each such cell shows).
    Names of the form "Sheet!name" address sheet-scoped names.
    Protected sheets are unprotected with an empty password for the write and
    protected again, so dst stays protected.  With recalc (default) all formulas
    are recalculated before saving, as Excel does on load of an xlsxwriter file.
    """
    src = Path(src).resolve()
    dst = Path(dst).resolve()
    if not src.is_file():
        raise FileNotFoundError(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    job = {
        "src": str(src),
        "dst": str(dst),
        "values": {name: _encode_value(name, v) for name, v in values.items()},
        "recalc": recalc,
        "soffice": SOFFICE,
        "insert_rows": [{"sheet": s, "before": b, "count": n} for s, b, n in insert_rows or []] + list(row_ops or []),
    }
    with tempfile.TemporaryDirectory(prefix="xlt-uno-job-", ignore_cleanup_errors=True) as tmp:
        job_file = Path(tmp, "job.json")
        pgid_file = Path(tmp, "soffice.pgid")
        job["pgid_file"] = str(pgid_file)
        job["tmpdir"] = tmp  # uno_fill's profile lives here, so it is removed even if uno_fill is killed
        result = Path(tmp, "shown.json")
        job["result"] = str(result)
        job_file.write_text(json.dumps(job, ensure_ascii=False, allow_nan=False), encoding="utf-8")

        def kill_soffice() -> None:
            # uno_fill.py runs soffice in its own process group; when uno_fill.py
            # itself is killed on timeout, that group must be killed too.
            with contextlib.suppress(OSError, ValueError):
                _killpg(int(pgid_file.read_text()))

        cmd = [UNO_PYTHON, str(UNO_FILL_SCRIPT), str(job_file)]
        for attempt in range(2):
            try:
                r = _run(
                    cmd,
                    timeout=timeout,
                    env=_child_env(),
                    what=f"fill_by_names {src.name}",
                    on_timeout=kill_soffice,
                )
            finally:
                _remove_lock_files(src, dst)
            if r.returncode == 0 or attempt or not _soffice_died(r.stderr):
                break
            # soffice itself died mid-job (seen once in some thousand jobs on a loaded machine, the
            # same job passing when run again): one more try with a fresh soffice, said on stderr
            print(f"libreoffice.fill_by_names: soffice died filling {src.name}; trying once more", file=sys.stderr)
        if r.returncode != 0:
            raise LibreOfficeError(
                f"uno_fill.py failed (exit {r.returncode}) for {src} -> {dst}\n"
                f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
            )
        if not dst.is_file():
            raise LibreOfficeError(f"uno_fill.py reported success but {dst} is missing\nstderr:\n{r.stderr}")
        return json.loads(result.read_text(encoding="utf-8")) if result.is_file() else {}


def _soffice_died(stderr: str) -> bool:
    """Whether a uno_fill.py job failed because soffice went away under it (its UNO bridge gone),
    not because of what it was asked to do."""
    return "bridge already disposed" in stderr or "DisposedException" in stderr


def _probe(src: Path, what: str, extra: dict[str, Any], timeout: float) -> Any:
    """Run uno_fill.py on ``src`` for a job that reads and writes nothing back (``extra``: the job's
    own keys, e.g. ``formats`` or ``probe``); the JSON result it leaves."""
    src = Path(src).resolve()
    with tempfile.TemporaryDirectory(prefix="xlt-uno-probe-", ignore_cleanup_errors=True) as tmp:
        result = Path(tmp, "result.json")
        job = {"src": str(src), "dst": str(Path(tmp, "unused.xlsx")), "values": {}, "soffice": SOFFICE,
               **extra, "result": str(result), "pgid_file": str(Path(tmp, "soffice.pgid")), "tmpdir": tmp}
        job_file = Path(tmp, "job.json")
        job_file.write_text(json.dumps(job, ensure_ascii=False, allow_nan=False), encoding="utf-8")

        def kill_soffice() -> None:
            with contextlib.suppress(OSError, ValueError):
                _killpg(int(Path(job["pgid_file"]).read_text()))

        try:
            r = _run([UNO_PYTHON, str(UNO_FILL_SCRIPT), str(job_file)], timeout=timeout, env=_child_env(),
                     what=f"{what} {src.name}", on_timeout=kill_soffice)
        finally:
            _remove_lock_files(src)
        if r.returncode != 0 or not result.is_file():
            raise LibreOfficeError(f"uno_fill.py {what} failed (exit {r.returncode}) for {src}\nstderr:\n{r.stderr}")
        return json.loads(result.read_text(encoding="utf-8"))


def render_formats(src: Path, items: list[tuple[float, str]], *, timeout: float = FILL_TIMEOUT) -> list[str]:
    """The text LibreOffice Calc shows for each (number, format code), in the zh-CN locale."""
    return _probe(src, "render_formats", {"formats": [{"value": v, "code": c} for v, c in items]}, timeout)


def check_validation(
    src: Path, values: dict[str, list[object]], *, timeout: float = FILL_TIMEOUT
) -> dict[str, tuple[list[bool], str]]:
    """Type each value (str as text, numbers as numbers) into the cell of each defined name of src in
    LibreOffice and ask its own data-validation check whether the value is accepted.

    Returns {name: ([accepted, ...], the validation formula as LibreOffice read it)}."""
    out = _probe(src, "check_validation", {"probe": [{"name": n, "values": v} for n, v in values.items()]}, timeout)
    return {name: (entry["valid"], entry["formula"]) for name, entry in out.items()}


# --------------------------------------------------------------------------- render_png


def render_png(
    src: Path, png: Path, sheet_index: int | None = None, dpi: int = 80, *, recalc: bool = True
) -> None:
    """Render a page of src to png via PDF export + pdftoppm.

    Without sheet_index the first page is rendered; with it, page sheet_index + 1
    (this assumes each sheet prints on exactly one page).
    """
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise LibreOfficeError("pdftoppm not found (install poppler-utils)")
    page = 1 if sheet_index is None else sheet_index + 1
    if page < 1:
        raise ValueError(f"sheet_index must be >= 0, got {sheet_index}")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xlt-png-", ignore_cleanup_errors=True) as tmp:
        pdf = convert(src, Path(tmp), "pdf", recalc=recalc)
        prefix = Path(tmp, "page")
        cmd = [
            pdftoppm,
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(prefix),
        ]
        r = _run(cmd, timeout=CONVERT_TIMEOUT, env=_child_env(), what="pdftoppm")
        out = prefix.with_suffix(".png")
        if r.returncode != 0 or not out.is_file():
            raise LibreOfficeError(
                f"pdftoppm failed (exit {r.returncode}) for page {page} of {pdf.name}\n"
                f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
            )
        shutil.move(str(out), png)


# --------------------------------------------------------------------------- pages


def pages(src: Path, dpi: int = 60, *, recalc: bool = True) -> list[bytes]:
    """Every page LibreOffice prints of src, as greyscale PGM bytes (PDF export + pdftoppm -gray):
    two workbooks that print alike give equal lists."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise LibreOfficeError("pdftoppm not found (install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="xlt-pages-", ignore_cleanup_errors=True) as tmp:
        pdf = convert(src, Path(tmp), "pdf", recalc=recalc)
        prefix = Path(tmp, "page")
        cmd = [pdftoppm, "-gray", "-r", str(dpi), str(pdf), str(prefix)]
        r = _run(cmd, timeout=CONVERT_TIMEOUT, env=_child_env(), what="pdftoppm")
        out = sorted(Path(tmp).glob("page*.pgm"))
        if r.returncode != 0 or not out:
            raise LibreOfficeError(f"pdftoppm failed (exit {r.returncode}) for {pdf.name}\nstderr:\n{r.stderr}")
        return [p.read_bytes() for p in out]
