"""``x-sum`` rules: a total equals the sum of its parts, checked live in the workbook and on import.

One expression per rule (:meth:`SumRule.check`) is the live ✔/✘ formula a clerk sees and the
import's verdict (:meth:`SumRule.judge`, evaluated over the instance by :mod:`.formula`).

**Non-numbers in a sum rule**, decided once: an absent part counts as 0 (an empty cell); the
rule is *undecided* while the total is absent or the total or any part holds something that is
not a number (text, yes/no, JSON null is absent): the live check is blank and the import reports
no ``x-sum`` error (the type error is reported at that cell by its own keyword).  Otherwise the
total must equal the sum of the parts within 0.005 (after rounding the difference to 9 decimals,
so binary fractions do not matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from .formula import Call, Cells, Expr, Num, Op, Ref, Text, evaluate, number_text
from .schema import SchemaError, text
from .values import expand

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
