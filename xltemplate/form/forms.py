"""Where forms come from: the bundled ``schemas/`` + ``templates/``, or a schema path.

``FORM`` on the command line is a bundled form id (``wuhai-perf-target``) or a path to a
schema file.  A schema's layout is ``<name>.layout.json`` next to the schema file, else
``templates/<form id>.layout.json`` beside the bundled schemas, else the automatic layout (the
file next to the schema comes first, so a form made by ``xltemplate design`` with the id of a
bundled form uses its own layout).

**Versions side by side.** The schema file is the form's current version.  Every earlier
published version stays readable, so returns made from it during a round are read by that
version's own layout (:func:`find_version`).  An earlier version is found, in this order:

1. registered in this process (:func:`register`): the versions the database keeps, published
   by ``distribute`` (the ``form_versions`` table), which import registers before reading;
2. a folder named after the form id beside the schema: ``<id>/<version>.schema.json`` with its
   layout ``<id>/<version>.layout.json`` there, or (bundled forms) in ``templates/<id>/``.

A version is matched by its number and, when the workbook gives it, its structure hash, so a
layout changed without a new version number is still told apart.
"""

from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    for candidate in (schema_path.with_name(f"{stem}.layout.json"), templates / f"{form_id}.layout.json"):
        if candidate.is_file():
            return candidate
    return None


def _stamp(path: str | None) -> tuple[int, int] | None:
    """What tells a changed file: its modification time and size."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


RECHECK_SECONDS = 1.0  # how often a form's files are looked at again for changes


def _load(path: str, layout: str | None) -> FormModel:
    """The model of a schema file (and layout), built again when either file changed on disk.

    The files are looked at again at most once a second: a form is found for every return read
    (several times), and on a busy server the ``stat`` calls added up; a form edited on disk is
    seen within a second."""
    now = time.monotonic()
    seen = _SEEN.get((path, layout))
    if seen is not None and now - seen[1] < RECHECK_SECONDS:
        return seen[0]
    stamp = _stamp(path)
    lpath = layout or (str(found) if (found := layout_path(Path(path), _form_id(path, stamp))) else None)
    model = _build(path, lpath, stamp, _stamp(lpath))
    _SEEN[(path, layout)] = (model, now)
    return model


_SEEN: dict[tuple[str, str | None], tuple[FormModel, float]] = {}


@lru_cache(maxsize=256)
def _form_id(path: str, _stamp: Any) -> str:
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8")).get("x-form", {}).get("id")
    except (OSError, ValueError, AttributeError):
        found = None
    return str(found or Path(path).name.removesuffix(".schema.json"))


@lru_cache(maxsize=64)
def _build(path: str, layout: str | None, _stamp: Any, _layout_stamp: Any) -> FormModel:
    schema = load_schema(path)
    form_id = str(schema.get("x-form", {}).get("id") or Path(path).name.removesuffix(".schema.json"))
    schema.setdefault("x-form", {}).setdefault("id", form_id)
    lpath = Path(layout) if layout else None
    if lpath is None:
        model = build_model(schema, auto_layout(schema), auto=True)
    else:
        model = build_model(schema, load_layout(lpath))
    model.path = path
    return model


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
    """A bundled form by the id found in a workbook's metadata (its current version)."""
    if not _BY_ID:
        found: dict[str, Path] = {}
        for fid, path in bundled().items():
            path = path.resolve()
            found.setdefault(fid, path)
            found.setdefault(load_form(path).id, path)
        _BY_ID.update(found)  # all at once: a thread of the portal never sees half of it
    path = _BY_ID.get(form_id)
    # straight to the stamp check: it runs for every return read (the glob of the bundled folder
    # and resolving the path again cost ten times as much)
    return _load(str(path), None) if path is not None else None


_BY_ID: dict[str, Path] = {}


# -- versions ---------------------------------------------------------------------------------

_REGISTERED: dict[tuple[str, str, str], FormModel] = {}


def register(schema: dict[str, Any], layout: dict[str, Any] | None) -> FormModel:
    """Make a published version (schema + layout, None for the automatic layout) readable here."""
    model = build_model(schema, layout if layout is not None else auto_layout(schema), auto=layout is None)
    return _REGISTERED.setdefault((model.id, model.version, model.hash), model)


def _history(model: FormModel) -> list[FormModel]:
    """The earlier versions kept in files beside the form's schema (see the module docstring)."""
    if not model.path:
        return []
    schema_path = Path(model.path)
    _, templates = _dirs()
    out = []
    for path in sorted((schema_path.parent / model.id).glob("*.schema.json")):
        version = path.name.removesuffix(".schema.json")
        layout = next((p for p in (path.with_name(f"{version}.layout.json"),
                                   templates / model.id / f"{version}.layout.json") if p.is_file()), None)
        out.append(_load(str(path.resolve()), str(layout.resolve()) if layout else None))
    return out


def find_version(form_id: str, version: str, layout_hash: str | None = None,
                 near: FormModel | None = None) -> FormModel | None:
    """The model of one version of a form, by version number and (when known) structure hash."""
    current = near if near is not None and near.id == form_id else find_form(form_id)
    candidates = [current] if current is not None else []
    candidates += [m for key, m in _REGISTERED.items() if key[0] == form_id]
    if current is not None:
        candidates += _history(current)
    for model in candidates:
        if model.version == version and (not layout_hash or model.hash == layout_hash):
            return model
    return None
