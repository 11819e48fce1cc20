"""Where forms come from: the bundled ``schemas/`` + ``templates/``, or a schema path.

``FORM`` on the command line is a bundled form id (``wuhai-perf-target``) or a path to a
schema file.  A schema's layout is ``templates/<form id>.layout.json`` beside the bundled
schemas, else ``<name>.layout.json`` next to the schema file, else the automatic layout.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .layout import auto_layout, load_layout
from .model import FormModel, build_model
from .schema import load_schema

_PKG = Path(__file__).resolve().parent.parent  # the package: xltemplate/


class FormNotFound(LookupError):
    pass


def _dirs() -> tuple[Path, Path]:
    """(schemas, templates): the source checkout's top-level folders, else the wheel's copies."""
    for base in (_PKG.parent, _PKG / "_bundled"):
        if (base / "schemas").is_dir():
            return base / "schemas", base / "templates"
    return _PKG.parent / "schemas", _PKG.parent / "templates"


def bundled() -> dict[str, Path]:
    """Bundled form id -> schema path."""
    schemas, _ = _dirs()
    out = {}
    for path in sorted(schemas.glob("*.schema.json")):
        out[path.name.removesuffix(".schema.json")] = path
    return out


def layout_path(schema_path: Path, form_id: str) -> Path | None:
    _, templates = _dirs()
    stem = schema_path.name.removesuffix(".json").removesuffix(".schema")
    for candidate in (templates / f"{form_id}.layout.json", schema_path.with_name(f"{stem}.layout.json")):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=32)
def _load(path: str, layout: str | None) -> FormModel:
    schema = load_schema(path)
    form_id = str(schema.get("x-form", {}).get("id") or Path(path).name.removesuffix(".schema.json"))
    schema.setdefault("x-form", {}).setdefault("id", form_id)
    lpath = Path(layout) if layout else layout_path(Path(path), form_id)
    if lpath is None:
        return build_model(schema, auto_layout(schema), auto=True)
    return build_model(schema, load_layout(lpath))


def load_form(form: str | Path, layout: str | Path | None = None) -> FormModel:
    """The form model for a bundled id or a schema path (cached per path)."""
    text = str(form)
    forms = bundled()
    if text in forms:
        path = forms[text]
    else:
        path = Path(text)
        if not path.is_file():
            known = "、".join(forms) or "（无）"
            raise FormNotFound(f"找不到表单 {text!r}：既不是内置表单（{known}），也不是 schema 文件路径")
    return _load(str(path.resolve()), str(Path(layout).resolve()) if layout else None)


def find_form(form_id: str) -> FormModel | None:
    """A bundled form by the id found in a workbook's metadata."""
    if form_id not in _BY_ID:
        _BY_ID[form_id] = None
        for fid, path in bundled().items():
            model = load_form(path)
            if fid == form_id or model.id == form_id:
                _BY_ID[form_id] = model
                break
    return _BY_ID[form_id]


_BY_ID: dict[str, FormModel | None] = {}
