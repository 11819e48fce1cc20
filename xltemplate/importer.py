"""Import: workbook -> raw values (by the form model) -> coercion -> validation -> result.

One call per file; a file that cannot be read becomes an ``unreadable`` result with a message,
never an exception, so one bad file never stops a batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .coerce import coerce
from .forms import find_form, load_form
from .messages import message
from .model import Field, FormModel
from .reader import RawBook, ReadError, open_book
from .schema import split_pointer
from .validate import Issue, validate
from .values import MISSING

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
    row: the returned ``locate`` knows which row each item came from.
    """
    plan = _plan(model)
    raw = book.read_all(plan.fields)
    data: dict[str, Any] = {}
    for i, f, tokens in plan.scalars:
        if raw[i] is not None:
            value = coerce(raw[i], f)
            if value is not MISSING:
                _set(data, tokens, value)
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
            if item:
                rows.append(item)
                slot_of.setdefault(pointer, []).append(n)
        if rows:
            node = data
            for token in tokens[:-1]:
                node = node.setdefault(token, {})
            node[tokens[-1]] = rows

    def locate(pointer: str) -> Field | None:
        for array, slots in slot_of.items():
            if pointer.startswith(array + "/"):
                rest = pointer[len(array) + 1:].split("/", 1)
                if rest[0].isdigit() and int(rest[0]) < len(slots):
                    pointer = f"{array}/{slots[int(rest[0])]}" + (f"/{rest[1]}" if len(rest) > 1 else "")
                break
        return model.field_for(pointer)

    return data, locate


def recognise(book: RawBook, form: FormModel | None, lang: str) -> FormModel | Issue:
    """The form model a workbook claims to be, or the reason it is refused."""
    meta = book.meta
    found = meta.get("form_id")
    if not found:
        return _file_issue(message("no_metadata", lang), "no_metadata")
    model = form if form is not None and form.id == found else find_form(found)
    if form is not None and found != form.id:
        return _file_issue(message("other_form", lang, found=found, expected=form.id), "other_form")
    if model is None:
        return _file_issue(message("unknown_form", lang, found=found), "unknown_form")
    version = meta.get("form_version", "")
    if version != model.version:
        return _file_issue(message("old_version", lang, form=model.title, found=version or "?",
                                   expected=model.version), "old_version")
    if meta.get("layout_hash") != model.hash:
        return _file_issue(message("modified", lang, form=model.title, version=model.version), "modified")
    return model


def import_workbook(path: str | Path, form: str | Path | FormModel | None = None, lang: str = "zh", *,
                    data: bytes | None = None, with_meta: bool = False) -> Any:
    """Read, coerce and validate one returned workbook (from ``path``, or ``data`` already read).

    Never raises for a bad file: it becomes an ``unreadable`` result with a message.  With
    ``with_meta`` the workbook's metadata comes back too, as ``(result, meta)``.
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
        model = recognise(book, expected, lang)
        if isinstance(model, Issue):
            result.errors.append(model)
            return done()
        values, locate = extract(model, book)
    except ReadError as exc:
        result.errors.append(_file_issue(message(exc.code, lang, detail=exc.detail), exc.code))
        return done()
    result.data = values
    result.errors = validate(model, values, lang, locate)
    result.status = INVALID if result.errors else VALID
    return done()
