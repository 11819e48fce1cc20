"""What the client checks as a clerk types: the data validation of each input cell.

Decision: the client's rule says exactly what the schema says where Excel can express it, and
promises nothing it does not check.

* enum: a dropdown; yes/no: 是/否; dates: a warning (``2020年10月16日`` typed as text is still read).
* numbers: the bounds (``minimum``, ``maximum``, exclusive ones) and ``multipleOf`` (a power of
  ten as "at most n decimals"), with an alert listing exactly those conditions.
* text with a ``pattern``: :func:`.pattern.translate` turns the patterns whose meaning a formula can state
  into one, accepting exactly the pattern's language (ECMA-262 semantics, as JSON Schema and the
  import use): anchored ``^...$``; a sequence of literal characters and classes (``[0-9]``,
  ``[A-Z0-9_-]``, ``\\d``, ``\\w``, escapes) each with ``{n}``, ``{n,m}``, ``{n,}``, ``?``, ``*``, ``+``, at
  most one of variable length per alternative; alternatives ``^(a|b|c)$`` (a code list).  The
  formula checks each position with ``FIND(MID(...))`` over the allowed characters, never with
  ``ISNUMBER(--x)`` (which lets ``1e+006``, `` 123456`` and ``1234.56`` through).  The alert is the
  author's ``x-messages.pattern`` or a description of the pattern's parts.
* anything else (another pattern, a ``format``, a ``month-range`` field whose typed text the import
  converts before the pattern applies, a formula over Excel's 255-character limit): the length
  rule only, and an alert that says the rest is checked when the form is collected.

The client's rule is about the text as typed; the import is more lenient (it trims spaces and folds
full-width digits before checking), so nothing the client accepts is refused on import.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..form.excel import a1
from ..form.formula import number_text
from ..form.model import Field
from ..form.schema import text
from ..form.validate import decimal_places
from ..messages import t
from .pattern import translate

MAX_CELL_TEXT = 32767
NUMBER_LIMIT = 1e14  # the bound of a number cell whose schema gives none (not mentioned to the clerk)


# -- the validation of one input cell -----------------------------------------------------------

def field_validation(f: Field, list_ref: str | None, lang: str) -> dict[str, Any]:
    """xlsxwriter ``data_validation`` options for the input cell of ``f``."""
    s = f.schema
    opts: dict[str, Any] = {"input_title": str(s.get("title", ""))[:32], "error_type": "stop",
                            "error_title": t("dv_error_title", lang)}
    if f.kind == "enum":
        choices = t("list_sep", lang).join(str(v) for v in s["enum"])
        opts.update(validate="list", source=list_ref, error_message=t("dv_choose", lang, choices=choices))
    elif f.kind == "boolean":
        opts.update(validate="list", source=["是", "否"], error_message=t("dv_yes_no", lang))
    elif f.kind in ("number", "integer"):
        opts.update(_number(f, lang))
    elif f.kind == "date":
        opts.update(validate="date", criteria="between", minimum=dt.date(1990, 1, 1),
                    maximum=dt.date(2100, 12, 31), error_type="warning", error_message=t("dv_date", lang))
    else:
        opts.update(_text(f, lang))
    prompt = text(s.get("description", ""), lang)
    if prompt:
        opts["input_message"] = prompt[:255]
    opts["error_message"] = opts["error_message"][:255]
    return opts


def _num(x: Any) -> str:
    return number_text(float(x))


def _number(f: Field, lang: str) -> dict[str, Any]:
    s, c = f.schema, a1(f.row, f.col)
    conditions, terms = [], [f"ISNUMBER({c})"]
    lo, hi, xlo, xhi = (s.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
    step = s.get("multipleOf")
    for value, key, op in ((lo, "dv_min", ">="), (xlo, "dv_xmin", ">"), (hi, "dv_max", "<="), (xhi, "dv_xmax", "<")):
        if value is not None:
            conditions.append(t(key, lang, n=_num(value)))
            terms.append(f"{c}{op}{_num(value)}")
    if f.kind == "integer":
        terms.append(f"INT({c})={c}")
    if step is not None:
        digits = decimal_places(step)
        if digits is not None:
            if f.kind != "integer" or digits > 0:
                conditions.append(t("dv_decimals", lang, n=digits))
                terms.append(f"ROUND({c},{digits})={c}")
        else:
            conditions.append(t("dv_multiple", lang, n=_num(step)))
            terms.append(f"ROUND({c}/{_num(step)},9)=INT(ROUND({c}/{_num(step)},9))")
    what = t("dv_what_integer" if f.kind == "integer" else "dv_what_number", lang)
    listed = t("dv_conditions", lang, list=t("list_sep", lang).join(conditions)) if conditions else ""
    message = t("dv_number", lang, what=what, conditions=listed)
    if xlo is None and xhi is None and step is None:  # Excel's own number rule says it all
        return {"validate": "integer" if f.kind == "integer" else "decimal", "criteria": "between",
                "minimum": lo if lo is not None else -NUMBER_LIMIT, "maximum": hi if hi is not None else NUMBER_LIMIT,
                "error_message": message}
    return {"validate": "custom", "value": f"=AND({','.join(terms)})", "error_message": message}


def _length_message(lo: int, hi: int, lang: str) -> str:
    if lo and lo == hi:
        return t("dv_length_exact", lang, n=lo)
    if lo:
        return t("dv_length_between", lang, lo=lo, hi=hi)
    return t("dv_length_max", lang, hi=hi)


def _text(f: Field, lang: str) -> dict[str, Any]:
    s = f.schema
    lo, hi = int(s.get("minLength", 0)), int(s.get("maxLength", MAX_CELL_TEXT))
    pattern = s.get("pattern") if f.kind == "string" and isinstance(s.get("pattern"), str) else None
    rule = translate(pattern) if pattern else None
    formula = rule.formula(a1(f.row, f.col), lo, hi if "maxLength" in s else None) if rule else None
    if rule is not None and formula is not None and "format" not in s:
        authored = s.get("x-messages", {}).get("pattern")
        message = text(authored, lang) if authored else rule.describe(lang)
        r_lo, r_hi = rule.lengths
        if lo > r_lo or ("maxLength" in s and (r_hi is None or hi < r_hi)):
            message = t("dv_and_length", lang, rule=message, length=_length_message(lo, hi, lang))
        return {"validate": "custom", "value": formula, "error_message": message}
    criteria = {"criteria": "between", "minimum": lo, "maximum": hi} if lo else {"criteria": "<=", "value": hi}
    message = _length_message(lo, hi, lang)
    if pattern or "format" in s:
        message = t("dv_checked_later", lang, rule=message)
    return {"validate": "length", **criteria, "error_message": message}
