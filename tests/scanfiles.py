"""Files for the scan tests, built by code (helper module, not a test file): small PDFs (a blank
A4 page, and the hostile kinds: JavaScript in the open or hidden in a compressed object stream
under an escaped name, a launch action, an embedded file, encryption), images (a PNG and a JPEG
with the dimensions they claim, a "PNG bomb" whose header claims 60000×60000 pixels) and a
Windows program renamed .pdf."""

from __future__ import annotations

import struct
import zlib


def pdf(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF of the numbered ``objects`` (object n is ``objects[n-1]``), with its cross-reference table."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root,
                                                                                  trailer_extra, xref)
    return bytes(out)


def _page(content: bytes = b"BT /F1 24 Tf 72 760 Td (Stamped) Tj ET") -> list[bytes]:
    return [b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]


def blank_pdf() -> bytes:
    """One A4 page with a line of text: harmless."""
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *_page()])


def javascript_pdf() -> bytes:
    """JavaScript run when the file opens, in plain sight."""
    return pdf([b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>", *_page(),
                b"<< /Type /Action /S /JavaScript /JS (app.alert\\('x'\\)) >>"])


def hidden_javascript_pdf() -> bytes:
    """JavaScript inside a compressed object stream, its name written with #xx escapes
    (``/J#61vaScript``, ``/J#53``), as malware hides it from a plain search."""
    inside = b"<< /Type /Action /S /J#61vaScript /J#53 (this.exportDataObject\\({cName: 'a'}\\)) >>"
    header = b"5 0 "
    stream = zlib.compress(header + inside)
    objstm = (b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (len(header), len(stream)) + stream + b"\nendstream")
    return pdf([b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>", *_page(), objstm])


def launch_pdf() -> bytes:
    return pdf([b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>", *_page(),
                b"<< /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >>"])


def embedded_pdf() -> bytes:
    data = b"MZ not really a program"
    return pdf([b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(a.exe) 5 0 R] >> >> >>",
                *_page(), b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>",
                b"<< /Type /EmbeddedFile /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"])


def encrypted_pdf() -> bytes:
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *_page(),
                b"<< /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >>"], trailer_extra=b"/Encrypt 5 0 R ")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, rows: int | None = None) -> bytes:
    """A grey PNG of ``width``×``height`` (with ``rows``: only that many rows of data, a bomb's trick:
    the header claims the size, the data is tiny)."""
    line = b"\x00" + b"\xff" * width
    raw = line * (height if rows is None else rows)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def jpeg(width: int, height: int) -> bytes:
    """The head of a baseline JPEG of ``width``×``height`` (what a scan's header says; no picture)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def renamed_exe() -> bytes:
    """A Windows program's first bytes (what a renamed .exe starts with)."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200
