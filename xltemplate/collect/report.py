"""Reports from the results database: what came back, in one workbook (or CSV files, or JSON lines).

``write_report(store, out)`` picks the output format from the suffix of ``out``:

* ``.xlsx``: sheet 汇总 (Summary) with one row per *current* submission that passed the machine
  check (待审核, 已退回 and 审核通过 alike; with ``approved_only`` the 审核通过 ones alone, and
  every such sheet's name says so: 汇总（审核通过）): department, department code, submission id,
  file, received time, its review state and grade, then every scalar field of the form as its
  own column, headed by the field's Chinese label and typed (numbers as numbers, dates as dates);
  one sheet per repeating-area table (项目预算明细, 项目绩效指标, ...) with one row per item; and
  错误清单 (Errors) with every error of the current submissions that are invalid or unreadable.
  Every sheet has a bold, frozen header row, an autofilter, CJK-aware column widths and 宋体.
* ``.csv``: the 汇总 rows into ``out`` and every other sheet into ``<stem>.<sheet name>.csv`` beside
  it; UTF-8 with a byte order mark, so Excel opens the Chinese text right.

A number field whose schema gives its cell's number format (``x-num-format``: a percentage, a
year shown as "(2021年度)", amounts with two decimals) is written into the .xlsx as the number,
in that format, so it shows as the clerk typed it and still adds up; the CSV files keep the
plain numbers (0.95, not "95%"), which is what programs reading them expect.
* ``.jsonl``: one JSON object per current submission that passed the machine check (or approved):
  ``department``, ``department_code``, ``submission_id``, ``file``, ``received_at``, ``review``,
  ``grade`` and the whole ``data``.

The form is ``form`` (a bundled id or a schema path); without it the database must hold exactly
one form id.  Unreadable files carry no form id: their errors are listed in every form's report.
Rows are read through SQLAlchemy Core from the :class:`~xltemplate.store.Store`'s tables (SQLite and
PostgreSQL alike) and streamed into the output; xlsxwriter runs in ``constant_memory`` mode.

Formula injection (text typed by departments reaches the finance office's Excel):

* ``.xlsx``: every text is written with ``write_string`` (never ``write()``, which would turn
  ``=...`` into a formula), and text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return additionally gets a format with ``quote_prefix``: the value is unchanged, and Excel keeps
  it text even when the cell is edited and confirmed again.
* ``.csv``: such text is written with a leading single quote ``'`` (the OWASP advice on CSV
  injection), because a CSV file has no way to say "this is text": Excel would evaluate
  ``=HYPERLINK(...)`` on opening.  The quote is visible; it is the price of safety.

:mod:`xltemplate.collect.injection` decides which text is at risk, for every file we write.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import xlsxwriter

from ..form import numfmt
from ..form.forms import FormNotFound, find_form, load_form
from ..form.model import FormModel
from ..form.schema import join_pointer, node_at, split_pointer, text
from ..messages import LANGS
from ..messages import t as t_
from ..xlsx.writer import FONT, display_width
from . import departments, injection, rounds, scans
from .rounds import Round
from .shapes import local_naive
from .store import Store

FORMATS = (".xlsx", ".csv", ".jsonl")
MAX_WIDTH = 60
HEADER_WIDTH = 24  # a longer header wraps onto more lines instead of widening its column
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r'[\[\]:*?/\\<>|"\x00-\x1f]')
_FETCH = 1000  # rows per round trip when streaming

#: report header -> catalog key (the 错误清单 columns are the annotated return's, the statuses the rounds')
_HEADERS = {"id": "report_id", "summary": "report_summary", "errors": "errors_sheet",
            "department": "col_department", "department_code": "report_department_code",
            "submission_id": "report_submission_id", "file": "report_file", "received_at": "report_received_at",
            "row": "report_row", "area": "report_area", "status": "col_status", "sheet": "errors_sheet_col",
            "cell": "errors_cell", "label": "errors_field", "value": "errors_found", "message": "errors_problem",
            "invalid": "status_invalid", "unreadable": "status_unreadable", "true": "report_true",
            "false": "report_false", "review": "report_review", "grade": "report_grade",
            "pending": "status_pending", "returned": "status_returned", "approved": "status_approved",
            "approved_only": "report_approved_only"}


def _texts(lang: str) -> dict[str, str]:
    return {name: t_(key, lang) for name, key in _HEADERS.items()}


class ReportError(ValueError):
    """The report cannot be written as asked (which form, which format); the message is for the user."""


@dataclass
class _Sheet:
    """One output table: a name, typed columns, and rows produced lazily (a query runs when iterated)."""

    name: str
    headers: list[str]
    kinds: list[str]  # text | number | integer | boolean | date | datetime
    rows: Callable[[], Iterable[tuple[Any, ...]]]
    #: per column, the number format a field's schema gives (``x-num-format``: a percentage is
    #: shown as the clerk typed it), None for the others; empty: none at all
    formats: list[str | None] = field(default_factory=list)


@dataclass
class _ArrayTable:
    table: sa.Table
    top: str  # the top-level property of the schema the table's areas live under
    cols: list[tuple[str, str, str]]  # item key, column, field kind
    titles: dict[str, str]  # item key -> title
    path_titles: dict[int, dict[str, str]]  # path level -> key stored -> the schema's title
    formats: dict[str, str | None] = field(default_factory=dict)  # item key -> x-num-format


def _titled(rows: Iterable[tuple[Any, ...]], group: _ArrayTable, levels: int, at: int) -> Iterator[tuple[Any, ...]]:
    """Rows of an array table with their path keys (annual, output) said as the schema's titles."""
    for row in rows:
        path = tuple(group.path_titles.get(i, {}).get(v, v) for i, v in enumerate(row[at:at + levels]))
        yield (*row[:at], *path, *row[at + levels:])


# -- choosing the form ------------------------------------------------------------------------

def form_ids(store: Store) -> list[str]:
    """The form ids of everything stored, sorted."""
    s = store.submissions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.form_id).where(s.c.form_id.is_not(None)).distinct()).scalars()
        return sorted(str(r) for r in rows)


def _model(store: Store, form: str | None, lang: str) -> FormModel:
    if form is None:
        ids = form_ids(store)
        if len(ids) == 1:
            form = ids[0]
        elif not ids:
            raise ReportError(t_("report_no_submissions", lang))
        else:
            raise ReportError(t_("report_several_forms", lang, forms=t_("list_sep", lang).join(ids)))
    model = find_form(form)
    if model is None:
        try:
            model = load_form(form)
        except FormNotFound as exc:
            raise ReportError(str(exc)) from exc
    return model


# -- the sheets -------------------------------------------------------------------------------

def _kind(field_kind: str) -> str:
    return field_kind if field_kind in ("number", "integer", "boolean", "date") else "text"


def _sheet_name(wanted: str, taken: set[str]) -> str:
    """A legal, unique (case-insensitively) Excel sheet name of at most 31 characters."""
    base = _BAD_SHEET_CHARS.sub("_", wanted).strip().strip("'") or "Sheet"
    name, n = base[:MAX_SHEET_NAME], 1
    while name.lower() in taken or name.lower() == "history":
        n += 1
        suffix = f"({n})"
        name = base[:MAX_SHEET_NAME - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def _stream(conn: sa.Connection, stmt: sa.Select) -> Iterator[tuple[Any, ...]]:
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=_FETCH))
    try:
        for row in result:
            yield tuple(row)
    finally:
        result.close()


def _current(store: Store, rnd: Round | None) -> tuple[Any, ...]:
    """The copies that count: current, not withdrawn, of the round (when there is one)."""
    s = store.submissions
    out = (s.c.is_current.is_(True), s.c.withdrawn_at.is_(None))
    return (*out, s.c.round_id == rnd.id) if rnd is not None else out


def _held(store: Store, model: FormModel, rnd: Round | None, approved_only: bool) -> tuple[Any, ...]:
    """The returns the 汇总 holds: current ones that passed the machine check (only the approved)."""
    s = store.submissions
    which = s.c.review == "approved" if approved_only else s.c.status == "valid"
    return (s.c.form_id == model.id, which, *_current(store, rnd))


def _sheets(store: Store, model: FormModel, conn: sa.Connection, lang: str, rnd: Round | None,
            approved_only: bool = False) -> list[_Sheet]:
    t = _texts(lang)
    s = store.submissions
    tables = store.tables_for(model)
    plan = tables.plans[model.hash]
    current = _current(store, rnd)
    valid = _held(store, model, rnd, approved_only)
    held = t["approved_only"] if approved_only else ""  # every sheet of returns says which it holds
    order = (sa.func.coalesce(s.c.department_code, ""), sa.func.coalesce(s.c.department, ""),
             sa.func.coalesce(s.c.submission_id, ""), s.c.id)
    state = sa.func.coalesce(s.c.review, "pending")
    keys = [s.c.id, s.c.department, s.c.department_code, s.c.submission_id, state, s.c.grade]
    key_headers = [t["id"], t["department"], t["department_code"], t["submission_id"], t["review"], t["grade"]]
    key_kinds = ["integer", "text", "text", "text", "state", "text"]
    taken: set[str] = set()

    # 汇总: one row per current return that passed the machine check, every scalar field typed
    by_tokens = {tuple(split_pointer(f.pointer)): f for f in model.fields if f.array is None}
    headers, kinds, columns = [*key_headers, t["file"], t["received_at"]], [*key_kinds, "text", "datetime"], []
    formats: list[str | None] = [None] * len(headers)
    for column, tokens, field_kind in plan.scalars:
        f = by_tokens.get(tuple(tokens))
        headers.append(f.label if f is not None else column)
        kinds.append(_kind(field_kind))
        formats.append(_num_format(f))
        columns.append(tables.fields.c[column])
    ft = tables.fields
    summary = (sa.select(*keys, s.c.file_name, s.c.received_at, *columns)
               .select_from(s.outerjoin(ft, ft.c.submission == s.c.id)).where(*valid).order_by(*order))
    summary_rows: Callable[[], Iterable[tuple[Any, ...]]] = lambda: _stream(conn, summary)  # noqa: E731
    if rnd is not None and scans.attachments(model.schema):  # which returns have a stamped scan of this data
        scanned = scans.by_return(store, rnd.id)
        said = {st: t_("report_scan_" + st, lang) for st in (scans.CURRENT, scans.STALE, scans.MISSING)}
        at = len(key_headers) + 2  # after the file and when it was received
        headers.insert(at, t_("report_scan", lang))
        kinds.insert(at, "text")
        formats.insert(at, None)

        def summary_rows() -> Iterator[tuple[Any, ...]]:
            for row in _stream(conn, summary):
                yield (*row[:at], said[scanned.get(row[0], scans.MISSING)], *row[at:])

    sheets = [_Sheet(_sheet_name(t["summary"] + held, taken), headers, kinds, summary_rows, formats)]

    # one sheet per array table, named after the schema title of its top-level property; the path
    # columns say the schema's titles (年度, 产出指标, 数量指标), never the keys stored (annual, output)
    groups: dict[str, _ArrayTable] = {}
    for path in plan.arrays:
        table, tokens, cols = tables.arrays[path.table], path.tokens, path.cols
        group = groups.setdefault(table.name, _ArrayTable(table, tokens[0], cols, {}, {}))
        area = model.arrays.get(join_pointer(tokens))
        for f in area.slots[0] if area is not None else []:
            key = split_pointer(f.pattern)[-1]
            group.titles.setdefault(key, text(f.schema.get("title") or key, lang))
            group.formats.setdefault(key, _num_format(f))
        for level in range(1, len(tokens)):
            node = node_at(model.schema, join_pointer(tokens[:level + 1]))
            group.path_titles.setdefault(level - 1, {}).setdefault(tokens[level],
                                                                   text(node.get("title") or tokens[level], lang))
    for group in groups.values():
        table, cols = group.table, group.cols
        top = node_at(model.schema, "/" + group.top)
        hint = top.get("x-table") if isinstance(top.get("x-table"), dict) else {}
        names = [c.name for c in table.columns]
        path_cols = names[2:names.index("label")]  # id, submission, *path, label, row, *items
        # headed by x-table's titles, else numbered groups (the path names are the database's)
        path_titles = list(hint.get("titles", []))
        path_headers = [text(path_titles[i], lang) if i < len(path_titles) else t_("report_level", lang, n=i + 1)
                        for i in range(len(path_cols))]
        headers = [*key_headers, *path_headers, t["area"], t["row"],
                   *(group.titles.get(key, key) for key, _c, _k in cols)]
        kinds = (key_kinds + ["text"] * (len(path_cols) + 1) + ["integer"] + [_kind(k) for _key, _c, k in cols])
        column_formats = [None] * (len(kinds) - len(cols)) + [group.formats.get(key) for key, _c, _k in cols]
        stmt = (sa.select(*keys, *(table.c[p] for p in path_cols), table.c.label, table.c.row,
                          *(table.c[c] for _key, c, _k in cols))
                .select_from(table.join(s, table.c.submission == s.c.id)).where(*valid)
                .order_by(*order, table.c.id))
        title = text(top.get("title") or group.top, lang)
        levels = len(path_cols)
        sheets.append(_Sheet(_sheet_name(title + held, taken), headers, kinds,
                             lambda stmt=stmt, group=group, levels=levels: _titled(_stream(conn, stmt), group, levels,
                                                                                   len(key_headers)), column_formats))

    # 错误清单: errors of current invalid or unreadable files (unreadable ones may have no form id,
    # and no round when nothing in them says where they belong: those are listed in every report)
    e = store.errors
    where = [*current[:2], s.c.status.in_(("invalid", "unreadable")),
             sa.or_(s.c.form_id == model.id, s.c.form_id.is_(None))]
    if rnd is not None:
        where.append(sa.or_(s.c.round_id == rnd.id, sa.and_(s.c.round_id.is_(None), s.c.form_id.is_(None))))
    errors = (sa.select(s.c.file_name, s.c.department, s.c.status, e.c.sheet, e.c.cell, e.c.label, e.c.value,
                        e.c.message)
              .select_from(e.join(s, e.c.submission == s.c.id)).where(*where).order_by(*order, e.c.id))

    def error_rows() -> Iterator[tuple[Any, ...]]:
        for row in _stream(conn, errors):
            yield (*row[:2], t.get(row[2], row[2]), *row[3:])

    sheets.append(_Sheet(_sheet_name(t["errors"], taken),
                         [t["file"], t["department"], t["status"], t["sheet"], t["cell"], t["label"], t["value"],
                          t["message"]], ["text"] * 8, error_rows))
    notes = _notes(store, model, conn, current, lang)
    if notes:
        sheets.append(_Sheet(_sheet_name(t_("sheet_notes", lang), taken),
                             [t["id"], t["file"], t["department"], t_("col_version", lang), t["label"], t["value"],
                              t["message"]], ["integer"] + ["text"] * 6, lambda: notes))
    if rnd is not None:
        sheets += _round_sheets(store, rnd, lang, taken)
    return sheets


def _notes(store: Store, model: FormModel, conn: sa.Connection, current: tuple[Any, ...],
           lang: str) -> list[tuple[Any, ...]]:
    """Notes for staff on current returns (fields of an earlier form version that the current one
    no longer has): a sheet 版本提示 when there are any."""
    s = store.submissions
    rows = conn.execute(sa.select(s.c.id, s.c.file_name, s.c.department, s.c.form_version, s.c.notes)
                        .where(s.c.form_id == model.id, s.c.notes.is_not(None), *current).order_by(s.c.id)).all()
    return [(r.id, r.file_name, r.department, r.form_version, n.get("label"), _note_value(n.get("value")),
             n.get("message")) for r in rows for n in (r.notes or [])]


def _note_value(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _round_sheets(store: Store, rnd: Round, lang: str, taken: set[str]) -> list[_Sheet]:
    """报送情况 (every department of the roster and where it stands) and 未报送 (who sent nothing)."""
    lines = departments.status(store, rnd)
    heads = [t_(k, lang) for k in ("col_code", "col_department", "col_status", "col_returns", "col_approved",
                                   "col_last_sent", "col_contact", "col_office")]
    table = [(d.code, d.name, t_("status_" + d.status, lang), d.returns, d.counts.approved, local_naive(d.last_sent),
              d.contact, d.office) for d in lines]
    missing = [(d.code, d.name, d.contact) for d in lines if d.in_roster and d.status == departments.NOT_RETURNED]
    return [
        _Sheet(_sheet_name(t_("sheet_status", lang), taken), heads,
               ["text", "text", "text", "integer", "integer", "datetime", "text", "text"], lambda: table),
        _Sheet(_sheet_name(t_("sheet_missing", lang), taken), [heads[0], heads[1], heads[6]], ["text"] * 3,
               lambda: missing),
    ]


def report_round(store: Store, model: FormModel, name: str | None) -> Round | None:
    """The round a report is for: the one named, else the form's only or latest open round, else
    its latest round; None when the form has no rounds (everything current is reported)."""
    if name:
        rnd = rounds.find_round(store, name)
        if rnd.form_id != model.id:
            raise ReportError(t_("carry_other_form", name=rnd.name, found=rnd.form_id, expected=model.id))
        return rnd
    mine = rounds.rounds(store, model.id)
    return rounds.default_round(mine, model.id) or (mine[0] if mine else None)


# -- writing ----------------------------------------------------------------------------------

def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _num_format(f: Any) -> str | None:
    """The number format a number field's schema gives (``x-num-format``), if any."""
    code = f.schema.get("x-num-format") if f is not None and f.kind in ("number", "integer") else None
    return code if isinstance(code, str) and code else None


def _as_text(value: Any, kind: str, lang: str, code: str | None = None) -> str:
    """A value as CSV text, or as the basis of a column's width: with ``code`` (its field's
    ``x-num-format``, for the width of a 汇总 column) as the cell shows it where that can be
    rendered exactly."""
    if value is None:
        return ""
    if kind == "state":  # a review state, in words
        return t_("status_" + str(value), lang)
    if code is not None and isinstance(value, int | float) and not isinstance(value, bool):
        shown = numfmt.render(value, code)
        if shown is not None:
            return shown.strip()
    if isinstance(value, bool):
        return t_("report_true" if value else "report_false", lang)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and kind != "text":
        return _number_text(value)
    return str(value)


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Write to a temporary file beside ``path``, moved into place only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_xlsx(sheets: list[_Sheet], out: Path, lang: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with _replacing(out) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False,
                                              "strings_to_formulas": False, "strings_to_urls": False,
                                              "default_date_format": "yyyy-mm-dd"})
        try:
            book.formats[0].set_font_name(FONT)  # the default format: empty cells in 宋体 too
            base = {"font_name": FONT, "font_size": 10}
            head = book.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                    "valign": "vcenter"})
            fmt = {"text": book.add_format(base), "number": book.add_format(base),
                   "integer": book.add_format(base),
                   "date": book.add_format({**base, "num_format": "yyyy-mm-dd"}),
                   "datetime": book.add_format({**base, "num_format": "yyyy-mm-dd hh:mm:ss"}),
                   "boolean": book.add_format(base)}
            quoted = book.add_format({**base, "quote_prefix": True})
            own: dict[str, Any] = {}  # x-num-format -> its format, made once
            for sheet in sheets:
                ws = book.add_worksheet(sheet.name)
                codes = sheet.formats or [None] * len(sheet.headers)
                widths = [min(display_width(h), HEADER_WIDTH) for h in sheet.headers]
                lines = max((-(-display_width(h) // HEADER_WIDTH) for h in sheet.headers), default=1)
                ws.set_row(0, 14 * max(lines, 1) + 4)  # before the row is written: constant_memory
                for col, header in enumerate(sheet.headers):
                    ws.write_string(0, col, header, injection.xlsx_format(header, head, quoted))
                n = 0
                for n, row in enumerate(sheet.rows(), start=1):
                    for col, (value, kind) in enumerate(zip(row, sheet.kinds, strict=True)):
                        if value is None:
                            continue
                        code = codes[col]
                        shown = _as_text(value, kind, lang, code)
                        if kind == "state":
                            value = shown
                        if kind in ("date", "datetime") and isinstance(value, dt.date):
                            ws.write_datetime(n, col, value, fmt[kind])
                        elif isinstance(value, bool):
                            ws.write_boolean(n, col, value, fmt["boolean"])
                        elif isinstance(value, int | float) and kind != "text":
                            if code is not None and code not in own:
                                own[code] = book.add_format({**base, "num_format": code})
                            ws.write_number(n, col, value, own[code] if code is not None else fmt[kind])
                        else:
                            ws.write_string(n, col, shown, injection.xlsx_format(shown, fmt["text"], quoted))
                        if widths[col] < MAX_WIDTH:
                            widths[col] = min(max(widths[col], display_width(shown[:MAX_WIDTH])), MAX_WIDTH)
                counts[sheet.name] = n
                for col, width in enumerate(widths):
                    ws.set_column(col, col, max(width, 6) + 2)
                ws.freeze_panes(1, 0)
                ws.autofilter(0, 0, n, len(sheet.headers) - 1)
        finally:
            book.close()
    return counts


def _csv_path(out: Path, sheet: str, first: bool) -> Path:
    return out if first else out.with_name(f"{out.stem}.{sheet}.csv")


def _write_csv(sheets: list[_Sheet], out: Path, lang: str) -> dict[str, int]:
    counts: dict[str, int] = {}

    def cell(value: Any, kind: str) -> str:
        shown = _as_text(value, kind, lang)
        return injection.csv_text(shown) if isinstance(value, str) else shown  # numbers stay numbers

    for i, sheet in enumerate(sheets):
        with _replacing(_csv_path(out, sheet.name, i == 0)) as tmp, \
                tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([cell(h, "text") for h in sheet.headers])
            n = 0
            for row in sheet.rows():
                w.writerow([cell(v, k) for v, k in zip(row, sheet.kinds, strict=True)])
                n += 1
            counts[sheet.name] = n
    return counts


def _write_jsonl(store: Store, model: FormModel, conn: sa.Connection, out: Path, lang: str,
                 rnd: Round | None, approved_only: bool = False) -> dict[str, int]:
    s = store.submissions
    stmt = (sa.select(s.c.department, s.c.department_code, s.c.submission_id, s.c.file_name, s.c.received_at,
                      sa.func.coalesce(s.c.review, "pending"), s.c.grade, s.c.data)
            .where(*_held(store, model, rnd, approved_only))
            .order_by(sa.func.coalesce(s.c.department_code, ""), sa.func.coalesce(s.c.department, ""),
                      sa.func.coalesce(s.c.submission_id, ""), s.c.id))
    n = 0
    with _replacing(out) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for dept, code, sid, file_name, received, review, grade, data in _stream(conn, stmt):
            line = {"department": dept, "department_code": code, "submission_id": sid, "file": file_name,
                    "received_at": received.isoformat() if received is not None else None, "review": review,
                    "grade": grade, "data": data}
            fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            n += 1
    return {t_("report_summary", lang): n}


def write_report(store: Store, out: Path, *, form: str | None = None, lang: str = "zh",
                 round_name: str | None = None, approved_only: bool = False) -> dict[str, int]:
    """Write the report for ``form`` to ``out`` (.xlsx, .csv or .jsonl); rows written per sheet.

    The report is for one round (``round_name``, else the form's only or latest open round, else its
    latest): its returns, and the sheets 报送情况 and 未报送.  A form with no rounds reports
    everything current.  ``approved_only``: the returns a reviewer approved (审核通过) alone."""
    out = Path(out)
    lang = lang if lang in LANGS else "zh"
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(t_("report_bad_format", lang, suffix=out.suffix or t_("report_no_suffix", lang)))
    model = _model(store, form, lang)
    store.tables_for(model)  # creates the form's tables if nothing of it was imported yet (outside our read)
    try:
        rnd = report_round(store, model, round_name)
    except rounds.RoundError as exc:
        raise ReportError(exc.message(lang)) from exc
    with store.engine.connect() as conn:
        if suffix == ".jsonl":
            return _write_jsonl(store, model, conn, out, lang, rnd, approved_only)
        sheets = _sheets(store, model, conn, lang, rnd, approved_only)
        if suffix == ".csv":
            return _write_csv(sheets, out, lang)
        return _write_xlsx(sheets, out, lang)


def round_report(store: Store, rnd: Round, suffix: str, scratch: Path, lang: str = "zh",
                 approved_only: bool = False) -> bytes:
    """The report of round ``rnd`` as bytes (``suffix`` .xlsx or .csv: the 汇总 sheet), written in
    a folder of its own under ``scratch`` and removed after."""
    tmp = Path(tempfile.mkdtemp(dir=scratch))
    try:
        out = tmp / f"report{suffix}"
        write_report(store, out, form=rnd.form_id, round_name=rnd.name, lang=lang, approved_only=approved_only)
        return out.read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
