"""The xlsx reader against calamine and openpyxl: every cell of generated workbooks reads the same,
by the quick way and by the parser, from clients' own ways of writing a sheet."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from xltemplate.xlsx.reader import RawBook, open_book

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["General", "0", "0.00", "#,##0.00", "0%", "0.00%", "0.00E+00", "# ?/?", "yyyy-mm-dd", "yyyy/m/d h:mm",
           'yyyy"年"m"月"', "h:mm", "[h]:mm:ss", "@", '"¥"#,##0.00;"¥"\\-#,##0.00']
PIECE = st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
                  st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                  st.sampled_from(["\n", "\t", "&", "<", ">", '"', "'", "_x0041_", "😀", "\u3000", "]]>", "-->"]))
TEXT = st.lists(PIECE, min_size=1, max_size=20).map("".join).filter(
    lambda s: s.strip() and not s.startswith(("=", "'")))
NUMBER = st.one_of(st.integers(-10**9, 10**9), st.floats(-1e12, 1e12, allow_nan=False).filter(lambda x: x == 0 or
                                                                                             abs(x) > 1e-9))
VALUE = st.one_of(TEXT, NUMBER, st.booleans(),
                  st.tuples(st.floats(1, 80000, allow_nan=False), st.sampled_from(FORMATS)))
GRID = st.dictionaries(st.tuples(st.integers(0, 12), st.integers(0, 6)), VALUE, min_size=1, max_size=40)


def xlsxwriter_book(cells: dict[tuple[int, int], Any], formulas: dict[tuple[int, int], str] | None = None) -> bytes:
    """Shared strings, the way Excel, WPS and our writer store text."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet("表一")
    formats = {code: book.add_format({"num_format": code}) for code in FORMATS}
    for (row, col), value in cells.items():
        if isinstance(value, tuple):
            sheet.write_number(row, col, value[0], formats[value[1]])
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, str):
            sheet.write_string(row, col, value)
        else:
            sheet.write_number(row, col, value)
    for (row, col), formula in (formulas or {}).items():
        sheet.write_formula(row, col, formula, None, 7)
    book.close()
    return out.getvalue()


def openpyxl_book(cells: dict[tuple[int, int], Any]) -> bytes:
    """Inline strings, formulas without cached values: the way openpyxl writes."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "表一"
    for (row, col), value in cells.items():
        cell = sheet.cell(row=row + 1, column=col + 1)
        if isinstance(value, tuple):
            cell.value, cell.number_format = value
        else:
            cell.value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ours(data: bytes, rows: int = 13, cols: int = 7) -> list[list[Any]]:
    book = open_book("x.xlsx", data)
    return [book.values("表一", [(r, c) for c in range(cols)]) for r in range(rows)]


def calamine(data: bytes, rows: int = 13, cols: int = 7) -> list[list[Any]]:
    grid = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("表一").to_python(skip_empty_area=False)
    return [[(grid[r][c] if r < len(grid) and c < len(grid[r]) and grid[r][c] != "" else None) for c in range(cols)]
            for r in range(rows)]


def same(a: Any, b: Any) -> bool:
    """Equal values; dates and times to the millisecond (readers round the serial differently)."""
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime | dt.date):
        b = b if isinstance(b, dt.datetime) else dt.datetime.combine(b, dt.time())
        return abs((a - b).total_seconds()) < 0.002
    if isinstance(a, dt.time) and isinstance(b, dt.time):
        return abs((dt.datetime.combine(dt.date.min, a) - dt.datetime.combine(dt.date.min, b)).total_seconds()) < 0.002
    if isinstance(a, dt.timedelta) and isinstance(b, dt.timedelta):
        return abs((a - b).total_seconds()) < 0.002
    if isinstance(a, float | int) and isinstance(b, float | int) and bool not in (type(a), type(b)):
        return a == b
    return a == b and type(a) is type(b)


def assert_same(mine: list[list[Any]], theirs: list[list[Any]]) -> None:
    for r, (row_a, row_b) in enumerate(zip(mine, theirs, strict=True)):
        for c, (a, b) in enumerate(zip(row_a, row_b, strict=True)):
            assert same(a, b), (r, c, a, b)


@SETTINGS
@given(GRID)
def test_every_cell_reads_as_calamine_reads_it(cells) -> None:
    data = xlsxwriter_book(cells)
    assert_same(ours(data), calamine(data))


@SETTINGS
@given(GRID)
def test_every_cell_of_an_openpyxl_copy_reads_as_openpyxl_and_calamine_read_it(cells) -> None:
    data = openpyxl_book(cells)
    mine = ours(data)
    assert_same(mine, calamine(data))
    sheet = openpyxl.load_workbook(io.BytesIO(data), data_only=True)["表一"]
    theirs = [[sheet.cell(row=r + 1, column=c + 1).value for c in range(7)] for r in range(13)]
    for r in range(13):
        for c in range(7):
            a, b = mine[r][c], theirs[r][c]
            if isinstance(b, dt.time) and isinstance(a, dt.datetime):  # openpyxl: a time of day for h:mm
                continue
            if isinstance(b, str) and "_x" in b:  # openpyxl neither escapes nor decodes _xHHHH_ in inline strings
                continue
            assert same(a, b) or (isinstance(a, float) and a == b), (r, c, a, b)


def test_a_number_no_date_can_be_reads_as_the_number() -> None:
    """In a date or duration format, a number beyond what Excel shows (it shows #####) is the number."""
    data = xlsxwriter_book({(0, 0): (1e300, "yyyy-mm-dd"), (1, 0): (1e12, "[h]:mm:ss"), (2, 0): (-5.0, "h:mm")})
    assert [row[0] for row in ours(data)[:3]] == [1e300, 1e12, -5.0]


def test_the_days_around_excel_s_phantom_29_february_read_as_calamine_reads_them() -> None:
    """Serial 60 is 1900-02-29, a day that never was (the property above found the reader a day
    off for 60 to 61)."""
    cells = {(r, 0): (serial, "yyyy-mm-dd") for r, serial in enumerate((1, 59, 59.5, 60, 60.5, 61, 61.25))}
    data = xlsxwriter_book(cells)
    assert_same(ours(data), calamine(data))


# -- a sheet as other clients write it: the parser reads what the quick way cannot --------------------

def _rewrite(data: bytes, edit: Any) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info.filename, edit(body) if info.filename == "xl/worksheets/sheet1.xml" else body)
    return out.getvalue()


def _prefixed(xml: bytes) -> bytes:
    """The main namespace under a prefix, as the .NET Open XML SDK writes it."""
    xml = re.sub(rb"<(/?)(?!\?)([A-Za-z])", rb"<\1x:\2", xml)
    return xml.replace(b'xmlns="http://schemas', b'xmlns:x="http://schemas', 1)


def _style_first(xml: bytes) -> bytes:
    """Each cell's style before its reference."""
    return re.sub(rb'<c r="([A-Z]+\d+)" s="(\d+)"', rb'<c s="\2" r="\1"', xml)


def _no_references(xml: bytes) -> bytes:
    """Cells and rows without their references (they are then counted)."""
    return re.sub(rb' r="[A-Z]*\d+"', b"", re.sub(rb' spans="[^"]*"', b"", xml))


def _commented(xml: bytes) -> bytes:
    """A comment in the cell data that looks like a cell: a parser skips it."""
    return xml.replace(b"<sheetData>", b'<sheetData><!-- <c r="A1" t="inlineStr"><is><t>no</t></is></c> -->', 1)


def _extension(xml: bytes) -> bytes:
    """An extension list inside a row, holding what looks like a cell."""
    return xml.replace(b"</row>", b'<extLst><ext uri="x"><c r="B2"><v>9</v></c></ext></extLst></row>', 1)


@pytest.mark.parametrize("variant", [_prefixed, _style_first, _no_references, _commented, _extension])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=GRID)
def test_a_sheet_written_otherwise_reads_the_same(variant, cells) -> None:
    data = xlsxwriter_book(cells)
    expected = ours(data)
    changed = _rewrite(data, variant)
    if variant is _no_references:  # only what can be counted: every row and cell written, from A1
        full = {(r, c): cells.get((r, c), "x") for r in range(13) for c in range(7)}
        data = xlsxwriter_book(full)
        expected = ours(data)
        changed = _rewrite(data, variant)
    assert_same(ours(changed), expected)


def test_the_quick_way_and_the_parser_agree_on_rich_text_escapes_and_formulas() -> None:
    """Rich text runs joined and phonetic runs left out, entities, character references and
    ``_xHHHH_`` escapes decoded, line ends normalised; formula cells give their cached value to
    labels and none to fields."""
    data = xlsxwriter_book({(0, 0): "x"}, {(1, 1): "=1+6"})
    cell = (b'<c r="A1" t="inlineStr"><is><r><t>\xe9\x87\x91</t></r><r><rPr><b/></rPr><t xml:space="preserve"> '
            b'a&amp;b&#x4E2D;_x000D_\r\n</t></r><rPh sb="0" eb="1"><t>jin</t></rPh></is></c>')
    changed = _rewrite(data, lambda xml: re.sub(rb'<c r="A1"[^>]*>.*?</c>', cell, xml, count=1))
    for variant in (changed, _rewrite(changed, _commented)):  # quick, then the parser
        book = open_book("x.xlsx", variant)
        assert book.value("表一", 0, 0) == "金 a&b中\r\n"
        assert book.value("表一", 1, 1) == 7.0  # a formula's cached value, as a label reads it


def test_a_formula_s_cached_value_is_never_a_field_s(wuhai, make_filled, seed0) -> None:
    """A clerk's formula with a cached result that would pass: the value is not taken, the
    formula is reported."""
    from xltemplate.collect.importer import import_workbook

    path = make_filled(wuhai, seed0)
    f = wuhai.by_pointer["/funding/request"]
    data = path.read_bytes()
    src = zipfile.ZipFile(io.BytesIO(data))
    sheet = f"xl/worksheets/sheet{[s.name for s in wuhai.sheets].index(f.sheet) + 1}.xml"
    xml = src.read(sheet)
    xml = re.sub(rf'<c r="{f.cell}"( s="\d+")?[^>]*?(/>|>.*?</c>)'.encode(),
                 rf'<c r="{f.cell}"\1><f>3+4</f><v>7</v></c>'.encode(), xml, count=1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, xml if info.filename == sheet else src.read(info.filename))
    result = import_workbook("x.xlsx", data=out.getvalue())
    assert "request" not in result.data["funding"]
    assert [(e.cell, e.value) for e in result.errors if e.code == "formula"] == [(f.cell, "=3+4")]


def test_a_sheet_is_inflated_only_up_to_its_cells_and_whole_when_the_parser_needs_it(wuhai, make_filled,
                                                                                      seed0) -> None:
    from xltemplate.xlsx.guard import identify

    data = make_filled(wuhai, seed0).read_bytes()
    kind = identify(data)
    part = "xl/worksheets/sheet2.xml"
    assert part in kind.cut and kind.parts[part].find(b"</sheetData>") > 0
    assert len(kind.parts[part]) < zipfile.ZipFile(io.BytesIO(data)).getinfo(part).file_size
    whole = kind.full(part)
    assert whole is not None and whole == zipfile.ZipFile(io.BytesIO(data)).read(part)
    book = open_book("x.xlsx", data)
    cells = book.sheet(wuhai.sheets[1].name)
    assert cells is not None and cells.quick
    quick = book.values(wuhai.sheets[1].name, [(r, c) for r in range(40) for c in range(8)])
    cells.quick = False  # the parser, on the whole part
    assert book.values(wuhai.sheets[1].name, [(r, c) for r in range(40) for c in range(8)]) == quick
    assert len(cells.xml) == len(whole)


def test_the_metadata_sheet_is_read_when_the_properties_are_gone(wuhai, make_filled, seed0) -> None:
    path = make_filled(wuhai, seed0, submission_id="S-9")
    src = zipfile.ZipFile(path)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "docProps/custom.xml":
                dst.writestr(info.filename, src.read(info.filename))
    book: RawBook = open_book("x.xlsx", out.getvalue())
    assert book.meta["submission_id"] == "S-9" and book.meta["form_id"] == wuhai.id
