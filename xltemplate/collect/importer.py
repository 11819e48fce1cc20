"""Import: workbook -> raw values (by the form's read plan) -> coercion -> validation -> result.

The steps hand each other explicit results: :func:`~xltemplate.xlsx.reader.open_book` a
``RawBook``, :func:`~xltemplate.xlsx.reader.read_cells` the ``Cells`` (values and where each was
read), :func:`extract` a :class:`Reading` (the instance, and which cell each value of it came
from).  Every issue names the cell its value was actually read at (``Issue.cell``), and the form's
own cell as well when a client moved it (``Issue.form_cell``).

One call per file; a file that cannot be read becomes an ``unreadable`` result with a message,
never an exception, so one bad file never stops a batch.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..form import numfmt
from ..form.excel import a1
from ..form.forms import bundled, find_form, find_version, load_form
from ..form.model import Field, FormModel
from ..form.plan import LabelCell, Position, ReadPlan
from ..form.validate import Issue, check, scaffold
from ..form.values import MISSING
from ..messages import message, t
from ..xlsx.reader import Cells, RawBook, ReadError, open_book, read_cells
from .integrity import check as check_integrity

VALID, INVALID, UNREADABLE = "valid", "invalid", "unreadable"


@dataclass
class ImportResult:
    file: str
    status: str
    form: str | None = None
    version: str | None = None
    submission_id: str | None = None
    data: dict[str, Any] | None = None
    errors: list[Issue] = field(default_factory=list)
    saved_at: dt.datetime | None = None  # when the client last saved it (document properties)
    #: for staff, not errors: values kept as stored because their look could not be rendered exactly
    #: (``{code, pointer, label, value, message}``, as the rounds' notes are)
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: 提示: the form's warning rules (x-warnings) it fails; never a reason to be invalid
    warnings: list[Issue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "form": self.form, "version": self.version,
                "submission_id": self.submission_id, "saved_at": self.saved_at.isoformat() if self.saved_at else None,
                "data": self.data, "errors": [e.as_dict() for e in self.errors],
                "warnings": [w.as_dict() for w in self.warnings]}


def _file_issue(msg: str, code: str) -> Issue:
    return Issue(sheet=None, cell=None, pointer=None, label=None, value=None, message=msg, code=code)


def _set(data: dict[str, Any], tokens: tuple[str, ...], value: Any) -> None:
    node: Any = data
    for token in tokens[:-1]:
        node = node.setdefault(token, {})
    node[tokens[-1]] = value


@dataclass(frozen=True)
class Reading:
    """What one return gave, by its form's read plan: the instance, and where each value came from.

    ``cells`` has every field's raw value and the cell it was read at (by defined name where the
    name survives); ``pointers`` maps a field's index to its pointer into ``data`` (blank rows of
    a repeating area are skipped, so the n-th item is not always the n-th template row); ``rows``
    gives, per repeating area, the template row each item came from; ``unshown`` the text fields
    whose number format could not be rendered (their stored value is kept, and noted).
    """

    model: FormModel
    data: dict[str, Any]
    cells: Cells
    pointers: dict[int, str]
    rows: dict[str, list[int]]
    unshown: tuple[int, ...] = ()

    def placed(self, i: int) -> Field:
        """Field ``i`` of the plan, placed at the cell its value was read from."""
        f = self.model.read_plan.fields[i]
        sheet, row, col = self.cells.where[i]
        if (sheet, row, col) == (f.sheet, f.row, f.col):
            return f
        return replace(f, sheet=sheet, row=row, col=col)

    def locate(self, pointer: str) -> Field | None:
        """The field holding ``pointer`` (a pointer into ``data``; for a section or an array, its
        first field), placed where its value was read: errors name that cell."""
        for area, slots in self.rows.items():
            if pointer.startswith(area + "/"):
                rest = pointer[len(area) + 1:].split("/", 1)
                if rest[0].isdigit() and int(rest[0]) < len(slots):
                    pointer = f"{area}/{slots[int(rest[0])]}" + (f"/{rest[1]}" if len(rest) > 1 else "")
                break
        f = self.model.field_for(pointer)
        return self.placed(self.model.read_plan.index[f.pointer]) if f is not None else None

    def issue(self, i: int, value: Any, message: str, code: str) -> Issue:
        """An issue at field ``i``'s cell as read, naming the form's cell too when it moved."""
        f, home = self.placed(i), self.model.read_plan.fields[i]
        return Issue(f.sheet, f.cell, self.pointers.get(i, home.pointer), f.label, value, message, code,
                     form_cell=home.cell if f is not home else None)


def extract(model: FormModel, cells: Cells) -> Reading:
    """The instance in ``cells`` (read by ``model.read_plan``), coerced, with where each value was.

    A number a text field holds in a formatted cell becomes the text the clerk saw (95%, 1,234.50,
    2021年1月: :func:`~xltemplate.form.numfmt.render`); one whose format cannot be rendered exactly
    keeps its stored value, listed in ``unshown``."""
    plan = model.read_plan
    raw, fields, coercers = cells.values, plan.fields, plan.coercers
    unshown: list[int] = []
    if cells.formats and any(cells.formats):
        raw = list(raw)
        for i, code in enumerate(cells.formats):
            if code is not None and plan.shown[i]:
                text = numfmt.render(raw[i], code)
                if text is None:
                    unshown.append(i)
                else:
                    raw[i] = text
    data: dict[str, Any] = {}
    pointers: dict[int, str] = {}
    for i, tokens in plan.scalars:
        if raw[i] is not None:
            value = coercers[i](raw[i])
            if value is not MISSING:
                _set(data, tokens, value)
                pointers[i] = fields[i].pointer
    slot_of: dict[str, list[int]] = {}
    for area in plan.arrays:
        found = area.cells(raw)
        if found.count(None) == len(found):
            continue  # a blank area
        rows = []
        for n, slot in enumerate(area.slots):
            found = area.rows[n](raw)
            if found.count(None) == len(found):
                continue  # a blank row
            item: dict[str, Any] = {}
            for i, key in slot:
                if raw[i] is not None:
                    value = coercers[i](raw[i])
                    if value is not MISSING:
                        item[key] = value
                        pointers[i] = f"{area.pointer}/{len(rows)}/{key}"
            if item:
                rows.append(item)
                slot_of.setdefault(area.pointer, []).append(n)
        if rows:
            _set(data, area.tokens, rows)
    data = scaffold(model, data, arrays=False)  # required sections present, even if empty
    return Reading(model, data, cells, pointers, slot_of, tuple(unshown))


def format_notes(reading: Reading, lang: str) -> list[dict[str, Any]]:
    """A note for staff per text value kept as stored because its number format could not be
    rendered exactly (never a guess: the clerk's text is unknown, the stored number is kept)."""
    out = []
    for i in reading.unshown:
        if i not in reading.pointers:
            continue
        f = reading.placed(i)
        value = reading.cells.values[i]
        code = reading.cells.formats[i]
        out.append({"code": "num_format_kept", "pointer": reading.pointers[i], "label": f.label, "value": str(value),
                    "message": t("num_format_kept", lang, cell=f"{f.sheet}!{f.cell}", label=f.label, format=code,
                                 value=value)})
    return out


def _labels_off(plan: ReadPlan, book: RawBook, where: tuple[Position, ...], lang: str) -> list[str]:
    """Label cells of the layout not found where they should be: at the form's cell, moved as the
    fields of their row (or the nearest row above) were moved, by the positions ``where`` the
    fields are read from (their names, else the form's cells)."""
    shift: dict[tuple[str, int], tuple[int, int]] = {}
    if where != plan.home:  # some name moved: each row's labels move as its first field on its sheet
        for (sheet, row, col), (at_sheet, at_row, at_col) in zip(plan.home, where, strict=True):
            if at_sheet == sheet:
                shift.setdefault((sheet, row), (at_row - row, at_col - col))
    off, missing = [], set()
    by_sheet: dict[str, list[tuple[LabelCell, int, int]]] = {}
    for label in plan.labels:  # in the sheets' order: each sheet is read in one pass
        sheet = label.sheet
        if sheet not in book.states:
            if sheet not in missing:
                missing.add(sheet)
                off.append(t("label_sheet_missing", lang, sheet=sheet))
            continue
        dr, dc = shift.get((sheet, label.anchor), (0, 0)) if shift and label.anchor is not None else (0, 0)
        by_sheet.setdefault(sheet, []).append((label, label.row + dr, label.col + dc))
    for sheet, labels in by_sheet.items():
        keys = [(row, col) for _, row, col in labels]
        if shift:
            order = sorted(range(len(keys)), key=keys.__getitem__)
            found = dict(zip(order, book.values(sheet, [keys[i] for i in order]), strict=True))
            texts = [found[i] for i in range(len(keys))]
        else:
            texts = book.values(sheet, keys, [label.ref for label, _, _ in labels],
                                [label.text for label, _, _ in labels])
        for (label, row, col), found in zip(labels, texts, strict=True):
            if found != label.text and "".join(str(found or "").split()) != label.squashed:
                off.append(t("label_off", lang, cell=f"{sheet}!{a1(row, col)}", label=label.text, found=found or ""))
    return off


def structure_issue(model: FormModel, book: RawBook, cells: Cells, lang: str) -> Issue | None:
    """Whether values can be found safely: by defined names where they survive, else by the form's
    cells (``cells.where``); either way the labels around them must be where that puts them (a
    program that inserts rows without updating names, or a copy retyped in another layout, is
    refused)."""
    broken = [f for f in model.fields if f.name in book.broken_names] if book.broken_names else []
    if broken:
        where = "、".join(f"“{f.label}”（{f.sheet}!{f.cell}）" for f in broken[:3])
        return _file_issue(message("cells_deleted", lang, where=where, n=len(broken)), "structure")
    off = _labels_off(model.read_plan, book, cells.where, lang)
    if off:
        return _file_issue(message("moved", lang, where="；".join(off[:3]), n=len(off)), "structure")
    return None


def recognise(book: RawBook, form: FormModel | None, lang: str) -> tuple[FormModel | None, list[Issue]]:
    """The form model a workbook is, and the issues found on the way (a refusal when no model)."""
    meta = book.meta
    found = meta.get("form_id")
    if not found:
        return _by_labels(book, form, lang)
    model = form if form is not None and form.id == found else find_form(found)
    if form is not None and found != form.id:
        return None, [_file_issue(message("other_form", lang, found=found, expected=form.id), "other_form")]
    if model is None:
        return None, [_file_issue(message("unknown_form", lang, found=found), "unknown_form")]
    version = meta.get("form_version", "")
    if version != model.version or meta.get("layout_hash") != model.hash:
        # made from another published version of the form: read by that version's own layout
        other = find_version(found, version, meta.get("layout_hash"), near=model) if version else None
        if other is not None:
            return other, []
    if version != model.version:
        return None, [_file_issue(message("old_version", lang, form=model.title, found=version or "?",
                                          expected=model.version), "old_version")]
    if meta.get("layout_hash") != model.hash:
        return None, [_file_issue(message("modified", lang, form=model.title, version=model.version), "modified")]
    return model, []


def _by_labels(book: RawBook, form: FormModel | None, lang: str) -> tuple[FormModel | None, list[Issue]]:
    """No metadata: a form whose every label is found where its layout puts it can still be read
    (a copy retyped or re-saved by a program that drops hidden sheets and properties); it is
    reported, so nobody takes it for an issued template."""
    candidates = [form] if form is not None else [load_form(p) for p in bundled().values()]
    for model in candidates:
        if model is None or not {s.name for s in model.sheets} <= set(book.states):
            continue
        if not _labels_off(model.read_plan, book, model.read_plan.home, lang):
            return model, [_file_issue(message("read_by_labels", lang, form=model.title), "no_metadata")]
    return None, [_file_issue(message("no_metadata", lang), "no_metadata")]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell_issues(book: RawBook, reading: Reading, lang: str) -> list[Issue]:
    """What the cells say beyond their values: formulas typed where values belong, values in
    hidden rows or columns, invisible control characters.  Pointers are into the instance."""
    out = []
    raw, where = reading.cells.values, reading.cells.where
    if book.kind == "xlsx":
        plan = reading.model.read_plan
        at = plan.index_of if where is plan.home else {w: i for i, w in enumerate(where)}
        for sheet in plan.sheets if where is plan.home else {w[0] for w in where}:
            scan = book.scan(sheet)
            for (row, col), formula in scan.formulas.items():
                i = at.get((sheet, row, col))
                if i is not None:
                    out.append(reading.issue(i, "=" + formula, t("formula_in_input", lang), "formula"))
            if scan.hidden_rows or scan.hidden_cols:
                for i, ((s, row, col), value) in enumerate(zip(where, raw, strict=True)):
                    if s == sheet and value is not None and (row in scan.hidden_rows or col in scan.hidden_cols):
                        out.append(reading.issue(i, value, t("hidden_value", lang), "hidden"))
    for i, value in enumerate(raw):
        if type(value) is str and not value.isprintable() and i in reading.pointers \
                and _CONTROL.search(value):
            out.append(reading.issue(i, value, t("control_chars", lang), "control"))
    return out


def read_error_message(exc: ReadError, lang: str) -> str:
    """What a clerk reads when a file cannot be read (active content says what and where)."""
    if exc.code == "active_content":
        return message("active_content", lang, what=t(f"active_{exc.what}", lang), where=exc.where)
    return message(exc.code, lang, detail=exc.detail)


def import_workbook(path: str | Path, form: str | Path | FormModel | None = None, lang: str = "zh", *,
                    data: bytes | None = None, with_meta: bool = False, key: str | None = None) -> Any:
    """Read, coerce and validate one returned workbook (from ``path``, or ``data`` already read).

    Never raises for a bad file: it becomes an ``unreadable`` result with a message.  With
    ``with_meta`` the workbook's metadata comes back too, as ``(result, meta)``.  With ``key``
    the template's signature is checked (:mod:`integrity`).
    """
    result = ImportResult(file=str(path), status=UNREADABLE)
    meta: dict[str, str] = {}

    def done() -> Any:
        return (result, meta) if with_meta else result

    expected = load_form(form) if isinstance(form, str | Path) else form
    try:
        book = open_book(path, data)
        meta = book.meta
        result.saved_at = book.saved_at
        result.form = meta.get("form_id") or None
        result.version = meta.get("form_version") or None
        result.submission_id = meta.get("submission_id") or None
        model, notes = recognise(book, expected, lang)
        if model is None:
            result.errors += notes
            return done()
        result.form = model.id  # also when it was recognised by its labels
        cells = read_cells(book, model.read_plan)
        problem = structure_issue(model, book, cells, lang)
        if problem is not None:
            result.errors.append(problem)
            return done()
        reading = extract(model, cells)
        found = cell_issues(book, reading, lang) + check_integrity(model, meta, reading.data, key, lang,
                                                                  reading.locate)
    except ReadError as exc:
        result.errors.append(_file_issue(read_error_message(exc, lang), exc.code))
        return done()
    except Exception as exc:  # a bug of ours or a library's: the file is reported, the batch goes on
        if os.environ.get("XLTEMPLATE_DEBUG"):
            raise
        result.errors = [_file_issue(message("unexpected", lang, detail=f"{type(exc).__name__}: {exc}"), "unexpected")]
        result.data, result.status = None, UNREADABLE
        return done()
    result.data = reading.data
    result.notes = format_notes(reading, lang)
    errors, result.warnings = check(model, reading.data, lang, reading.locate)
    result.errors = notes + found + errors
    result.status = INVALID if result.errors else VALID
    return done()


def locator(path: str | Path, data: bytes, lang: str = "zh") -> Any:
    """Where each value of a stored return was read (:meth:`Reading.locate`), read again from its
    bytes: a reviewer's reason names the cell the clerk's copy used, by the same rule as an error.
    None when the file cannot be read that far."""
    try:
        book = open_book(path, data)
        model, _notes = recognise(book, None, lang)
        if model is None:
            return None
        cells = read_cells(book, model.read_plan)
        if structure_issue(model, book, cells, lang) is not None:
            return None
        return extract(model, cells).locate
    except Exception:  # a file that read before and does not now: the form's own cells will do
        if os.environ.get("XLTEMPLATE_DEBUG"):
            raise
        return None
