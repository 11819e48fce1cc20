"""The form's rules, evaluated once: layout formulas and ``x-sum`` checks as expressions.

One expression tree per rule serves three purposes: the formula text the writer puts into the
workbook (:func:`excel`), the value a client shows before it recalculates, cached by the writer in
prefilled copies (:func:`evaluate` over the cells as written), and the import's verdict on an
``x-sum`` rule (:meth:`SumRule.judge` over the instance).  So a new form's formulas get correct
cached values, and the live ✔/✘ a clerk sees is the verdict the import reaches.

**The formula subset** a layout may use in ``{"formula": "=..."}`` (anything else is refused when
the form is loaded, naming the formula): numbers, text in double quotes, ``TRUE``/``FALSE``,
``{/pointer}`` references (a ``*`` pointer is the range of a repeating column, allowed only as an
argument of ``SUM``, ``COUNT``, ``COUNTA``, ``AND`` and ``OR``), references to the form's own cells
in A1 form (``C10``, ``C10:F10``, ``C:C``, ``'封面'!B3``; what ``xltemplate design`` keeps, since
every cell keeps its place: an input cell reads as its field, a label as its text, a formula or
check cell as its value; a range of several cells only where a ``*`` pointer may stand; a circular
reference is refused), parentheses, the operators
``+ - * /`` (and unary ``-``), ``&``, ``= <> < > <= >=``, and the functions ``SUM``, ``COUNT``,
``COUNTA``, ``N``, ``ABS``, ``ROUND``, ``IF``, ``AND``, ``OR``, ``NOT``.  Left out, because Excel
and LibreOffice disagree on them: ``MIN``/``MAX``, text as an argument of a numeric function or
of ``+ - * /``, and a logical value joined with ``&``.

**Semantics**, LibreOffice's (checked by ``tests/test_rules_libreoffice.py``; Excel recalculates
on load, so its own results show there): arithmetic in binary floating point; a number joined as
text has at most 15 significant digits; an empty cell is 0 in arithmetic and ``""`` in text;
``SUM``/``COUNT`` over references take numbers only, ``COUNTA`` counts every non-empty cell; text
in arithmetic or as a condition is converted when it is a plain number or ``TRUE``/``FALSE``,
else ``#VALUE!``; ``/0`` is ``#DIV/0!``; errors propagate; ``ROUND`` rounds half away from zero on
the 15-digit decimal value; a formula whose result is an empty cell shows 0.

**Non-numbers in a sum rule**, decided once: an absent part counts as 0 (an empty cell); the
rule is *undecided* while the total is absent or the total or any part holds something that is
not a number (text, yes/no, JSON null is absent): the live check is blank and the import reports
no ``x-sum`` error (the type error is reported at that cell by its own keyword).  Otherwise the
total must equal the sum of the parts within 0.005 (after rounding the difference to 9 decimals,
so binary fractions do not matter).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import cached_property, lru_cache
from typing import Any

from .excel import EXCEL_EPOCH, NUMBER
from .layout import LayoutError
from .schema import SchemaError, text
from .values import expand


class FormulaError(LayoutError):
    """A layout formula outside the subset; the message names it and says what is allowed."""


# -- values -------------------------------------------------------------------------------------

class _Blank:
    """An empty cell."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK = _Blank()


@dataclass(frozen=True)
class XlError:
    code: str  # "#VALUE!", "#DIV/0!"


VALUE_ERROR, DIV0 = XlError("#VALUE!"), XlError("#DIV/0!")


def parse_date(value: Any) -> dt.date | None:
    """A ``YYYY-MM-DD`` text as a date, else None."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def cell_content(kind: str, value: Any) -> int | float | str | dt.date | None:
    """What the cell of a field of ``kind`` holds for a JSON ``value``: the writer writes exactly
    this, and formulas see exactly this (a date is its serial number, yes/no is the text 是/否)."""
    if value is None:
        return None
    if kind == "date" and isinstance(value, str):
        return parse_date(value) or value
    if isinstance(value, bool):
        return ("是" if value else "否") if kind == "boolean" else str(value).lower()
    if isinstance(value, int | float):
        return value
    return str(value)


def _scalar(content: Any) -> Any:
    """A cell's content (or a JSON value) as a formula value."""
    if content is None or content is BLANK:
        return BLANK
    if isinstance(content, bool | XlError):
        return content
    if isinstance(content, int | float):
        return float(content)
    if isinstance(content, dt.date):
        return float((content - EXCEL_EPOCH).days)
    if isinstance(content, str):
        return content
    return str(content)  # an object or list where a value belongs: some text


def _number(v: Any) -> float | XlError:
    """A value in arithmetic."""
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, str) and NUMBER.fullmatch(v.strip()):
        return float(v)
    if isinstance(v, str) and v.strip().upper() in ("TRUE", "FALSE"):
        return 1.0 if v.strip().upper() == "TRUE" else 0.0
    return VALUE_ERROR


def _logical(v: Any) -> bool | XlError:
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return v != 0
    if isinstance(v, str) and v.strip().upper() in ("TRUE", "FALSE"):
        return v.strip().upper() == "TRUE"
    if isinstance(v, str) and NUMBER.fullmatch(v.strip()):
        return float(v) != 0
    return VALUE_ERROR


def number_text(x: float) -> str:
    """A number as Excel and LibreOffice join it with ``&``: at most 15 significant digits, no
    trailing zeros, decimal notation from 1E-9 to below 1E+15 (outside it, ``1E+20``)."""
    if x == 0:
        return "0"
    d = Decimal(f"{x:.15g}")
    if 1e-9 <= abs(x) < 1e15:
        out = format(d, "f")
        return out.rstrip("0").rstrip(".") if "." in out else out
    mantissa, _, exp = f"{x:.14E}".partition("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E{int(exp):+03d}"


def _text(v: Any) -> str | XlError:
    if isinstance(v, XlError):
        return v
    if v is BLANK:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return number_text(v)
    return str(v)


def excel_round(x: float, digits: int) -> float:
    """ROUND: half away from zero, on the 15-digit decimal value (ROUND(2.675,2) is 2.68)."""
    if not math.isfinite(x):
        return x
    digits = max(-400, min(400, digits))  # past a float's range either way: nothing left to round
    d = Decimal(f"{x:.15g}")
    with localcontext(Context(prec=1000)):  # room for any quantum a float's range asks for
        return float(abs(d).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP).copy_sign(d))


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


# -- evaluation ---------------------------------------------------------------------------------

#: pointer (or A1 reference) -> the contents of the cells it refers to (one for a field, every row
#: for a ``*`` column; an empty list or None for an empty cell)
Cells = Callable[[Any], list[Any]]


def evaluate(expr: Expr, cells: Cells) -> Any:
    """The value a client computes: a float, text, True/False, or an :class:`XlError`.

    A result that is an empty cell (``={/x}`` of an empty field) is 0, as clients show it."""
    out = _compiled(expr)(cells)
    return 0.0 if out is BLANK else out


def _cell_values(cells: Cells, pointer: Any) -> list[Any]:
    return [_scalar(c) for c in cells(pointer) or ()]


Compiled = Callable[[Cells], Any]


_COMPILED: weakref.WeakKeyDictionary[Any, Compiled] = weakref.WeakKeyDictionary()


def _compiled(expr: Expr) -> Compiled:
    """The expression as a function of the cells, built once per node (nodes are immutable)."""
    fn = _COMPILED.get(expr)
    if fn is None:
        fn = _COMPILED[expr] = _compile(expr)
    return fn


def _compile(expr: Expr) -> Compiled:
    if isinstance(expr, Num | Text | Logical):
        value = expr.value
        return lambda cells: value
    if isinstance(expr, Ref | CellRef):
        pointer: Any = expr.pointer if isinstance(expr, Ref) else expr

        def ref(cells: Cells) -> Any:
            values = _cell_values(cells, pointer)
            return values[0] if values else BLANK

        return ref
    if isinstance(expr, Group):
        return _compiled(expr.inner)
    if isinstance(expr, Neg):
        operand = _compiled(expr.operand)

        def neg(cells: Cells) -> Any:
            x = _number(operand(cells))
            return x if isinstance(x, XlError) else -x

        return neg
    if isinstance(expr, Op):
        op, left, right = expr.op, _compiled(expr.left), _compiled(expr.right)
        return lambda cells: _binary(op, left(cells), right(cells))
    return _compile_call(expr)


def _compile_call(expr: Call) -> Compiled:
    name = expr.name
    args = [_compiled(a) for a in expr.args]
    if name == "IF":
        cond, then = args[0], args[1]
        other = args[2] if len(args) > 2 else None

        def if_(cells: Cells) -> Any:
            flag = _logical(cond(cells))
            if isinstance(flag, XlError):
                return flag
            if flag:
                return then(cells)
            return other(cells) if other is not None else False

        return if_
    if name in RANGE_FUNCTIONS:
        getters = [_arg_values(a, f) for a, f in zip(expr.args, args, strict=True)]
        return lambda cells: _aggregate(name, [g(cells) for g in getters])
    first = args[0]
    digits = args[1] if name == "ROUND" else None

    def call(cells: Cells) -> Any:
        value = first(cells)
        if name == "NOT":
            flag = _logical(value)
            return flag if isinstance(flag, XlError) else not flag
        if name == "N":
            return value if isinstance(value, float | XlError) else (1.0 if value is True else 0.0)
        x = _number(value)
        if isinstance(x, XlError) or name == "ABS":
            return x if isinstance(x, XlError) else abs(x)
        n = _number(digits(cells))  # type: ignore[misc]
        return n if isinstance(n, XlError) else excel_round(x, int(n))

    return call


def _arg_values(arg: Expr, compiled: Compiled) -> Callable[[Cells], tuple[bool, list[Any]]]:
    """An argument of SUM, COUNT, ...: (from a reference, its values); references are filtered by
    type, values given directly are not."""
    if isinstance(arg, Ref | CellRef):
        pointer: Any = arg.pointer if isinstance(arg, Ref) else arg
        return lambda cells: (True, _cell_values(cells, pointer) or [BLANK])
    return lambda cells: (False, [compiled(cells)])


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "&":
        ta, tb = _text(a), _text(b)
        return ta if isinstance(ta, XlError) else tb if isinstance(tb, XlError) else ta + tb
    if op in "+-*/":
        x, y = _number(a), _number(b)
        if isinstance(x, XlError):
            return x
        if isinstance(y, XlError):
            return y
        if op == "/":
            return DIV0 if y == 0 else x / y
        return x + y if op == "+" else x - y if op == "-" else x * y
    for v in (a, b):
        if isinstance(v, XlError):
            return v
    return _compare(op, a, b)


def _rank(v: Any) -> int:
    return 0 if isinstance(v, float) else 1 if isinstance(v, str) else 2


def _compare(op: str, a: Any, b: Any) -> bool:
    """Excel's comparison: an empty cell takes the other side's type; numbers < text < logical;
    text compares without regard to case."""
    if a is BLANK and b is BLANK:
        a = b = 0.0
    elif a is BLANK:
        a = 0.0 if isinstance(b, float) else "" if isinstance(b, str) else False
    elif b is BLANK:
        b = 0.0 if isinstance(a, float) else "" if isinstance(a, str) else False
    if _rank(a) != _rank(b):
        key_a, key_b = _rank(a), _rank(b)
    elif isinstance(a, str):
        key_a, key_b = a.lower(), b.lower()
    else:
        key_a, key_b = a, b
    return {"=": key_a == key_b, "<>": key_a != key_b, "<": key_a < key_b, ">": key_a > key_b,
            "<=": key_a <= key_b, ">=": key_a >= key_b}[op]


def _aggregate(name: str, args: list[tuple[bool, list[Any]]]) -> Any:
    """SUM, COUNT, COUNTA, AND, OR: cells of a reference are taken by type (SUM and COUNT take
    numbers, AND and OR numbers and logicals, the rest is skipped); a value given directly is
    converted, and an error where it cannot be."""
    values = [(from_ref, v) for from_ref, vs in args for v in vs]
    if name == "COUNTA":
        return float(sum(v is not BLANK for _, v in values))
    if name == "COUNT":
        return float(sum(isinstance(v, float) or (not from_ref and not isinstance(_number(v), XlError)
                                                  and v is not BLANK) for from_ref, v in values))
    for _, v in values:
        if isinstance(v, XlError):
            return v
    if name == "SUM":
        total = 0.0
        for from_ref, v in values:
            x = v if isinstance(v, float) else None if from_ref else _number(v)
            if isinstance(x, XlError):
                return x
            total += x or 0.0
        return total
    flags = []
    for from_ref, v in values:
        if from_ref and not isinstance(v, bool | float):
            continue
        flag = _logical(v)
        if isinstance(flag, XlError):
            return flag
        flags.append(flag)
    if not flags:
        return VALUE_ERROR
    return all(flags) if name == "AND" else any(flags)


# -- sum rules ----------------------------------------------------------------------------------

TOLERANCE = "0.005"
_OK, _FAIL = "ok", "fail"


@dataclass(frozen=True)
class Verdict:
    """A decided sum rule: whether it holds, the total and the sum of the parts."""

    ok: bool
    total: float
    found: float


@dataclass(frozen=True, eq=False)
class SumRule:
    """One ``x-sum`` rule: ``total`` must equal the sum of ``parts`` (pointers relative to the
    object that carries the rule; ``*`` spans an array)."""

    id: str
    total: str
    parts: tuple[str, ...]
    message: Any = "{total} ≠ {sum}"
    ok: Any = "✔"
    fail: Any = "✘"
    title: Any = None

    @classmethod
    def of(cls, rule: Any, where: str = "x-sum") -> SumRule:
        if not isinstance(rule, dict) or not isinstance(rule.get("total"), str) \
                or not isinstance(rule.get("parts"), list) or not rule["parts"] \
                or not all(isinstance(p, str) and p.startswith("/") for p in rule["parts"]) \
                or not rule["total"].startswith("/") or "*" in rule["total"]:
            raise SchemaError(f"{where}: a rule needs \"total\" (a pointer without '*') and a non-empty list "
                              f"\"parts\" of pointers, got {rule!r}")
        return cls(str(rule.get("id", rule["total"])), rule["total"], tuple(rule["parts"]),
                   rule.get("message", "{total} ≠ {sum}"), rule.get("ok", "✔"), rule.get("fail", "✘"),
                   rule.get("title"))

    def check(self, ok: str, fail: str) -> Expr:
        """The live check: blank while undecided, then ``ok`` or ``fail``."""
        total = Ref(self.total)
        parts = tuple(Ref(p) for p in self.parts)
        undecided = Call("OR", (Op("=", Call("COUNT", (total,)), Num(0.0, "0")),
                                Op(">", Call("COUNTA", (total, *parts)), Call("COUNT", (total, *parts)))))
        differs = Call("ROUND", (Call("ABS", (Op("-", total, Call("SUM", parts)),)), Num(9.0, "9")))
        return Call("IF", (undecided, Text(""),
                           Call("IF", (Op("<", differs, Num(float(TOLERANCE), TOLERANCE)), Text(ok), Text(fail)))))

    def check_text(self, lang: str) -> Expr:
        """The live check in ``lang`` (the same expression object each time, compiled once)."""
        return _check_text(self, lang)

    @cached_property
    def _judged(self) -> tuple[Expr, Expr]:
        return self.check(_OK, _FAIL), Call("SUM", tuple(Ref(p) for p in self.parts))

    def judge(self, instance: Any) -> Verdict | None:
        """The verdict on an instance (the object carrying the rule), None while undecided: the
        live check's own expression, evaluated over the instance's values."""
        cells = instance_cells(instance)
        check, found = self._judged
        verdict = evaluate(check, cells)
        if verdict not in (_OK, _FAIL):
            return None
        return Verdict(verdict == _OK, float(evaluate(Ref(self.total), cells)), float(evaluate(found, cells)))

    def complete(self, instance: Any) -> bool:
        """Whether the total and every part are given (a ``*`` part never is: rows may be added)."""
        return all("*" not in p and next(expand(instance, p), None) is not None
                   for p in (self.total, *self.parts))

    def describe(self, verdict: Verdict, lang: str) -> str:
        template = text(self.message, lang)
        return template.replace("{sum}", number_text(verdict.found)).replace("{total}", number_text(verdict.total))


@lru_cache(maxsize=256)
def _check_text(rule: SumRule, lang: str) -> Expr:
    return rule.check(text(rule.ok, lang), text(rule.fail, lang))


def instance_cells(instance: Any) -> Cells:
    """The cells of an instance: each present value at a pointer (``*`` = each array item)."""
    seen: dict[str, list[Any]] = {}

    def cells(pointer: Any) -> list[Any]:
        if not isinstance(pointer, str):
            return []  # an instance has no A1 cells
        if pointer not in seen:
            seen[pointer] = [v for _, v in expand(instance, pointer)]
        return seen[pointer]

    return cells
