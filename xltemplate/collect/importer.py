"""Import: workbook -> raw values (by the form model) -> coercion -> validation -> result.

One call per file; a file that cannot be read becomes an ``unreadable`` result with a message,
never an exception, so one bad file never stops a batch.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..form.coerce import coerce
from ..form.forms import find_form, find_version, load_form
from ..form.model import Field, FormModel, a1
from ..form.schema import split_pointer
from ..form.validate import Issue, scaffold, validate
from ..form.values import MISSING
from ..messages import message
from ..xlsx.reader import RawBook, ReadError, open_book
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

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "form": self.form, "version": self.version,
                "submission_id": self.submission_id, "saved_at": self.saved_at.isoformat() if self.saved_at else None,
                "data": self.data, "errors": [e.as_dict() for e in self.errors]}


def _file_issue(msg: str, code: str) -> Issue:
    return Issue(sheet=None, cell=None, pointer=None, label=None, value=None, message=msg, code=code)


def _set(data: dict[str, Any], tokens: list[str], value: Any) -> None:
    node: Any = data
    for i, token in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if isinstance(node, list):
            node = node[int(token)]
            continue
        node = node.setdefault(token, [] if nxt.isdigit() else {})
    if isinstance(node, list):
        node.append(value)
    else:
        node[tokens[-1]] = value


@dataclass
class _Plan:
    """What extraction needs per form, worked out once: every field in reading order, the scalar
    ones with their paths, and the repeating areas with each slot's (field index, item key)."""

    fields: list[Field]
    scalars: list[tuple[int, Field, list[str]]]
    arrays: list[tuple[str, list[str], list[list[tuple[int, Field, str]]]]]


def _plan(model: FormModel) -> _Plan:
    if "extract-plan" not in model.cache:
        index = {f.pointer: i for i, f in enumerate(model.fields)}
        in_arrays = {f.pointer for area in model.arrays.values() for slot in area.slots for f in slot}
        scalars = [(index[f.pointer], f, split_pointer(f.pointer)) for f in model.fields if f.pointer not in in_arrays]
        arrays = [(pointer, split_pointer(pointer),
                   [[(index[f.pointer], f, split_pointer(f.pattern)[-1]) for f in slot] for slot in area.slots])
                  for pointer, area in model.arrays.items()]
        model.cache["extract-plan"] = _Plan(list(model.fields), scalars, arrays)
    return model.cache["extract-plan"]


def extract(model: FormModel, book: RawBook) -> tuple[dict[str, Any], Callable[[str], Field | None]]:
    """The instance read from ``book`` and a function mapping its pointers back to fields.

    Blank rows of a repeating area are skipped, so the n-th item is not always the n-th template
    row: the returned ``locate`` knows which row each item came from, and ``book.data_pointers``
    (field index -> pointer into the instance) goes the other way.
    """
    plan = _plan(model)
    raw = book.read_all(plan.fields)
    data: dict[str, Any] = {}
    pointers: dict[int, str] = {}
    for i, f, tokens in plan.scalars:
        if raw[i] is not None:
            value = coerce(raw[i], f)
            if value is not MISSING:
                _set(data, tokens, value)
                pointers[i] = f.pointer
    slot_of: dict[str, list[int]] = {}
    for pointer, tokens, slots in plan.arrays:
        rows = []
        for n, slot in enumerate(slots):
            item: dict[str, Any] = {}
            for i, f, key in slot:
                if raw[i] is not None:
                    value = coerce(raw[i], f)
                    if value is not MISSING:
                        item[key] = value
                        pointers[i] = f"{pointer}/{len(rows)}/{key}"
            if item:
                rows.append(item)
                slot_of.setdefault(pointer, []).append(n)
        if rows:
            node = data
            for token in tokens[:-1]:
                node = node.setdefault(token, {})
            node[tokens[-1]] = rows
    book.data_pointers = pointers
    data = scaffold(model.schema, data, arrays=False)  # required sections present, even if empty

    def locate(pointer: str) -> Field | None:
        for array, slots in slot_of.items():
            if pointer.startswith(array + "/"):
                rest = pointer[len(array) + 1:].split("/", 1)
                if rest[0].isdigit() and int(rest[0]) < len(slots):
                    pointer = f"{array}/{slots[int(rest[0])]}" + (f"/{rest[1]}" if len(rest) > 1 else "")
                break
        return model.field_for(pointer)

    return data, locate


@dataclass
class _Labels:
    """Per form, worked out once: each label cell with its squashed text and the model row of the
    fields that carry it along (its own row, else the nearest row with fields above)."""

    cells: list[tuple[str, int, int, str, str, int | None]]  # sheet, row, col, text, squashed, anchor row


def _label_plan(model: FormModel) -> _Labels:
    if "label-plan" not in model.cache:
        rows: dict[str, list[int]] = {}
        for f in model.fields:
            rows.setdefault(f.sheet, []).append(f.row)
        cells = []
        for layout in model.sheets:
            field_rows = sorted(set(rows.get(layout.name, [])))
            for cell in layout.cells:
                if cell.kind == "text" and cell.text:
                    above = [r for r in field_rows if r <= cell.row] or field_rows[:1]
                    cells.append((layout.name, cell.row, cell.col, cell.text, "".join(cell.text.split()),
                                  above[-1] if above else None))
        model.cache["label-plan"] = _Labels(cells)
    return model.cache["label-plan"]


def _labels_off(model: FormModel, book: RawBook, where: dict[str, tuple[str, int, int]]) -> list[str]:
    """Label cells of the layout not found where they should be: at the form's cell, moved as the
    fields of their row (or the nearest row above) were moved, by the names that locate them."""
    shift: dict[tuple[str, int], tuple[int, int]] = {}
    for f in model.fields:
        sheet, row, col = where.get(f.pointer, (f.sheet, f.row, f.col))
        if sheet == f.sheet:
            shift.setdefault((f.sheet, f.row), (row - f.row, col - f.col))
    off, missing = [], set()
    for sheet, row, col, label, squashed, anchor in _label_plan(model).cells:
        if sheet not in book.states:
            if sheet not in missing:
                missing.add(sheet)
                off.append(f"缺少工作表“{sheet}”")
            continue
        dr, dc = shift.get((sheet, anchor), (0, 0)) if anchor is not None else (0, 0)
        found = book.value(sheet, row + dr, col + dc)
        if found != label and "".join(str(found or "").split()) != squashed:
            off.append(f"{sheet}!{a1(row + dr, col + dc)} 应为“{label}”，现为“{found or ''}”")
    return off


def structure_issue(model: FormModel, book: RawBook, lang: str) -> Issue | None:
    """Whether values can be found safely: by defined names where they survive, else by the form's
    cells; either way the labels around them must be where that puts them (a program that
    inserts rows without updating names, or a copy retyped in another layout, is refused)."""
    broken = [f for f in model.fields if f.name in book.broken_names]
    if broken:
        where = "、".join(f"“{f.label}”（{f.sheet}!{f.cell}）" for f in broken[:3])
        return _file_issue(message("cells_deleted", lang, where=where, n=len(broken)), "structure")
    named = {f.pointer: book.names[f.name] for f in model.fields
             if f.name in book.names and book.names[f.name][0] in book.states}
    off = _labels_off(model, book, named)
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
    from ..form.forms import bundled

    candidates = [form] if form is not None else [load_form(p) for p in bundled().values()]
    for model in candidates:
        if model is None or not {s.name for s in model.sheets} <= set(book.states):
            continue
        if not _labels_off(model, book, {}):
            return model, [_file_issue(message("read_by_labels", lang, form=model.title), "no_metadata")]
    return None, [_file_issue(message("no_metadata", lang), "no_metadata")]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell_issues(model: FormModel, book: RawBook, lang: str) -> list[Issue]:
    """What the cells say beyond their values: formulas typed where values belong, values in
    hidden rows or columns, invisible control characters.  Pointers are into the instance."""
    out = []
    zh = lang == "zh"
    fields, raw, pointers = model.fields, book.values, book.data_pointers
    if book.kind == "xlsx":
        at = {where: i for i, where in enumerate(book.located)}
        for sheet in {where[0] for where in book.located}:
            scan = book.scan(sheet)
            for (row, col), formula in scan.formulas.items():
                i = at.get((sheet, row, col))
                if i is not None:
                    f = fields[i]
                    out.append(Issue(sheet, a1(row, col), pointers.get(i, f.pointer), f.label, "=" + formula,
                                     "这里应直接填写内容，不能填写公式（公式结果无法核对）" if zh else
                                     "Type the value itself here, not a formula (its result cannot be checked)",
                                     "formula"))
            if scan.hidden_rows or scan.hidden_cols:
                for i, (where, value) in enumerate(zip(book.located, raw, strict=True)):
                    if where[0] == sheet and value is not None and (where[1] in scan.hidden_rows
                                                                    or where[2] in scan.hidden_cols):
                        f = fields[i]
                        out.append(Issue(sheet, a1(where[1], where[2]), pointers.get(i, f.pointer), f.label, value,
                                         "这一行（列）被隐藏了，但里面填有内容；请取消隐藏后核对" if zh else
                                         "This row (column) is hidden but holds a value; unhide it and check",
                                         "hidden"))
    for i, value in enumerate(raw):
        if isinstance(value, str) and _CONTROL.search(value) and i in pointers:
            f, (sheet, row, col) = fields[i], book.located[i]
            out.append(Issue(sheet, a1(row, col), pointers[i], f.label, value,
                             "含有看不见的控制字符，请删除后重新输入" if zh else
                             "Contains invisible control characters; delete and retype it", "control"))
    return out


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
        problem = structure_issue(model, book, lang)
        if problem is not None:
            result.errors.append(problem)
            return done()
        values, locate = extract(model, book)
        found = cell_issues(model, book, lang) + check_integrity(model, meta, values, key, lang)
    except ReadError as exc:
        result.errors.append(_file_issue(message(exc.code, lang, detail=exc.detail), exc.code))
        return done()
    except Exception as exc:  # a bug of ours or a library's: the file is reported, the batch goes on
        if os.environ.get("XLTEMPLATE_DEBUG"):
            raise
        result.errors = [_file_issue(message("unexpected", lang, detail=f"{type(exc).__name__}: {exc}"), "unexpected")]
        result.data, result.status = None, UNREADABLE
        return done()
    result.data = values
    result.errors = notes + found + validate(model, values, lang, locate)
    result.status = INVALID if result.errors else VALID
    return done()
