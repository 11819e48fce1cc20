"""Workbook -> raw cell values, by the form model: only the cells the form reads.

An xlsx is read by our own code, not a spreadsheet library: the parts come inflated from
:mod:`guard` (which inflated them for its checks), ``xl/workbook.xml`` gives the sheets, their
states and the defined names, and each sheet's XML is searched for the cells the form's read plan
asks for (its fields, then its labels), in the order they come in the sheet, in one pass over the
bytes.  Shared strings are split once and only the ones asked for are decoded; number formats
(``xl/styles.xml``) are parsed when a number is read.  Nothing else of a sheet is parsed: a
template's sheet is mostly data validations, and a form reads a few hundred known cells.

The quick way (:class:`_Cells`) takes a cell as found when its start tag ``<c r="D8"`` is found,
and trusts no absence: a cell not found that way, a sheet in another form (a namespace prefix,
comments, CDATA, processing instructions, extension lists in the cell data, attributes in
another order, cells without references) or a malformed one is read by a real XML parser instead
(:func:`_parsed_cells`, ``xml.etree`` on the bytes guard checked: no DOCTYPE, so nothing is
expanded), so both ways give the same cells; ``tests/test_reader.py`` holds them to each other
and to openpyxl on generated workbooks.

What a cell gives (as calamine and openpyxl give it): shared and inline strings as text (rich
text runs joined, phonetic runs left out, ``_xHHHH_`` escapes decoded), numbers as floats, a
number in a date or time format as a datetime (a time of day below 1, a timedelta for elapsed
formats; the workbook's 1900 or 1904 date system), booleans, error codes as their text.  A cell
holding a formula gives no value to a field: formulas' cached results are never used for fields
(the formula itself is reported by the importer); labels and the metadata sheet read the cached
value.  Each field's number format comes back too, for the text a clerk saw (:mod:`..form.numfmt`).

python-calamine reads the other formats (.xls and WPS .et, .ods), whole sheets at a time, and the
roster of ``distribute``.  It is not used for xlsx: it parses and converts every cell of a sheet,
which was most of the cost of an import.

Active content in formulas (:func:`_formula_risk`): a DDE reference (``cmd|' /C calc'!A0``), a
reference to another workbook (``[1]Sheet1!A1``, ``'C:\\dir\\[book.xlsx]Sheet1'!A1``), or a call
out of the workbook (RTD, WEBSERVICE, CALL, REGISTER.ID, DDE) in any cell of any sheet or any
defined name (sheet-level names too) refuses the file (``active_content``), naming where.  What
comes after a sheet's cell data (validations, conditional formats) is not inflated (see
:mod:`.guard`): Excel takes no DDE or other workbook there without a link part, which guard
refuses; a formula of that kind in what is inflated is refused all the same.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeTree
from python_calamine import CalamineWorkbook

from ..form import numfmt
from ..form.excel import EXCEL_EPOCH, a1, parse_a1
from ..form.plan import Position, ReadPlan
from . import meta as meta_layout
from .guard import Kind, Refused, cells_end, identify, refuse_active

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


class ReadError(Exception):
    """The file cannot be read as a workbook; ``code`` names the reason for messages (active
    content also says ``what`` and ``where``, as :class:`~.guard.Refused` does)."""

    def __init__(self, code: str, detail: str = "", *, what: str = "", where: str = ""):
        super().__init__(f"{code}: {detail or what} {where}".strip() if detail or what else code)
        self.code = code
        self.detail = detail
        self.what = what
        self.where = where


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


@lru_cache(maxsize=65536)
def _ref(row: int, col: int) -> bytes:
    return a1(row, col).encode()


# -- text --------------------------------------------------------------------------------------------

_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_ENTITY_BYTES = re.compile(rb"&(?:#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_XESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


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


def _text(raw: bytes) -> str:
    """Cell or shared-string text as an XML parser gives it (line ends normalised, entities and
    character references decoded), then OOXML's ``_xHHHH_`` escapes decoded."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = _unescape(raw)
    return _xunescape(text) if "_x" in text else text


def _xunescape(text: str) -> str:
    return _XESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


_T = re.compile(rb"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t\s*>")
_RPH = re.compile(rb"<((?:\w+:)?rPh)\b.*?</\1\s*>", re.S)


def _rich(content: bytes) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` runs, phonetic runs left out."""
    if b"rPh" in content:
        content = _RPH.sub(b"", content)
    return "".join(_text(t) for t in _T.findall(content))


# -- shared strings ---------------------------------------------------------------------------------

class _Strings:
    """The shared strings of a workbook, each decoded when first asked for."""

    def __init__(self, xml: bytes | None):
        self._items: list[bytes] | None = None
        self._decoded: dict[int, str] = {}
        self._all: list[str] | None = None
        if not xml:
            self._all = []
            return
        pieces = xml.split(b"<si>")
        simple = not xml.startswith(b"\xff\xfe") and not xml.startswith(b"\xfe\xff") \
            and (xml.find(b"!", 20) < 0 or xml.find(b"<!", 20) < 0) and xml.count(b"<si") == len(pieces) - 1 \
            and _utf8(xml)
        if simple:
            self._items = pieces[1:]
        else:
            self._all = _parsed_strings(xml)

    def get(self, raw: bytes) -> str:
        """The string whose index is ``raw`` (the digits of a cell's value)."""
        try:
            i = int(raw)
        except ValueError as exc:
            raise ReadError("corrupt", f"shared string {raw[:20]!r}") from exc
        text = self._decoded.get(i)
        if text is not None:
            return text
        try:
            return self[i]
        except IndexError as exc:
            raise ReadError("corrupt", f"shared string {i}") from exc

    def __getitem__(self, i: int) -> str:
        if self._all is not None:
            return self._all[i]
        text = self._decoded.get(i)
        if text is None:
            assert self._items is not None
            piece = self._items[i]
            end = piece.find(b"</si>")
            if end < 0:
                raise ReadError("corrupt", "xl/sharedStrings.xml")
            content = piece[:end]
            if content[:3] == b"<t>" and content[-4:] == b"</t>" and content.count(b"<") == 2:
                text = _text(content[3:-4])
            else:
                text = _rich(content)
            self._decoded[i] = text
        return text

    def __len__(self) -> int:
        return len(self._all if self._all is not None else self._items or ())

    def raw(self, i: int) -> bytes | None:
        """String ``i`` as the part holds it, from ``<si>`` on (None: not at hand that way)."""
        items = self._items
        return items[i] if items is not None and 0 <= i < len(items) else None


@lru_cache(maxsize=8192)
def _plain_si(text: str) -> bytes:
    """A string as a shared-strings part holds it when written plainly: ``<t>text</t></si>``
    (never matched by a text that has ``_x``, whose escapes a writer must double)."""
    if "_x" in text or "\r" in text:
        return b"\x00"
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    return b"<t>" + escaped + b"</t></si>"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parsed_strings(xml: bytes) -> list[str]:
    try:
        root = SafeTree.fromstring(xml)
    except (DefusedXmlException, ET.ParseError) as exc:
        raise ReadError("corrupt", f"xl/sharedStrings.xml: {exc}") from exc
    return [_element_text(si) for si in root if _local(si.tag) == "si"]


def _element_text(node: ET.Element) -> str:
    """The text of an ``<si>`` or ``<is>`` element: its ``t`` runs, phonetic runs left out."""
    out = []
    for child in node:
        name = _local(child.tag)
        if name == "t":
            out.append(child.text or "")
        elif name == "r":
            out += [t.text or "" for t in child if _local(t.tag) == "t"]
    return _xunescape("".join(out))


def _utf8(xml: bytes) -> bool:
    """Whether the part is UTF-8, as every spreadsheet writes (its declaration says so, or none)."""
    head = xml[:100]
    at = head.find(b"encoding=")
    return at < 0 or head[at + 10:at + 15].lower() in (b"utf-8", b"utf8\"", b"utf8'")


# -- number formats ---------------------------------------------------------------------------------

_XF = re.compile(rb"<xf\b([^>]*)>")
_XF_ID = re.compile(rb"""\bnumFmtId\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_NUMFMT = re.compile(rb"<numFmt\b([^>]*)>")
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return {k: a if a or not b else b for k, a, b in _ATTR.findall(tag)}


#: styles part -> the number format of each cell style: the part is the same in every return of a
#: template saved by one kind of client, so it is parsed once per process (keyed on its content,
#: emptied when it grows large).
_STYLE_CODES: dict[bytes, list[str | None]] = {}


class _Styles:
    """The number format of each cell style (``s``), parsed when first needed."""

    def __init__(self, xml: bytes | None):
        self._xml = xml
        self._codes: list[str | None] | None = None

    def code(self, s: int) -> str | None:
        if self._codes is None:
            xml = self._xml or b""
            codes = _STYLE_CODES.get(xml)
            if codes is None:
                codes = _style_codes(xml)
                if len(_STYLE_CODES) > 64:
                    _STYLE_CODES.clear()
                _STYLE_CODES[xml] = codes
            self._codes = codes
        return self._codes[s] if 0 <= s < len(self._codes) else "General"


def _style_codes(xml: bytes | None) -> list[str | None]:
    if not xml:
        return []
    if not _utf8(xml) or (xml.find(b"!", 40) >= 0 and xml.find(b"<!", 40) >= 0) or not xml.startswith(b"<styleSheet",
                                                                                                     xml.find(b"<", 2)):
        return _parsed_style_codes(xml)
    custom = {}
    start, end = xml.find(b"<numFmts"), xml.find(b"</numFmts>")
    if 0 <= start < end:
        for tag in _NUMFMT.findall(xml, start, end):
            attrs = _attrs(tag)
            if attrs.get(b"numFmtId", b"").isdigit():
                custom[int(attrs[b"numFmtId"])] = _text(attrs.get(b"formatCode", b""))
    start, end = xml.find(b"<cellXfs"), xml.find(b"</cellXfs>")
    if not 0 <= start < end:
        return []
    out = []
    for tag in _XF.findall(xml, start, end):
        fid = _XF_ID.search(tag)
        number = fid.group(1) or fid.group(2) if fid else b"0"
        out.append(numfmt.code_of(int(number), custom) if number.isdigit() else None)
    return out


def _parsed_style_codes(xml: bytes) -> list[str | None]:
    try:
        root = SafeTree.fromstring(xml)
    except (DefusedXmlException, ET.ParseError) as exc:
        raise ReadError("corrupt", f"xl/styles.xml: {exc}") from exc
    custom = {}
    for node in root.iter():
        if _local(node.tag) == "numFmt" and (node.get("numFmtId") or "").isdigit():
            custom[int(node.get("numFmtId") or 0)] = node.get("formatCode") or ""
    for node in root:
        if _local(node.tag) == "cellXfs":
            fids = [xf.get("numFmtId") or "0" for xf in node if _local(xf.tag) == "xf"]
            return [numfmt.code_of(int(f), custom) if f.isdigit() else None for f in fids]
    return []


# -- a sheet's cells --------------------------------------------------------------------------------

#: A cell as found: type (``t``), style (``s``), value (the bytes of ``<v>``, or the text of an
#: inline string), formula text (None: no formula).
Cell = tuple[str, int, "bytes | str | None", "str | None"]
_EMPTY: Cell = ("n", 0, None, None)
_ATTR_CACHE: dict[bytes, tuple[str, int] | None] = {}
_V = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?>([^<]*)</(?:\w+:)?v\s*>")
_F = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f\s*>)")
_IS = re.compile(rb"<(?:\w+:)?is\b[^>]*>(.*?)</(?:\w+:)?is\s*>", re.S)


def _cell_attrs(attrs: bytes) -> tuple[str, int] | None:
    """(t, s) of a cell's attributes after ``r``; None when they are not plain attributes."""
    got = _ATTR_CACHE.get(attrs, False)
    if got is False:
        got = None
        if attrs.count(b'"') % 2 == 0 and attrs.count(b"'") % 2 == 0:
            found = _attrs(attrs)
            s = found.get(b"s", b"0")
            if s.isdigit() and b"r" not in found:
                got = (found.get(b"t", b"n").decode("ascii", "replace"), int(s))
        if len(_ATTR_CACHE) > 10_000:
            _ATTR_CACHE.clear()
        _ATTR_CACHE[attrs] = got
    return got


def _body(body: bytes) -> tuple[bytes | str | None, str | None, bool]:
    """(value, formula text, inline) of a cell's content: the value as the bytes of ``<v>``, or
    the text of an inline string."""
    formula = None
    f = _F.search(body)
    if f is not None:
        formula = _text(f.group(1) or b"")
    inline = _IS.search(body)
    if inline is not None:
        return _rich(inline.group(1)), formula, True
    v = _V.search(body)
    return (v.group(1) if v is not None else None), formula, False


class _Cells:
    """The cells of one sheet, found by their references in its XML (see the module docstring)."""

    def __init__(self, name: str, xml: bytes, whole: Callable[[], bytes | None] | None = None):
        self.name = name
        self.xml = xml
        self.whole = whole  # the part inflated whole, when ``xml`` holds it only up to the cell data's end
        start = xml.find(b"<sheetData")
        end = cells_end(xml, start) if start >= 0 else -1
        self.start, self.end = (start, end) if end > start else (0, 0)
        self.parsed: dict[bytes, Cell] | None = None
        self.index: dict[bytes, tuple[bytes, bytes]] | None = None
        self.decoded: dict[bytes, Cell] = {}
        self.quick = self._quick()

    def _quick(self) -> bool:
        """Whether the cell data is in the form every client writes (the quick way applies)."""
        xml, start, end = self.xml, self.start, self.end
        if end <= start or not _utf8(xml):
            return False
        root = xml.find(b"<", xml.find(b"?>") + 2 if xml.startswith(b"<?") else 0)
        if xml[root + 1:root + 10] != b"worksheet":
            return False  # a namespace prefix (or something else altogether)
        bang = xml.find(b"!", root, end)
        while bang >= 0:  # comments and CDATA (a '!' in a formula is fine)
            if xml[bang - 1:bang] == b"<":
                return False
            bang = xml.find(b"!", bang + 1, end)
        return not (xml.find(b"?", root, end) >= 0 and xml.find(b"<?", root, end) >= 0) \
            and xml.find(b"extL", start, end) < 0

    def ready(self) -> bool:
        """Whether the quick way applies, the index of the cells with content built if so."""
        if self.quick and self.index is None:
            self.index = self._index()
            self.quick = self.index is not None
        return self.quick

    def read(self, refs: Sequence[bytes], book: RawBook, formula_value: bool,
             texts: Sequence[str] | None = None) -> tuple[list[Any], list[str | None]]:
        """The values and number formats (:meth:`RawBook.typed`) of the cells at ``refs`` (``b"D8"``);
        ``texts``: the text expected in each (labels), which a shared string written plainly is
        compared with as it is stored, without decoding it."""
        values: list[Any] = []
        codes: list[str | None] = []
        if not self.ready() or self.index is None:
            parsed = self.all()
            for ref in refs:
                value, code = book.typed(parsed.get(ref, _EMPTY), formula_value)
                values.append(None if value == "" else value)
                codes.append(code)
            return values, codes
        get, cache, typed = self.index.get, _ATTR_CACHE, book.typed
        strings = book.strings
        quick_strings = strings is not None and strings._all is None
        decoded = strings._decoded if quick_strings else {}  # type: ignore[union-attr]
        items = strings._items if quick_strings else None  # type: ignore[union-attr]
        for n, ref in enumerate(refs):
            raw = get(ref)
            if raw is None:  # no content
                values.append(None)
                codes.append(None)
                continue
            attrs, body = raw
            kind = cache.get(attrs) or _cell_attrs(attrs)
            if kind is None:  # attributes not in the quick form: the parser reads the sheet
                self.quick = False
                return self.read(refs, book, formula_value, texts)
            if body.startswith(b"<v>") and body.endswith(b"</v>") and body.count(b"<") == 2:
                if kind[0] == "s" and items is not None:
                    try:
                        i = int(body[3:-4])
                        value = decoded.get(i)
                        if value is None:
                            wanted = texts[n] if texts is not None else None
                            if wanted is not None and items[i].startswith(_plain_si(wanted)):
                                value = wanted  # the text expected, written plainly: no need to decode it
                            else:
                                value = strings[i]  # type: ignore[index]
                    except (ValueError, IndexError) as exc:
                        raise ReadError("corrupt", f"{self.name}: shared string {body[3:23]!r}") from exc
                    values.append(value or None)
                    codes.append(None)
                    continue
                cell: Cell = (kind[0], kind[1], body[3:-4], None)
            else:
                found, formula, inline = _body(body)
                cell = ("inlineStr" if inline else kind[0], kind[1], found, formula)
            value, code = typed(cell, formula_value)
            values.append(None if value == "" else value)
            codes.append(code)
        return values, codes

    def _index(self) -> dict[bytes, tuple[bytes, bytes]] | None:
        """Every cell with content, by reference: (its attributes after ``r``, its content), from
        one split of the cell data at the cells' end tags (None: not in the quick form)."""
        out = {}
        pieces = self.xml[self.start:self.end].split(b"</c>")
        pieces.pop()
        for piece in pieces:
            _head, found, tail = piece.rpartition(b'<c r="')
            tag, gt, body = tail.partition(b">")
            ref, quote, attrs = tag.partition(b'"')
            if not found or not gt or not quote or attrs[-1:] == b"/":  # a content cell not in our form
                return None
            out[ref] = (attrs, body)
        return out

    def scan(self) -> Scan:
        """Hidden rows and columns, and every formula cell (from the cells with content, or the
        parser's cells)."""
        formulas: dict[tuple[int, int], str] = {}
        if self.ready() and self.index is not None:
            xml, end = self.xml, self.end
            at = xml.find(b"<f", self.start, end)
            while at >= 0:  # in the quick form a cell's formula is its <f> element
                start = xml.rfind(b'<c r="', self.start, at)
                quote = xml.find(b'"', start + 6)
                pos = parse_a1(xml[start + 6:quote].decode("ascii", "replace")) if start >= 0 else None
                f = _F.match(xml, at)
                if pos is not None and f is not None:
                    formulas[pos] = _unescape(f.group(1) or b"")
                at = xml.find(b"<f", at + 2, end)
        else:
            for ref, cell in self.all().items():
                pos = parse_a1(ref.decode())
                if cell[3] is not None and pos is not None:
                    formulas[pos] = cell[3]
        xml, end = self.xml, self.end if self.quick else (data_end(self.xml) or len(self.xml))
        if xml.find(b"hidden", 0, end) < 0:
            return Scan(set(), set(), formulas)
        hidden = scan_sheet(xml, end)
        return Scan(hidden.hidden_rows, hidden.hidden_cols, formulas)

    def all(self) -> dict[bytes, Cell]:
        """Every cell of the sheet, by a real parser (the metadata sheet; sheets not in the quick form)."""
        if self.parsed is None:
            if self.whole is not None:
                try:
                    self.xml = self.whole() or self.xml
                except Refused as exc:
                    raise ReadError(exc.code, exc.detail) from exc
                self.whole = None
            self.parsed = _parsed_cells(self.name, self.xml)
        return self.parsed


def _parsed_cells(name: str, xml: bytes) -> dict[bytes, Cell]:
    """Every cell of a sheet (a ``c`` of a ``row`` of the ``sheetData``, whatever their prefix), by a
    real XML parser, streamed: each row is dropped once read."""
    out: dict[bytes, Cell] = {}
    row_no, col_no = 0, -1
    path: list[str] = []
    parser = ET.XMLPullParser(events=("start", "end"))
    try:
        for at in range(0, len(xml), 1 << 16):
            parser.feed(xml[at:at + (1 << 16)])
            for event, node in parser.read_events():
                tag = _local(node.tag)
                if event == "start":
                    path.append(tag)
                    if tag == "row" and path[-2:-1] == ["sheetData"]:
                        r = node.get("r")
                        row_no = int(r) if r and r.isdigit() else row_no + 1
                        col_no = -1
                    continue
                path.pop()
                if tag == "c" and path[-2:] == ["sheetData", "row"]:
                    pos = parse_a1(node.get("r") or "")
                    if pos is None:
                        pos = (row_no - 1, col_no + 1)
                    col_no = pos[1]
                    cell_type = node.get("t") or "n"
                    style = node.get("s") or "0"
                    value: bytes | str | None = None
                    formula = None
                    for child in node:
                        child_tag = _local(child.tag)
                        if child_tag == "f":
                            formula = child.text or ""
                        elif child_tag == "v":
                            value = _xunescape(child.text or "")
                        elif child_tag == "is":
                            value, cell_type = _element_text(child), "inlineStr"
                    out[_ref(*pos)] = (cell_type, int(style) if style.isdigit() else 0, value, formula)
                elif tag == "row":
                    node.clear()
        parser.close()
    except (ET.ParseError, ValueError) as exc:
        raise ReadError("corrupt", f"{name}: {exc}") from exc
    return out


# -- hidden rows and columns, formulas ---------------------------------------------------------------

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
    template's sheet is mostly data validations (:func:`data_end`; ``end``, when the caller has it)."""
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
    if xml.find(b"f>", 0, end) < 0 and xml.find(b"f ", 0, end) < 0 and xml.find(b"f/", 0, end) < 0:
        return formulas
    pattern = _F_START_NS if xml.find(b":worksheet", 0, 2000) >= 0 else _F_START
    for found in pattern.finditer(xml, 0, end):
        pos = found.start()
        start = max(xml.rfind(b"<c ", 0, pos), xml.rfind(b"<c>", 0, pos))
        tag_end = xml.find(b">", start)
        ref = _R_ATTR.search(xml, start, tag_end) if start >= 0 else None
        if ref:
            m = _F_TEXT.match(xml, pos)
            text = _unescape(m.group(1) or b"") if m else ""
            cell = parse_a1(ref.group(1).decode() + ref.group(2).decode())
            if cell:
                formulas[cell] = text
    return formulas


# -- active content in formulas -----------------------------------------------------------------------

_STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')
_QUOTED_SHEET = re.compile(r"'((?:[^']|'')*)'!")
_EXTERNAL_BRACKET = re.compile(r"\[[^\[\]]*\][^\[\]()'\",;=+\-*/&<>^%{}\s!]*!")
_CALLS_OUT = re.compile(r"(?i)(?<![\w.])(RTD|WEBSERVICE|CALL|REGISTER\.ID|DDE|DDEAUTO|EXEC)\s*\(")
_CALL_WORDS = ("RTD", "WEBSERVICE", "CALL", "REGISTER", "DDE", "EXEC")
_ANY_FORMULA = re.compile(rb"<(?:\w+:)?(?:f|formula[12]?)\b[^>]*>([^<]*)<")


@lru_cache(maxsize=8192)
def _formula_risk(formula: str) -> str | None:
    """What makes a formula active content: ``dde``, ``external_ref`` or ``remote_call`` (None:
    nothing).  Decided once per distinct formula text (a template's formulas recur in its returns)."""
    if "|" not in formula and "[" not in formula and "(" not in formula and "'" not in formula:
        return None
    bare = _STRING_LITERAL.sub('""', formula) if '"' in formula else formula
    if "|" in bare:
        return "dde"
    if "'" in bare:
        for quoted in _QUOTED_SHEET.findall(bare):  # a sheet name cannot hold [ ] \ / : ? *: a path can
            if any(ch in quoted for ch in "[]\\/:"):
                return "external_ref"
    if "[" in bare and _EXTERNAL_BRACKET.search(_QUOTED_SHEET.sub("S!", bare)):
        return "external_ref"
    upper = bare.upper()
    if "(" in bare and any(word in upper for word in _CALL_WORDS) and _CALLS_OUT.search(bare):
        return "remote_call"
    return None


def _refuse_formulas(sheet: str, xml: bytes, scan: Scan) -> None:
    """Active content in a sheet's formulas: every cell's, then any other formula of the sheet
    (validations, conditional formats) when the part has a ``|`` or ``[`` at all."""
    for (row, col), formula in scan.formulas.items():
        risk = _formula_risk(formula)
        if risk is not None:
            raise ReadError("active_content", what=risk, where=f"{sheet}!{a1(row, col)}")
    if b"|" in xml or b"[" in xml:
        for raw in _ANY_FORMULA.findall(xml):
            risk = _formula_risk(_unescape(raw))
            if risk in ("dde", "external_ref"):
                raise ReadError("active_content", what=risk, where=sheet)


# -- the workbook part --------------------------------------------------------------------------------

@dataclass
class _Workbook:
    """What ``xl/workbook.xml`` (and its relationships) say: sheet states, names, sheet parts."""

    states: dict[str, str]
    names: dict[str, tuple[str, int, int]]  # workbook-level names and their cells (read, never changed)
    parts: dict[str, str]  # sheet name -> zip member of its XML
    broken: set[str] = field(default_factory=set)  # names that exist but point nowhere (#REF!)
    date1904: bool = False
    strings: str | None = None  # zip member of the shared strings, by the relationships
    styles: str | None = None
    risky_name: tuple[str, str] | None = None  # (name, what) of a defined name that is active content


_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_SHEET_TAG = re.compile(rb"<sheet\b([^>]*)>")
_DEFINED = re.compile(rb"<definedName\b([^>]*)>([^<]*)\Z")
_REL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_DATE1904 = re.compile(rb"""<(?:\w+:)?workbookPr\b[^>]*\bdate1904\s*=\s*["'](1|true)["']""")
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"

#: definedName element (its bytes, end tag left off) -> (name, cell, active content or None), or
#: None for an empty name.  The elements recur across returns of a template whatever else differs
#: in their workbook.xml (window sizes, the active sheet, calculation flags), so each is parsed
#: once per process (a cache keyed on the element's content, emptied when it grows large).
_NAME_ELEMENTS: dict[bytes, tuple[str, tuple[str, int, int] | None, str | None, bool] | None] = {}
_UNSEEN = object()


def _defined_name(element: bytes) -> tuple[str, tuple[str, int, int] | None, str | None, bool] | None:
    """(name, cell, active content, workbook-level) of a definedName element."""
    m = _DEFINED.match(element)
    if m is None:
        return None
    attrs = dict((k, v) for k, v, _ in _ATTR.findall(m.group(1)))
    text = _unescape(m.group(2))
    return (_unescape(attrs.get(b"name", b"")), parse_ref(text) if text else None, _formula_risk(text),
            b"localSheetId" not in attrs and bool(text))


class _Names:
    """What a definedNames block says: names with cells, names whose cells were deleted, the
    first name that is active content, and whether the block is in the quick form at all."""

    __slots__ = ("broken", "live", "plain", "risky")

    def __init__(self, block: bytes):
        self.plain = _plain_xml(block)
        self.live: dict[str, tuple[str, int, int]] = {}
        self.broken: set[str] = set()
        self.risky: tuple[str, str] | None = None
        for piece in block.split(b"</definedName>")[:-1]:  # no '<' in text here: a split is exact
            element = piece[piece.rfind(b"<definedName"):]
            name = _NAME_ELEMENTS.get(element, _UNSEEN)
            if name is _UNSEEN:
                name = _defined_name(element)
                if len(_NAME_ELEMENTS) > 50_000:
                    _NAME_ELEMENTS.clear()
                _NAME_ELEMENTS[element] = name
            if name is None:
                continue
            if name[2] is not None and self.risky is None:
                self.risky = (name[0], name[2])
            if name[3]:
                if name[1] is None:
                    self.broken.add(name[0])
                else:
                    self.live[name[0]] = name[1]


#: A workbook's whole definedNames block -> what it says (:class:`_Names`), parsed once per
#: process: the block is the same in every return of a template saved by one kind of client (a
#: cache keyed on the content, emptied when it grows large).  Its dictionaries are read, never changed.
_NAME_BLOCKS: dict[bytes, _Names] = {}


def _names_block(block: bytes) -> _Names:
    found = _NAME_BLOCKS.get(block)
    if found is None:
        if len(_NAME_BLOCKS) > 64:
            _NAME_BLOCKS.clear()
        found = _NAME_BLOCKS[block] = _Names(block)
    return found


def _simple_body(raw: bytes) -> bytes | None:
    """The workbook part from its root element on, if it is in the form every client writes: the
    main namespace as default, relationships as ``r:``, no comments, CDATA or other entities.
    The defined names (most of the part) are checked once per distinct block (:func:`_names_block`)."""
    at = raw.find(b"<workbook")
    if at < 0:
        return None
    body = raw[at:]
    head = body[:2000]
    if _MAIN_NS not in head or _REL_NS not in head:
        return None
    start, end = _block(body, b"definedNames")
    return body if _plain_xml(body[:start]) and _plain_xml(body[end:]) else None


def _plain_xml(text: bytes) -> bool:
    """No comment, CDATA, DOCTYPE or processing instruction, and only the predefined entities and
    character references (what the byte patterns of this module read as a parser would)."""
    if b"<!" in text or b"<?" in text:
        return False
    amps = text.count(b"&")
    return amps == 0 or amps == len(_ENTITY_BYTES.findall(text))


def _block(body: bytes, tag: bytes) -> tuple[int, int]:
    """Where the element ``tag`` is in ``body``: from its start tag to its last end tag (the last,
    found from the end: the names block is most of a workbook part)."""
    start = body.find(b"<" + tag)
    if start < 0:
        return 0, 0
    end = body.rfind(b"</" + tag + b">")
    return start, len(body) if end < start else end


@lru_cache(maxsize=64)
def _relationships(rels: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """The workbook's relationships: target part by id, and by type (the first of each type).
    Parsed once per distinct part (it is the same in the returns of a template)."""
    targets, by_type = {}, {}
    for rel in _REL.findall(rels):
        attrs = {k.decode(): _unescape(a if a or not b else b) for k, a, b in _ATTR.findall(rel)}
        target = attrs.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[attrs.get("Id", "")] = target
        by_type.setdefault(attrs.get("Type", "").rsplit("/", 1)[-1], target)
    return targets, by_type


def _parse_workbook_xml(raw: bytes, rels: bytes, body: bytes | None) -> _Workbook:
    """Sheets and workbook-level names, by patterns over the bytes for the form every client
    writes (the main namespace as default, relationships as ``r:``, no comments, CDATA or
    entities of other kinds); anything else through a real parser (defusedxml), which costs ten
    times as much (``body``: the part as :func:`_simple_body` found it, None when it is not in
    that form).  Nothing is expanded either way: guard refused any DOCTYPE."""
    targets, by_type = _relationships(rels)
    wb = _Workbook({}, {}, {}, strings=by_type.get("sharedStrings"), styles=by_type.get("styles"))
    if body is not None:
        head = _block(body, b"sheets")[0] or len(body)
        wb.date1904 = b"date1904" in body and _DATE1904.search(body, 0, head) is not None
        # in this form the tags can only be inside their blocks: only those are searched
        for tag in _SHEET_TAG.findall(body, *_block(body, b"sheets")):
            attrs = {k.decode(): _unescape(a if a or not b else b) for k, a, b in _ATTR.findall(tag)}
            name = attrs.get("name", "")
            wb.states[name] = attrs.get("state", "visible")
            if attrs.get("r:id") in targets:
                wb.parts[name] = targets[attrs["r:id"]]
        start, end = _block(body, b"definedNames")
        block = _names_block(body[start:end])
        if block.plain:
            wb.names, wb.broken, wb.risky_name = block.live, block.broken, block.risky
            return wb
        wb.states, wb.parts = {}, {}  # the names block is not in the quick form: all of it by the parser
    try:
        root = SafeTree.fromstring(raw)
    except DefusedXmlException as exc:
        raise ReadError("unsafe_xml", "xl/workbook.xml") from exc
    for pr in root.iterfind("m:workbookPr", _NS):
        wb.date1904 = (pr.get("date1904") or "").lower() in ("1", "true")
    for sheet in root.iterfind("m:sheets/m:sheet", _NS):
        name = sheet.get("name", "")
        wb.states[name] = sheet.get("state", "visible")
        if sheet.get(_R_ID) in targets:
            wb.parts[name] = targets[sheet.get(_R_ID)]
    names: dict[str, tuple[str, int, int]] = {}
    broken: set[str] = set()
    for dn in root.iterfind("m:definedNames/m:definedName", _NS):
        risk = _formula_risk(dn.text or "")
        if risk is not None and wb.risky_name is None:
            wb.risky_name = (dn.get("name", ""), risk)
        if dn.get("localSheetId") is not None or not dn.text:
            continue
        cell = parse_ref(dn.text)
        if cell is None:
            broken.add(dn.get("name", ""))
        else:
            names[dn.get("name", "")] = cell
    wb.names, wb.broken = names, broken
    return wb


_PROPERTY = re.compile(
    rb'<(?:\w+:)?property\b[^>]*?\bname="' + re.escape(meta_layout.PREFIX.encode())
    + rb'([A-Za-z_]+)"[^>]*>\s*<(?:\w+:)?(\w+)>([^<]*)</')


def _custom_props(raw: bytes | None) -> dict[str, str]:
    """Our ``xltemplate.*`` document properties.  Found by their names in the bytes, each value by
    a pattern anchored there rather than an XML parser: nothing can be expanded, and it is
    several times faster for this flat part."""
    out: dict[str, str] = {}
    raw = (raw or b"")[:200_000]
    needle = b'name="' + meta_layout.PREFIX.encode()
    at = raw.find(needle)
    while at >= 0:
        start = raw.rfind(b"<", 0, at)
        m = _PROPERTY.match(raw, start) if start >= 0 else None
        if m is not None:
            name, kind, value = m.groups()
            key = name.decode()
            if key != meta_layout.FORMAT_KEY:
                text = _unescape(value).strip()
                if kind in (b"r8", b"r4", b"decimal") and re.fullmatch(r"-?\d+\.0+", text):
                    # LibreOffice turns integer properties into floats
                    text = text.split(".")[0]
                out[key] = text
        at = raw.find(needle, at + len(needle))
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


# -- the book -----------------------------------------------------------------------------------------

_EPOCH = dt.datetime.combine(EXCEL_EPOCH, dt.time())
_EPOCH_1904 = dt.datetime(1904, 1, 1)


def as_date(serial: float, code: str, date1904: bool = False) -> Any:
    """A number in a date or time format as a reader gives it: a timedelta for elapsed formats, a
    time of day below 1, else a datetime (calamine's and openpyxl's choice)."""
    if not 0 <= serial < 2958466:  # no date or duration Excel shows (it shows #####): the number
        return serial
    if numfmt.kind(code) == "elapsed":
        return dt.timedelta(days=serial)
    ms = round(serial * 86_400_000)
    if serial < 1 and not date1904:
        return (dt.datetime.min + dt.timedelta(milliseconds=ms)).time()
    if date1904:
        return _EPOCH_1904 + dt.timedelta(milliseconds=ms)
    if serial < 60:  # before 1900-02-29, the phantom day Excel counts (60 reads as 1900-02-28, as calamine reads it)
        ms += 86_400_000
    return _EPOCH + dt.timedelta(milliseconds=ms)


@dataclass
class RawBook:
    """A returned workbook as raw material: sheet states, defined names, metadata, its cells."""

    path: Path
    states: dict[str, str]
    names: dict[str, tuple[str, int, int]]
    meta: dict[str, str]
    book: Any = field(default=None, repr=False)  # calamine's workbook, for .xls and .ods
    saved_at: dt.datetime | None = None
    kind: str = "xlsx"
    broken_names: set[str] = field(default_factory=set)  # names whose cells were deleted (#REF!)
    sheet_xml: dict[str, bytes] = field(default_factory=dict, repr=False)  # xlsx sheets
    scans: dict[str, Scan] = field(default_factory=dict, repr=False)
    grids: dict[str, list[list[Any]]] = field(default_factory=dict, repr=False)
    strings: _Strings | None = field(default=None, repr=False)
    styles: _Styles | None = field(default=None, repr=False)
    date1904: bool = False
    cells: dict[str, _Cells] = field(default_factory=dict, repr=False)
    package: Kind | None = field(default=None, repr=False)  # the package, for a sheet inflated whole
    sheet_parts: dict[str, str] = field(default_factory=dict, repr=False)  # sheet name -> its part

    def sheet(self, sheet: str) -> _Cells | None:
        """The cells of an xlsx sheet (None: no such sheet, or another format)."""
        found = self.cells.get(sheet)
        if found is None and sheet in self.sheet_xml:
            package, part = self.package, self.sheet_parts.get(sheet)
            whole = (lambda: package.full(part)) if package is not None and part in package.cut else None
            found = self.cells[sheet] = _Cells(sheet, self.sheet_xml[sheet], whole)
        return found

    def grid(self, sheet: str) -> list[list[Any]]:
        """A whole sheet as rows of values (calamine's for .xls and .ods)."""
        if sheet not in self.grids:
            cells = self.sheet(sheet)
            if cells is not None:
                found = {parse_a1(ref.decode()): self.typed(cell, formula_value=True)[0]
                         for ref, cell in cells.all().items()}
                rows = max((r for r, _ in found if r is not None), default=-1) + 1
                cols = max((c for _, c in found), default=-1) + 1
                grid: list[list[Any]] = [[""] * cols for _ in range(rows)]
                for (r, c), v in found.items():
                    grid[r][c] = "" if v is None else v
                self.grids[sheet] = grid
            else:
                self.grids[sheet] = _calamine_grid(self.book, sheet)
        return self.grids[sheet]

    def typed(self, cell: Cell, formula_value: bool = False) -> tuple[Any, str | None]:
        """A cell's value as a reader gives it (see the module docstring) and its number format
        (None for General and text); a formula cell gives None unless ``formula_value``."""
        kind, style, raw, formula = cell
        if raw is None or (formula is not None and not formula_value):
            return None, None
        if kind == "s":
            assert self.strings is not None
            return self.strings.get(raw if isinstance(raw, bytes) else raw.encode()), None
        if kind == "inlineStr":
            return raw, None
        text = raw if isinstance(raw, str) else _text(raw)
        if kind == "str":
            return text, None
        if kind == "b":
            return text.strip() in ("1", "true"), None
        if kind == "e":
            return text, None
        if kind == "d":
            try:
                return dt.datetime.fromisoformat(text.strip()), None
            except ValueError:
                return text, None
        if not text.strip():
            return None, None
        try:
            number = float(text)
        except ValueError as exc:
            raise ReadError("corrupt", f"number {text[:40]!r}") from exc
        if not style or self.styles is None:
            return number, None
        code = self.styles.code(style)
        if numfmt.plain(code):
            return number, None
        if numfmt.kind(code) != "number":
            return as_date(number, code or "", self.date1904), code
        return number, code

    def values(self, sheet: str, keys: list[tuple[int, int]], refs: Sequence[bytes] | None = None,
               texts: Sequence[str] | None = None) -> list[Any]:
        """The values of cells as they show (formulas' cached values too; None when empty); ``refs``
        their references as bytes, when the caller has them; ``texts`` what each is expected to
        read (:meth:`_Cells.read`)."""
        cells = self.sheet(sheet)
        if cells is None:
            grid = self.grid(sheet) if self.book is not None and sheet in self.states else []
            got = [grid[r][c] if r < len(grid) and c < len(grid[r]) else None for r, c in keys]
            return [None if v == "" else v for v in got]
        return cells.read(refs if refs is not None else [_ref(r, c) for r, c in keys], self, True, texts)[0]

    def value(self, sheet: str, row: int, col: int) -> Any:
        """The value of one cell as it shows (:meth:`values`)."""
        return self.values(sheet, [(row, col)])[0]

    def scan(self, sheet: str) -> Scan:
        """Hidden rows and columns and formula cells of an xlsx sheet (empty for other formats)."""
        if sheet not in self.scans:
            cells = self.sheet(sheet)
            self.scans[sheet] = cells.scan() if cells is not None else Scan(set(), set(), {})
        return self.scans[sheet]


def _calamine_grid(book: Any, sheet: str) -> list[list[Any]]:
    if book is None:
        return []
    try:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types
        raise ReadError("corrupt", f"{sheet}: {exc}") from exc
    except BaseException as exc:  # a panic inside calamine (pyo3 PanicException) on odd values
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise ReadError("corrupt", f"{sheet}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Cells:
    """The raw values of a plan's fields as read from one workbook, and where each was read: the
    cell its defined name points at where the name survives, else the form's own cell; and the
    number format of each value read from a formatted number (None: General, text, not a number)."""

    values: tuple[Any, ...]  # per plan field; None for an empty cell
    where: tuple[Position, ...]  # per plan field
    formats: tuple[str | None, ...] = ()  # per plan field, when the reader knows them


def read_cells(book: RawBook, plan: ReadPlan) -> Cells:
    """Raw values of ``plan``'s fields, in plan order (the hot loop of an import, kept tight)."""
    states = book.states
    named = tuple(map(book.names.get, plan.names))
    if named == plan.home:  # every name where the form puts it: the usual case
        where = plan.home
    else:
        where = tuple(n if n is not None and n[0] in states else home for n, home in zip(named, plan.home, strict=True))
    n = len(where)
    values: list[Any] = [None] * n
    formats: list[str | None] = [None] * n
    if book.kind != "xlsx":
        for i, (sheet, row, col) in enumerate(where):
            if sheet in states:
                values[i] = book.value(sheet, row, col)
        return Cells(tuple(values), where)
    home = where is plan.home
    order = plan.order if home else sorted(range(n), key=where.__getitem__)
    k = 0
    while k < n:  # a run of fields on one sheet at a time
        sheet = where[order[k]][0]
        run = k
        while run < n and where[order[run]][0] == sheet:
            run += 1
        cells = book.sheet(sheet) if sheet in states else None
        if cells is not None:
            indices = order[k:run]
            refs = [plan.refs[i] for i in indices] if home else [_ref(*where[i][1:]) for i in indices]
            found, codes = cells.read(refs, book, False)
            for i, value, code in zip(indices, found, codes, strict=True):
                values[i] = value
                formats[i] = code
        k = run
    return Cells(tuple(values), where, tuple(formats))


def open_book(path: str | Path, data: bytes | None = None) -> RawBook:
    """Open a workbook (from ``path``, or from ``data`` already read) after the safety checks of
    :mod:`guard`; raise :class:`ReadError` when it cannot or must not be read (active content
    included: see the module docstring).

    xlsx is read by our own code (names, properties, hidden rows, formulas, the cells a form
    asks for); .xls/.et and .ods through calamine, their metadata from the hidden sheet.
    """
    path = Path(path)
    try:
        if data is None:
            data = path.read_bytes()
    except OSError as exc:
        raise ReadError("io", str(exc)) from exc
    try:
        kind = identify(data)
        refuse_active(kind)
    except Refused as exc:
        raise ReadError(exc.code, exc.detail, what=exc.what, where=exc.where) from exc
    if kind.name != "xlsx":
        return _calamine_book(path, kind)
    parts = kind.parts
    if "xl/workbook.xml" not in parts:
        raise ReadError("missing_part", "xl/workbook.xml")
    try:
        wb = _parse_workbook_xml(parts["xl/workbook.xml"], parts.get("xl/_rels/workbook.xml.rels", b""),
                                 _simple_body(parts["xl/workbook.xml"]))
    except ReadError:
        raise
    except Exception as exc:  # the XML parser fails in many ways on damaged parts
        raise ReadError("corrupt", f"{type(exc).__name__}: {exc}") from exc
    try:
        missing = [part for part in wb.parts.values() if part not in parts and kind.part(part) is None]
        strings = kind.part(wb.strings or "xl/sharedStrings.xml")
        styles = kind.part(wb.styles or "xl/styles.xml")
    except Refused as exc:
        raise ReadError(exc.code, exc.detail) from exc
    if missing:
        raise ReadError("missing_part", missing[0])
    if wb.risky_name is not None:
        raise ReadError("active_content", what=wb.risky_name[1], where=wb.risky_name[0])
    sheets = {name: parts[part] for name, part in wb.parts.items()}
    book = RawBook(path=path, states=wb.states, names=wb.names,
                   meta=_custom_props(parts.get("docProps/custom.xml")),
                   saved_at=_saved_at(parts.get("docProps/core.xml")),
                   kind="xlsx", broken_names=wb.broken, sheet_xml=sheets,
                   strings=_Strings(strings), styles=_Styles(styles), date1904=wb.date1904, package=kind,
                   sheet_parts=dict(wb.parts))
    for name, xml in sheets.items():
        _refuse_formulas(name, xml, book.scan(name))
    if not book.meta.get("form_id") and meta_layout.SHEET in wb.states:
        # a client that drops document properties: the hidden sheet
        book.meta = meta_layout.from_rows(book.grid(meta_layout.SHEET))
    return book


def _calamine_book(path: Path, kind: Kind) -> RawBook:
    """An .xls/.et or .ods workbook through calamine: sheet states and the hidden sheet's metadata."""
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(kind.data))
        states = {s.name: str(s.visible).rsplit(".", 1)[-1].lower() for s in book.sheets_metadata}
        raw = RawBook(path=path, states=states, names={}, meta={}, book=book, kind=kind.name)
        if meta_layout.SHEET in states:
            raw.meta = meta_layout.from_rows(raw.grid(meta_layout.SHEET))
    except ReadError:
        raise
    except Exception as exc:  # calamine's own error types
        raise ReadError("corrupt", str(exc)) from exc
    except BaseException as exc:  # a panic inside calamine (pyo3 PanicException)
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise ReadError("corrupt", f"{type(exc).__name__}: {exc}") from exc
    return raw
