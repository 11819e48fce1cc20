"""Writing a zip from members whose bytes are already what goes into it (compressed or stored).

``zipfile`` compresses what it is given and cannot take a compressed payload; this writes the
local headers and the central directory itself, the way ``zipfile`` writes them (no data
descriptors, sizes in the local header, UTF-8 flag for non-ASCII names), so that a member's
compressed bytes can be copied from one package to another (distribute's copies of a skeleton;
the package the reader hands calamine).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One member as it goes into the zip: ``payload`` is its stored bytes (deflated or not)."""

    name: str
    method: int  # zipfile.ZIP_DEFLATED or zipfile.ZIP_STORED
    crc: int
    size: int  # uncompressed
    payload: bytes
    date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0)
    create_system: int = 3
    external_attr: int = 0o600 << 16

    @classmethod
    def deflated(cls, name: str, data: bytes, like: zipfile.ZipInfo | None = None) -> Member:
        """``data`` compressed as ``zipfile`` does by default (level 6); dates and attributes of ``like``."""
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        return cls.of(name, zipfile.ZIP_DEFLATED, data, packer.compress(data) + packer.flush(), like)

    @classmethod
    def stored(cls, name: str, data: bytes, like: zipfile.ZipInfo | None = None) -> Member:
        return cls.of(name, zipfile.ZIP_STORED, data, data, like)

    @classmethod
    def of(cls, name: str, method: int, data: bytes, payload: bytes, like: zipfile.ZipInfo | None) -> Member:
        if like is None:
            return cls(name, method, zlib.crc32(data), len(data), payload)
        return cls(name, method, zlib.crc32(data), len(data), payload, like.date_time, like.create_system,
                   like.external_attr)


def build(members: list[Member]) -> bytes:
    """The zip of ``members``, in their order."""
    out, directory = bytearray(), bytearray()
    for m in members:
        name = m.name.encode("utf-8")
        flags = 0 if m.name.isascii() else 0x800
        version = 20  # what zipfile writes for stored and deflated members alike
        y, mo, d, h, mi, sec = m.date_time
        dos_date, dos_time = (y - 1980) << 9 | mo << 5 | d, h << 11 | mi << 5 | sec // 2
        offset = len(out)
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", version, 0, flags, m.method, dos_time, dos_date,
                           m.crc, len(m.payload), m.size, len(name), 0)
        out += name
        out += m.payload
        directory += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", version, m.create_system, version, 0, flags,
                                 m.method, dos_time, dos_date, m.crc, len(m.payload), m.size, len(name), 0, 0, 0, 0,
                                 m.external_attr, offset)
        directory += name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0)
    return bytes(out + directory + end)
