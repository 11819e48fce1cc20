"""What a file is, and whether it is safe to load: checks on the raw bytes before any parser runs.

* **Kind** by content, not by name: xlsx/xlsm (zip with ``xl/workbook.xml``), ods, xls/et (OLE2
  with a workbook stream), an encrypted OOXML workbook (OLE2 with ``EncryptedPackage``), or a
  known other kind (PDF, Word, images, plain text, empty) named in the message.
* **Limits** (zip bombs, over-large sheets): file size, number of members, each member's and
  the total uncompressed size, compression method.  Deflate expands at most ~1032:1, so a member
  whose compressed size cannot exceed the per-part limit needs no further check; larger ones are
  inflated with a bound to check their real size, whatever their header claims.
* **XML prologs** of the parts a parser will read are inflated a little and refused if they
  declare a DOCTYPE or entities (no xlsx needs one): no entity expansion, no external fetch.

Once every check has passed, the parts the reader parses (``KEPT``: the content types, the
workbook, every relationships part, document properties, worksheets, shared strings and styles)
are inflated, bounded by the part limit, their prologs checked on the inflated bytes, and handed
over in ``Kind.parts``: each is inflated once, here, not again by the reader (:meth:`Kind.part`
inflates any other member the same way, on request).  A worksheet is inflated up to the end of
its cell data (``</sheetData>``) and no further: the rest of a template's sheet is mostly data
validations, which nothing reads (:meth:`Kind.full` inflates it whole, for the reader's parser);
every other part is inflated whole and checked against its CRC (a small part whose stored bytes,
method, CRC and size were seen before in this process is taken as it was inflated and checked
then: the returns of one template share many parts byte for byte).  Members are inflated straight
from the file's bytes (``zlib`` on the raw deflate stream at the member's data offset), and the
package's directory is read by :func:`_directory` (``zipfile`` for anything but the plain form:
zip64, a comment, bytes before the archive).

**Active content** (:func:`refuse_active`, which the reader calls for every return, while
``design`` and a roster, the bureau's own files, are not held to it): a VBA project (``.xlsm``
content, the macro-enabled content type, ``vbaProject.bin``), Excel 4.0 macro or dialog sheets,
ActiveX controls, embedded OLE objects, links to other workbooks (``xl/externalLinks/``), data
connections and query tables, and any relationship to something outside the package other than
a hyperlink.  A hyperlink is allowed: Excel makes one by itself of an e-mail address or a web
address a clerk types, and it is only followed when someone clicks it.  Formulas (DDE, references
to other workbooks) are the reader's to check, since it knows which sheet and cell says what.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import olefile

MAX_FILE = 50 * 1024 * 1024  # bytes on disk
MAX_MEMBERS = 2000
MAX_PART = 30 * 1024 * 1024  # uncompressed bytes of one part (a sheet)
MAX_TOTAL = 100 * 1024 * 1024  # uncompressed bytes of the whole package
DEFLATE_MAX_RATIO = 1032
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
#: The parts a parser (calamine's or ours) reads; their prologs are checked.
_PARSED = re.compile(r"^(\[Content_Types\]\.xml|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/sharedStrings\.xml"
                     r"|xl/styles\.xml|xl/worksheets/[^/]+\.xml|docProps/(core|custom)\.xml|content\.xml|styles\.xml)$")
#: The parts of an xlsx the reader parses: inflated once here, their prologs checked, handed over.
KEPT = re.compile(r"^(\[Content_Types\]\.xml|xl/workbook\.xml|xl/worksheets/[^/]+\.xml|xl/sharedStrings\.xml"
                  r"|xl/styles\.xml|docProps/(core|custom)\.xml|(.+/)?_rels/[^/]*\.rels)$")
#: Members that are active content whatever they hold (see the module docstring): kind by pattern.
_ACTIVE_PARTS = [
    (re.compile(r"(?i)(^|/)vbaProject(Signature)?\.bin$"), "vba"),
    (re.compile(r"(?i)^xl/(macrosheets|dialogsheets)/"), "xlm"),
    (re.compile(r"(?i)^xl/activeX/"), "activex"),
    (re.compile(r"(?i)^xl/embeddings/"), "ole"),
    (re.compile(r"(?i)^xl/externalLinks/"), "external_link"),
    (re.compile(r"(?i)^xl/(connections\.xml$|queryTables/)"), "external_data"),
    (re.compile(r"(?i)^(Basic|Scripts)/"), "vba"),  # an OpenDocument spreadsheet's macros
]
_ACTIVE_WORDS = ("vbaproject", "macrosheets/", "dialogsheets/", "activex/", "embeddings/", "externallinks/",
                 "connections.xml", "querytables/", "basic/", "scripts/")
_EXTERNAL = re.compile(rb"""<(?:\w+:)?Relationship\b[^>]*?\bTargetMode\s*=\s*["']External["'][^>]*>""", re.I)
_REL_TYPE = re.compile(rb"""\bType\s*=\s*["']([^"']*)["']""")
_REL_TARGET = re.compile(rb"""\bTarget\s*=\s*["']([^"']*)["']""")


@lru_cache(maxsize=4096)
def _kept(name: str) -> bool:
    return KEPT.match(name) is not None


@lru_cache(maxsize=4096)
def _parsed(name: str) -> bool:
    return _PARSED.match(name) is not None


class Refused(Exception):
    """The file is refused before loading; ``code`` names the reason for messages.  Active content
    also says what it is (``what``: vba, xlm, activex, ole, external_link, external_data,
    external_rel, dde, external_ref, remote_call) and where (a part, a sheet and cell, a name)."""

    def __init__(self, code: str, detail: str = "", *, what: str = "", where: str = ""):
        super().__init__(f"{code}: {detail or what} {where}".strip() if detail or what else code)
        self.code = code
        self.detail = detail
        self.what = what
        self.where = where


class Member:
    """A zip member as the central directory describes it (the attributes ``zipfile.ZipInfo`` has
    that this module and :mod:`.zipout` use)."""

    __slots__ = ("CRC", "compress_size", "compress_type", "create_system", "date_time", "external_attr",
                 "file_size", "filename", "flag_bits", "header_offset")

    def __init__(self, filename: str, compress_type: int, crc: int, compress_size: int, file_size: int,
                 header_offset: int, flag_bits: int, date_time: tuple[int, ...], create_system: int,
                 external_attr: int):
        self.filename, self.compress_type, self.CRC = filename, compress_type, crc
        self.compress_size, self.file_size, self.header_offset = compress_size, file_size, header_offset
        self.flag_bits, self.date_time = flag_bits, date_time
        self.create_system, self.external_attr = create_system, external_attr

    def is_dir(self) -> bool:
        return self.filename.endswith("/")


class Directory:
    """A package's members, from its central directory: what ``zipfile.ZipFile`` gives of it."""

    def __init__(self, members: list[Member]):
        self.members = members
        self.by_name = {m.filename: m for m in members}

    def infolist(self) -> list[Member]:
        return self.members

    def namelist(self) -> list[str]:
        return [m.filename for m in self.members]

    def getinfo(self, name: str) -> Member:
        return self.by_name[name]

    def close(self) -> None:
        """Nothing to close: the directory is read from bytes in memory."""


_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")


def _directory(data: bytes) -> Directory | zipfile.ZipFile:
    """The package's directory read from its bytes in the plain form every client writes (one
    disk, no zip64, no comment, nothing before the archive); ``zipfile`` for anything else."""
    at = len(data) - 22
    if at < 0 or data[at:at + 4] != b"PK\x05\x06":
        return zipfile.ZipFile(io.BytesIO(data))
    _sig, disk, cd_disk, _here, count, size, offset, comment = _EOCD.unpack_from(data, at)
    if disk or cd_disk or comment or offset + size != at or count == 0xFFFF or offset == 0xFFFFFFFF:
        return zipfile.ZipFile(io.BytesIO(data))
    members, pos = [], offset
    for _ in range(count):
        if pos + 46 > at:
            return zipfile.ZipFile(io.BytesIO(data))
        (sig, made_by, _need, flags, method, mtime, mdate, crc, csize, usize, name_len, extra_len, note_len,
         _disk, _internal, external, local) = _CENTRAL.unpack_from(data, pos)
        if sig != b"PK\x01\x02" or 0xFFFFFFFF in (csize, usize, local):
            return zipfile.ZipFile(io.BytesIO(data))
        raw = data[pos + 46:pos + 46 + name_len]
        name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        date_time = ((mdate >> 9) + 1980, (mdate >> 5) & 0xF, mdate & 0x1F, mtime >> 11, (mtime >> 5) & 0x3F,
                     (mtime & 0x1F) * 2)
        members.append(Member(name, method, crc, csize, usize, local, flags, date_time, made_by >> 8, external))
        pos += 46 + name_len + extra_len + note_len
    if pos != at:
        return zipfile.ZipFile(io.BytesIO(data))
    return Directory(members)


@dataclass
class Kind:
    name: str  # xlsx | ods | xls
    data: bytes
    zip: Directory | zipfile.ZipFile | None = None  # the package's directory, for zip-based kinds
    parts: dict[str, bytes] = field(default_factory=dict, repr=False)  # xlsx: the KEPT parts, inflated
    streams: frozenset[str] = frozenset()  # xls: the OLE streams (lower case, "/" between storages)
    cut: set[str] = field(default_factory=set, repr=False)  # worksheets inflated up to their cell data's end

    def full(self, name: str) -> bytes | None:
        """Member ``name`` inflated whole (a worksheet :attr:`parts` holds only up to its cell
        data's end), under the same checks."""
        if name in self.cut:
            assert self.zip is not None
            self.parts[name] = _checked(self.data, self.zip.getinfo(name))
            self.cut.discard(name)
        return self.part(name)

    def part(self, name: str) -> bytes | None:
        """Member ``name`` inflated (and kept), under the same checks as the KEPT parts; None when
        the package has no such member."""
        if name in self.parts:
            return self.parts[name]
        if self.zip is None:
            return None
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            return None
        out = self.parts[name] = _checked(self.data, info)
        return out


_MAGIC = [
    (b"%PDF", "pdf"), (b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"), (b"BM", "image"),
    (b"{\\rtf", "rtf"), (b"Rar!", "archive"), (b"7z\xbc\xaf", "archive"), (b"\x1f\x8b", "archive"),
]


def identify(data: bytes) -> Kind:
    """The kind of workbook ``data`` holds, or :class:`Refused` saying what it is instead."""
    if not data:
        raise Refused("empty")
    if len(data) > MAX_FILE:
        raise Refused("too_large", f"{len(data) // (1024 * 1024)} MB")
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        kind, streams = _ole_kind(data)
        return Kind(kind, data, streams=streams)
    if data.startswith(b"PK"):
        try:
            zf = _directory(data)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, struct.error) as exc:
            raise Refused("truncated", str(exc)) from exc
        try:
            kind = _zip_kind(zf, data)
            if kind != "xlsx":
                return Kind(kind, data, zf)
            parts, cut = {}, set()
            for info in zf.infolist():
                name = info.filename
                if not _kept(name):
                    continue
                if name.startswith("xl/worksheets/"):
                    parts[name], whole = _checked_cells(data, info)
                    if not whole:
                        cut.add(name)
                else:
                    parts[name] = _checked(data, info)
            return Kind(kind, data, zf, parts, cut=cut)
        except Refused:
            raise
        except Exception as exc:  # zipfile's many ways of failing on a damaged archive
            raise Refused("corrupt", f"{type(exc).__name__}: {exc}") from exc
        finally:
            zf.close()
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise Refused(kind)
    head = data[:2048].lstrip()
    if head.startswith((b"<html", b"<!DOCTYPE html", b"<?xml")) or head[:1] == b"<":
        raise Refused("html_or_xml")
    raise Refused("not_xlsx")


def _ole_kind(data: bytes) -> tuple[str, frozenset[str]]:
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=False)}
        ole.close()
    except Exception as exc:  # olefile raises many kinds of errors on damaged files
        raise Refused("corrupt", f"OLE: {exc}") from exc
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        raise Refused("encrypted")
    if "workbook" in streams or "book" in streams:
        return "xls", frozenset(streams)  # Excel 97-2003, and WPS .et, which is the same container
    if "worddocument" in streams:
        raise Refused("word")
    raise Refused("not_xlsx", "OLE2 without a workbook")


def _zip_kind(zf: Directory | zipfile.ZipFile, data: bytes) -> str:
    infos = zf.infolist()
    names = {i.filename for i in infos}
    if len(infos) > MAX_MEMBERS:
        raise Refused("bomb", f"{len(infos)} parts")
    mimetype = _head(data, zf.getinfo("mimetype"), 100) if "mimetype" in names else b""
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        kind = "ods" if b"spreadsheet" in mimetype else "odf"
    elif "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        kind = "xlsx"
    elif "word/document.xml" in names:
        raise Refused("word")
    elif "ppt/presentation.xml" in names:
        raise Refused("powerpoint")
    elif any(n.startswith("xl/") for n in names):
        raise Refused("missing_part", "xl/workbook.xml")
    else:
        raise Refused("zip_not_workbook")
    if kind == "odf":
        raise Refused("not_xlsx", "OpenDocument (not a spreadsheet)")
    worst = 0  # the most the package can inflate to, by compressed sizes (headers may lie)
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused("corrupt", f"{info.filename}: compression method {info.compress_type}")
        bound = info.compress_size if info.compress_type == zipfile.ZIP_STORED \
            else info.compress_size * DEFLATE_MAX_RATIO
        if info.file_size > MAX_PART:
            raise Refused("bomb", f"{info.filename}: more than {MAX_PART // (1024 * 1024)} MB")
        if bound > MAX_PART:
            bound = _real_size(data, info)
            if bound > MAX_PART:
                raise Refused("bomb", f"{info.filename}: more than {MAX_PART // (1024 * 1024)} MB")
        worst += bound
        if _parsed(info.filename) and not (kind == "xlsx" and _kept(info.filename)) \
                and _DTD.search(_prolog(data, info)):  # KEPT parts: checked once inflated (_checked)
            raise Refused("unsafe_xml", info.filename)
    if worst > MAX_TOTAL:  # could be a bomb: count what the parts really inflate to
        real = 0
        for info in infos:
            real += _real_size(data, info)
            if real > MAX_TOTAL:
                raise Refused("bomb", f"more than {MAX_TOTAL // (1024 * 1024)} MB in all")
    return kind


def _head(data: bytes, info: Member | zipfile.ZipInfo, size: int) -> bytes:
    """The first ``size`` bytes of a member, inflated."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        return bytes(raw[:size])
    try:
        return zlib.decompressobj(-15).decompress(raw, size)
    except zlib.error as exc:
        raise Refused("corrupt", f"{info.filename}: {exc}") from exc


def stream(data: bytes, info: Member | zipfile.ZipInfo) -> memoryview:
    """The member's stored bytes, as the local header places them (``compress_size`` of them)."""
    off = info.header_offset
    header = data[off:off + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise Refused("corrupt", f"{info.filename}: bad local header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = off + 30 + name_len + extra_len
    return memoryview(data)[start:start + info.compress_size]


def _real_size(data: bytes, info: Member | zipfile.ZipInfo) -> int:
    """What the member really inflates to, counted up to MAX_PART + 1 bytes.

    Inflates the raw stream itself rather than trusting ``zipfile``, which stops at the size the
    header declares: a bomb with a forged small size would pass that check and explode in the
    spreadsheet parser, which reads the stream to its end."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        return min(len(raw), MAX_PART + 1)
    inflater = zlib.decompressobj(-15)
    size, pos = 0, 0
    try:
        while pos < len(raw) and size <= MAX_PART:
            chunk = raw[pos:pos + 65536]
            pos += len(chunk)
            while chunk and size <= MAX_PART:
                size += len(inflater.decompress(chunk, 1024 * 1024))
                chunk = inflater.unconsumed_tail
    except zlib.error as exc:
        raise Refused("corrupt", f"{info.filename}: {exc}") from exc
    return size


def _inflate(data: bytes, info: Member | zipfile.ZipInfo) -> bytes:
    """The member in full, refused beyond MAX_PART bytes (whatever its header says) or when it
    does not match its CRC (what ``zipfile`` checks when it reads a member)."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        out = bytes(raw[:MAX_PART + 1])
    else:
        try:
            if len(raw) * DEFLATE_MAX_RATIO <= MAX_PART:  # it cannot inflate beyond the limit
                out = zlib.decompress(raw, -15, max(min(info.file_size, len(raw) * DEFLATE_MAX_RATIO), 64))
            else:
                out = zlib.decompressobj(-15).decompress(raw, MAX_PART + 1)
        except zlib.error as exc:
            raise Refused("corrupt", f"{info.filename}: {exc}") from exc
    if len(out) > MAX_PART:
        raise Refused("bomb", f"{info.filename}: more than {MAX_PART // (1024 * 1024)} MB")
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        raise Refused("corrupt", f"{info.filename}: Bad CRC-32 or size")
    return out


#: Parts inflated and checked before, by their stored bytes (with the method, CRC and size their
#: header declares): the returns of one template saved by one kind of client hold many parts byte
#: for byte the same (styles, content types, relationships, often the workbook part), and the same
#: stored bytes always inflate to the same part, which passed the same checks.  Small parts only,
#: a few dozen at most (emptied when full): a few MB per process at worst.
_SEEN: dict[tuple[int, int, int, bytes | memoryview], bytes] = {}
_SEEN_PARTS = 32
_SEEN_STORED = 64 * 1024  # stored bytes of a part kept this way, at most
_SEEN_SIZE = 256 * 1024  # its size inflated, at most


def _checked(data: bytes, info: Member | zipfile.ZipInfo) -> bytes:
    """The member inflated (:func:`_inflate`), refused when its prolog declares a DOCTYPE or entities."""
    raw = stream(data, info)  # a read-only memoryview hashes and compares as its bytes do: no copy to look up
    small = info.compress_size <= _SEEN_STORED and info.file_size <= _SEEN_SIZE and raw.readonly
    if small:
        seen = _SEEN.get((info.compress_type, info.CRC, info.file_size, raw))
        if seen is not None:
            return seen
    out = _inflate(data, info)
    _check_prolog(out, info.filename)
    if small:
        if len(_SEEN) >= _SEEN_PARTS:
            _SEEN.clear()
        _SEEN[(info.compress_type, info.CRC, info.file_size, bytes(raw))] = out
    return out


_CELLS_END = b"</sheetData>"
_STEP = 8192  # the first bytes inflated of a sheet, doubled each time: the cell data's end comes early


def _checked_cells(data: bytes, info: Member | zipfile.ZipInfo) -> tuple[bytes, bool]:
    """A worksheet inflated up to the end of its cell data (the first ``</sheetData>``), and
    whether that is the whole part (then checked against its size and CRC, as :func:`_inflate`).
    The bound on the part's size holds either way."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED or info.compress_size <= 4096:
        return _checked(data, info), True
    inflater = zlib.decompressobj(-15)
    out, step = b"", _STEP
    try:
        while True:
            chunk = inflater.decompress(inflater.unconsumed_tail if out else raw, step)
            seen = len(out)
            out += chunk
            if len(out) > MAX_PART:
                raise Refused("bomb", f"{info.filename}: more than {MAX_PART // (1024 * 1024)} MB")
            if cells_end(out, max(0, seen - len(_CELLS_END))) >= 0:
                _check_prolog(out, info.filename)
                return out, False
            if inflater.eof or not inflater.unconsumed_tail:
                break
            step = min(step * 2, 1 << 20)  # doubling: the bytes copied stay twice what is inflated at most
    except zlib.error as exc:
        raise Refused("corrupt", f"{info.filename}: {exc}") from exc
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        raise Refused("corrupt", f"{info.filename}: Bad CRC-32 or size")
    _check_prolog(out, info.filename)
    return out, True


def cells_end(xml: bytes, start: int = 0) -> int:
    """Where the first ``</sheetData>`` at or after ``start`` begins (-1: none).  Searched for by
    its tail (``etData>``, which the start tag has too), far quicker than by a needle that
    starts with the '<' every tag has."""
    at = xml.find(b"etData>", start)
    while at >= 0:
        if xml[at - 5:at] == b"</she":
            return at - 5
        at = xml.find(b"etData>", at + 7)
    return -1


def _check_prolog(out: bytes, name: str) -> None:
    """Refuse a part whose prolog declares a DOCTYPE or entities (or is too long to be a prolog)."""
    if out[:1] == b"<" and out[1:2] not in (b"?", b"!"):
        return  # the root element first: no prolog at all
    root = root_start(out[:65536 + 8192] if len(out) > 65536 + 8192 else out)
    if root is None and len(out) > 65536:
        raise Refused("unsafe_xml", f"{name}: prolog too long")
    if _DTD.search(out, 0, len(out) if root is None else root):
        raise Refused("unsafe_xml", name)


def refuse_active(kind: Kind) -> None:
    """Raise :class:`Refused` (``active_content``) when the package holds active content (see the
    module docstring): by its members' names, its content types and its relationships."""
    if kind.name == "xls":
        vba = sorted(s for s in kind.streams if s.startswith(("_vba_project_cur/", "vba/", "macros/")))
        if vba:
            raise Refused("active_content", what="vba", where=vba[0].split("/")[0])
        return
    if kind.zip is None:
        return
    names = kind.zip.namelist()
    listed = "\n".join(names).lower()
    if any(word in listed for word in _ACTIVE_WORDS):  # a quick look first: almost never
        for name in names:
            for pattern, what in _ACTIVE_PARTS:
                if pattern.search(name):
                    raise Refused("active_content", what=what, where=name)
    types = kind.parts.get("[Content_Types].xml", b"")
    if b"macroEnabled" in types or b"macroenabled" in types.lower():
        raise Refused("active_content", what="vba", where="[Content_Types].xml")
    for name in [n for n in names if n.endswith(".rels")]:
        rels = kind.part(name) or b""
        if b"External" not in rels and b"external" not in rels:
            continue
        for rel in _EXTERNAL.findall(rels):
            kind_of = _REL_TYPE.search(rel)
            if kind_of is not None and kind_of.group(1).rsplit(b"/", 1)[-1] == b"hyperlink":
                continue
            target = _REL_TARGET.search(rel)
            where = target.group(1).decode("utf-8", "replace")[:80] if target else name
            raise Refused("active_content", what="external_rel", where=where)


def _prolog(data: bytes, info: Member | zipfile.ZipInfo) -> bytes:
    """The bytes before the root element (declaration, comments, a DOCTYPE if any).

    Usually the first 100 bytes; more is inflated only while no root element has started, and a
    prolog longer than 64 KB is refused as unsafe (no spreadsheet writes one)."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        head = bytes(raw[:65536 + 8192])
        root = root_start(head)
        if root is not None:
            return head[:root]
        if len(head) > 65536:
            raise Refused("unsafe_xml", f"{info.filename}: prolog too long")
        return head
    inflater = zlib.decompressobj(-15)
    try:
        head = inflater.decompress(raw, 512)
        while True:
            root = root_start(head)
            if root is not None:
                return head[:root]
            tail = inflater.unconsumed_tail
            if not tail:
                return head
            head += inflater.decompress(tail, 8192)
            if len(head) > 65536:
                raise Refused("unsafe_xml", f"{info.filename}: prolog too long")
    except zlib.error as exc:
        raise Refused("corrupt", f"{info.filename}: {exc}") from exc


def root_start(head: bytes) -> int | None:
    """Where the root element starts, past the declaration and comments (None: not in ``head``)."""
    i = 0
    while True:
        j = head.find(b"<", i)
        if j < 0 or j + 4 > len(head):
            return None
        if head.startswith(b"<?", j):
            end, step = head.find(b"?>", j), 2
        elif head.startswith(b"<!--", j):
            end, step = head.find(b"-->", j), 3
        elif head.startswith(b"<!", j):
            return min(len(head), j + 16)  # a DOCTYPE or ENTITY: keep it in the prolog, refused there
        else:
            return j
        if end < 0:
            return None
        i = end + step
