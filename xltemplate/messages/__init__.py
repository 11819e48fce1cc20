"""The one catalog of every text a user reads, in Chinese (``zh``, the default) and English (``en``).

Each entry is a key with one text per language; ``{name}`` in a text is a parameter.  The
entries live in section modules (files, cells, client, cli, rounds, web, ...) so that the
catalog reads by subject, but a key is defined once and :func:`t` is the only way code gets a
text: no module writes ``"..." if zh else "..."`` of its own.  ``tests/test_messages.py``
holds every entry to both languages and the same parameters.
"""

from __future__ import annotations

import re

from . import (
    cells,
    cli,
    client,
    design,
    events,
    files,
    fill,
    helppages,
    reach,
    reading,
    report,
    review,
    roster,
    rounds,
    web,
)

LANGS = ("zh", "en")
SECTIONS = (files, reading, cells, client, fill, report, roster, rounds, cli, design, web, events, review, helppages,
            reach)
CATALOG: dict[str, dict[str, str]] = {}
for _section in SECTIONS:
    for _key, _texts in _section.TEXTS.items():
        if _key in CATALOG:
            raise RuntimeError(f"message key {_key!r} is defined twice")
        CATALOG[_key] = _texts


#: parameters a text may be given or not (said when there is something to say)
OPTIONAL = frozenset({"detail"})
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def parameters(text: str) -> set[str]:
    """The parameters a text takes."""
    return set(_PARAM.findall(text))


def _pieces(text: str) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """A text cut once into its literal pieces and the parameters between them, and the parameters
    it needs (pages say many texts per request: this is done once per text, not per use)."""
    parts = _PARAM.split(text)
    names = tuple(parts[1::2])
    return tuple(parts[0::2]), names, frozenset(names) - OPTIONAL


_PIECES: dict[str, tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]] = {}


def t(key: str, lang: str = "zh", **params: object) -> str:
    """The text of ``key`` in ``lang`` (Chinese when the language has none), parameters filled in.

    An unknown key, or a parameter the text needs and was not given, is a bug and raises
    ``KeyError``: a user never reads ``{n}``."""
    entry = CATALOG[key]
    text = entry.get(lang) or entry["zh"]
    cut = _PIECES.get(text)
    if cut is None:
        cut = _PIECES[text] = _pieces(text)
    literals, names, needed = cut
    if not names:
        return text
    if not needed <= params.keys():
        raise KeyError(f"message {key!r} needs {sorted(needed - params.keys())}")
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        if name in params:
            out.append(str(params[name]))
        out.append(literal)
    return "".join(out)


class CatalogError(ValueError):
    """An error said in words of the catalog: its entry ``key`` and parameters, in Chinese by ``str``
    and in either language by :meth:`message` (the domain's errors are these, so one place says them)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params

    def message(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.message()


def message(code: str, lang: str = "zh", **params: object) -> str:
    """The message of a file-level outcome ``code``; an unknown code reads as ``unexpected``."""
    return t(code if code in CATALOG else "unexpected", lang, **params)
