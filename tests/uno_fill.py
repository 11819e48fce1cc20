#!/usr/bin/python3
"""Fill defined names of a workbook through LibreOffice UNO and save it as xlsx.

Run with the *system* python (pyuno is not importable from the virtualenv):

    /usr/bin/python3 tests/uno_fill.py job.json

job.json:
    {"src": "/abs/in.xlsx", "dst": "/abs/out.xlsx",
     "values": {"xt.a": "text", "xt.b": 3.5, "xt.c": null,
                "xt.d": {"date": "2024-01-31"},
                "xt.e": {"datetime": "2024-01-31T12:00:00"},
                "xt.f": {"formula": "=3+4"},
                "xt.g": {"typed": "95%"}},            # typed as a clerk types, into a General cell
     "formats": [{"value": 0.95, "code": "0%"}],  # optional: the text LibreOffice shows, per value and code
     "recalc": true, "soffice": "/usr/bin/soffice",
     "pgid_file": "/tmp/x/soffice.pgid",  # optional: soffice's process group id is written here
     "tmpdir": "/tmp/x",                  # optional: parent dir for the private profile
     "probe": [{"name": "xt.a", "values": ["1", 2]}], "result": "/abs/out.json"}
                                          # optional: check values against the data validation instead

Starts a private soffice (own profile dir and HOME, unique pipe), connects with
retries, writes the top-left cell of each name, stores dst with the
"Calc MS Excel 2007 XML" filter, closes, terminates soffice (kills it if needed).
Exit status 0 on success; errors go to stderr.  Used by tests/libreoffice.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException

CONNECT_TIMEOUT = 60.0
XLSX_FILTER = "Calc MS Excel 2007 XML"


def log(msg: str) -> None:
    print(f"uno_fill: {msg}", file=sys.stderr, flush=True)


def props(**kw: object) -> tuple:
    out = []
    for k, v in kw.items():
        p = PropertyValue()
        p.Name = k
        p.Value = v
        out.append(p)
    return tuple(out)


def start_soffice(soffice: str, tmp: str, pipe: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["HOME"] = tmp
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(var, None)
    cmd = [
        soffice,
        f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
    ]
    logf = open(Path(tmp, "soffice.log"), "wb")  # noqa: SIM115 - lives as long as soffice
    return subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def connect(proc: subprocess.Popen, pipe: str, tmp: str):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    url = f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext"
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"soffice exited with {proc.returncode} before accepting a connection:\n"
                    f"{soffice_log(tmp)}"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"could not connect to soffice within {CONNECT_TIMEOUT:.0f} s:\n{soffice_log(tmp)}"
                ) from None
            time.sleep(0.2)


def soffice_log(tmp: str) -> str:
    try:
        return Path(tmp, "soffice.log").read_text(errors="replace")
    except OSError:
        return ""


def stop_soffice(proc: subprocess.Popen, desktop) -> None:
    if desktop is not None:
        with contextlib.suppress(Exception):
            desktop.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        log("soffice did not exit after terminate(); killing it")
    # Kill the whole process group (wrapper script -> oosplash -> soffice.bin).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def lookup_range(doc, name: str):
    """Return the cell range of a workbook-level name, or of a sheet-scoped "Sheet!name"."""
    if "!" in name:
        sheet_name, local = name.rsplit("!", 1)
        sheet_name = sheet_name.strip("'")
        if not doc.Sheets.hasByName(sheet_name):
            raise KeyError(f"{name!r}: no sheet {sheet_name!r}")
        ranges = doc.Sheets.getByName(sheet_name).NamedRanges
    else:
        local = name
        ranges = doc.NamedRanges
    if not ranges.hasByName(local):
        raise KeyError(
            f"defined name {name!r} not found; workbook names: {sorted(doc.NamedRanges.ElementNames)}"
        )
    rng = ranges.getByName(local).getReferredCells()
    if rng is None:
        raise KeyError(f"defined name {name!r} does not refer to cells")
    return rng


def to_serial(null_date: dt.date, value: dict) -> float:
    if "date" in value:
        d = dt.date.fromisoformat(value["date"])
        return float((d - null_date).days)
    if "datetime" in value:
        t = dt.datetime.fromisoformat(value["datetime"])
        delta = t.replace(tzinfo=None) - dt.datetime.combine(null_date, dt.time())
        return delta.total_seconds() / 86400.0
    raise ValueError(f"unsupported value {value!r}")


def type_in(doc, ctx, cell, text: str) -> None:
    """Type ``text`` into ``cell`` as a clerk does (the input line: Calc recognises percentages,
    dates, fractions and scientific numbers and gives the cell a format), the cell first given
    the General format of the zh-CN locale, as a bureau's own workbook has its cells (our
    templates give text fields the text format, in which a typed 95% stays text)."""
    from com.sun.star.lang import Locale

    cell.NumberFormat = doc.NumberFormats.getStandardFormat(0, Locale("zh", "CN", ""))
    controller = doc.CurrentController
    controller.select(cell)
    dispatcher = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", ctx)
    dispatcher.executeDispatch(controller.Frame, ".uno:EnterString", "", 0, props(StringName=text))


def render_formats(doc, items: list) -> list:
    """The text Calc shows for each {"value", "code"}: a scratch cell far below the first sheet's
    form, given the format (zh-CN) and the value."""
    from com.sun.star.lang import Locale

    zh = Locale("zh", "CN", "")
    formats = doc.NumberFormats
    sheet = doc.Sheets.getByIndex(0)
    if sheet.isProtected():
        sheet.unprotect("")
    cell = sheet.getCellByPosition(30, 5000)
    out = []
    for item in items:
        key = formats.queryKey(item["code"], zh, False)
        if key == -1:
            key = formats.addNew(item["code"], zh)
        cell.NumberFormat = key
        cell.setValue(float(item["value"]))
        out.append(cell.String)
    return out


def fill(doc, values: dict, ctx=None) -> dict:
    """Write each value into its named cell; the text each typed cell shows afterwards."""
    shown = {}
    nd = doc.NullDate  # 1899-12-30 normally, 1904-01-01 for 1904-date workbooks
    null_date = dt.date(nd.Year, nd.Month, nd.Day)
    clear_flags = sum(
        uno.getConstantByName(f"com.sun.star.sheet.CellFlags.{f}")
        for f in ("VALUE", "DATETIME", "STRING", "FORMULA")
    )
    sheets = doc.Sheets
    unprotected: dict[int, object] = {}
    try:
        for name, value in values.items():
            cell = lookup_range(doc, name).getCellByPosition(0, 0)
            tab = cell.CellAddress.Sheet
            sheet = sheets.getByIndex(tab)
            if tab not in unprotected and sheet.isProtected():
                try:
                    sheet.unprotect("")
                    unprotected[tab] = sheet
                except Exception as exc:
                    log(
                        f"could not unprotect sheet {sheet.Name!r} with an empty password ({exc});"
                        " writing anyway"
                    )
            if value is None:
                cell.clearContents(clear_flags)
            elif isinstance(value, str):
                cell.setString(value)
            elif isinstance(value, bool):
                raise TypeError(f"{name}: bool not supported")
            elif isinstance(value, (int, float)):
                cell.setValue(float(value))
            elif isinstance(value, dict) and "formula" in value:
                cell.setFormula(value["formula"])
            elif isinstance(value, dict) and "typed" in value:
                type_in(doc, ctx, cell, value["typed"])
                shown[name] = cell.String
            elif isinstance(value, dict):
                cell.setValue(to_serial(null_date, value))
            else:
                raise TypeError(f"{name}: unsupported value {value!r}")
    finally:
        for sheet in unprotected.values():
            sheet.protect("")
    return shown


def insert_rows(doc, inserts: list) -> None:
    """Insert rows as a clerk would (protection lifted first): LibreOffice moves the cells below and
    updates every defined name that points at them."""
    for item in inserts:
        sheet = doc.Sheets.getByName(item["sheet"])
        protected = sheet.isProtected()
        if protected:
            sheet.unprotect("")
        if item.get("op", "insert") == "insert":
            sheet.Rows.insertByIndex(int(item["before"]) - 1, int(item["count"]))
        elif item["op"] == "delete":
            sheet.Rows.removeByIndex(int(item["before"]) - 1, int(item["count"]))
        else:  # move: cut rows [before, before+count) and paste them at row "to" (1-based)
            first = int(item["before"]) - 1
            src = sheet.getCellRangeByPosition(0, first, 1023, first + int(item["count"]) - 1)
            dest = sheet.getCellByPosition(0, int(item["to"]) - 1).CellAddress
            sheet.moveRange(dest, src.RangeAddress)
        if protected:
            sheet.protect("")


def probe(doc, probes: list) -> dict:
    """For each {"name", "values"}: whether LibreOffice's own data-validation check ("mark invalid
    data", XSheetAuditing.showInvalid) accepts each value typed into the named cell.

    The cell's validation is copied down a scratch column far below the form (LibreOffice moves its
    relative references along, as when a clerk copies the cell), one value per row, and the rows
    circled as invalid are read off the circles' positions.  Returns {name: {"valid": [bool...],
    "formula": the validation formula as LibreOffice read it}}."""
    out = {}
    flags = sum(uno.getConstantByName(f"com.sun.star.sheet.CellFlags.{f}")
                for f in ("VALUE", "DATETIME", "STRING", "FORMULA"))
    for item in probes:
        cell = lookup_range(doc, item["name"]).getCellByPosition(0, 0)
        sheet = doc.Sheets.getByIndex(cell.CellAddress.Sheet)
        if sheet.isProtected():
            sheet.unprotect("")
        col, first = cell.CellAddress.Column, 5000
        values = item["values"]
        scratch = sheet.getCellRangeByPosition(col, first, col, first + len(values) - 1)
        scratch.Validation = cell.Validation
        scratch.NumberFormat = cell.NumberFormat  # a text cell stays a text cell
        for i, value in enumerate(values):
            target = sheet.getCellByPosition(col, first + i)
            if isinstance(value, str):
                target.setString(value)
            else:
                target.setValue(float(value))
        sheet.clearArrows()
        sheet.showInvalid()
        page = sheet.DrawPage
        top, height = scratch.Position.Y, scratch.Size.Height / len(values)  # scratch rows: one height
        circled = set()
        for k in range(page.Count):
            shape = page.getByIndex(k)
            if shape.ShapeType == "com.sun.star.drawing.EllipseShape":
                circled.add(int((shape.Position.Y + shape.Size.Height / 2 - top) // height))
        sheet.clearArrows()
        scratch.clearContents(flags)
        out[item["name"]] = {"valid": [i not in circled for i in range(len(values))],
                             "formula": cell.Validation.getFormula1()}
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    src = Path(job["src"]).resolve()
    dst = Path(job["dst"]).resolve()
    soffice = job.get("soffice") or shutil.which("soffice") or "/usr/bin/soffice"

    tmp = tempfile.mkdtemp(prefix="xlt-uno-", dir=job.get("tmpdir"))
    pipe = f"xltemplate_{os.getpid()}_{uuid.uuid4().hex}"
    proc = start_soffice(soffice, tmp, pipe)
    if job.get("pgid_file"):  # lets the caller kill soffice if it has to kill us
        Path(job["pgid_file"]).write_text(str(proc.pid))
    desktop = None
    try:
        ctx = connect(proc, pipe, tmp)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        # Load a private copy: no lock file beside src, and the same src can be
        # filled by several processes at once (a locked file fails to load headless).
        work = Path(tmp, "in", src.name)
        work.parent.mkdir()
        shutil.copyfile(src, work)
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(str(work)), "_blank", 0, props(Hidden=True, MacroExecutionMode=0)
        )
        if doc is None:
            raise RuntimeError(f"LibreOffice could not load {src}:\n{soffice_log(tmp)}")
        stored = False
        try:
            if job.get("probe"):
                Path(job["result"]).write_text(json.dumps(probe(doc, job["probe"]), ensure_ascii=False),
                                               encoding="utf-8")
                return 0
            if job.get("formats"):
                Path(job["result"]).write_text(json.dumps(render_formats(doc, job["formats"]), ensure_ascii=False),
                                               encoding="utf-8")
                return 0
            insert_rows(doc, job.get("insert_rows", []))
            shown = fill(doc, job["values"], ctx)
            if job.get("result"):
                Path(job["result"]).write_text(json.dumps(shown, ensure_ascii=False), encoding="utf-8")
            if job.get("recalc", True):
                doc.calculateAll()
            doc.storeToURL(uno.systemPathToFileUrl(str(dst)), props(FilterName=XLSX_FILTER, Overwrite=True))
            stored = True
        finally:
            try:
                doc.close(True)
            except Exception as exc:
                # soffice sometimes goes down while closing a document typed into through the input
                # line (its bridge is disposed): once the copy is stored, the work is done
                if not stored:
                    doc.dispose()
                log(f"closing the document failed after it was stored ({type(exc).__name__})")
        return 0
    finally:
        stop_soffice(proc, desktop)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as exc:
        import traceback

        traceback.print_exc()
        log(f"FAILED: {type(exc).__name__}: {exc}")
        sys.exit(1)
