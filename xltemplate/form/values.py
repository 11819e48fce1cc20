"""Walking instances by pointer: get/set values, expand ``*`` patterns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .schema import split_pointer

MISSING = object()


def get(data: Any, pointer: str, default: Any = MISSING) -> Any:
    node = data
    for token in split_pointer(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return default
    return node


def expand(data: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """(pointer, value) for every value present at ``pattern`` (``*`` = each array index)."""

    def walk(node: Any, tokens: list[str], done: str) -> Iterator[tuple[str, Any]]:
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

    yield from walk(data, split_pointer(pattern), "")


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
