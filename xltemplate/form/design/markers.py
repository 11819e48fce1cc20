"""Markers: what a bureau writes into each input cell of its workbook, and what one says.

The whole cell is the marker (EasyExcel-like); full-width ｛｝：｜，＊ are read like their ASCII
forms::

    {项目名称}                 a field titled 项目名称
    {}  {*}  {:date}           a field titled by the nearest label in its row (else above)
    {/cover/project_name}      a field at a JSON pointer of your choice
    {.明细项目名称}             a column of a table: written in each of its rows; the marked rows
    {/budget_items/*/name}     are the table's capacity (``*`` is the row); ``{.}`` takes its title
    {预算明细.金额}             from the header above; ``{名称.列}`` names the table (needed when two
                               tables touch, e.g. 三级指标 under each 二级指标)

and after a colon the field's type and rules, separated by commas::

    {金额:number>=0,2位小数}  {项目属性:新增|延续}  {填报日期:date*}  {预算功能科目:7位数字}
    {三级指标:150字内}  {起止时间:month-range}  {人数:integer,0~500}  {是否政府采购:boolean}

``*`` (first or last) or ``必填`` makes a field required.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ...messages import t
from ..schema import join_pointer, split_pointer

#: The canonical month range (what :mod:`coerce` turns every spelling into).
MONTH_RANGE_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])~[0-9]{4}-(0[1-9]|1[0-2])$"

_FULLWIDTH = str.maketrans({"：": ":", "｜": "|", "，": ",", "；": ";", "＊": "*", "＞": ">", "＜": "<",
                            "＝": "=", "～": "~", "．": "."})
WHOLE = re.compile(r"^\s*[{｛](.*)[}｝]\s*$", re.S)
#: a marker inside other text, or inside a formula: braces around something a marker starts with
INSIDE = re.compile(r"\{\s*(?:[/.*:]|[^\x00-\x7f])[^{}]*\}")
_TYPES = {"text": "string", "文本": "string", "文字": "string", "string": "string",
          "number": "number", "数字": "number", "数值": "number", "金额": "number",
          "integer": "integer", "整数": "integer", "date": "date", "日期": "date",
          "month-range": "month-range", "起止年月": "month-range", "年月区间": "month-range",
          "boolean": "boolean", "是否": "boolean"}
_NUM = r"-?\d+(?:\.\d+)?"
_BOUND = re.compile(rf"^(>=|<=|>|<|≥|≤)\s*({_NUM})$")
_RANGE = re.compile(rf"^({_NUM})\s*~\s*({_NUM})$")
_DECIMALS = re.compile(r"^(\d+)\s*位小数$")
_LENGTH = re.compile(r"^(?:<=|≤)?\s*(\d+)\s*字(?:以内|内)?$")
_DIGITS = re.compile(r"^(\d+)\s*(?:~\s*(\d+)\s*)?位(?:数字)?$")
_ROWS = re.compile(r"^共?\s*(\d+)\s*行$")
NUMERIC_LABEL = re.compile(r"^[\s(（]*[0-9一二三四五六七八九十]+[)）.、．]?\s*$")
#: a column code under the headers of a statistics table (A, B, D1, 甲, 乙): not a title
CODE_LABEL = re.compile(r"^\s*(?:[A-Z]{1,2}[0-9]{0,2}|[甲乙丙丁戊己庚辛壬癸])\s*$")


class BadMarker(Exception):
    """A marker that does not parse; the message is the reason, in the user's language."""


@dataclass
class Marker:
    """What one marker says."""

    text: str
    required: bool = False
    pointer: str | None = None  # explicit JSON pointer (``*`` for the row of a table)
    table: str | None = None  # a title-marked table column: the table's name ("" unnamed)
    title: str | None = None  # the title written in the marker
    kind: str | None = None  # the type written: string, number, integer, date, month-range, boolean
    keywords: dict[str, Any] = field(default_factory=dict)  # schema keywords the rules state
    rows: int | None = None  # a table column's ``共N行``: the rows the table has, drawn ones first

    @property
    def is_list(self) -> bool:
        return self.table is not None or (self.pointer is not None and "*" in split_pointer(self.pointer))

    @property
    def says(self) -> tuple[Any, ...]:
        """What a row of a table column must repeat (or leave out, taking the first row's)."""
        return self.required, self.kind, json.dumps(self.keywords, sort_keys=True, ensure_ascii=False)


def is_marker(text: str) -> bool:
    return bool(WHOLE.match(text))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_marker(text: str, lang: str = "zh") -> Marker:
    """Read one marker (the whole cell text); :class:`BadMarker` with the reason when it does not parse."""
    m = WHOLE.match(text)
    if not m:
        raise BadMarker(t("design_reason_item", lang, item=text))
    body = m.group(1).strip()
    if "\n" in body:
        raise BadMarker(t("design_reason_multiline", lang))
    marker = Marker(text=text.strip())
    if body.endswith(("*", "＊")) and not body.endswith("/*"):  # {金额:number,2位小数*}
        marker.required, body = True, body[:-1].rstrip()
    cut = min((i for i in (body.find(":"), body.find("：")) if i >= 0), default=-1)
    head, colon, spec = (body[:cut], True, body[cut + 1:]) if cut >= 0 else (body, False, "")
    head = head.strip().translate(_FULLWIDTH)
    if head.startswith("*"):
        marker.required, head = True, head[1:].strip()
    if head.endswith("*") and not head.endswith("/*"):
        marker.required, head = True, head[:-1].strip()
    if head.startswith("/"):
        tokens = split_pointer(head)
        if any(tok == "" for tok in tokens):
            raise BadMarker(t("design_reason_pointer", lang, pointer=head, detail=t("design_pointer_empty", lang)))
        if any(ch.isspace() for ch in head):
            raise BadMarker(t("design_reason_pointer", lang, pointer=head, detail=t("design_pointer_space", lang)))
        stars = [i for i, tok in enumerate(tokens) if tok == "*"]
        if len(stars) > 1 or (stars and stars[0] in (0, len(tokens) - 1)):
            raise BadMarker(t("design_reason_pointer", lang, pointer=head, detail=t("design_pointer_star", lang)))
        marker.pointer = join_pointer(tokens)
    elif "." in head and not head.split(".", 1)[0].strip().isdigit():
        table, _, title = head.partition(".")
        marker.table, marker.title = table.strip(), title.strip() or None
    else:
        marker.title = head or None
    items = [item.strip() for item in re.split(r"[,;]", spec.translate(_FULLWIDTH)) if item.strip()] \
        if colon else []
    _rules(marker, items, lang)
    return marker


def _rules(marker: Marker, items: list[str], lang: str) -> None:
    """The type and rules after the colon -> ``marker.kind`` / ``marker.keywords``."""
    kw: dict[str, Any] = {}
    numeric: list[str] = []  # items that only numbers take
    textual: list[str] = []  # items that only text takes
    choices: list[str] | None = None

    def set_kind(kind: str) -> None:
        if marker.kind and marker.kind != kind:
            raise BadMarker(t("design_reason_two_types", lang, a=marker.kind, b=kind))
        marker.kind = kind

    for item in items:
        word = next((w for w in sorted(_TYPES, key=len, reverse=True) if item.lower().startswith(w)), None)
        rest = item
        if word is not None:
            set_kind(_TYPES[word])
            rest = item[len(word):].strip()
            if not rest:
                continue
        if rest in ("*", "必填", "required"):
            marker.required = True
        elif "|" in rest:
            choices = [c.strip() for c in rest.split("|")]
            if not all(choices) or len(set(choices)) != len(choices):
                raise BadMarker(t("design_reason_choices", lang))
        elif m := _BOUND.match(rest):
            op, value = m.group(1), _number(m.group(2))
            key = {">=": "minimum", "≥": "minimum", "<=": "maximum", "≤": "maximum", ">": "exclusiveMinimum",
                   "<": "exclusiveMaximum"}[op]
            kw[key] = value
            numeric.append(item)
        elif m := _RANGE.match(rest):
            kw["minimum"], kw["maximum"] = _number(m.group(1)), _number(m.group(2))
            numeric.append(item)
        elif m := _DECIMALS.match(rest):
            digits = int(m.group(1))
            kw["multipleOf"] = 1 if digits == 0 else float(f"1e-{digits}")
            numeric.append(item)
        elif m := _ROWS.match(rest):
            if not marker.is_list or int(m.group(1)) < 1:
                raise BadMarker(t("design_reason_rows", lang, item=item))
            marker.rows = int(m.group(1))
        elif m := _LENGTH.match(rest):
            kw["maxLength"] = int(m.group(1))
            textual.append(item)
        elif m := _DIGITS.match(rest):
            lo, hi = m.group(1), m.group(2)
            count = f"{{{lo}}}" if hi is None else f"{{{lo},{hi}}}"
            kw["pattern"] = f"^[0-9]{count}$"
            n = lo if hi is None else f"{lo}–{hi}"
            kw["x-messages"] = {"pattern": {lang_: t("design_digits_message", lang_, n=n) for lang_ in ("zh", "en")}}
            textual.append(item)
        else:
            raise BadMarker(t("design_reason_item", lang, item=item))
    if choices is not None:
        if marker.kind not in (None, "string"):
            raise BadMarker(t("design_reason_enum_type", lang, kind=marker.kind))
        marker.kind = "string"
        kw["enum"] = choices
    if numeric and marker.kind is None:
        marker.kind = "number"
    if numeric and marker.kind not in ("number", "integer"):
        raise BadMarker(t("design_reason_number_rule", lang, item=numeric[0], kind=marker.kind))
    if textual and marker.kind not in (None, "string"):
        raise BadMarker(t("design_reason_text_rule", lang, item=textual[0], kind=marker.kind))
    if textual:
        marker.kind = "string"
    if marker.kind is not None:
        kw = {**_KIND_KEYWORDS[marker.kind](), **kw}
    marker.keywords = kw


def _month_range() -> dict[str, Any]:
    return {"type": "string", "format": "month-range", "pattern": MONTH_RANGE_PATTERN, "x-ordered-range": "~",
            "x-messages": {"pattern": {lang: t("design_month_range_message", lang) for lang in ("zh", "en")}}}


_KIND_KEYWORDS = {
    "string": lambda: {"type": "string"}, "number": lambda: {"type": "number"},
    "integer": lambda: {"type": "integer"}, "date": lambda: {"type": "string", "format": "date"},
    "month-range": _month_range, "boolean": lambda: {"type": "boolean"},
}
