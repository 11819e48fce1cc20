"""What the clerk saw is what is read: a number typed into a formatted cell of a text field is the
text the cell showed (95%, 1,234.50, 2021年1月); a number field keeps the number, and a schema's
``x-num-format`` makes the 汇总 show it as the clerk typed it."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import write_return

from xltemplate.collect import batch
from xltemplate.collect.importer import import_workbook
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel

VALUE = "/indicators/annual/output/quantity/0/value"  # 指标值: text, "≥95%" and the like
CONTACT = "/unit/contact"
OVERVIEW = "/project/overview"

# (text field, number typed, the format Excel or WPS gave the cell, what the cell showed)
TYPED = [
    (VALUE, 0.95, "0%", "95%"), (VALUE, 1, "0%", "100%"), (VALUE, 0.125, "0.00%", "12.50%"),
    (CONTACT, 1234.5, "#,##0.00", "1,234.50"), (CONTACT, 1234, "#,##0", "1,234"),
    (CONTACT, 1234.5, '"¥"#,##0.00;"¥"\\-#,##0.00', "¥1,234.50"), (CONTACT, 1234.5, "[$¥-804]#,##0.00", "¥1,234.50"),
    (OVERVIEW, 1500, "0.00E+00", "1.50E+03"), (OVERVIEW, 1.5, "# ?/?", "1 1/2"), (OVERVIEW, 0.75, "# ??/??", "3/4"),
    (OVERVIEW, 44197, 'yyyy"年"m"月";@', "2021年1月"), (OVERVIEW, 44197, "yyyy/m/d", "2021/1/1"),
    (OVERVIEW, 0.5625, "h:mm", "13:30"),
]


def typed_in(path: Path, model: FormModel, values: dict[str, tuple[Any, str]], builtin: dict[str, int] | None = None,
             out: Path | None = None) -> Path:
    """Numbers typed into cells that a client then formatted; ``builtin`` gives a format by its
    built-in id only (no definition in the file), as Excel writes the locale's own formats."""
    wb = openpyxl.load_workbook(path)
    for pointer, (value, code) in values.items():
        f = model.by_pointer[pointer]
        cell = wb[f.sheet].cell(row=f.row + 1, column=f.col + 1)
        cell.value, cell.number_format = value, code
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    for code, fid in (builtin or {}).items():
        escaped = code.replace("&", "&amp;").replace('"', "&quot;").encode()
        m = re.search(rb'<numFmt numFmtId="(\d+)" formatCode="' + re.escape(escaped) + rb'"\s*/>',
                      zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml"))
        if m is None:  # openpyxl wrote it by its built-in id already
            continue

        def edit(name: str, part: bytes, m: re.Match[bytes] = m, fid: int = fid) -> bytes:
            if name != "xl/styles.xml":
                return part
            part = part.replace(m.group(0), b"")
            return part.replace(b'numFmtId="' + m.group(1) + b'"', b'numFmtId="%d"' % fid)
        data = _rezip(data, edit)
    out = out or path
    out.write_bytes(data)
    return out


def _rezip(data: bytes, edit: Any) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return buf.getvalue()


def _get(data: dict[str, Any], pointer: str) -> Any:
    from xltemplate.form.values import get

    return get(data, pointer, None)


@pytest.mark.parametrize(("pointer", "value", "code", "shown"), TYPED, ids=[f"{c}" for _, _, c, _ in TYPED])
def test_a_text_field_gets_the_text_its_cell_showed(wuhai, make_filled, seed0, pointer, value, code, shown) -> None:
    path = typed_in(make_filled(wuhai, seed0), wuhai, {pointer: (value, code)})
    result = import_workbook(path)
    assert _get(result.data, pointer) == shown
    assert result.notes == []


@pytest.mark.parametrize(("fid", "code", "value", "shown"), [
    (9, "0%", 0.95, "95%"), (4, "#,##0.00", 1234.5, "1,234.50"), (14, "yyyy-mm-dd", 44197, "2021/1/1"),
    (57, 'yyyy"年"m"月"', 44197, "2021年1月"), (31, 'yyyy"年"m"月"d"日"', 44197, "2021年1月1日"),
    (58, 'm"月"d"日"', 44197, "1月1日"), (11, "0.00E+00", 1500, "1.50E+03"), (12, "# ?/?", 0.5, "1/2"),
    (7, '"¥"#,##0.00', 1234.5, "¥1,234.50"), (22, "yyyy-mm-dd h:mm", 44197.75, "2021/1/1 18:00"),
])
def test_a_built_in_format_shows_as_chinese_excel_shows_it(wuhai, make_filled, seed0, fid, code, value, shown) -> None:
    """Excel writes the formats it applies by their built-in ids, with no definition in the file:
    the ids whose look depends on the locale are read as Chinese Excel and WPS show them."""
    path = typed_in(make_filled(wuhai, seed0), wuhai, {VALUE: (value, code)}, builtin={code: fid})
    assert b"numFmtId=\"%d\"" % fid in zipfile.ZipFile(path).read("xl/styles.xml")
    assert _get(import_workbook(path).data, VALUE) == shown


def test_a_format_that_cannot_be_rendered_keeps_the_stored_value_and_says_so(wuhai, make_filled, seed0,
                                                                             tmp_path) -> None:
    """Chinese numerals ([DBNum1]) are not ours to reproduce: the number as stored, and a note for
    staff naming the cell and the format, through the import into the database."""
    path = typed_in(make_filled(wuhai, seed0), wuhai, {VALUE: (0.95, "[DBNum1]0%")})
    result = import_workbook(path)
    f = wuhai.by_pointer[VALUE]
    assert _get(result.data, VALUE) == "0.95"
    [note] = result.notes
    assert note["code"] == "num_format_kept" and f.cell in note["message"] and "[DBNum1]0%" in note["message"]
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    seen: list[Any] = []
    batch.run([path], store=store, jobs=1, on_done=lambda d, o: seen.append(d.notes))
    assert [n["code"] for n in seen[0]] == ["num_format_kept"]
    with store.engine.connect() as conn:
        import sqlalchemy as sa

        stored = conn.execute(sa.select(store.submissions.c.notes)).scalar_one()
    assert stored[0]["value"] == "0.95"
    store.dispose()


def test_a_number_field_keeps_the_number_and_a_date_in_it_is_still_reported(wuhai, make_filled, seed0) -> None:
    path = typed_in(make_filled(wuhai, seed0), wuhai, {"/funding/request": (0.95, "0%"),
                                                       "/funding/carryover": (44197, "yyyy/m/d")})
    result = import_workbook(path)
    assert result.data["funding"]["request"] == 0.95
    assert result.data["funding"]["carryover"] == "2021-01-01 00:00:00"
    assert any(e.code == "type" and e.pointer == "/funding/carryover" for e in result.errors)


# -- x-num-format: a number field typed as a percentage, shown so in the 汇总 ---------------------------

@pytest.fixture
def percent_form(tmp_path: Path) -> FormModel:
    """The bundled form with 本年度安排其他资金 given as a percentage (``x-num-format: 0%``)."""
    from xltemplate.form.forms import load_form

    root = Path(__file__).parent.parent
    schema = json.loads((root / "schemas" / "wuhai-perf-target.schema.json").read_text(encoding="utf-8"))
    schema["x-form"]["id"] = "percent-form"
    schema["properties"]["funding"]["properties"]["other"] = {
        "title": "本年度安排其他资金", "type": "number", "minimum": 0, "x-num-format": "0%"}
    path = tmp_path / "percent-form.schema.json"
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    layout = (root / "templates" / "wuhai-perf-target.layout.json").read_text(encoding="utf-8")
    (tmp_path / "percent-form.layout.json").write_text(layout, encoding="utf-8")
    return load_form(path)


def test_a_percent_field_reads_a_percentage_typed_as_text_and_the_report_shows_it_so(percent_form, seed0,
                                                                                    tmp_path) -> None:
    from xltemplate.collect.report import write_report

    model = percent_form
    data = copy.deepcopy(seed0)
    data["funding"] = {"total": data["funding"]["total"] + 0.1, "request": data["funding"]["request"], "other": 0}
    data["budget_items"][0]["amount"] = round(data["budget_items"][0]["amount"] + 0.1, 2)
    path = write_return(tmp_path / "in" / "a.xlsx", model, data, submission_id="P-1")
    f = model.by_pointer["/funding/other"]
    wb = openpyxl.load_workbook(path)
    wb[f.sheet].cell(row=f.row + 1, column=f.col + 1).value = "10%"  # typed into a cell formatted as text
    wb.save(path)
    result = import_workbook(path, form=model)
    assert result.status == "valid", result.errors
    assert result.data["funding"]["other"] == 0.1
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    batch.run([path], store=store, form=model.path, jobs=1)
    write_report(store, tmp_path / "汇总.xlsx", form=model.path)
    sheet = openpyxl.load_workbook(tmp_path / "汇总.xlsx")["汇总"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index(f.label) + 1)
    assert (cell.value, cell.number_format) == (0.1, "0%")
    header = [c.value for c in sheet[1]]
    year = sheet.cell(row=2, column=header.index(model.by_pointer["/cover/year"].label) + 1)
    assert (year.value, year.number_format) == (2021, '"("0"年度)"')  # as the form's cell shows it
    write_report(store, tmp_path / "汇总.csv", form=model.path)
    with open(tmp_path / "汇总.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][rows[0].index(f.label)] == "0.1"  # CSV: the plain number, for programs
    store.dispose()


# -- through LibreOffice as the client ----------------------------------------------------------------

#: What a clerk types into the text fields, cells in the General format of a bureau's own workbook
TYPED_IN_CALC = {VALUE: "95%", CONTACT: "12.50%", OVERVIEW: "2021/1/15", "/project/basis": "1.5E+3",
                 "/project/necessity": "0 1/2", "/unit/supervisor": "1,234.50", "/goals/annual": "2021年1月"}


def test_what_a_clerk_types_in_libreoffice_is_the_text_the_cell_showed(wuhai, make_filled, seed0, tmp_path) -> None:
    """Calc recognises 95%, a date, a fraction and a scientific number as a clerk types them and
    formats the cell (``[$-804]0.00%``, ``[$-804]yy\\年m\\月d\\日``...): each text field reads the
    very text Calc showed in its cell."""
    import libreoffice as lo

    lo.require()
    values = {wuhai.by_pointer[p].name: lo.Typed(text) for p, text in TYPED_IN_CALC.items()}
    shown = lo.fill_by_names(make_filled(wuhai, seed0), tmp_path / "typed.xlsx", values)
    result = import_workbook(tmp_path / "typed.xlsx")
    numbers = 0
    for pointer in TYPED_IN_CALC:
        f = wuhai.by_pointer[pointer]
        assert _get(result.data, pointer) == shown[f.name].strip(), (pointer, shown[f.name])
        numbers += shown[f.name] != TYPED_IN_CALC[pointer]
    assert numbers >= 5, shown  # Calc made numbers of most of them (a typed 2021年1月 stays text)
    assert shown[wuhai.by_pointer[VALUE].name] == "95.00%"


RENDERED = [(0.95, "0%"), (0.125, "0.00%"), (1234.5, "#,##0.00"), (-1234.5, "#,##0.00"), (1234.5, "#,##0"),
            (1234.5, '"¥"#,##0.00;"¥"\\-#,##0.00'), (-1234.5, '"¥"#,##0.00;"¥"\\-#,##0.00'),
            (1500, "0.00E+00"), (0.00012, "0.00E+00"), (-123456, "0.00E+00"), (12345, "##0.0E+0"),
            (1.5, "# ?/?"), (1.1875, "# ??/??"), (1.25, "# ?/4"), (2.675, "0.00"), (123, "00000"),
            (44197, "yyyy/m/d"), (44197, 'yyyy"年"m"月"'), (44197, 'yyyy"年"m"月"d"日"'), (44197, 'm"月"d"日"'),
            (44197.75, "yyyy/m/d h:mm"), (44197, "yyyy-mm-dd"), (0.5625, "h:mm"), (0.75, "h:mm:ss"),
            (1.5, "[h]:mm:ss"), (0.0125, "mm:ss"), (44211, "yy\\年m\\月d\\日"),
            (0.95, "[$-804]0.00%"), (1234.5, "[$¥-804]#,##0.00"), (7, '0"天"'), (0, '0.00;-0.00;"-"')]


def test_the_renderer_shows_numbers_as_libreoffice_calc_does(wuhai, tmp_path) -> None:
    """An independent implementation of Excel's number formats: Calc shows each value in each
    format as the renderer does."""
    import libreoffice as lo

    from xltemplate.api import generate
    from xltemplate.form.numfmt import render

    lo.require()
    generate(wuhai, tmp_path / "t.xlsx")
    calc = lo.render_formats(tmp_path / "t.xlsx", RENDERED)
    ours = [render(value, code) for value, code in RENDERED]
    assert [(c, o) for c, o in zip(calc, ours, strict=True) if c.strip() != (o or "").strip()] == []
