"""The one JSON shape of each thing xltemplate tells about (a round, where a department stands, a
return, an error, a receipt ...): the domain types themselves, encoded by msgspec.

The CLI's ``--json``, the portal's API and the import's JSON lines all encode the same objects
with :func:`to_builtins`, and the API's OpenAPI document takes their schemas from the same types
(:func:`components`), so a field cannot be one thing in one place and another elsewhere.

msgspec rather than pydantic: its types cost about what a dataclass costs to make and a tenth of
a pydantic model, which matters on the upload's path, and it derives JSON Schema (2020-12, as
OpenAPI 3.1 takes it) from the same annotations.  Times are UTC, to the second (``...Z``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec


def utc(stamp: dt.datetime | None) -> dt.datetime | None:
    """A stored time (naive UTC, as every table keeps it) as an aware UTC time, to the second."""
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC).replace(microsecond=0)


def local_naive(stamp: dt.datetime | None) -> dt.datetime | None:
    """A stored time (naive UTC, or aware) as this machine's local time without a zone, for a
    workbook cell (Excel keeps no zones), to the second."""
    if stamp is None:
        return None
    aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)
    return aware.astimezone().replace(tzinfo=None, microsecond=0)


def local_time(stamp: dt.datetime | str | None) -> str:
    """A stored time (naive UTC, as every table keeps it) as this machine's local time, to the
    minute; "" for none."""
    if not stamp:
        return ""
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp)
    return stamp.replace(tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def _fallback(value: Any) -> Any:
    """A value of no JSON type (a cell value of an odd kind in an error): said as text, not lost."""
    return str(value)


def to_builtins(value: Any) -> Any:
    """A domain object (or a list or dict of them) as plain JSON-ready values in its one shape."""
    return msgspec.to_builtins(value, enc_hook=_fallback)


def encode(value: Any) -> bytes:
    """The same, as JSON bytes."""
    return msgspec.json.encode(value, enc_hook=_fallback)


def components(types: Iterable[Any]) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """The JSON Schemas of ``types`` for an OpenAPI document: a reference for each, and the
    components they refer to (``#/components/schemas/<Name>``)."""
    return msgspec.json.schema_components(tuple(types), ref_template="#/components/schemas/{name}")
