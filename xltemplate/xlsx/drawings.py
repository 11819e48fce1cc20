"""The drawing parts of an ``.xlsx``: the pictures on each sheet (a bureau's logo, a seal) with their
anchors as drawn, and the objects the template does not carry (text boxes, shapes, charts) so that
design can list them.

Read from the package itself (``xl/drawings/drawingN.xml`` and its relationships), not through
openpyxl, which drops pictures unless Pillow is installed and drops shapes altogether, and which
keeps no anchor offsets exactly: a picture comes back where it was, to the EMU.
"""

from __future__ import annotations

import posixpath
import zipfile
from typing import Any

from defusedxml import ElementTree

from ..form.design.drawn import Anchor, DrawnPicture, DrawnShape

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_XDR = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "bmp": "bmp", "emf": "emf", "wmf": "wmf"}


def read_drawings(zf: zipfile.ZipFile) -> dict[str, tuple[list[DrawnPicture], list[DrawnShape]]]:
    """Sheet name -> its pictures and its other drawing objects."""
    names = set(zf.namelist())
    out: dict[str, tuple[list[DrawnPicture], list[DrawnShape]]] = {}
    for sheet, part in _sheet_parts(zf, names).items():
        for drawing in _targets(zf, names, part, "/drawing"):
            pictures, shapes = _drawing(zf, names, drawing)
            mine = out.setdefault(sheet, ([], []))
            mine[0].extend(pictures)
            mine[1].extend(shapes)
    return out


def _xml(zf: zipfile.ZipFile, name: str) -> Any:
    return ElementTree.fromstring(zf.read(name))


def _rels(zf: zipfile.ZipFile, names: set[str], part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, the target part's name) of ``part``."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in names:
        return {}
    out = {}
    for rel in _xml(zf, rels).iter(f"{_PKG}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id", "")] = (rel.get("Type", ""), path)
    return out


def _targets(zf: zipfile.ZipFile, names: set[str], part: str, kind: str) -> list[str]:
    return [path for rel_type, path in _rels(zf, names, part).values() if rel_type.endswith(kind) and path in names]


def _sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Sheet name -> its worksheet part."""
    if "xl/workbook.xml" not in names:
        return {}
    rels = _rels(zf, names, "xl/workbook.xml")
    out = {}
    for sheet in _xml(zf, "xl/workbook.xml").iter(f"{_MAIN}sheet"):
        rel = rels.get(sheet.get(f"{_REL}id", ""))
        if rel is not None and rel[1] in names:
            out[sheet.get("name", "")] = rel[1]
    return out


def _anchor(node: Any) -> Anchor | None:
    if node is None:
        return None

    def num(tag: str) -> int:
        child = node.find(f"{_XDR}{tag}")
        try:
            return int(float(child.text)) if child is not None and child.text else 0
        except ValueError:
            return 0

    return Anchor(num("row"), num("col"), num("rowOff"), num("colOff"))


def _text(node: Any) -> str:
    return "".join(t.text or "" for t in node.iter(f"{_A}t")).strip()


def _drawing(zf: zipfile.ZipFile, names: set[str],
             part: str) -> tuple[list[DrawnPicture], list[DrawnShape]]:
    rels = _rels(zf, names, part)
    pictures: list[DrawnPicture] = []
    shapes: list[DrawnShape] = []
    for anchor in _xml(zf, part):
        kind = anchor.tag.replace(_XDR, "")
        if kind not in ("twoCellAnchor", "oneCellAnchor", "absoluteAnchor"):
            continue
        start, end = _anchor(anchor.find(f"{_XDR}from")), _anchor(anchor.find(f"{_XDR}to"))
        position = {"twoCellAnchor": anchor.get("editAs", "twoCell"), "oneCellAnchor": "oneCell"}.get(kind, "absolute")
        obj = next((child for child in anchor if child.tag.replace(_XDR, "") in
                    ("pic", "sp", "graphicFrame", "grpSp", "cxnSp")), None)
        if obj is None:
            continue
        tag = obj.tag.replace(_XDR, "")
        picture = _picture(zf, rels, anchor, obj, start, end, position) if tag == "pic" and start is not None else None
        if picture is not None:
            pictures.append(picture)
        elif tag == "pic":
            shapes.append(DrawnShape("picture", start, end))
        elif tag == "sp":
            boxed = obj.find(f"{_XDR}nvSpPr/{_XDR}cNvSpPr")
            textbox = boxed is not None and boxed.get("txBox") == "1"
            text = _text(obj)
            shapes.append(DrawnShape("textbox" if textbox or text else "shape", start, end, text))
        else:
            shapes.append(DrawnShape({"graphicFrame": "chart", "grpSp": "group", "cxnSp": "line"}[tag], start, end,
                                     _text(obj)))
    return pictures, shapes


def _picture(zf: zipfile.ZipFile, rels: dict[str, tuple[str, str]], anchor: Any, pic: Any, start: Anchor,
             end: Anchor | None, position: str) -> DrawnPicture | None:
    """A picture with its image and size; None when its image or its size cannot be had."""
    blip = pic.find(f"{_XDR}blipFill/{_A}blip")
    rel = rels.get(blip.get(f"{_REL}embed", "")) if blip is not None else None
    if rel is None or position == "absolute":
        return None
    fmt = FORMATS.get(posixpath.splitext(rel[1])[1].lstrip(".").lower())
    if fmt is None:
        return None
    ext = pic.find(f"{_XDR}spPr/{_A}xfrm/{_A}ext")
    if ext is None:
        ext = anchor.find(f"{_XDR}ext")
    try:
        size = (int(ext.get("cx")), int(ext.get("cy"))) if ext is not None else None
    except (TypeError, ValueError):
        size = None
    if not size or min(size) <= 0:
        return None
    props = pic.find(f"{_XDR}nvPicPr/{_XDR}cNvPr")
    return DrawnPicture(zf.read(rel[1]), fmt, start, end, size,
                        position if position in ("twoCell", "oneCell") else "twoCell",
                        props.get("name", "") if props is not None else "",
                        props.get("descr", "") if props is not None else "")
