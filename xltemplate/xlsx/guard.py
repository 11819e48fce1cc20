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

Once every check has passed, the parts our own reader parses (``KEPT``: workbook, its
relationships, document properties, worksheets) are inflated in full, bounded by the part limit
and checked against their CRC, and handed over in ``Kind.parts``: each is inflated once, here,
not again by the reader.  Members are inflated straight from the file's bytes (``zlib`` on the
raw deflate stream at the member's data offset), not through ``zipfile``'s file objects.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

MAX_FILE = 50 * 1024 * 1024  # bytes on disk
MAX_MEMBERS = 2000
MAX_PART = 30 * 1024 * 1024  # uncompressed bytes of one part (a sheet)
MAX_TOTAL = 100 * 1024 * 1024  # uncompressed bytes of the whole package
DEFLATE_MAX_RATIO = 1032
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
#: The parts a parser (calamine's or ours) reads; their prologs are checked.
_PARSED = re.compile(r"^(\[Content_Types\]\.xml|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/sharedStrings\.xml"
                     r"|xl/styles\.xml|xl/worksheets/[^/]+\.xml|docProps/(core|custom)\.xml|content\.xml|styles\.xml)$")
#: The parts of an xlsx that our reader (not calamine) parses: inflated once here and handed over.
KEPT = re.compile(r"^(xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/worksheets/[^/]+\.xml"
                  r"|docProps/(core|custom)\.xml)$")


class Refused(Exception):
    """The file is refused before loading; ``code`` names the reason for messages."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Kind:
    name: str  # xlsx | ods | xls
    data: bytes
    zip: zipfile.ZipFile | None = None  # the package's directory, for zip-based kinds (closed)
    parts: dict[str, bytes] = field(default_factory=dict, repr=False)  # xlsx: the KEPT parts, inflated


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
        return Kind(_ole_kind(data), data)
    if data.startswith(b"PK"):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise Refused("truncated", str(exc)) from exc
        try:
            kind = _zip_kind(zf, data)
            parts = {info.filename: _inflate(data, info) for info in zf.infolist()
                     if kind == "xlsx" and KEPT.match(info.filename)}
            return Kind(kind, data, zf, parts)
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


def _ole_kind(data: bytes) -> str:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=False)}
        ole.close()
    except Exception as exc:  # olefile raises many kinds of errors on damaged files
        raise Refused("corrupt", f"OLE: {exc}") from exc
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        raise Refused("encrypted")
    if "workbook" in streams or "book" in streams:
        return "xls"  # Excel 97-2003, and WPS .et, which is the same container
    if "worddocument" in streams:
        raise Refused("word")
    raise Refused("not_xlsx", "OLE2 without a workbook")


def _zip_kind(zf: zipfile.ZipFile, data: bytes) -> str:
    infos = zf.infolist()
    names = {i.filename for i in infos}
    if len(infos) > MAX_MEMBERS:
        raise Refused("bomb", f"{len(infos)} parts")
    if "mimetype" in names and zf.read("mimetype")[:100].startswith(b"application/vnd.oasis.opendocument"):
        kind = "ods" if b"spreadsheet" in zf.read("mimetype")[:100] else "odf"
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
        if _PARSED.match(info.filename) and _DTD.search(_prolog(data, info)):
            raise Refused("unsafe_xml", info.filename)
    if worst > MAX_TOTAL:  # could be a bomb: count what the parts really inflate to
        real = 0
        for info in infos:
            real += _real_size(data, info)
            if real > MAX_TOTAL:
                raise Refused("bomb", f"more than {MAX_TOTAL // (1024 * 1024)} MB in all")
    return kind


def stream(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The member's stored bytes, as the local header places them (``compress_size`` of them)."""
    off = info.header_offset
    header = data[off:off + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise Refused("corrupt", f"{info.filename}: bad local header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = off + 30 + name_len + extra_len
    return memoryview(data)[start:start + info.compress_size]


def _real_size(data: bytes, info: zipfile.ZipInfo) -> int:
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


def _inflate(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The member in full, refused beyond MAX_PART bytes (whatever its header says) or when it
    does not match its CRC (what ``zipfile`` checks when it reads a member)."""
    raw = stream(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        out = bytes(raw[:MAX_PART + 1])
    else:
        try:
            out = zlib.decompressobj(-15).decompress(raw, MAX_PART + 1)
        except zlib.error as exc:
            raise Refused("corrupt", f"{info.filename}: {exc}") from exc
    if len(out) > MAX_PART:
        raise Refused("bomb", f"{info.filename}: more than {MAX_PART // (1024 * 1024)} MB")
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        raise Refused("corrupt", f"{info.filename}: Bad CRC-32 or size")
    return out


def _prolog(data: bytes, info: zipfile.ZipInfo) -> bytes:
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
