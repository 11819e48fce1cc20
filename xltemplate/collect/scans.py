"""Stamped scans: the paper copy of a return, signed and stamped, scanned and uploaded beside the
workbook, and bound to the version of the data it signs.

**The loop.**  After an upload the clerk downloads the return's 打印版 (:mod:`.printout`), whose
footer carries the return's number and its 校验码 (:mod:`.checkcode`); prints, signs, stamps and
scans it; and uploads the scan on the link's page *for that return*.  The scan is kept with the
校验码 of the version it was uploaded for.  Staff see it as a picture beside that code and the
current version's: when the data changed after the scan (a correction uploaded since), the page
says 扫描件对应旧版本, and when the form requires a scan the reviewer cannot approve until a new
one arrives (:func:`approval_blocker`).

**What the form says** (``x-form.attachments``, a list; none: the form takes no scans)::

    "attachments": [{"key": "stamped", "name": "盖章扫描件", "kinds": ["pdf", "jpg", "png"],
                     "max_mb": 20, "required": true}]

**A hostile file gets nowhere.**

* It is identified by its first bytes (``%PDF-``, JPEG's ``FF D8 FF``, PNG's signature), never by
  its name: a renamed program is refused, and so is a kind the form does not take.
* Its size is capped while it streams in (the route's limit) and again by the attachment's
  ``max_mb``; it is stored under a generated id (``files``), never under the clerk's name.
* An image's width and height are read from its header (PNG's ``IHDR``, JPEG's ``SOF``) before
  anything decodes it: more than :data:`MAX_SIDE` pixels a side or :data:`MAX_PIXELS` in all (a
  "PNG bomb", a few kilobytes that decode to gigabytes) is refused.
* A PDF is refused when it carries JavaScript, launch actions or embedded files (its names are
  read with their ``#xx`` escapes undone, inside compressed object streams too; an encrypted PDF,
  whose insides cannot be read, is refused), and when poppler cannot render its first page.
* Staff's browsers never open a PDF: the first page is rendered to a PNG on the server by
  ``pdftoppm`` (poppler-utils), in a process of its own limited in memory, CPU time and wall
  time, scaled to fit :data:`PREVIEW_PX` pixels; images are shown as they came (bounded, served
  as ``image/png`` / ``image/jpeg`` with ``nosniff``).
* When a PDF has a text layer (made by a program rather than a scanner) that names a 校验码
  other than the return's, it is refused: it is the paper of another version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from ..form.forms import find_form, find_version
from ..messages import CatalogError, t
from . import checkcode, events, files, links
from .db import utcnow, writing
from .returns import one, query
from .shapes import utc

if TYPE_CHECKING:
    from .links import Link
    from .store import Store

KINDS = ("pdf", "jpg", "png")
SCAN, PREVIEW = "scan", "preview"  # kinds of stored files
DEFAULT_MAX_MB = 20
LIMIT_MB = 50  # no attachment may ask for more (the route's cap)
MAX_SIDE = 20_000
MAX_PIXELS = 100_000_000  # an A4 page at 600 dpi is 35 million
PREVIEW_PX = 1600
RENDER_SECONDS = 30
RENDER_MEMORY = 1024 * 1024 * 1024
MAX_INFLATED = 64 * 1024 * 1024  # bytes of a PDF's object streams read, all together
FORBIDDEN_NAMES = {"JavaScript": "pdf_javascript", "JS": "pdf_javascript", "Launch": "pdf_launch",
                   "EmbeddedFile": "pdf_embedded", "EmbeddedFiles": "pdf_embedded", "RichMedia": "pdf_embedded"}
CURRENT, STALE, MISSING = "current", "stale", "missing"


class ScanRefused(CatalogError):
    """An uploaded scan is refused: a catalog key and its parameters."""


# -- what the form asks for -------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """A paper copy the form asks to be scanned and uploaded with each return."""

    key: str
    name: str
    kinds: tuple[str, ...] = KINDS
    max_bytes: int = DEFAULT_MAX_MB * 1024 * 1024
    required: bool = False

    @property
    def max_mb(self) -> int:
        return self.max_bytes // (1024 * 1024)

    @property
    def accept(self) -> str:
        """The file chooser's ``accept``."""
        return ",".join({"pdf": ".pdf,application/pdf", "jpg": ".jpg,.jpeg,image/jpeg",
                         "png": ".png,image/png"}[k] for k in self.kinds)


def attachments(schema: dict[str, Any] | None) -> list[Attachment]:
    """The attachments a form's schema declares (``x-form.attachments``)."""
    found = (schema or {}).get("x-form", {}).get("attachments") or []
    out = []
    for n, spec in enumerate(found if isinstance(found, list) else []):
        if not isinstance(spec, dict):
            continue
        kinds = tuple(k for k in (spec.get("kinds") or KINDS) if k in KINDS) or KINDS
        mb = spec.get("max_mb", DEFAULT_MAX_MB)
        mb = min(int(mb), LIMIT_MB) if isinstance(mb, int | float) and mb > 0 else DEFAULT_MAX_MB
        key = str(spec.get("key") or f"a{n + 1}")[:50]
        out.append(Attachment(key, str(spec.get("name") or t("scan_default_name")), kinds, mb * 1024 * 1024,
                              bool(spec.get("required", False))))
    return out


def attachments_of_form(form_id: str | None, version: str | None = None) -> list[Attachment]:
    """The attachments of a form version known to this process (bundled or published)."""
    if not form_id:
        return []
    model = find_form(form_id)
    if model is not None and version and model.version != version:
        model = find_version(form_id, version, near=model) or model
    return attachments(model.schema) if model is not None else []


# -- what a file is ---------------------------------------------------------------------------

def kind_of(head: bytes) -> str | None:
    """pdf, jpg or png by the first bytes; None for anything else."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def image_size(data: bytes, kind: str) -> tuple[int, int]:
    """An image's (width, height) from its header, nothing decoded; :class:`ScanRefused` when the
    header cannot be read."""
    if kind == "png":
        if len(data) < 33 or data[12:16] != b"IHDR":
            raise ScanRefused("scan_bad_image")
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ScanRefused("scan_bad_image")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        if marker == 0xDA or length < 2:  # the image data begins before any frame: not a JPEG we read
            break
        pos += 2 + length
    raise ScanRefused("scan_bad_image")


def check_image(data: bytes, kind: str) -> tuple[int, int]:
    width, height = image_size(data, kind)
    if not width or not height or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ScanRefused("scan_image_too_large", width=width, height=height, side=MAX_SIDE)
    return width, height


_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]*)")
_STREAM = re.compile(rb"stream\r?\n")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")


def _names(text: bytes) -> set[str]:
    return {_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), m.group(1)).decode("latin-1")
            for m in _NAME.finditer(text)}


def pdf_hazards(data: bytes) -> list[str]:
    """The reasons (catalog keys) a PDF is refused: JavaScript, launch actions, embedded files, or
    encryption; ``[]`` for none.  Every name outside stream data is read (``#xx`` escapes undone),
    and inside every object stream (``/Type /ObjStm``), inflated up to :data:`MAX_INFLATED` bytes."""
    outside: list[bytes] = []
    inflated = 0
    found: set[str] = set()
    pos = 0
    for m in _STREAM.finditer(data):
        if m.start() < pos:
            continue
        before = data[pos:m.start()]
        end = data.find(b"endstream", m.end())
        if end < 0:
            end = len(data)
        if not before.rstrip().endswith(b">>"):  # the word stream in text, not a stream
            continue
        outside.append(before)
        head = before[before.rfind(b"obj"):] if b"obj" in before else before[-2048:]
        head_names = _names(head)
        if "ObjStm" in head_names:
            if "Encrypt" in head_names or head_names & {"LZWDecode", "ASCII85Decode", "ASCIIHexDecode",
                                                        "RunLengthDecode", "Crypt"}:
                found.add("pdf_unreadable")
            elif "FlateDecode" in head_names:
                try:
                    inside = zlib.decompressobj().decompress(data[m.end():end], MAX_INFLATED - inflated)
                except zlib.error:
                    inside = b""
                    found.add("pdf_unreadable")
                inflated += len(inside)
                if inflated >= MAX_INFLATED:
                    found.add("pdf_unreadable")
                outside.append(inside)
            else:
                outside.append(data[m.end():end])
        pos = end
    outside.append(data[pos:])
    names = set().union(*(_names(part) for part in outside))
    found |= {FORBIDDEN_NAMES[n] for n in names if n in FORBIDDEN_NAMES}
    if "Encrypt" in names:
        found.add("pdf_encrypted")
    return sorted(found)


def _limited(command: list[str]) -> list[str]:
    """``command`` under limits of memory and CPU time (util-linux ``prlimit`` when there is one)."""
    prlimit = "/usr/bin/prlimit"
    if os.path.exists(prlimit):
        return [prlimit, f"--as={RENDER_MEMORY}", f"--cpu={RENDER_SECONDS}", "--", *command]
    return command


def render_first_page(data: bytes) -> tuple[bytes, int, str]:
    """The PDF's first page as a PNG at most :data:`PREVIEW_PX` pixels a side, its number of pages,
    and the first page's text (empty for a scan); :class:`ScanRefused` when poppler cannot."""
    with tempfile.TemporaryDirectory(prefix="xt-scan-") as folder:
        src = Path(folder) / "scan.pdf"
        src.write_bytes(data)
        try:
            info = subprocess.run(_limited(["pdfinfo", str(src)]), capture_output=True, timeout=RENDER_SECONDS,
                                  env={"PATH": "/usr/bin:/bin"})
            done = subprocess.run(_limited(["pdftoppm", "-q", "-f", "1", "-l", "1", "-singlefile", "-png",
                                            "-scale-to", str(PREVIEW_PX), str(src), str(Path(folder) / "page")]),
                                  capture_output=True, timeout=RENDER_SECONDS, env={"PATH": "/usr/bin:/bin"})
            text = subprocess.run(_limited(["pdftotext", "-q", "-f", "1", "-l", "1", "-enc", "UTF-8", str(src), "-"]),
                                  capture_output=True, timeout=RENDER_SECONDS, env={"PATH": "/usr/bin:/bin"})
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise ScanRefused("scan_unrenderable") from exc
        png = Path(folder) / "page.png"
        if done.returncode != 0 or not png.is_file():
            raise ScanRefused("scan_unrenderable")
        pages = re.search(rb"^Pages:\s+(\d+)", info.stdout, re.M)
        if re.search(rb"^JavaScript:\s+yes", info.stdout, re.M):
            raise ScanRefused("pdf_javascript")
        return png.read_bytes(), int(pages.group(1)) if pages else 1, text.stdout.decode("utf-8", "replace")


_CODE = re.compile(r"校验码[:：\s]*([0-9A-Z]{4}-[0-9A-Z]{4})")


# -- the record ---------------------------------------------------------------------------------

class Scan(msgspec.Struct, kw_only=True):
    """A stamped scan, with the 校验码 of the version it was uploaded for and of the current one."""

    id: int
    submission: int  # the copy it was uploaded for
    return_key: str | None
    attachment: str
    code: str
    current_code: str | None  # the 校验码 of the return's current copy (None: no current copy)
    current_submission: int | None  # the return's current copy
    kind: str
    name: str
    size: int
    width: int | None
    height: int | None
    pages: int | None
    uploaded_at: dt.datetime
    uploaded_by: str | None

    @property
    def state(self) -> str:
        """current: it signs the data that counts now; stale: the data changed since."""
        return CURRENT if self.current_code == self.code else STALE


@dataclass
class ReturnScans:
    """What a return has of one attachment its form asks for: this copy's 校验码 and the newest
    scan's (with the scan itself when the caller read it)."""

    attachment: Attachment
    code: str | None  # the 校验码 of this copy
    scan_code: str | None  # the newest scan's, of any copy of the return
    latest: Scan | None = None

    @property
    def state(self) -> str:
        if self.scan_code is None:
            return MISSING
        return CURRENT if self.scan_code == self.code else STALE


def _scans(store: Store, conn: sa.Connection, where: Any) -> list[Scan]:
    sc, s = store.t.scans, store.submissions
    current = s.alias("cur")
    rows = conn.execute(
        sa.select(sc, current.c.check_code.label("current_code"), current.c.id.label("current_submission"))
        .select_from(sc.outerjoin(current, sa.and_(
            current.c.is_current.is_(True),
            sa.or_(current.c.return_key == sc.c.return_key,
                   sa.and_(sc.c.return_key.is_(None), current.c.id == sc.c.submission)))))
        .where(where).order_by(sc.c.id.desc())).all()
    return [Scan(id=r.id, submission=r.submission, return_key=r.return_key, attachment=r.attachment, code=r.code,
                 current_code=r.current_code, current_submission=r.current_submission, kind=r.kind, name=r.name,
                 size=r.size, width=r.width, height=r.height,
                 pages=r.pages, uploaded_at=utc(r.uploaded_at), uploaded_by=r.uploaded_by) for r in rows]


def of_department(store: Store, round_id: int, code: str) -> list[Scan]:
    """A department's scans in a round, newest first."""
    sc = store.t.scans
    with store.engine.connect() as conn:
        return _scans(store, conn, sa.and_(sc.c.round_id == round_id, sc.c.department_code == code))


def of_round(store: Store, round_id: int) -> list[Scan]:
    sc = store.t.scans
    with store.engine.connect() as conn:
        return _scans(store, conn, sc.c.round_id == round_id)


def _file_ids(store: Store, scan_id: int) -> Any:
    sc = store.t.scans
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sc.c.file_id, sc.c.preview_id).where(sc.c.id == scan_id)).first()


def preview(store: Store, scan_id: int) -> files.StoredFile | None:
    """The picture staff see of a scan (a PDF's first page, or the image itself)."""
    found = _file_ids(store, scan_id)
    return files.get(store, found.preview_id) if found is not None else None


def original(store: Store, scan_id: int) -> files.StoredFile | None:
    """The scan as the clerk uploaded it."""
    found = _file_ids(store, scan_id)
    return files.get(store, found.file_id) if found is not None else None


def for_returns(found: list[Any], scans: list[Scan] | None = None) -> dict[int, list[ReturnScans]]:
    """For each current return that passed or failed the machine check (a
    :class:`~xltemplate.collect.returns.Return` read ``with_scans``), its form's attachments, this
    copy's 校验码 and the newest scan's; with ``scans`` (a department's, newest first) the scan
    itself too.  Reads nothing: the returns carry it all."""
    out: dict[int, list[ReturnScans]] = {}
    for r in found:
        if r.id is None or not r.current or r.status == "unreadable" or r.withdrawn_at is not None:
            continue
        wanted = attachments_of_form(r.form, r.version)
        if not wanted:
            continue
        codes = r.scan_codes or {}
        items = []
        for a in wanted:
            latest = None
            if scans is not None:
                latest = next((x for x in scans if x.attachment == a.key and x.current_submission == r.id), None)
            items.append(ReturnScans(a, r.check_code, codes.get(a.key), latest))
        out[r.id] = items
    return out


def approval_blocker(store: Store, submission: int) -> str | None:
    """Why a return cannot be approved yet for want of a scan (a sentence), or None: a form that
    requires a scan needs one that signs the current data.  (For the review decision.)"""
    return blocker_of(query(store, ids=[submission], history=True, with_scans=True))


def blocker_of(found: list[Any]) -> str | None:
    """:func:`approval_blocker` of returns already read with their scans (a list of one)."""
    for item in next(iter(for_returns(found).values()), []):
        if item.attachment.required and item.state != CURRENT:
            return t("scan_needed_to_approve" if item.state == MISSING else "scan_stale_to_approve",
                     name=item.attachment.name)
    return None


def by_return(store: Store, round_id: int) -> dict[int, str]:
    """For the 汇总: each current return of the round that has scans -> ``current`` or ``stale``."""
    found = query(store, round_id=round_id, with_scans=True)
    out = {}
    for r in found:
        if r.id is not None and r.scan_codes:
            out[r.id] = CURRENT if all(code == r.check_code for code in r.scan_codes.values()) else STALE
    return out


# -- receiving one --------------------------------------------------------------------------------

def receive(store: Store, link: Link, submission: int, key: str, data: bytes, name: str,
            address: str | None = None) -> Scan:
    """A scan uploaded through ``link`` for return ``submission`` (the department's own, current);
    :class:`ScanRefused` with the reason for anything else, :class:`LookupError` for a return that is
    not the link's department's (a 404, as for any other of its pages)."""
    found = one(store, submission, with_data=True)
    if (found is None or found.round_id != link.round.id or found.department_code != link.department_code):
        raise LookupError(submission)
    if not link.open:
        raise ScanRefused("round_closed", name=link.round.name)
    if not found.current or found.withdrawn_at is not None or found.data is None:
        raise ScanRefused("scan_not_current")
    if found.status != "valid":
        raise ScanRefused("scan_not_valid")
    wanted = next((a for a in attachments_of_form(found.form, found.version) if a.key == key), None)
    if wanted is None:
        raise LookupError(key)
    name = files.safe_name(name, "scan")
    kind = kind_of(data[:16])
    if kind is None:
        raise ScanRefused("scan_not_a_scan", file=name, kinds=_kinds_text(wanted))
    if kind not in wanted.kinds:
        raise ScanRefused("scan_kind_not_taken", file=name, kind=kind.upper(), kinds=_kinds_text(wanted))
    if len(data) > wanted.max_bytes:
        raise ScanRefused("scan_too_large", file=name, mb=wanted.max_mb)
    code = found.check_code or checkcode.code_of(found.data)
    width = height = pages = None
    preview_png = None
    if kind == "pdf":
        hazards = pdf_hazards(data)
        if hazards:
            raise ScanRefused(hazards[0])
        preview_png, pages, text = render_first_page(data)
        printed = _CODE.search(text)
        if printed and printed.group(1) != code:
            raise ScanRefused("scan_other_version", file=name, found=printed.group(1), code=code)
        width, height = image_size(preview_png, "png")
    else:
        width, height = check_image(data, kind)
    s, sc = store.submissions, store.t.scans
    with writing(store.engine) as conn:
        row = conn.execute(sa.select(s.c.is_current, s.c.return_key).where(s.c.id == submission)).one()
        if not row.is_current:  # a correction arrived meanwhile
            raise ScanRefused("scan_not_current")
        links.count_upload(store, conn, link, len(data))
        file_id = files.put(store, conn, data, f"{name}", SCAN)
        preview_id = files.put(store, conn, preview_png, f"scan-{submission}.png", PREVIEW) if preview_png \
            else file_id
        scan_id = conn.execute(sc.insert().returning(sc.c.id), {
            "round_id": link.round.id, "department_code": link.department_code, "submission": submission,
            "return_key": row.return_key, "attachment": key, "code": code, "kind": kind, "file_id": file_id,
            "preview_id": preview_id, "width": width, "height": height, "pages": pages, "size": len(data),
            "name": name, "uploaded_at": utcnow(), "uploaded_by": f"link:{link.department_code}",
            "address": address}).scalar_one()
        events.log(store, conn, "scan_upload", actor=f"link:{link.department_code}", round_id=link.round.id,
                   submission=submission, department_code=link.department_code,
                   detail={"scan": scan_id, "file": name, "kind": kind, "code": code, "size": len(data)},
                   address=address)
    return Scan(id=scan_id, submission=submission, return_key=row.return_key, attachment=key, code=code,
                current_code=code, current_submission=submission, kind=kind, name=name, size=len(data), width=width,
                height=height, pages=pages,
                uploaded_at=utc(utcnow()), uploaded_by=f"link:{link.department_code}")


def refused(store: Store, link: Link, submission: int, name: str, data: bytes, reason: str,
            address: str | None = None) -> None:
    """A scan refused at a link, in the audit log and on the department's page (its head kept)."""
    with writing(store.engine) as conn:
        with contextlib.suppress(links.QuotaReached):  # counted; the refusal is recorded all the same
            links.count_upload(store, conn, link, len(data))
        file_id = files.put_head(store, conn, data, files.safe_name(name, "scan"), 64 * 1024)
        events.log(store, conn, "upload_refused", actor=f"link:{link.department_code}", round_id=link.round.id,
                   department_code=link.department_code, submission=submission,
                   detail={"file": files.safe_name(name, "scan"), "file_id": file_id, "code": "scan_refused",
                           "size": len(data), "message": reason}, address=address)


def _kinds_text(a: Attachment) -> str:
    return " / ".join(k.upper() for k in a.kinds)
