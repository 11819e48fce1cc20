"""Walking instances by pointer: get/set values, expand ``*`` patterns."""

from __future__ import annotations

from collections.abc import Container, Iterator
from functools import lru_cache
from typing import Any

from .schema import split_pointer

MISSING = object()


@lru_cache(maxsize=4096)
def _tokens(pointer: str) -> tuple[str, ...]:
    return tuple(split_pointer(pointer))


def get(data: Any, pointer: str, default: Any = MISSING) -> Any:
    node = data
    for token in _tokens(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return default
    return node


def expand(data: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """(pointer, value) for every value present at ``pattern`` (``*`` = each array index)."""

    def walk(node: Any, tokens: tuple[str, ...], done: str) -> Iterator[tuple[str, Any]]:
        if not tokens:
            yield done, node
            return
        head, rest = tokens[0], tokens[1:]
        if head == "*":
            if isinstance(node, list):
                for i, item in enumerate(node):
                    yield from walk(item, rest, f"{done}/{i}")
        elif isinstance(node, dict) and head in node:
            yield from walk(node[head], rest, f"{done}/{head}")

    if "*" not in pattern:  # one value or none: no walk
        value = get(data, pattern)
        if value is not MISSING:
            yield pattern, value
        return
    yield from walk(data, _tokens(pattern), "")


def leaves_of(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(pointer, value) of every scalar in an instance; empty containers yield themselves."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves_of(value, f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(data, list) and data:
        for i, value in enumerate(data):
            yield from leaves_of(value, f"{prefix}/{i}")
    else:
        yield prefix, data


def put(data: dict[str, Any], pointer: str, value: Any, arrays: Container[str] = ()) -> None:
    """Set ``value`` at ``pointer``, making what is missing on the way: a list where the path so far
    is one of ``arrays`` (the form's repeating areas; it grows with empty rows up to the index),
    an object elsewhere."""
    tokens = split_pointer(pointer)
    node: Any = data
    path = ""
    for token, nxt in zip(tokens, [*tokens[1:], None], strict=True):
        path += "/" + token.replace("~", "~0").replace("/", "~1")
        last = nxt is None
        if isinstance(node, list):
            index = int(token)
            while len(node) <= index:
                node.append({})
            if last:
                node[index] = value
            else:
                node = node[index]
        elif last:
            node[token] = value
        else:
            node = node.setdefault(token, [] if path in arrays else {})


def merge(base: Any, extra: Any) -> Any:
    """``base`` with ``extra`` laid over it: objects key by key, lists row by row, values replaced;
    an empty object or list in ``extra`` adds nothing."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            if value not in ({}, []):
                out[key] = merge(out[key], value) if key in out else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        rows = [merge(old, new) for old, new in zip(base, extra, strict=False)]
        return rows + base[len(rows):] + extra[len(rows):]
    return extra
