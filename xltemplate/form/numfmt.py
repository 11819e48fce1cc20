"""Excel number formats: which ones are dates, and the text a cell shows for a number.

A clerk types ``95%`` and Excel (or WPS, or LibreOffice) stores the number 0.95 with the format
``0%``; ``1,234.50`` becomes 1234.5 with ``#,##0.00``; ``2021年1月`` becomes the date serial of
2021-01-01 with ``yyyy"年"m"月"``.  :func:`render` gives back the text the clerk saw, from the
number and the cell's format code, so that a text field gets what was typed.

What it renders exactly: number sections (``0``, ``#``, ``?`` placeholders, decimals, thousands
separators and scaling commas, percent, literal text, ``_x`` spacing, space fill), scientific
(``0.00E+00``, ``##0.0E+0``), fractions (``# ?/?``, ``# ??/??``, fixed denominators), the
positive/negative/zero sections, colours, currency and locale tags (``[$¥-804]``), and dates and
times in numbers (``yyyy``, ``yy``, ``m``, ``mm``, ``d``, ``dd``, ``h``, ``mm`` as minutes,
``ss``, fractions of a second, ``上午/下午``, elapsed ``[h]``, ``[mm]``, ``[ss]``).

What it does not, and says so by returning None (the caller keeps the stored value and notes it
rather than guess): names of months and weekdays and ``AM/PM`` (``mmm``, ``dddd``, ``aaaa``,
``A/P``: their language follows the reader's system; Calc in Chinese shows 下午 for PM, and p for
``A/P``), eras (``e``, ``g``, ``b``), Chinese numerals (``[DBNum1]``), the system's own long date
or time (``[$-F800]``, ``[$-F400]``), conditions (``[>100]``), fill with a character other than a
space (it depends on the column's width), a ``General`` part inside a custom format, negative
dates, and serials 0 and 60 of the 1900 system (days Excel shows that never were). ``General`` and
``@`` themselves are not rendered here: :func:`plain` says so and the caller keeps today's reading
of the stored value.

Built-in format ids are those of ECMA-376 (Part 1, 18.8.30); the ones that depend on the locale
(5–8, 14, 22, 27–36, 50–58) are the Chinese (PRC) forms, the ones a bureau's Excel and WPS show.
The accounting ids 41–44 and any id not listed are unknown: a number in such a cell is kept as
stored and noted.  Rounding is Excel's: the value to 15 significant digits, then half away from
zero (2.675 with ``0.00`` shows 2.68).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .excel import EXCEL_EPOCH

#: Built-in number formats by id, the locale-dependent ones as Chinese (PRC) Excel and WPS show them.
BUILTIN: dict[int, str] = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00",
    5: '"¥"#,##0;"¥"\\-#,##0', 6: '"¥"#,##0;[Red]"¥"\\-#,##0',
    7: '"¥"#,##0.00;"¥"\\-#,##0.00', 8: '"¥"#,##0.00;[Red]"¥"\\-#,##0.00',
    9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
    14: "yyyy/m/d", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM",
    20: "h:mm", 21: "h:mm:ss", 22: "yyyy/m/d h:mm",
    27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: "m-d-yy", 31: 'yyyy"年"m"月"d"日"',
    32: 'h"时"mm"分"', 33: 'h"时"mm"分"ss"秒"', 34: '上午/下午h"时"mm"分"', 35: '上午/下午h"时"mm"分"ss"秒"',
    36: 'yyyy"年"m"月"',
    37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
    50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
    55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"', 58: 'm"月"d"日"',
}
_EPOCH_1904 = dt.date(1904, 1, 1)
_DATE_CHARS = frozenset("dmyhsDMYHSeEgGbBaA")
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.I)
_SIGNIFICANT = 15  # Excel keeps 15 significant digits of a number
_LAST_SERIAL = 2958466  # 10000-01-01: the first day Excel cannot show


def code_of(fmt_id: int, custom: dict[int, str]) -> str | None:
    """The format code of id ``fmt_id``: the workbook's own (``custom``), else the built-in one
    (None: an id neither defines, whose look nobody here knows)."""
    return custom.get(fmt_id) if fmt_id in custom else BUILTIN.get(fmt_id)


def plain(code: str | None) -> bool:
    """Whether a number in a cell of this format reads as the stored number (General, text)."""
    return code is None or code in ("General", "@", "") or code.lower() == "general"


@lru_cache(maxsize=1024)
def kind(code: str | None) -> str:
    """``date`` (a date or time of day), ``elapsed`` ([h]:mm and the like) or ``number``: how a
    number in a cell of this format is read.  The test is calamine's (and openpyxl's): a date or
    time letter outside quotes, escapes and brackets, ``[h]``, ``[m]``, ``[s]`` for elapsed."""
    if not code or plain(code):
        return "number"
    text = _strip(code)
    if _ELAPSED.search(text):
        return "elapsed"
    text = re.sub(r"\[[^\]]*\]", "", text)
    if "General" in text or "general" in text.lower():
        text = re.sub("(?i)general", "", text)
    # scientific notation's E+/E- is not a date part
    text = re.sub(r"[eE][+-]", "", text)
    return "date" if any(ch in "dmyhsDMYHS" for ch in text) else "number"


def _strip(code: str) -> str:
    """The code without quoted text, escaped characters, ``_x`` spacing and ``*x`` fill."""
    out, i = [], 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            j = code.find('"', i + 1)
            i = len(code) if j < 0 else j + 1
        elif ch in "\\_*":
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- the format code, parsed once ------------------------------------------------------------------

class _Unsupported(Exception):
    """A part of a format code whose text cannot be known exactly here."""


def _sections(code: str) -> list[str]:
    """The code split at ``;`` outside quotes, escapes and brackets."""
    parts, start, i, depth = [], 0, 0, 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            j = code.find('"', i + 1)
            i = len(code) if j < 0 else j + 1
            continue
        if ch in "\\_*":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            parts.append(code[start:i])
            start = i + 1
        i += 1
    parts.append(code[start:])
    return parts


Token = tuple[str, str]  # (kind, text)


def _tokens(section: str) -> tuple[list[Token], bool]:
    """A section as tokens, and whether it has a condition (``[>100]``).

    Kinds: ``lit`` (text shown as is), ``digit`` (0 # ?), ``.``, ``,``, ``%``, ``E`` (``E+`` or
    ``E-``), ``/``, ``@``, ``date`` (y, m, d, h, s runs, AM/PM, 上午/下午), ``elapsed`` ([h]...),
    ``general``."""
    out: list[Token] = []
    condition = False
    i, n = 0, len(section)
    while i < n:
        ch = section[i]
        if ch == '"':
            j = section.find('"', i + 1)
            j = n if j < 0 else j
            out.append(("lit", section[i + 1:j]))
            i = j + 1
        elif ch == "\\":
            out.append(("lit", section[i + 1:i + 2]))
            i += 2
        elif ch == "_":
            out.append(("lit", " " if i + 1 < n else ""))
            i += 2
        elif ch == "*":
            fill = section[i + 1:i + 2]
            if fill not in (" ", ""):
                raise _Unsupported(f"fill {fill!r}")
            i += 2
        elif ch == "[":
            j = section.find("]", i)
            j = n if j < 0 else j
            inner = section[i + 1:j]
            i = j + 1
            low = inner.lower()
            if re.fullmatch(r"h+|m+|s+", low):
                out.append(("elapsed", low))
            elif low.startswith("$"):
                symbol, _, locale = inner[1:].partition("-")
                if locale.upper().startswith("F"):  # [$-F800]: the system's own long date or time
                    raise _Unsupported(inner)
                if symbol:
                    out.append(("lit", symbol))
            elif re.fullmatch(r"(black|white|red|green|blue|yellow|magenta|cyan|color\s*\d+)", low):
                pass  # a colour: the text is the same
            elif re.match(r"[<>=]", inner):
                condition = True
            else:  # [DBNum1] and other tags whose text is not known
                raise _Unsupported(inner)
        elif ch in "0#?":
            out.append(("digit", ch))
            i += 1
        elif ch in ".,%/@":
            out.append((ch, ch))
            i += 1
        elif ch in "eE" and section[i + 1:i + 2] in ("+", "-"):
            out.append(("E", section[i + 1]))
            i += 2
        elif section[i:i + 7].lower() == "general":
            out.append(("general", ""))
            i += 7
        elif section[i:i + 5].upper() == "AM/PM":
            out.append(("date", "AM/PM"))
            i += 5
        elif section[i:i + 3].upper() == "A/P":
            out.append(("date", section[i:i + 3]))
            i += 3
        elif section.startswith("上午/下午", i):
            out.append(("date", "上午/下午"))
            i += 5
        elif ch in _DATE_CHARS:
            j = i
            while j < n and section[j].lower() == ch.lower():
                j += 1
            out.append(("date", section[i:j].lower()))
            i = j
        else:
            out.append(("lit", ch))
            i += 1
    return out, condition


@lru_cache(maxsize=1024)
def _parsed(code: str) -> tuple[list[list[Token]], bool] | None:
    """The sections of ``code`` as tokens, and whether any is a date section (None: unsupported)."""
    try:
        sections = []
        for part in _sections(code):
            tokens, condition = _tokens(part)
            if condition:
                raise _Unsupported("condition")
            sections.append(tokens)
    except _Unsupported:
        return None
    if len(sections) > 4:
        return None
    dated = any(k in ("date", "elapsed") for k, _ in sections[0])
    return sections, dated


# -- rendering ---------------------------------------------------------------------------------------

def render(value: Any, code: str | None, *, date1904: bool = False) -> str | None:
    """The text Excel shows for ``value`` (a number, or the date, time or duration a reader made of
    one) in a cell of format ``code``; None when it cannot be known exactly (see the module)."""
    if code is None or plain(code):
        return None
    parsed = _parsed(code)
    if parsed is None:
        return None
    sections, dated = parsed
    serial = _serial(value, date1904)
    if serial is None or (isinstance(serial, float) and not math.isfinite(serial)):
        return None
    try:
        if dated:
            return _date(serial, sections[0], date1904)
        if isinstance(serial, Fraction):
            raise _Unsupported("a date in a number format")
        return _number_sections(serial, sections)
    except (_Unsupported, OverflowError, ValueError, ArithmeticError):  # beyond what a cell can show
        return None


def _serial(value: Any, date1904: bool) -> float | Fraction | None:
    """A value as the serial number Excel stores (exact for the dates and times a reader made)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.timedelta):
        return Fraction(value // dt.timedelta(microseconds=1), 86_400_000_000)
    if isinstance(value, dt.datetime):
        base = dt.datetime.combine(_EPOCH_1904 if date1904 else EXCEL_EPOCH, dt.time())
        days = Fraction((value.replace(tzinfo=None) - base) // dt.timedelta(microseconds=1), 86_400_000_000)
        if not date1904 and days < 61:
            days -= 1  # before 1900-03-01: Excel counts its phantom 1900-02-29
        return days
    if isinstance(value, dt.date):
        return _serial(dt.datetime.combine(value, dt.time()), date1904)
    if isinstance(value, dt.time):
        return Fraction(((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond,
                        86_400_000_000)
    return None


def _decimal(value: float) -> Decimal:
    """``value`` to Excel's 15 significant digits."""
    return Decimal(format(value, f".{_SIGNIFICANT}g"))


def _number_sections(value: float, sections: list[list[Token]]) -> str:
    if any(k in ("date", "elapsed") for s in sections for k, _ in s):
        raise _Unsupported("date part in a later section")
    section, sign = sections[0], "-" if value < 0 else ""
    if value < 0 and len(sections) >= 2:
        section, sign = sections[1], ""  # the negative section says how a negative number looks
    elif value == 0 and len(sections) >= 3:
        section = sections[2]
    text = _number(abs(value), section)
    return sign + text if _has_digits(section) else text


def _has_digits(section: list[Token]) -> bool:
    return any(k == "digit" for k, _ in section)


def _number(value: float, section: list[Token]) -> str:
    """A non-negative number in one number section."""
    kinds = [k for k, _ in section]
    if "general" in kinds or "@" in kinds:
        raise _Unsupported("General or text inside a custom format")
    if not _has_digits(section):  # text only, e.g. a zero section "-"
        return "".join(t for k, t in section if k in ("lit", ".", ",", "%"))
    if "/" in kinds:
        return _fraction(value, section)
    if "E" in kinds:
        return _scientific(value, section)
    number = _decimal(value) * 100 ** kinds.count("%")
    point = kinds.index(".") if "." in kinds else None
    int_slots = [i for i, k in enumerate(kinds) if k == "digit" and (point is None or i < point)]
    last = max((i for i, k in enumerate(kinds) if k == "digit"), default=-1)
    grouping, scale = False, 0
    for i, k in enumerate(kinds):
        if k != ",":
            continue
        if int_slots and int_slots[0] < i < int_slots[-1]:
            grouping = True
        elif i > last or (point is not None and int_slots and int_slots[-1] < i < point):
            scale += 1  # a comma after the digits divides by a thousand
    if scale:
        number = number.scaleb(-3 * scale)
    decimals = sum(1 for i, k in enumerate(kinds) if k == "digit" and point is not None and i > point)
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    whole, _, frac = format(rounded, "f").partition(".")
    return _fill(section, point, whole.lstrip("0"), frac, grouping)


_EMPTY = {"0": "0", "#": "", "?": " "}


def _fill(section: list[Token], point: int | None, whole: str, frac: str, grouping: bool) -> str:
    """Digits into the placeholders: the integer part right to left (the leftmost placeholder takes
    any digits left over), the fraction left to right."""
    int_end = point if point is not None else len(section)
    int_slots = [i for i in range(int_end) if section[i][0] == "digit"]
    out = [t if k in ("lit", ".", "%") else "" for k, t in section]
    if int_slots and grouping:
        zeros = [n for n, i in enumerate(int_slots) if section[i][1] == "0"]
        if any(section[i][1] == "?" for i in int_slots):
            raise _Unsupported("? with grouping")
        if any(section[i][0] == "lit" for i in range(int_slots[0], int_slots[-1])):
            raise _Unsupported("text between grouped digits")
        text = whole.rjust(len(int_slots) - zeros[0] if zeros else 0, "0")
        out[int_slots[0]] = f"{int(text):,}" if text else ""
    elif int_slots:
        pending = list(whole)
        for n, i in enumerate(reversed(int_slots)):
            if n == len(int_slots) - 1:  # the leftmost takes the rest
                out[i] = "".join(pending) or _EMPTY[section[i][1]]
            else:
                out[i] = pending.pop() if pending else _EMPTY[section[i][1]]
    elif whole:  # no integer placeholder (".00"): Excel shows the whole part all the same
        if point is None:
            raise _Unsupported("no placeholder")
        out[point] = whole + out[point]
    if point is not None:
        frac_slots = [i for i in range(point + 1, len(section)) if section[i][0] == "digit"]
        chars = list(frac.ljust(len(frac_slots), "0"))
        # trailing zeros: '#' drops them, '?' shows a space, '0' keeps them
        for n in range(len(frac_slots) - 1, -1, -1):
            i = frac_slots[n]
            if chars[n] != "0" or section[i][1] == "0":
                break
            chars[n] = "" if section[i][1] == "#" else " "
        for n, i in enumerate(frac_slots):
            out[i] = chars[n]
    return "".join(out)


def _scientific(value: float, section: list[Token]) -> str:
    kinds = [k for k, _ in section]
    e = kinds.index("E")
    mantissa, exponent, sign = section[:e], section[e + 1:], section[e][1]
    m_kinds = [k for k, _ in mantissa]
    point = m_kinds.index(".") if "." in m_kinds else None
    int_slots = [i for i, k in enumerate(m_kinds) if k == "digit" and (point is None or i < point)]
    if not int_slots:
        raise _Unsupported("no integer digit before E")
    decimals = sum(1 for i, k in enumerate(m_kinds) if k == "digit" and point is not None and i > point)
    step = len(int_slots) if len(int_slots) > 1 and mantissa[int_slots[0]][1] == "#" else 1
    number, quantum = _decimal(value), Decimal(1).scaleb(-decimals)
    power, scaled = 0, Decimal(0)
    if number != 0:
        power = number.adjusted() // step * step
        scaled = number.scaleb(-power).quantize(quantum, rounding=ROUND_HALF_UP)
        if scaled >= Decimal(10) ** step:
            power += step
            scaled = number.scaleb(-power).quantize(quantum, rounding=ROUND_HALF_UP)
    whole, _, frac = format(scaled, "f").partition(".")
    head = _fill(mantissa, point, whole.lstrip("0"), frac, False)
    width = sum(1 for k, t in exponent if k == "digit" and t == "0")
    digits = str(abs(power)).rjust(width, "0")
    tail = "".join(t for k, t in exponent if k == "lit")
    return f"{head}E{'-' if power < 0 else ('+' if sign == '+' else '')}{digits}{tail}"


def _fraction(value: float, section: list[Token]) -> str:
    kinds = [k for k, _ in section]
    slash = kinds.index("/")
    before, after = section[:slash], section[slash + 1:]
    den_slots = [t for k, t in after if k == "digit"]
    fixed = "".join(t for k, t in after if k == "lit" and t.isdigit())
    if bool(den_slots) == bool(fixed):
        raise _Unsupported("denominator")
    # the numerator is the run of placeholders right before the slash; placeholders before it, set
    # apart by text, are the whole part
    num_start = slash
    while num_start > 0 and kinds[num_start - 1] == "digit":
        num_start -= 1
    width = slash - num_start
    if width == 0:
        raise _Unsupported("no numerator")
    mixed = any(k == "digit" for k in kinds[:num_start])
    number = Fraction(_decimal(value))
    whole = int(number) if mixed else 0
    rest = number - whole
    if fixed:
        den = int(fixed)
        if den <= 0:
            raise _Unsupported("denominator 0")
        num = math.floor(rest * den + Fraction(1, 2))
    else:
        frac = rest.limit_denominator(10 ** len(den_slots) - 1)
        num, den = frac.numerator, frac.denominator
    if num == den and mixed:  # rounded up to a whole
        whole, num = whole + 1, 0
    head = _fill(before[:num_start], None, str(whole) if whole else "", "", False) if mixed else ""
    tail = "".join(t for k, t in after if k == "lit" and not t.isdigit())
    if num == 0:
        if not mixed:
            raise _Unsupported("zero as an improper fraction")
        if not whole:
            return "0"
        return head + " " * (width + 1 + max(len(den_slots), len(fixed))) + tail
    denominator = str(den).ljust(len(den_slots)) if den_slots else str(den)
    return f"{head}{str(num).rjust(width)}/{denominator}{tail}"


# -- dates and times ---------------------------------------------------------------------------------

def _date(serial: float | Fraction, section: list[Token], date1904: bool) -> str:
    if serial < 0 or serial >= _LAST_SERIAL:  # Excel shows ##### for these
        raise _Unsupported("a date Excel cannot show")
    tokens = _date_tokens(section)
    sub = max((len(t) for k, t in tokens if k == "frac"), default=0)
    if sub > 3:
        raise _Unsupported("more than milliseconds")
    # Excel keeps a time to the millisecond; then the smallest unit shown rounds when it is
    # seconds (or their decimals), while minutes and hours are cut
    exact = serial if isinstance(serial, Fraction) else Fraction(Decimal(repr(serial)))
    ms = math.floor(exact * 86_400_000 + Fraction(1, 2))
    step = 10 ** (3 - sub)
    if sub or any(k in ("date", "elapsed") and t[0] == "s" for k, t in tokens):
        ms = (ms + step // 2) // step * step
    else:
        ms -= ms % 1000
    days, rest = divmod(ms, 86_400_000)
    seconds, fraction = divmod(rest, 1000)
    fraction //= step
    day: dt.date | None = None
    if any(k == "date" and t[0] in "ymd" for k, t in tokens):
        if date1904:
            day = _EPOCH_1904 + dt.timedelta(days=days)
        elif days in (0, 60):
            raise _Unsupported("a day that never was")
        elif days > 60:
            day = EXCEL_EPOCH + dt.timedelta(days=days)
        else:
            day = dt.date(1899, 12, 31) + dt.timedelta(days=days)
    hour, minute, second = seconds // 3600, seconds // 60 % 60, seconds % 60
    twelve = any(k == "date" and (t in ("AM/PM", "上午/下午") or t.upper() == "A/P") for k, t in tokens)
    out = []
    for k, t in tokens:
        if k == "lit":
            out.append(t)
        elif k == "frac":
            out.append("." + str(fraction).rjust(sub, "0")[:len(t)])
        elif k == "elapsed":
            total = days * 86400 + seconds
            out.append(str({"h": total // 3600, "m": total // 60, "s": total}[t[0]]).rjust(len(t), "0"))
        elif k == "minute":
            out.append(str(minute).rjust(len(t), "0"))
        elif t == "上午/下午":
            out.append("下午" if hour >= 12 else "上午")
        elif t == "AM/PM" or t.upper() == "A/P":  # its words follow the reader's language
            raise _Unsupported(t)
        elif t[0] == "y" and day is not None:
            out.append(f"{day.year % 100:02d}" if len(t) <= 2 else f"{day.year:04d}")
        elif t[0] == "m" and day is not None and len(t) <= 2:
            out.append(str(day.month).rjust(len(t), "0"))
        elif t[0] == "d" and day is not None and len(t) <= 2:
            out.append(str(day.day).rjust(len(t), "0"))
        elif t[0] == "h":
            out.append(str((hour % 12 or 12) if twelve else hour).rjust(min(len(t), 2), "0"))
        elif t[0] == "s":
            out.append(str(second).rjust(min(len(t), 2), "0"))
        else:  # names of months and weekdays, eras
            raise _Unsupported(t)
    return "".join(out)


def _date_tokens(section: list[Token]) -> list[Token]:
    """A date section's tokens with ``m`` resolved (minutes right after an hour or right before a
    second, text between allowed) and ``.0`` after seconds read as fractions of a second."""
    out: list[Token] = []
    i = 0
    while i < len(section):
        k, t = section[i]
        if k == "." and out and out[-1][0] in ("date", "elapsed") and out[-1][1][0] == "s" \
                and section[i + 1:i + 2] == [("digit", "0")]:
            j = i + 1
            while j < len(section) and section[j] == ("digit", "0"):
                j += 1
            out.append(("frac", "0" * (j - i - 1)))
            i = j
            continue
        if k in ("digit", "E", "general", "@"):
            raise _Unsupported("number parts in a date")
        out.append((k, t) if k in ("date", "elapsed") else ("lit", t))
        i += 1
    parts = [n for n, (k, _) in enumerate(out) if k in ("date", "elapsed")]
    resolved: list[Token] = []
    for n, (k, t) in enumerate(out):
        if k == "date" and t[0] == "m" and len(t) <= 2:
            prev = next((out[j][1] for j in reversed(parts) if j < n), "")
            following = next((out[j][1] for j in parts if j > n), "")
            if prev[:1] == "h" or following[:1] == "s":
                resolved.append(("minute", t))
                continue
        resolved.append((k, t))
    return resolved
