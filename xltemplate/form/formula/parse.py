"""The formula subset a layout may use, its expression nodes, and the formula text they emit.

**The subset** in ``{"formula": "=..."}`` (anything else is refused when the form is loaded, naming
the formula): numbers, text in double quotes, ``TRUE``/``FALSE``, ``{/pointer}`` references (a ``*``
pointer is the range of a repeating column, allowed only as an argument of ``SUM``, ``COUNT``,
``COUNTA``, ``AND`` and ``OR``), references to the form's own cells in A1 form (``C10``, ``C10:F10``,
``C:C``, ``'封面'!B3``; what ``xltemplate design`` keeps, since every cell keeps its place: an input
cell reads as its field, a label as its text, a formula or check cell as its value; a range of several
cells only where a ``*`` pointer may stand; a circular reference is refused), parentheses, the
operators ``+ - * /`` (and unary ``-``), ``&``, ``= <> < > <= >=``, and the functions ``SUM``,
``COUNT``, ``COUNTA``, ``N``, ``ABS``, ``ROUND``, ``IF``, ``AND``, ``OR``, ``NOT``.  Left out, because
Excel and LibreOffice disagree on them: ``MIN``/``MAX``, text as an argument of a numeric function or
of ``+ - * /``, and a logical value joined with ``&``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import LayoutError


class FormulaError(LayoutError):
    """A layout formula outside the subset; the message names it and says what is allowed."""


# -- expressions --------------------------------------------------------------------------------
# Nodes are immutable and compared by identity: each is compiled once (see _compiled).

@dataclass(frozen=True, eq=False)
class Num:
    value: float
    source: str  # as written, so the formula text is the author's


@dataclass(frozen=True, eq=False)
class Text:
    value: str


@dataclass(frozen=True, eq=False)
class Logical:
    value: bool


@dataclass(frozen=True, eq=False)
class Ref:
    pointer: str  # ``*`` = the range of a repeating column


@dataclass(frozen=True, eq=False)
class CellRef:
    """A reference to cells of the form in A1 form: rows and columns 0-based and inclusive, None
    for a whole column (rows) or row (columns); ``sheet`` None is the formula's own sheet."""

    source: str  # as written
    sheet: str | None
    rows: tuple[int, int] | None
    cols: tuple[int, int] | None

    @property
    def single(self) -> bool:
        return self.rows is not None and self.cols is not None and self.rows[0] == self.rows[1] \
            and self.cols[0] == self.cols[1]


@dataclass(frozen=True, eq=False)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True, eq=False)
class Op:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True, eq=False)
class Neg:
    operand: Any


@dataclass(frozen=True, eq=False)
class Group:
    inner: Any


Expr = Num | Text | Logical | Ref | CellRef | Call | Op | Neg | Group

#: function -> (fewest, most arguments); ``None`` = any number
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "SUM": (1, None), "COUNT": (1, None), "COUNTA": (1, None), "AND": (1, None), "OR": (1, None),
    "NOT": (1, 1), "N": (1, 1), "ABS": (1, 1), "ROUND": (2, 2), "IF": (2, 3),
}
RANGE_FUNCTIONS = ("SUM", "COUNT", "COUNTA", "AND", "OR")
_NUMERIC = ("SUM", "COUNT", "COUNTA", "N", "ABS", "ROUND", "AND", "OR", "NOT")
_COL, _ROW = r"\$?[A-Za-z]{1,3}", r"\$?[0-9]{1,7}"
_TOKEN = re.compile(rf"""\s*(?:
    (?P<ref>\{{[^}}]*\}})
  | (?P<cell>(?:(?:'(?:[^']|'')+'|[A-Za-z_\u4e00-\u9fff][\w.\u4e00-\u9fff]*)!)?
        (?:{_COL}{_ROW}(?::{_COL}{_ROW})?|{_COL}:{_COL}|{_ROW}:{_ROW})(?![\w(]))
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"]|"")*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><>|<=|>=|[-+*/&=<>(),])
)""", re.VERBOSE)


def _cell_ref(source: str) -> CellRef:
    sheet, bang, cells = source.rpartition("!")
    if sheet.startswith("'"):
        sheet = sheet[1:-1].replace("''", "'")

    def col(text: str) -> int:
        n = 0
        for ch in text.strip("$").upper():
            n = n * 26 + ord(ch) - 64
        return n - 1

    first, _, last = cells.partition(":")
    last = last or first
    if first.strip("$").isdigit():  # whole rows
        return CellRef(source, sheet if bang else None, (int(first.strip("$")) - 1, int(last.strip("$")) - 1), None)
    m1 = re.fullmatch(r"\$?([A-Za-z]+)(?:\$?([0-9]+))?", first)
    m2 = re.fullmatch(r"\$?([A-Za-z]+)(?:\$?([0-9]+))?", last)
    assert m1 and m2
    cols = tuple(sorted((col(m1.group(1)), col(m2.group(1)))))
    if m1.group(2) is None:  # whole columns
        return CellRef(source, sheet if bang else None, None, cols)  # type: ignore[arg-type]
    rows = tuple(sorted((int(m1.group(2)) - 1, int(m2.group(2)) - 1)))
    return CellRef(source, sheet if bang else None, rows, cols)  # type: ignore[arg-type]
SUBSET = ("numbers, \"text\", TRUE/FALSE, {/pointer} references, the form's own cells (C10, C10:F10, 'Sheet'!B3), "
          "( ), + - * / & = <> < > <= >=, and " + ", ".join(FUNCTIONS))


def parse(formula: str) -> Expr:
    """The expression of a layout formula ``=...``; :class:`FormulaError` outside the subset."""
    return _Parser(formula).parse()


class _Parser:
    def __init__(self, formula: str) -> None:
        self.formula = formula
        if not formula.startswith("="):
            self.fail("a formula starts with '='")
        self.tokens: list[tuple[str, str]] = []
        pos, body = 0, formula[1:]
        while pos < len(body):
            if body[pos:].strip() == "":
                break
            m = _TOKEN.match(body, pos)
            if m is None:
                self.fail(f"{body[pos:].strip()[:12]!r} is not part of a layout formula")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, why: str) -> None:
        raise FormulaError(f"formula {self.formula!r}: {why}; a layout formula may use {SUBSET}")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            self.fail(f"expected {value!r}, found {tok[1] or 'the end'!r}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        expr = self.comparison()
        if self.peek()[0] != "end":
            self.fail(f"unexpected {self.peek()[1]!r}")
        _check(expr, self, top=True)
        return expr

    def binary(self, ops: tuple[str, ...], sub: Callable[[], Expr]) -> Expr:
        left = sub()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            op = self.take()[1]
            left = Op(op, left, sub())
        return left

    def comparison(self) -> Expr:
        return self.binary(("=", "<>", "<", ">", "<=", ">="), self.concat)

    def concat(self) -> Expr:
        return self.binary(("&",), self.additive)

    def additive(self) -> Expr:
        return self.binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Expr:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> Expr:
        if self.peek() == ("op", "-"):
            self.take()
            return Neg(self.unary())
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Expr:
        kind, value = self.take()
        if kind == "num":
            return Num(float(value), value)
        if kind == "str":
            return Text(value[1:-1].replace('""', '"'))
        if kind == "cell":
            ref = _cell_ref(value.replace(" ", "").replace("\n", ""))
            if ref.rows is not None and min(ref.rows) < 0:
                self.fail(f"{value!r} is not a cell")
            return ref
        if kind == "ref":
            pointer = value[1:-1]
            if not pointer.startswith("/"):
                self.fail(f"{value} is not a {{/pointer}} reference")
            return Ref(pointer)
        if kind == "op" and value == "(":
            inner = self.comparison()
            self.take(")")
            return Group(inner)
        if kind == "name":
            name = value.upper()
            if self.peek() != ("op", "("):
                if name in ("TRUE", "FALSE"):
                    return Logical(name == "TRUE")
                self.fail(f"{value!r}: refer to fields as {{/pointer}}, not by cell or name")
            if name not in FUNCTIONS:
                self.fail(f"function {value} is not in the subset")
            self.take("(")
            args: list[Expr] = []
            if self.peek() != ("op", ")"):
                args.append(self.comparison())
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.comparison())
            self.take(")")
            lo, hi = FUNCTIONS[name]
            if len(args) < lo or (hi is not None and len(args) > hi):
                self.fail(f"{name} takes {lo}{'' if hi == lo else f' to {hi}' if hi else ' or more'} argument(s)")
            return Call(name, tuple(args))
        self.fail(f"unexpected {value or 'end of formula'!r}")
        raise AssertionError  # fail() raises


def _is_range(expr: Expr) -> bool:
    return (isinstance(expr, Ref) and "*" in expr.pointer) or (isinstance(expr, CellRef) and not expr.single)


def _logical_valued(expr: Expr) -> bool:
    while isinstance(expr, Group):
        expr = expr.inner
    return isinstance(expr, Logical) or (isinstance(expr, Op) and expr.op in ("=", "<>", "<", ">", "<=", ">=")) \
        or (isinstance(expr, Call) and expr.name in ("AND", "OR", "NOT"))


def _check(expr: Expr, p: _Parser, top: bool = False, range_ok: bool = False) -> None:
    """The static rules of the subset: where ranges and text may stand."""
    if _is_range(expr) and not range_ok:
        what = expr.source if isinstance(expr, CellRef) else f"{{{expr.pointer}}}"  # type: ignore[union-attr]
        p.fail(f"{what} spans several cells; use it inside {', '.join(RANGE_FUNCTIONS)}")
    if isinstance(expr, Group):
        _check(expr.inner, p)
    elif isinstance(expr, Neg):
        _check(expr.operand, p)
    elif isinstance(expr, Op):
        for side in (expr.left, expr.right):
            if expr.op in "+-*/" and isinstance(side, Text):
                p.fail(f"text {side.value!r} in arithmetic (clients disagree on it)")
            if expr.op == "&" and _logical_valued(side):
                p.fail("a logical value joined with & (clients disagree on it)")
            _check(side, p)
    elif isinstance(expr, Call):
        for arg in expr.args if expr.name != "IF" else expr.args[:1]:
            if expr.name in _NUMERIC and isinstance(arg, Text):
                p.fail(f"text {arg.value!r} as an argument of {expr.name} (clients disagree on it)")
        for arg in expr.args:
            _check(arg, p, range_ok=expr.name in RANGE_FUNCTIONS)


def nodes(expr: Expr) -> Iterable[Expr]:
    """The expression and every node inside it."""
    yield expr
    for child in (expr.inner,) if isinstance(expr, Group) else (expr.operand,) if isinstance(expr, Neg) else \
            (expr.left, expr.right) if isinstance(expr, Op) else expr.args if isinstance(expr, Call) else ():
        yield from nodes(child)


def refs(expr: Expr) -> Iterable[str]:
    """Every pointer the expression refers to."""
    return [n.pointer for n in nodes(expr) if isinstance(n, Ref)]


def cell_refs(expr: Expr) -> list[CellRef]:
    """Every A1 reference of the expression."""
    return [n for n in nodes(expr) if isinstance(n, CellRef)]


def on_sheet(expr: Expr, sheet: str) -> Expr:
    """The expression with its unqualified A1 references bound to ``sheet`` (the formula's own)."""
    if isinstance(expr, CellRef):
        return expr if expr.sheet is not None else CellRef(expr.source, sheet, expr.rows, expr.cols)
    if isinstance(expr, Group):
        return Group(on_sheet(expr.inner, sheet))
    if isinstance(expr, Neg):
        return Neg(on_sheet(expr.operand, sheet))
    if isinstance(expr, Op):
        return Op(expr.op, on_sheet(expr.left, sheet), on_sheet(expr.right, sheet))
    if isinstance(expr, Call):
        return Call(expr.name, tuple(on_sheet(a, sheet) for a in expr.args))
    return expr


def excel(expr: Expr, ref: Callable[[str], str]) -> str:
    """The formula text, ``=...``, with ``ref(pointer)`` for each reference."""
    return "=" + _emit(expr, ref)


def _emit(expr: Expr, ref: Callable[[str], str]) -> str:
    if isinstance(expr, Num):
        return expr.source
    if isinstance(expr, Text):
        return '"' + expr.value.replace('"', '""') + '"'
    if isinstance(expr, Logical):
        return "TRUE" if expr.value else "FALSE"
    if isinstance(expr, Ref):
        return ref(expr.pointer)
    if isinstance(expr, CellRef):
        return expr.source
    if isinstance(expr, Group):
        return "(" + _emit(expr.inner, ref) + ")"
    if isinstance(expr, Neg):
        return "-" + _emit(expr.operand, ref)
    if isinstance(expr, Op):
        return _emit(expr.left, ref) + expr.op + _emit(expr.right, ref)
    return expr.name + "(" + ",".join(_emit(a, ref) for a in expr.args) + ")"
