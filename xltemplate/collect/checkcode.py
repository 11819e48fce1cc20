"""The 校验码 of a return: a short code derived from its data, printed in the footer of its 打印版 and
kept with every stamped scan, so that a scan names the exact data it signs.

The same data gives the same code, whichever file it came in and whenever it was stored; any
changed value gives another.  It is computed here and nowhere else, from the data as stored
(``submissions.data``), written canonically first:

* objects with their keys sorted, arrays in order, no white space, text as UTF-8 (NFC);
* a number that is whole (``7`` or ``7.0``) written as an integer, any other as Python's shortest
  ``repr`` (so SQLite's JSON and PostgreSQL's JSONB, which may give back ``7.0`` or ``7``, agree);
* ``null`` members are kept (an emptied cell is a change).

The code is the first 40 bits of the SHA-256 of ``xltemplate-check-1`` and that text, in Crockford's
base 32 (digits and capitals without I, L, O, U, so it is read aloud or typed without doubt),
grouped ``XXXX-XXXX``.  Forty bits make an accidental match of two versions about one in a
trillion; the code is no signature (anyone with the data can compute it): it binds a paper copy to
a version, it does not prove who made it.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from typing import Any

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
PREFIX = b"xltemplate-check-1\n"
BITS = 40


class _Odd(Exception):
    """A float JSON has no text for (NaN, an infinity): written as Python writes it, the slower way."""


def _canonical(value: Any, odd: bool = False) -> Any:
    """``value`` with whole numbers as integers and text in NFC; a float that is not finite raises
    :class:`_Odd` unless ``odd`` (then it is kept as its ``repr``, see :class:`_Raw`)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return int(value) if value.is_integer() and abs(value) < 2**63 else value  # JSON writes a float's repr
        if not odd:
            raise _Odd
        return _Raw(repr(value))
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {unicodedata.normalize("NFC", str(k)): _canonical(v, odd) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, odd) for v in value]
    return unicodedata.normalize("NFC", str(value))


class _Raw(str):
    """A number already written (a float JSON has no text for, as its ``repr``)."""


_WRITE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def canonical(data: Any) -> bytes:
    """``data`` written canonically (see the module's docstring): by the json module's C encoder
    (keys sorted, no white space, a float as its shortest ``repr``), or, for data holding a float
    JSON has no text for, by hand."""
    try:
        return _WRITE(_canonical(data)).encode("utf-8")
    except _Odd:
        return by_hand(data)


def by_hand(data: Any) -> bytes:
    """``data`` written canonically, value by value (what :func:`canonical` gives, the slower way;
    the tests hold the two equal)."""
    def encode(value: Any) -> str:
        if isinstance(value, _Raw):
            return str(value)
        if isinstance(value, dict):
            return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + encode(value[k]) for k in sorted(value)) \
                + "}"
        if isinstance(value, list):
            return "[" + ",".join(encode(v) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False)

    return encode(_canonical(data, odd=True)).encode("utf-8")


def code_of(data: Any) -> str:
    """The 校验码 of a return's data: ``XXXX-XXXX``."""
    digest = int.from_bytes(hashlib.sha256(PREFIX + canonical(data)).digest()[:BITS // 8], "big")
    chars = "".join(ALPHABET[(digest >> shift) & 31] for shift in range(BITS - 5, -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def normal(text: str) -> str:
    """A code as someone typed it, in its printed form (lower case, O for 0, I/L for 1; no dash)."""
    cleaned = text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1").replace("-", "")
    cleaned = "".join(ch for ch in cleaned if not ch.isspace())
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) == BITS // 5 else text.strip()
