"""The number-format renderer: the text Excel shows for a number, or None when it cannot be known."""

from __future__ import annotations

import datetime as dt

import pytest

from xltemplate.form import numfmt
from xltemplate.form.numfmt import BUILTIN, render

# (value, format code, what Excel shows): what a clerk types, and the format Excel (zh-CN) or WPS
# applies to the cell when it recognises the typing
SHOWN = [
    # percent: typing 95% gives 0.95 in 0% (id 9); 12.5% gives 0.00% (id 10)
    (0.95, BUILTIN[9], "95%"), (1, BUILTIN[9], "100%"), (0.125, BUILTIN[10], "12.50%"), (0.955, "0.0%", "95.5%"),
    (-0.05, BUILTIN[9], "-5%"), (1.5, "0%", "150%"),
    # thousands: typing 1,234.50 gives #,##0.00 (id 4); 1,234 gives #,##0 (id 3)
    (1234.5, BUILTIN[4], "1,234.50"), (1234, BUILTIN[3], "1,234"), (1234567.891, BUILTIN[4], "1,234,567.89"),
    (-1234.5, BUILTIN[4], "-1,234.50"), (0.5, BUILTIN[3], "1"), (0, BUILTIN[4], "0.00"),
    (999.995, BUILTIN[4], "1,000.00"),
    # currency: ¥1,234.50 gives the locale's currency format; WPS writes it with [$¥-804]
    (1234.5, BUILTIN[7], "¥1,234.50"), (-1234.5, BUILTIN[7], "¥-1,234.50"), (1234.5, BUILTIN[5], "¥1,235"),
    (1234.5, "[$¥-804]#,##0.00", "¥1,234.50"), (-1234.5, '"¥"#,##0.00;[Red]"¥"\\-#,##0.00', "¥-1,234.50"),
    (1234.5, '"$"#,##0.00_);("$"#,##0.00)', "$1,234.50 "), (-1234.5, '"$"#,##0.00_);("$"#,##0.00)', "($1,234.50)"),
    (1234.5, '#,##0.00"元"', "1,234.50元"),
    # scientific: typing 1.5E+3 gives 0.00E+00 (id 11)
    (1500, BUILTIN[11], "1.50E+03"), (0.00012, BUILTIN[11], "1.20E-04"), (-123456, BUILTIN[11], "-1.23E+05"),
    (0, BUILTIN[11], "0.00E+00"), (12345, BUILTIN[48], "12.3E+3"), (9.999, "0.0E+0", "1.0E+1"),
    # fractions: typing 0 1/2 gives # ?/? (id 12); 1 3/16 gives # ??/?? (id 13)
    (0.5, BUILTIN[12], " 1/2"), (1.5, BUILTIN[12], "1 1/2"), (2, BUILTIN[12], "2    "), (0, BUILTIN[12], "0"),
    (1.1875, BUILTIN[13], "1  3/16"), (0.3333333333, BUILTIN[13], "  1/3 "), (1.25, "# ?/4", "1 1/4"),
    (2.5, "?/?", "5/2"),
    # fixed decimals and padding, rounding half away from zero (as Excel's ROUND)
    (2.675, "0.00", "2.68"), (2.5, "0", "3"), (-2.5, "0", "-3"), (0.125, "0.00", "0.13"), (123, "00000", "00123"),
    (1.5, "#.##", "1.5"), (2, "#.##", "2."), (0.4, "#", ""), (1234567, "#,##0,", "1,235"),
    (1234567, '0.0,,"百万"', "1.2百万"),
    (0, '0.00;-0.00;"-"', "-"), (-3, '0;"负"0', "负3"), (7, "0_)", "7 "),
    # dates: the zh-CN forms of the built-in ids, and the ones WPS writes
    (44197, BUILTIN[14], "2021/1/1"), (44197, BUILTIN[27], "2021年1月"), (44197, BUILTIN[31], "2021年1月1日"),
    (44197, BUILTIN[57], "2021年1月"), (44197, BUILTIN[58], "1月1日"), (44197, 'yyyy"年"m"月";@', "2021年1月"),
    (44197.75, BUILTIN[22], "2021/1/1 18:00"), (44197, "yyyy-mm-dd", "2021-01-01"), (44197, "m/d/yy", "1/1/21"),
    (44255, "[$-804]yyyy/m/d", "2021/2/28"), (61, "yyyy-mm-dd", "1900-03-01"), (59, "yyyy-mm-dd", "1900-02-28"),
    # times
    (0.5, BUILTIN[20], "12:00"), (0.75, BUILTIN[21], "18:00:00"),
    (0.5, BUILTIN[34], "下午12时00分"), (0.25, BUILTIN[35], "上午6时00分00秒"),
    (0.5416666666666666, BUILTIN[32], "13时00分"), (1.5, BUILTIN[46], "36:00:00"), (0.0125, BUILTIN[45], "18:00"),
    (0.123456, "mm:ss.00", "57:46.60"), (44197.7534722222, BUILTIN[22], "2021/1/1 18:05"),
    (0.99999999, "h:mm:ss", "0:00:00"), (0.999994, "hh:mm", "23:59"),
]


@pytest.mark.parametrize(("value", "code", "shown"), SHOWN, ids=[f"{v}|{c}" for v, c, _ in SHOWN])
def test_a_number_shows_as_excel_shows_it(value, code, shown) -> None:
    assert render(value, code) == shown


@pytest.mark.parametrize(("value", "code", "shown"), [
    (dt.datetime(2021, 1, 1), BUILTIN[27], "2021年1月"),
    (dt.datetime(2021, 1, 1, 18, 5), BUILTIN[22], "2021/1/1 18:05"),
    (dt.time(12, 30), BUILTIN[20], "12:30"), (dt.timedelta(hours=36, minutes=5), "[h]:mm", "36:05"),
    (dt.datetime(1900, 2, 28), "yyyy-mm-dd", "1900-02-28"), (dt.date(2024, 2, 29), "yyyy/m/d", "2024/2/29"),
])
def test_a_reader_s_date_shows_as_its_serial_would(value, code, shown) -> None:
    """A reader gives dates, times and durations as Python objects: they render as their serials."""
    assert render(value, code) == shown


def test_the_1904_date_system_counts_from_1904() -> None:
    assert render(0, "yyyy-mm-dd", date1904=True) == "1904-01-01"
    assert render(44197, "yyyy-mm-dd", date1904=True) == "2025-01-02"


@pytest.mark.parametrize("code", [
    "mmm-yy", "d-mmm", "dddd", "aaaa", "h:mm AM/PM", "h:mm A/P", "[DBNum1]yyyy", "[$-F800]dddd, mmmm dd, yyyy",
    "[>100]0;0.00", "0*-", '"x"General', "e/m/d", "ggge",
])
def test_what_it_cannot_know_it_does_not_guess(code) -> None:
    """Month and weekday names follow the reader's language, Chinese numerals and the system's long
    date are not ours to reproduce: None, and the caller keeps the stored value."""
    assert render(44197.5, code) is None


@pytest.mark.parametrize("value", [0, 60, -1, 2958466, 1e300, float("inf")])
def test_days_that_never_were_are_not_shown(value) -> None:
    """Excel's phantom 1900-02-29 and its day 0, and what it shows as ##### (before 1900, after
    9999, and numbers no date can be: the property test of the importer found 1e300 raising)."""
    assert render(value, "yyyy-mm-dd") is None
    assert render(value, "[h]:mm") is None or value in (0, 60)


def test_general_and_text_are_left_to_the_caller() -> None:
    for code in ("General", "@", None, ""):
        assert numfmt.plain(code) and render(1234.5, code) is None


@pytest.mark.parametrize(("code", "kind"), [
    ("0%", "number"), ("#,##0.00", "number"), ("0.00E+00", "number"), ("yyyy/m/d", "date"), ("h:mm", "date"),
    ('yyyy"年"m"月"', "date"), ('0.0"d"', "number"), ("[h]:mm:ss", "elapsed"), ("[Red]0.00", "number"),
    ("[$-804]yyyy/m/d", "date"), ("General", "number"), ("\\d0", "number"),
])
def test_which_formats_hold_dates(code, kind) -> None:
    """As calamine and openpyxl decide: a date or time letter outside quotes, escapes and brackets."""
    assert numfmt.kind(code) == kind


def test_the_built_in_ids_are_the_chinese_ones() -> None:
    assert numfmt.code_of(14, {}) == "yyyy/m/d" and numfmt.code_of(57, {}) == 'yyyy"年"m"月"'
    assert numfmt.code_of(164, {164: "0.0%"}) == "0.0%"
    assert numfmt.code_of(42, {}) is None  # accounting: not known here
