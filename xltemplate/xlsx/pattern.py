"""A ``pattern`` (a JSON Schema regular expression, ECMA-262) -> an Excel formula that accepts
exactly the pattern's strings, for the client's data validation.

Translated: anchored ``^...$``; a sequence of literal characters and classes (``[0-9]``,
``[A-Z0-9_-]``, ``\\d``, ``\\w``, escapes) each with ``{n}``, ``{n,m}``, ``{n,}``, ``?``, ``*``, ``+``, at
most one of variable length per alternative; alternatives ``^(a|b|c)$`` (a code list).  The formula
checks each position with ``FIND(MID(...))`` over the allowed characters, never with
``ISNUMBER(--x)`` (which lets ``1e+006``, `` 123456`` and ``1234.56`` through).  Anything else is not
translated (:func:`translate` gives None) and the client checks the length only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..messages import t

MAX_FORMULA = 255  # Excel's limit for a data-validation formula
_SPECIAL = set(".^$*+?()[]{}|\\")
_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_WORD = _UPPER + _LOWER + _DIGITS + "_"


@dataclass(frozen=True)
class Segment:
    """``chars`` repeated ``low`` to ``high`` times (``high`` None: no limit)."""

    chars: str
    low: int
    high: int | None
    literal: bool = False

    @property
    def fixed(self) -> bool:
        return self.high == self.low


@dataclass(frozen=True)
class Sequence:
    segments: tuple[Segment, ...]

    @property
    def variable(self) -> int | None:
        return next((i for i, s in enumerate(self.segments) if not s.fixed), None)

    @property
    def lengths(self) -> tuple[int, int | None]:
        low = sum(s.low for s in self.segments)
        highs = [s.high for s in self.segments]
        return low, None if None in highs else sum(h or 0 for h in highs)

    def matches(self, value: str) -> bool:
        low, high = self.lengths
        if len(value) < low or (high is not None and len(value) > high):
            return False
        v = self.variable
        pos = 0
        for i, seg in enumerate(self.segments):
            n = len(value) - (low - seg.low) if i == v else seg.low
            if not all(ch in seg.chars for ch in value[pos:pos + n]):
                return False
            pos += n
        return True


@dataclass(frozen=True)
class PatternRule:
    """A pattern the client can check: one or more alternative sequences."""

    pattern: str
    alternatives: tuple[Sequence, ...]

    def matches(self, value: str) -> bool:
        return any(alt.matches(value) for alt in self.alternatives)

    @property
    def lengths(self) -> tuple[int, int | None]:
        lows, highs = zip(*(alt.lengths for alt in self.alternatives), strict=True)
        return min(lows), None if None in highs else max(h or 0 for h in highs)

    @property
    def codes(self) -> list[str] | None:
        """The alternatives when each is one fixed text (a code list)."""
        out = []
        for alt in self.alternatives:
            if not all(s.literal for s in alt.segments):
                return None
            out.append("".join(s.chars * s.low for s in alt.segments))
        return out

    def formula(self, cell: str, lo: int = 0, hi: int | None = None) -> str | None:
        """``=...`` true exactly for the pattern's strings of length ``lo``..``hi``; None when the
        formula would pass Excel's 255-character limit."""
        codes = self.codes
        if codes is not None:
            kept = [c for c in codes if len(c) >= lo and (hi is None or len(c) <= hi)]
            body = ",".join(f'EXACT({cell},"{_quote(c)}")' for c in kept) or "FALSE"
            body = f"OR({body})" if len(kept) > 1 else body
        else:
            parts = [_alternative(alt, cell, lo, hi) for alt in self.alternatives]
            body = parts[0] if len(parts) == 1 else f"OR({','.join(parts)})"
        return "=" + body if len(body) <= MAX_FORMULA else None

    def describe(self, lang: str) -> str:
        codes = self.codes
        if codes is not None and len(codes) > 1:
            return t("dv_one_of", lang, choices=t("list_sep", lang).join(codes))
        alts = [t("dv_pattern_then", lang).join(_describe_segment(s, lang) for s in _merge_literals(alt.segments))
                for alt in self.alternatives]
        return t("dv_pattern", lang, parts=t("dv_pattern_or", lang).join(alts))


def _quote(s: str) -> str:
    return s.replace('"', '""')


def _positions(cell: str, start: str, end: str, count: str, chars: str) -> str:
    """True when the characters ``start``..``end`` (formula texts, 1-based) are all in ``chars``."""
    if start == end:
        return f'ISNUMBER(FIND(MID({cell},{start},1),"{_quote(chars)}"))'
    if start.isdigit() and end.isdigit():
        span = f'"{start}:{end}"'
    elif start.isdigit():
        span = f'"{start}:"&{end}'
    else:
        span = f'{start}&":"&{end}'
    return f'SUMPRODUCT(--ISNUMBER(FIND(MID({cell},ROW(INDIRECT({span})),1),"{_quote(chars)}")))={count}'


def _alternative(alt: Sequence, cell: str, lo: int, hi: int | None) -> str:
    """One alternative: the length first (so every position exists), then each segment's characters;
    segments after the variable one are counted from the end."""
    low, high = alt.lengths
    low = max(low, lo)
    if hi is not None:
        high = hi if high is None else min(high, hi)
    if high is not None and high < low:
        return "FALSE"
    length = f"LEN({cell})"

    def from_end(k: int) -> str:
        return f"{length}-{k}" if k else length

    v = alt.variable
    checks, pos = [], 0
    for i, seg in enumerate(alt.segments):
        after = sum(s.low for s in alt.segments[i + 1:])
        if v is None or i < v:
            checks.append(_positions(cell, str(pos + 1), str(pos + seg.low), str(seg.low), seg.chars))
            pos += seg.low
        elif i == v:
            fixed = pos + after
            check = _positions(cell, str(pos + 1), from_end(after), from_end(fixed), seg.chars) if seg.high != 1 \
                else _positions(cell, str(pos + 1), str(pos + 1), "1", seg.chars)
            checks.append(f"IF({length}={fixed},TRUE,{check})" if seg.low == 0 else check)
        else:
            checks.append(_positions(cell, from_end(after + seg.low - 1), from_end(after), str(seg.low), seg.chars))
    if high == low:
        guard = f"{length}={low}"
    elif high is None:
        guard = f"{length}>={low}"
    else:
        guard = f"AND({length}>={low},{length}<={high})"
    body = checks[0] if len(checks) == 1 else f"AND({','.join(checks)})"
    return f"IF({guard},{body},FALSE)"


def _merge_literals(segments: tuple[Segment, ...]) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        if seg.literal and out and out[-1].literal:
            prev = out.pop()
            out.append(Segment(prev.chars * prev.low + seg.chars * seg.low, 1, 1, True))
        elif seg.literal:
            out.append(Segment(seg.chars * seg.low, 1, 1, True))
        else:
            out.append(seg)
    return out


def _describe_segment(seg: Segment, lang: str) -> str:
    if seg.literal:
        return t("dv_literal", lang, text=seg.chars)
    chars = set(seg.chars)
    named = {frozenset(_DIGITS): "dv_class_digits", frozenset(_UPPER): "dv_class_upper",
             frozenset(_LOWER): "dv_class_lower", frozenset(_UPPER + _LOWER): "dv_class_letters",
             frozenset(_UPPER + _LOWER + _DIGITS): "dv_class_alnum",
             frozenset(_UPPER + _DIGITS): "dv_class_upper_digits"}
    key = named.get(frozenset(chars))
    what = t(key, lang) if key else t("dv_class_chars", lang, chars=_ranges(chars))
    if seg.fixed:
        return t("dv_count_exact", lang, n=seg.low, what=what)
    if seg.high is None and seg.low == 0:
        return t("dv_count_any", lang, what=what)
    if seg.high is None:
        return t("dv_count_at_least", lang, lo=seg.low, what=what)
    return t("dv_count_between", lang, lo=seg.low, hi=seg.high, what=what)


def _ranges(chars: set[str]) -> str:
    """``0-9 A-Z _`` for a set of characters: runs of three or more as ranges."""
    codes, out, i = sorted(map(ord, chars)), [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        out.append(f"{chr(codes[i])}–{chr(codes[j])}" if j - i >= 2 else " ".join(map(chr, codes[i:j + 1])))
        i = j + 1
    return " ".join(out)


class _Untranslatable(Exception):
    pass


def translate(pattern: str) -> PatternRule | None:
    """The client rule for a ``pattern``, or None when a formula cannot state its meaning."""
    try:
        if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
            raise _Untranslatable
        body = pattern[1:-1]
        if body.startswith(("(?:", "(")) and body.endswith(")") and _closes_at_end(body):
            inner = body[3:-1] if body.startswith("(?:") else body[1:-1]
            alternatives = _split_alternatives(inner)
        else:
            alternatives = [body]
            if len(_split_alternatives(body)) > 1:
                raise _Untranslatable  # ^a|b$ is (^a)|(b$)
        seqs = tuple(_sequence(alt) for alt in alternatives)
    except _Untranslatable:
        return None
    if any(sum(not s.fixed for s in seq.segments) > 1 for seq in seqs):
        return None
    return PatternRule(pattern, seqs)


def _outside_classes(body: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth after it) of each character of ``body`` that is neither
    escaped nor inside a character class: the characters that give a pattern its structure."""
    depth, i, in_class = 0, 0, False
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        else:
            depth += (ch == "(") - (ch == ")")
            yield i, ch, depth
        i += 1


def _closes_at_end(body: str) -> bool:
    """Whether the group opening ``body`` closes at its last character."""
    return next((i == len(body) - 1 for i, ch, depth in _outside_classes(body) if ch == ")" and depth == 0), False)


def _split_alternatives(body: str) -> list[str]:
    out, start = [], 0
    for i, ch, depth in _outside_classes(body):
        if ch == "|" and depth == 0:
            out.append(body[start:i])
            start = i + 1
    out.append(body[start:])
    return out


_ESCAPES = {"d": _DIGITS, "w": _WORD}


def _sequence(alt: str) -> Sequence:
    segments: list[Segment] = []
    i = 0
    while i < len(alt):
        ch = alt[i]
        if ch == "[":
            chars, i = _class(alt, i + 1)
            literal = False
        elif ch == "\\":
            if i + 1 >= len(alt):
                raise _Untranslatable
            nxt = alt[i + 1]
            if nxt in _ESCAPES:
                chars, literal = _ESCAPES[nxt], False
            elif not nxt.isalnum():
                chars, literal = nxt, True
            else:
                raise _Untranslatable  # \s, \b, \u...: not stated by this translation
            i += 2
        elif ch in _SPECIAL:
            raise _Untranslatable
        else:
            chars, literal = ch, True
            i += 1
        if ord(max(chars)) > 0xFFFF:
            raise _Untranslatable  # Excel counts UTF-16 units
        low, high, i = _quantifier(alt, i)
        if high == 0:
            continue
        segments.append(Segment(chars, low, high, literal and low == high))
    if not segments:
        raise _Untranslatable
    return Sequence(tuple(segments))


def _class(alt: str, i: int) -> tuple[str, int]:
    if i < len(alt) and alt[i] == "^":
        raise _Untranslatable
    items: list[str] = []
    while i < len(alt) and alt[i] != "]":
        ch = alt[i]
        if ch == "\\":
            if i + 1 >= len(alt):
                raise _Untranslatable
            nxt = alt[i + 1]
            if nxt in _ESCAPES:
                items.extend(_ESCAPES[nxt])
                i += 2
                continue
            if nxt.isalnum():
                raise _Untranslatable
            ch, i = nxt, i + 2
        else:
            i += 1
        if i + 1 < len(alt) and alt[i] == "-" and alt[i + 1] != "]":
            end = alt[i + 1]
            if end == "\\":
                if i + 2 >= len(alt) or alt[i + 2].isalnum():
                    raise _Untranslatable
                end, i = alt[i + 2], i + 3
            else:
                i += 2
            if ord(end) < ord(ch) or ord(end) - ord(ch) > 200:
                raise _Untranslatable
            items.extend(chr(c) for c in range(ord(ch), ord(end) + 1))
        else:
            items.append(ch)
    if i >= len(alt) or not items:
        raise _Untranslatable
    return "".join(dict.fromkeys(items)), i + 1


def _quantifier(alt: str, i: int) -> tuple[int, int | None, int]:
    if i >= len(alt):
        return 1, 1, i
    ch = alt[i]
    if ch in "?*+":
        low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[ch]
        i += 1
    elif ch == "{":
        end = alt.find("}", i)
        if end < 0:
            raise _Untranslatable
        spec = alt[i + 1:end]
        lo_text, comma, hi_text = spec.partition(",")
        if not lo_text.isdigit() or (hi_text and not hi_text.isdigit()):
            raise _Untranslatable
        low = int(lo_text)
        high = low if not comma else (int(hi_text) if hi_text else None)
        if high is not None and high < low:
            raise _Untranslatable
        i = end + 1
    else:
        return 1, 1, i
    if i < len(alt) and alt[i] in "?+":
        raise _Untranslatable  # lazy or possessive
    return low, high, i
