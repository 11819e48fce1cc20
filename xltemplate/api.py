"""The Python API the CLI is a shell over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .collect.importer import ImportResult, import_workbook
from .collect.integrity import signer
from .form.forms import bundled, load_form
from .form.model import FormModel
from .xlsx.design import design_workbook
from .xlsx.reader import open_book
from .xlsx.writer import FillError, write_filled, write_template

__all__ = ["FillError", "ImportResult", "design", "field_map", "fill", "forms", "generate", "import_workbook",
           "load_form"]


def _model(form: str | Path | FormModel) -> FormModel:
    return form if isinstance(form, FormModel) else load_form(form)


def generate(form: str | Path | FormModel, out: str | Path | None = None, *, submission_id: str = "",
             password: str | None = None, key: str | None = None) -> bytes:
    """The blank template; written to ``out`` when given (signed with ``key``, see :mod:`integrity`)."""
    data = write_template(_model(form), submission_id=submission_id, password=password, sign=signer(key))
    if out is not None:
        Path(out).write_bytes(data)
    return data


#: what a copy filled "as" an issued template takes from it: who it was issued to, the year, and the
#: signature it was issued with (the copy is the department's own filling of that template)
ISSUED_META = ("department", "department_code", "year", "signature")


def fill(form: str | Path | FormModel, instance: Any, out: str | Path | None = None, *,
         submission_id: str = "", password: str | None = None, key: str | None = None,
         template: str | Path | None = None) -> bytes:
    """The template prefilled with ``instance`` (a dict, or a path to a JSON file).

    With ``template`` (an issued template) the copy carries that template's identity: its
    submission id, department and year, as if the department had filled it in."""
    if isinstance(instance, str | Path):
        instance = json.loads(Path(instance).read_text(encoding="utf-8"))
    extra = None
    if template is not None:
        meta = open_book(template).meta
        submission_id = submission_id or meta.get("submission_id", "")
        extra = {k: meta[k] for k in ISSUED_META if meta.get(k)}
    data = write_filled(_model(form), instance, submission_id=submission_id, password=password, sign=signer(key),
                        extra_meta=extra)
    if out is not None:
        Path(out).write_bytes(data)
    return data


def field_map(form: str | Path | FormModel) -> list[dict[str, Any]]:
    """One entry per input cell: pointer, label, sheet, cell, range, defined name, type."""
    model = _model(form)
    out = []
    for f in model.fields:
        out.append({"pointer": f.pointer, "pattern": f.pattern, "label": f.label, "sheet": f.sheet,
                    "cell": f.cell, "range": f.ref, "name": f.name, "type": f.kind,
                    "required": f.required, "array": f.array, "row": f.index})
    for area in model.arrays.values():
        cells = [f for slot in area.slots for f in slot]
        out.append({"pointer": area.pointer, "pattern": area.pointer, "label": area.label,
                    "sheet": area.sheet, "cell": cells[0].cell, "range": f"{cells[0].cell}:{cells[-1].cell}",
                    "name": area.name, "type": "array", "required": False, "array": None,
                    "row": None, "capacity": area.capacity})
    return out


def forms() -> list[dict[str, str]]:
    """The bundled forms: id, version, title, schema path."""
    out = []
    for fid, path in bundled().items():
        model = load_form(path)
        out.append({"id": fid, "version": model.version, "title": model.title, "schema": str(path)})
    return out


def design(workbook: str | Path, out_dir: str | Path, *, form_id: str | None = None, version: str | None = None,
           schema: str | Path | None = None, lang: str = "zh") -> Any:
    """A bureau's own workbook, its input cells marked, -> ``out_dir/<id>.schema.json`` and
    ``<id>.layout.json`` (:mod:`xltemplate.form.design`); returns the :class:`Design`, whose
    ``notes`` and ``titles`` (each title taken from the workbook's text) the author should read.
    Raises :class:`DesignError` listing every problem."""
    made = design_workbook(workbook, form_id=form_id, version=version, schema=schema, lang=lang)
    made.write(out_dir)
    return made
