"""``xltemplate design``: a bureau's marked workbook (a file) -> the form (:mod:`xltemplate.form.design`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..form.design import Design, design_form, form_id_for, load_edited
from .drawn import read_drawn

__all__ = ["design_workbook"]


def design_workbook(path: str | Path, *, form_id: str | None = None, version: str | None = None,
                    schema: str | Path | dict[str, Any] | None = None, lang: str = "zh") -> Design:
    """Read a marked workbook and make the form; :class:`DesignError` lists every problem at once."""
    path = Path(path)
    edited = load_edited(schema, lang)
    fid = form_id_for(path, form_id, edited, lang)
    book = read_drawn(path, lang)
    return design_form(book, fid, version=version, edited=edited,
                       schema_name=None if schema is None or isinstance(schema, dict) else str(schema), lang=lang)
