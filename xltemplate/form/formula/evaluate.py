"""The value a client computes for an expression, with LibreOffice's semantics (:mod:`.values`).

``SUM``/``COUNT`` over references take numbers only, ``COUNTA`` counts every non-empty cell; ``/0``
is ``#DIV/0!``; errors propagate; a formula whose result is an empty cell shows 0.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .parse import RANGE_FUNCTIONS, Call, CellRef, Expr, Group, Logical, Neg, Num, Op, Ref, Text
from .values import BLANK, DIV0, VALUE_ERROR, XlError, excel_round, scalar, to_logical, to_number, to_text

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
    return [scalar(c) for c in cells(pointer) or ()]


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
            x = to_number(operand(cells))
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
            flag = to_logical(cond(cells))
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
            flag = to_logical(value)
            return flag if isinstance(flag, XlError) else not flag
        if name == "N":
            return value if isinstance(value, float | XlError) else (1.0 if value is True else 0.0)
        x = to_number(value)
        if isinstance(x, XlError) or name == "ABS":
            return x if isinstance(x, XlError) else abs(x)
        n = to_number(digits(cells))  # type: ignore[misc]
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
        ta, tb = to_text(a), to_text(b)
        return ta if isinstance(ta, XlError) else tb if isinstance(tb, XlError) else ta + tb
    if op in "+-*/":
        x, y = to_number(a), to_number(b)
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
        return float(sum(isinstance(v, float) or (not from_ref and not isinstance(to_number(v), XlError)
                                                  and v is not BLANK) for from_ref, v in values))
    for _, v in values:
        if isinstance(v, XlError):
            return v
    if name == "SUM":
        total = 0.0
        for from_ref, v in values:
            x = v if isinstance(v, float) else None if from_ref else to_number(v)
            if isinstance(x, XlError):
                return x
            total += x or 0.0
        return total
    flags = []
    for from_ref, v in values:
        if from_ref and not isinstance(v, bool | float):
            continue
        flag = to_logical(v)
        if isinstance(flag, XlError):
            return flag
        flags.append(flag)
    if not flags:
        return VALUE_ERROR
    return all(flags) if name == "AND" else any(flags)
