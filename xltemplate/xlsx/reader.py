"""Workbook -> raw cell values, by the form model.

Reads with python-calamine (fast, and it reads the cells themselves rather than trusting the
sheet's dimension record) and parses ``xl/workbook.xml`` for what calamine does not expose: sheet
states and workbook-level defined names.  Nothing here trusts the client: values are taken as
stored, formulas' cached results are never used for fields.

The parts parsed here come inflated from :mod:`guard`, which inflated them for its checks: no
part is inflated twice by us (calamine inflates what it parses itself).  ``open_book`` gives a
:class:`RawBook`; :func:`read_cells` reads a form's fields from it by the form's read plan and
returns where each value was found, as a new :class:`Cells` each time (the book keeps no state
of a reading).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape as xml_unescape

from defusedxml import DefusedXmlException, ElementTree
from python_calamine import CalamineWorkbook

from ..form.excel import parse_a1
from ..form.plan import Position, ReadPlan
from . import meta as meta_layout
from . import zipout
from .guard import Kind, Refused, identify, root_start, stream

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


class ReadError(Exception):
    """The file cannot be read as a workbook; ``code`` names the reason for messages."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@lru_cache(maxsize=4096)
def parse_ref(text: str) -> tuple[str, int, int] | None:
    """``'Sheet'!$C$5`` / ``Sheet!$C$5:$D$6`` -> (sheet, row, col) of the top-left cell."""
    text = text.strip().lstrip("=")
    if "!" not in text or "#REF" in text.upper():
        return None
    sheet, _, cells = text.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    pos = parse_a1(cells.split(":")[0])
    return (sheet, *pos) if pos else None


@dataclass
class Scan:
    hidden_rows: set[int]
    hidden_cols: set[int]
    formulas: dict[tuple[int, int], str]  # (row, col) -> formula text, 0-based


_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_COL_TAG = re.compile(rb"<(?:\w+:)?col\b([^>]*)/?>")
_HIDDEN = re.compile(rb'\bhidden="(?:1|true)"')
_R_ATTR = re.compile(rb'\br="([A-Z]*)(\d+)"')
_MINMAX = re.compile(rb'\bmin="(\d+)"[^>]*?\bmax="(\d+)"')
_F_START = re.compile(rb"<f[ >/]")
_F_START_NS = re.compile(rb"<(?:\w+:)?f[ >/]")  # for writers that prefix the main namespace
_F_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)<)")


def data_end(xml: bytes) -> int | None:
    """Where a sheet's cell data ends: just past its *last* ``sheetData>`` (None: there is none).
    The last, so that text looking like the tag can only put the end further, never cut cells off."""
    end = xml.rfind(b"sheetData>")
    return None if end < 0 else end + 10


def scan_sheet(xml: bytes, end: int | None = None) -> Scan:
    """Regular expressions over the sheet XML, not a parser: only tags are looked at, nothing is
    expanded, and it costs a fraction of a millisecond.  Only the part up to the end of the cell
    data is looked at (column records come before it, rows and formulas are in it): the rest of a
    template's sheet is mostly data validations, three times the size of the cells
    (:func:`data_end`; ``end``, when the caller has it)."""
    end = end or data_end(xml) or len(xml)
    rows: set[int] = set()
    cols: set[int] = set()
    if xml.find(b'hidden="1"', 0, end) < 0 and xml.find(b'hidden="true"', 0, end) < 0:
        return Scan(rows, cols, _formulas(xml, end))
    rows = {int(m.group(2)) - 1 for tag in _ROW_TAG.findall(xml, 0, end) if _HIDDEN.search(tag)
            for m in [_R_ATTR.search(tag)] if m}
    for tag in _COL_TAG.findall(xml, 0, end):
        if _HIDDEN.search(tag):
            mm = _MINMAX.search(tag)
            if mm:
                cols.update(range(int(mm.group(1)) - 1, min(int(mm.group(2)), 16384)))
    return Scan(rows, cols, _formulas(xml, end))


def _formulas(xml: bytes, end: int) -> dict[tuple[int, int], str]:
    formulas = {}
    pattern = _F_START_NS if xml.find(b":worksheet", 0, 2000) >= 0 else _F_START
    for found in pattern.finditer(xml, 0, end):
        pos = found.start()
        start = max(xml.rfind(b"<c ", 0, pos), xml.rfind(b"<c>", 0, pos))
        tag_end = xml.find(b">", start)
        ref = _R_ATTR.search(xml, start, tag_end) if start >= 0 else None
        if ref:
            m = _F_TEXT.match(xml, pos)
            text = xml_unescape((m.group(1) or b"").decode("utf-8", "replace")) if m else ""
            cell = parse_a1(ref.group(1).decode() + ref.group(2).decode())
            if cell:
                formulas[cell] = text
    return formulas


@dataclass
class RawBook:
    """A returned workbook as raw material: sheet states, defined names, metadata, cell grids."""

    path: Path
    states: dict[str, str]
    names: dict[str, tuple[str, int, int]]
    meta: dict[str, str]
    book: Any = field(repr=False)
    saved_at: dt.datetime | None = None
    kind: str = "xlsx"
    broken_names: set[str] = field(default_factory=set)  # names whose cells were deleted (#REF!)
    sheet_xml: dict[str, bytes] = field(default_factory=dict, repr=False)  # xlsx sheets, for scan()
    sheet_ends: dict[str, int | None] = field(default_factory=dict, repr=False)  # their data_end()
    scans: dict[str, Scan] = field(default_factory=dict, repr=False)
    grids: dict[str, list[list[Any]]] = field(default_factory=dict, repr=False)

    def grid(self, sheet: str) -> list[list[Any]]:
        if sheet not in self.grids:
            try:
                self.grids[sheet] = self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except Exception as exc:  # calamine raises its own error types
                raise ReadError("corrupt", f"{sheet}: {exc}") from exc
            except BaseException as exc:  # a panic inside calamine (pyo3 PanicException) on odd values
                if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                    raise
                raise ReadError("corrupt", f"{sheet}: {type(exc).__name__}: {exc}") from exc
        return self.grids[sheet]

    def value(self, sheet: str, row: int, col: int) -> Any:
        grid = self.grid(sheet)
        if row < len(grid) and col < len(grid[row]):
            value = grid[row][col]
            return None if value == "" else value
        return None

    def scan(self, sheet: str) -> Scan:
        """Hidden rows and columns and formula cells of an xlsx sheet (empty for other formats)."""
        if sheet not in self.scans:
            self.scans[sheet] = scan_sheet(self.sheet_xml.get(sheet, b""), self.sheet_ends.get(sheet))
        return self.scans[sheet]


@dataclass(frozen=True)
class Cells:
    """The raw values of a plan's fields as read from one workbook, and where each was read: the
    cell its defined name points at where the name survives, else the form's own cell."""

    values: tuple[Any, ...]  # per plan field; None for an empty cell
    where: tuple[Position, ...]  # per plan field


def read_cells(book: RawBook, plan: ReadPlan) -> Cells:
    """Raw values of ``plan``'s fields, in plan order (the hot loop of an import, kept tight)."""
    states = book.states
    named = tuple(map(book.names.get, plan.names))
    if named == plan.home:  # every name where the form puts it: the usual case
        where = plan.home
    else:
        where = tuple(n if n is not None and n[0] in states else home for n, home in zip(named, plan.home, strict=True))
    grids: dict[str, list[list[Any]]] = {}
    values = []
    for sheet, row, col in where:
        grid = grids.get(sheet)
        if grid is None:
            grid = grids[sheet] = book.grid(sheet) if sheet in states else []
        value = grid[row][col] if row < len(grid) and col < len(grid[row]) else None
        values.append(None if value == "" else value)
    return Cells(tuple(values), where)


@dataclass
class _Workbook:
    """What ``xl/workbook.xml`` (and its relationships) say: sheet states, names, sheet parts."""

    states: dict[str, str]
    names: dict[str, tuple[str, int, int] | None]  # None: the name exists but points nowhere (#REF!)
    parts: dict[str, str]  # sheet name -> zip member of its XML


_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_SHEET_TAG = re.compile(rb"<sheet\b([^>]*)>")
_DEFINED = re.compile(rb"<definedName\b([^>]*)>([^<]*)\Z")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_REL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_ENTITY_BYTES = re.compile(rb"&(?:#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _unescape(raw: bytes) -> str:
    """XML character data -> text: the five predefined entities and character references (a
    file cannot declare others: guard refuses any DOCTYPE)."""
    text = raw.decode("utf-8", "replace")
    if "&" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref[0] != "#":
            return _NAMED[ref]
        code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
        return chr(code) if 0 < code < 0x110000 else m.group(0)

    return _ENTITY.sub(one, text)


#: definedName element (its bytes, end tag left off) -> (name, cell) or None for a sheet-level or
#: empty name.  The
#: elements recur across returns of a template whatever else differs in their workbook.xml
#: (window sizes, the active sheet, calculation flags), so each is parsed once per process.
_NAME_ELEMENTS: dict[bytes, tuple[str, tuple[str, int, int] | None] | None] = {}
_UNSEEN = object()


def _defined_name(element: bytes) -> tuple[str, tuple[str, int, int] | None] | None:
    m = _DEFINED.match(element)
    if m is None:
        return None
    attrs = dict(_ATTR.findall(m.group(1)))
    if b"localSheetId" in attrs or not m.group(2):
        return None
    return _unescape(attrs.get(b"name", b"")), parse_ref(_unescape(m.group(2)))


def _simple_body(raw: bytes) -> bytes | None:
    """The workbook part from its root element on, if it is in the form every client writes: the
    main namespace as default, relationships as ``r:``, no comments, CDATA or other entities."""
    at = raw.find(b"<workbook")
    if at < 0:
        return None
    body = raw[at:]
    if _MAIN_NS not in body[:2000] or _REL_NS not in body[:2000] or b"<!" in body:
        return None
    amps = body.count(b"&")
    return body if amps == 0 or amps == len(_ENTITY_BYTES.findall(body)) else None


def _block(body: bytes, tag: bytes) -> tuple[int, int]:
    """Where the element ``tag`` is in ``body``: from its start tag to its last end tag."""
    start = body.find(b"<" + tag)
    if start < 0:
        return 0, 0
    end = body.rfind(b"</" + tag + b">")
    return start, len(body) if end < start else end


def _parse_workbook_xml(raw: bytes, rels: bytes, body: bytes | None) -> _Workbook:
    """Sheets and workbook-level names, by patterns over the bytes for the form every client
    writes (the main namespace as default, relationships as ``r:``, no comments, CDATA or
    entities of other kinds); anything else through a real parser (defusedxml), which costs ten
    times as much (``body``: the part as :func:`_simple_body` found it, None when it is not in
    that form).  Nothing is expanded either way: guard refused any DOCTYPE."""
    targets = {}
    for rel in _REL.findall(rels):
        attrs = {k.decode(): _unescape(v) for k, v in _ATTR.findall(rel)}
        target = attrs.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[attrs.get("Id", "")] = target
    states, parts = {}, {}
    names: dict[str, tuple[str, int, int] | None] = {}
    if body is not None:
        # in this form the tags can only be inside their blocks: only those are searched
        for tag in _SHEET_TAG.findall(body, *_block(body, b"sheets")):
            attrs = {k.decode(): _unescape(v) for k, v in _ATTR.findall(tag)}
            name = attrs.get("name", "")
            states[name] = attrs.get("state", "visible")
            if attrs.get("r:id") in targets:
                parts[name] = targets[attrs["r:id"]]
        start, end = _block(body, b"definedNames")
        for piece in body[start:end].split(b"</definedName>")[:-1]:  # no '<' in text here: a split is exact
            element = piece[piece.rfind(b"<definedName"):]
            name = _NAME_ELEMENTS.get(element, _UNSEEN)
            if name is _UNSEEN:
                name = _defined_name(element)
                if len(_NAME_ELEMENTS) > 50_000:
                    _NAME_ELEMENTS.clear()
                _NAME_ELEMENTS[element] = name
            if name is not None:
                names[name[0]] = name[1]
        return _Workbook(states, names, parts)
    try:
        root = ElementTree.fromstring(raw)
    except DefusedXmlException as exc:
        raise ReadError("unsafe_xml", "xl/workbook.xml") from exc
    for sheet in root.iterfind("m:sheets/m:sheet", _NS):
        name = sheet.get("name", "")
        states[name] = sheet.get("state", "visible")
        if sheet.get(_R_ID) in targets:
            parts[name] = targets[sheet.get(_R_ID)]
    for dn in root.iterfind("m:definedNames/m:definedName", _NS):
        if dn.get("localSheetId") is not None or not dn.text:
            continue
        names[dn.get("name", "")] = parse_ref(dn.text)
    return _Workbook(states, names, parts)


_PROPERTY = re.compile(
    rb'<(?:\w+:)?property\b[^>]*?\bname="' + re.escape(meta_layout.PREFIX.encode())
    + rb'([A-Za-z_]+)"[^>]*>\s*<(?:\w+:)?(\w+)>([^<]*)</')


def _custom_props(raw: bytes | None) -> dict[str, str]:
    """Our ``xltemplate.*`` document properties.  A pattern over the bytes rather than an XML
    parser: nothing can be expanded, and it is several times faster for this flat part."""
    out: dict[str, str] = {}
    for name, kind, value in _PROPERTY.findall((raw or b"")[:200_000]):
        key = name.decode()
        if key == meta_layout.FORMAT_KEY:
            continue
        text = _unescape(value).strip()
        if kind in (b"r8", b"r4", b"decimal") and re.fullmatch(r"-?\d+\.0+", text):
            # LibreOffice turns integer properties into floats
            text = text.split(".")[0]
        out[key] = text
    return out


_CORE_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]+)</dcterms:modified>")


def _saved_at(raw: bytes | None) -> dt.datetime | None:
    """When the client last saved the workbook (docProps/core.xml), if it says."""
    try:
        m = _CORE_MODIFIED.search((raw or b"")[:100_000])
        if m:
            stamp = dt.datetime.fromisoformat(m.group(1).decode().strip().replace("Z", "+00:00"))
            return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
    except (ValueError, UnicodeDecodeError):
        pass
    return None


def _meta_sheet(book: Any, states: dict[str, str]) -> dict[str, str]:
    if meta_layout.SHEET not in states:
        return {}
    return meta_layout.from_rows(book.get_sheet_by_name(meta_layout.SHEET).to_python(skip_empty_area=False))


_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.-]*(?::[\w.-]+)?)")
_PREFIX = re.compile(rb"(?:[A-Za-z_][\w.-]*:)?")


def _cells_only(xml: bytes, end: int | None) -> bytes | None:
    """A sheet cut just after its cell data (``end``: its :func:`data_end`) and closed, or None
    when it cannot be cut safely."""
    root = root_start(xml)
    if end is None or root is None:
        return None
    close = xml.rfind(b"<", 0, end)
    name = _ROOT_NAME.match(xml, root)
    if name is None or xml[close:close + 2] != b"</" or not _PREFIX.fullmatch(xml, close + 2, end - 10):
        return None
    return xml[:end] + b"</" + name.group(1) + b">"


def _without_names(xml: bytes, body: bytes | None) -> bytes | None:
    """The workbook part without its defined names (only in the form :func:`_simple_body` knows)."""
    if body is None:
        return None
    start, end = xml.find(b"<definedNames>"), xml.rfind(b"</definedNames>")
    if start < 0 or end < start:
        return None
    return xml[:start] + xml[end + len(b"</definedNames>"):]


def _for_calamine(kind: Kind, workbook: bytes | None, ends: dict[str, int | None]) -> bytes:
    """The package calamine is given for an xlsx: every member as it came (its compressed bytes
    copied), but each sheet cut just after its cell data and the workbook part without its
    defined names, those two stored.  Calamine takes values from the cell data only, so it reads
    the same values without inflating and parsing the rest, which is most of a template's sheet
    (data validations with their prompts) and most of its workbook part (a name per input cell):
    about a third of its work.  ``workbook``: the workbook part cut (:func:`_without_names`), if
    it could be; ``ends``: each sheet part's :func:`data_end`.  ``tests/test_hostile.py`` holds
    it to the same cell grids."""
    assert kind.zip is not None
    members = []
    for info in kind.zip.infolist():
        name, xml = info.filename, kind.parts.get(info.filename)
        cut = workbook if name == "xl/workbook.xml" else \
            _cells_only(xml, ends.get(name)) if xml is not None and name in ends else None
        members.append(zipout.Member.stored(name, cut, info) if cut is not None else zipout.Member(
            name, info.compress_type, info.CRC, info.file_size, bytes(stream(kind.data, info)), info.date_time,
            info.create_system, info.external_attr))
    return zipout.build(members)


def open_book(path: str | Path, data: bytes | None = None) -> RawBook:
    """Open a workbook (from ``path``, or from ``data`` already read) after the safety checks of
    :mod:`guard`; raise :class:`ReadError` when it cannot or must not be read.

    xlsx is read in full (names, properties, hidden rows, formulas); .xls/.et and .ods are read
    through calamine by the form's cell positions, their metadata from the hidden sheet.
    """
    path = Path(path)
    try:
        if data is None:
            data = path.read_bytes()
    except OSError as exc:
        raise ReadError("io", str(exc)) from exc
    try:
        kind = identify(data)
    except Refused as exc:
        raise ReadError(exc.code, exc.detail) from exc
    meta: dict[str, str] = {}
    saved_at = None
    wb = _Workbook({}, {}, {})
    sheets: dict[str, bytes] = {}
    ends: dict[str, int | None] = {}
    body = None
    if kind.name == "xlsx":
        parts = kind.parts
        if "xl/workbook.xml" not in parts:
            raise ReadError("missing_part", "xl/workbook.xml")
        body = _simple_body(parts["xl/workbook.xml"])
        try:
            wb = _parse_workbook_xml(parts["xl/workbook.xml"], parts.get("xl/_rels/workbook.xml.rels", b""), body)
        except ReadError:
            raise
        except Exception as exc:  # the XML parser fails in many ways on damaged parts
            raise ReadError("corrupt", f"{type(exc).__name__}: {exc}") from exc
        meta = _custom_props(parts.get("docProps/custom.xml"))
        saved_at = _saved_at(parts.get("docProps/core.xml"))
        missing = [part for part in wb.parts.values() if part not in parts]
        if missing:
            raise ReadError("missing_part", missing[0])
        sheets = {name: parts[part] for name, part in wb.parts.items() if name != meta_layout.SHEET}
        ends = {part: data_end(xml) for part, xml in parts.items() if part.startswith("xl/worksheets/")}
    try:
        given = _for_calamine(kind, _without_names(kind.parts["xl/workbook.xml"], body), ends) \
            if kind.name == "xlsx" else data
        book = CalamineWorkbook.from_filelike(io.BytesIO(given))
        if kind.name != "xlsx":
            wb.states = {s.name: str(s.visible).rsplit(".", 1)[-1].lower() for s in book.sheets_metadata}
        if not meta.get("form_id"):  # a client that drops document properties: the hidden sheet
            meta = _meta_sheet(book, wb.states)
    except ReadError:
        raise
    except Exception as exc:  # calamine's own error types
        raise ReadError("corrupt", str(exc)) from exc
    except BaseException as exc:  # a panic inside calamine (pyo3 PanicException)
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise ReadError("corrupt", f"{type(exc).__name__}: {exc}") from exc
    live = {k: v for k, v in wb.names.items() if v is not None}
    return RawBook(path=path, states=wb.states, names=live, meta=meta, book=book, saved_at=saved_at,
                   kind=kind.name, broken_names={k for k, v in wb.names.items() if v is None}, sheet_xml=sheets,
                   sheet_ends={name: ends.get(part) for name, part in wb.parts.items()})
