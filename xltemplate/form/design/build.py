"""The whole of design after the workbook is read: a drawn book -> the form's schema and layout,
or every problem at once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ...messages import t
from ..errors import LayoutError
from ..model import build_model
from ..schema import SchemaError
from .drawn import DesignError, DrawnBook
from .fields import Fields, clean_title
from .grow import Insert, grow
from .layout import LayoutBuilder, layout_json
from .schema import SchemaBuilder
from .sheets import Cell, Reading

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass
class Design:
    """What design made of a workbook: the form's two documents, and the notes for the author."""

    form_id: str
    schema: dict[str, Any]
    layout: dict[str, Any]
    notes: list[str]
    fields: int
    tables: int
    #: every title design chose from the workbook's text (the form's, and each field's and table's taken from
    #: a label), with where it came from, so the author can correct them in the schema (``--schema``)
    titles: list[str] = field(default_factory=list)
    schema_path: Path | None = None  # where :meth:`write` put them
    layout_path: Path | None = None

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """``<id>.schema.json`` and ``<id>.layout.json`` in ``out_dir`` (the layout is found next to
        the schema: :func:`forms.layout_path`)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.schema_path, self.layout_path = out / f"{self.form_id}.schema.json", out / f"{self.form_id}.layout.json"
        self.schema_path.write_text(json.dumps(self.schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.layout_path.write_text(layout_json(self.layout) + "\n", encoding="utf-8")
        return self.schema_path, self.layout_path


def load_edited(schema: str | Path | dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The author's edited schema (``--schema``), checked as a draft 2020-12 schema."""
    if schema is None or isinstance(schema, dict):
        return schema
    try:
        edited = json.loads(Path(schema).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DesignError([t("design_schema_unreadable", lang, file=schema, detail=exc)]) from exc
    if not isinstance(edited, dict):
        raise DesignError([t("design_schema_unreadable", lang, file=schema, detail="not an object")])
    try:
        Draft202012Validator.check_schema(edited)
    except Exception as exc:  # jsonschema.SchemaError: a long message; its first line says it
        detail = str(getattr(exc, "message", exc)).splitlines()[0]
        raise DesignError([t("design_schema_unreadable", lang, file=schema, detail=detail)]) from exc
    return edited


def form_id_for(path: Path, form_id: str | None, edited: dict[str, Any] | None, lang: str) -> str:
    """The form's id: as given, else the edited schema's, else the file name when it is English."""
    if form_id is None and edited:
        form_id = str(edited.get("x-form", {}).get("id") or "") or None
    if form_id is None:
        stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
        if not re.search(r"[a-z]", stem) or not _ID.match(stem):
            raise DesignError([t("design_id_needed", lang, file=path.name)])
        form_id = stem
    if not _ID.match(form_id):
        raise DesignError([t("design_bad_id", lang, id=form_id)])
    return form_id


def design_form(book: DrawnBook, form_id: str, *, version: str | None = None,
                edited: dict[str, Any] | None = None, schema_name: str | None = None, lang: str = "zh") -> Design:
    """The form made of a drawn book; :class:`DesignError` lists every problem at once."""
    reader = Reading(book, lang)
    fields = Fields(reader)
    inserts = _inserts(fields)
    if inserts and not reader.problems and not fields.problems:  # rows asked for beyond the drawn ones
        book = grow(book, inserts)
        reader = Reading(book, lang)
        fields = Fields(reader)
    if not fields.singles and not fields.tables and not reader.problems + fields.problems:
        raise DesignError([t("design_no_markers", lang, file=book.name)])
    notes = list(reader.notes)
    builder = SchemaBuilder(fields, edited, lang, notes)
    builder.assign()
    version = version or str((edited or {}).get("x-form", {}).get("version") or "1")
    title_cell = _title_cell(reader)
    title = (clean_title(title_cell.text or "") if title_cell else "") or reader.title or _first_label(reader) \
        or form_id
    schema_doc = builder.build(form_id, version, title)
    layout = LayoutBuilder(reader, fields)
    layout_doc = layout.build()
    problems = reader.problems + fields.problems + layout.problems
    if problems:  # every one, in reading order
        order = {name: i for i, name in enumerate(reader.sheet_names)}
        texts = [p[3] for p in sorted(problems, key=lambda p: (order.get(p[0], 0), p[1], p[2]))]
        raise DesignError(texts, t("design_problems", lang, file=book.name, n=len(texts)))
    try:  # what generate will do; an edited schema can still disagree (a leaf of a type we cannot fill)
        build_model(schema_doc, layout_doc)
    except (LayoutError, SchemaError) as exc:
        raise DesignError([t("design_schema_unreadable", lang, file=schema_name or book.name, detail=exc)]) \
            from exc
    count = sum(1 for c in fields.singles if c.pointer) + sum(len(tb.columns) for tb in fields.tables)
    return Design(form_id, schema_doc, layout_doc, notes, count, len(fields.tables),
                  _titles(reader, fields, schema_doc, title_cell, lang))


def _title_cell(reader: Reading) -> Cell | None:
    """The form's title: the largest text at the top of the first sheet (above its first input), merged
    across columns or larger than the workbook's font."""
    default = reader.book.font.get("size", 11)
    for sheet in reader.sheets:
        if sheet.drawn.hidden:
            continue
        cells = list(sheet.cells.values())
        first_input = min((c.row for c in cells if c.kind == "marker"), default=5)
        top = [c for c in cells if c.is_label and c.row < min(first_input, 5)
               and (c.colspan > 1 or _size(c) > default)]
        if top:
            return max(top, key=lambda c: (_size(c), c.colspan, -c.row, -c.col))
        return None
    return None


def _size(cell: Cell) -> float:
    return float(cell.look.get("font", {}).get("size", 0) or 0)


def _titles(reader: Reading, fields: Fields, schema: dict[str, Any], title_cell: Cell | None,
            lang: str) -> list[str]:
    """The titles design chose from the workbook's text, each with where it came from."""
    def at(cell: Cell) -> str:
        return reader.where(cell.sheet, cell.ref)

    out = []
    if title_cell is not None and schema.get("title") == clean_title(title_cell.text or ""):
        out.append(t("design_title_form", lang, title=schema["title"], where=at(title_cell)))
    units: list[Any] = [*fields.singles, *(c for tb in fields.tables for c in tb.columns)]
    for unit in sorted(units, key=lambda u: fields.key(u.first)):
        if unit.derived and unit.pointer and unit.source is not None:
            out.append(t("design_title_field", lang, pointer=unit.pointer, title=unit.title, marker=at(unit.first),
                         label=at(unit.source)))
    for table in fields.tables:
        if table.derived and table.pointer and table.source is not None:
            out.append(t("design_title_table", lang, pointer=table.pointer, title=table.title,
                         label=at(table.source)))
    return out


def _inserts(fields: Fields) -> list[Insert]:
    """The rows to insert for every table whose markers ask for more rows than are drawn: before its
    last drawn row, copies of a middle one (tables side by side over the same rows insert once)."""
    out: dict[tuple[str, int], Insert] = {}
    for table in fields.tables:
        if table.wanted is None:
            continue
        cells = table.columns[0].cells
        height = cells[0].rowspan
        middle = cells[(len(cells) - 1) // 2].row
        ins = Insert(cells[0].sheet, cells[-1].row, (table.wanted - len(cells)) * height, middle, height, cells[0].row)
        key = (ins.sheet, ins.at)
        if key not in out or out[key].count < ins.count:
            out[key] = ins
    return list(out.values())


def _first_label(reader: Reading) -> str:
    for sheet in reader.sheets:
        for cell in sorted(sheet.cells.values(), key=lambda c: (c.row, c.col)):
            if cell.is_label:
                return clean_title(cell.text or "")
    return ""
